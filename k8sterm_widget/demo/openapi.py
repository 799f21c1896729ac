"""OpenAPI v2 (``/openapi/v2``) and v3 (``/openapi/v3``, ``/openapi/v3/<group-version>``) documents.

kubectl fetches them for ``kubectl explain`` (v3), for client-side validation and for computing the
strategic merge patch of ``kubectl apply`` (merge keys).  Nothing here is hand-written: the definitions are
the Kubernetes release's own (:mod:`.schema`), the paths are generated from the registry (the operations a
kind has, with the query parameters the apiserver declares, ``fieldValidation`` included — kubectl checks
for it before it leaves validation to the server).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from typing import Any

from . import schema
from .discovery import KUBE_VERSION
from .registry import REGISTRY, Kind

Obj = dict[str, Any]

_PARAMS = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these "
    "changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
    "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore - Warn - Strict",
    "pretty": "If 'true', then the output is pretty printed.",
}
_LIST_PARAMS = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)


def _query(name: str, kind: str = "string") -> Obj:
    return {
        "name": name,
        "in": "query",
        "description": _PARAMS.get(name, name),
        "type": kind,
        "uniqueItems": True,
    }


def _operation(k: Kind, verb: str, op_id: str, *, body: bool, params: tuple[str, ...]) -> Obj:
    ref = {"$ref": f"#/definitions/{schema.definition_for(k.group, k.version, k.kind)}"}
    op: Obj = {
        "description": f"{verb} {k.kind}",
        "consumes": ["*/*"],
        "produces": ["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"],
        "schemes": ["https"],
        "tags": [f"{k.group.split('.')[0] if k.group else 'core'}_{k.version}"],
        "operationId": op_id,
        "parameters": [_query(p) for p in params],
        "responses": {"200": {"description": "OK", "schema": ref}, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": verb,
        "x-kubernetes-group-version-kind": {"group": k.group, "kind": k.kind, "version": k.version},
    }
    if body:
        op["parameters"].insert(0, {"name": "body", "in": "body", "required": True, "schema": ref})
    if verb == "patch":
        op["consumes"] = [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ]
        op["parameters"].append(_query("force", "boolean"))
    return op


def _paths(kinds: list[Kind]) -> Obj:
    paths: Obj = {}
    write = ("dryRun", "fieldManager", "fieldValidation")
    for k in kinds:
        if schema.definition_for(k.group, k.version, k.kind) is None:
            continue
        name = "".join(p.capitalize() for p in (k.group.split(".")[0] if k.group else "core", k.version))
        scope = "Namespaced" if k.namespaced else ""
        collection = k.path("{namespace}") if k.namespaced else k.path()
        item = collection + "/{name}"
        ns_param = [
            {"name": "namespace", "in": "path", "required": True, "type": "string", "uniqueItems": True}
        ]
        name_param = [{"name": "name", "in": "path", "required": True, "type": "string", "uniqueItems": True}]
        coll: Obj = {"parameters": (ns_param if k.namespaced else []) + [_query("pretty")]}
        if "list" in k.verbs:
            coll["get"] = _operation(k, "list", f"list{name}{scope}{k.kind}", body=False, params=_LIST_PARAMS)
        if "create" in k.verbs:
            coll["post"] = _operation(k, "post", f"create{name}{scope}{k.kind}", body=True, params=write)
        if "deletecollection" in k.verbs:
            coll["delete"] = _operation(
                k,
                "deletecollection",
                f"deletecollection{name}{scope}{k.kind}",
                body=False,
                params=(*_LIST_PARAMS, "dryRun"),
            )
        paths[collection] = coll
        if "get" not in k.verbs:
            continue
        one: Obj = {"parameters": name_param + (ns_param if k.namespaced else []) + [_query("pretty")]}
        one["get"] = _operation(k, "get", f"read{name}{scope}{k.kind}", body=False, params=())
        if "update" in k.verbs:
            one["put"] = _operation(k, "put", f"replace{name}{scope}{k.kind}", body=True, params=write)
        if "patch" in k.verbs:
            one["patch"] = _operation(k, "patch", f"patch{name}{scope}{k.kind}", body=True, params=write)
        if "delete" in k.verbs:
            one["delete"] = _operation(
                k,
                "delete",
                f"delete{name}{scope}{k.kind}",
                body=False,
                params=("dryRun", "gracePeriodSeconds", "propagationPolicy"),
            )
        paths[item] = one
        if "status" in k.subresources:
            status: Obj = {"parameters": one["parameters"]}
            status["get"] = _operation(k, "get", f"read{name}{scope}{k.kind}Status", body=False, params=())
            status["put"] = _operation(
                k, "put", f"replace{name}{scope}{k.kind}Status", body=True, params=write
            )
            status["patch"] = _operation(
                k, "patch", f"patch{name}{scope}{k.kind}Status", body=True, params=write
            )
            paths[item + "/status"] = status
    return paths


def _info() -> Obj:
    return {"title": "Kubernetes", "version": KUBE_VERSION}


@functools.lru_cache(maxsize=1)
def _v2_document() -> Obj:
    return {
        "swagger": "2.0",
        "info": _info(),
        "paths": _paths(REGISTRY.order),
        "definitions": schema.definitions(),
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            }
        },
        "security": [{"BearerToken": []}],
    }


@functools.lru_cache(maxsize=1)
def v2_bytes() -> bytes:
    return json.dumps(_v2_document(), separators=(",", ":")).encode()


V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


@functools.lru_cache(maxsize=1)
def v2_protobuf() -> bytes:
    """The same document as gnostic's protobuf, which client-go's ``OpenAPISchema()`` insists on."""
    from . import openapi_proto

    return openapi_proto.document(_v2_document())


def _group_versions() -> list[tuple[str, str]]:
    return list(dict.fromkeys((k.group, k.version) for k in REGISTRY.order))


def _gv_path(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _v3_schema(node: Any) -> Any:
    """A v2 schema node in v3 form: refs to ``#/components/schemas``, a ref with siblings wrapped in allOf."""
    if isinstance(node, list):
        return [_v3_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _v3_schema(v) for k, v in node.items()}
    ref = out.get("$ref")
    if isinstance(ref, str):
        ref = ref.replace("#/definitions/", "#/components/schemas/")
        if len(out) > 1:
            rest = {k: v for k, v in out.items() if k != "$ref"}
            return {"allOf": [{"$ref": ref}], **rest}
        out["$ref"] = ref
    return out


def _closure(names: list[str]) -> list[str]:
    defs = schema.definitions()
    seen: dict[str, None] = {}
    stack = list(names)
    while stack:
        name = stack.pop()
        if name in seen or name not in defs:
            continue
        seen[name] = None
        text = json.dumps(defs[name])
        for part in text.split('"#/definitions/')[1:]:
            stack.append(part.split('"', 1)[0])
    return sorted(seen)


@functools.lru_cache(maxsize=64)
def v3_bytes(group: str, version: str) -> bytes | None:
    kinds = [k for k in REGISTRY.order if k.group == group and k.version == version]
    if not kinds:
        return None
    defs = schema.definitions()
    roots = [n for k in kinds if (n := schema.definition_for(k.group, k.version, k.kind))]
    roots += [
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    ]
    components = {name: _v3_schema(copy.deepcopy(defs[name])) for name in _closure(roots)}
    paths = {}
    for path, item in _paths(kinds).items():
        converted: dict[str, Any] = {}
        for method, op in item.items():
            if method == "parameters":
                converted["parameters"] = [
                    {
                        "name": p["name"],
                        "in": p["in"],
                        "description": p.get("description", ""),
                        **({"required": True} if p.get("required") else {}),
                        "schema": {"type": p.get("type", "string"), "uniqueItems": True},
                    }
                    for p in op
                ]
                continue
            new_op: dict[str, Any] = {
                k: v
                for k, v in op.items()
                if k not in ("consumes", "produces", "schemes", "parameters", "responses")
            }
            params = [p for p in op["parameters"] if p["in"] != "body"]
            new_op["parameters"] = [
                {
                    "name": p["name"],
                    "in": p["in"],
                    "description": p.get("description", ""),
                    "schema": {"type": p.get("type", "string"), "uniqueItems": True},
                }
                for p in params
            ]
            body = next((p for p in op["parameters"] if p["in"] == "body"), None)
            if body is not None:
                content_types = op.get("consumes", ["*/*"])
                new_op["requestBody"] = {
                    "content": {ct: {"schema": _v3_schema(body["schema"])} for ct in content_types},
                    "required": True,
                }
            ok = op["responses"]["200"]["schema"]
            new_op["responses"] = {
                "200": {
                    "description": "OK",
                    "content": {ct: {"schema": _v3_schema(ok)} for ct in op["produces"]},
                },
                "401": {"description": "Unauthorized"},
            }
            converted[method] = new_op
        paths[path] = converted
    doc = {
        "openapi": "3.0.0",
        "info": _info(),
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def v3_index() -> Obj:
    out: Obj = {}
    for group, version in _group_versions():
        body = v3_bytes(group, version)
        if body is None:
            continue
        digest = hashlib.sha512(body).hexdigest()[:128].upper()
        path = _gv_path(group, version)
        out[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": out}


def v3_for_path(path: str) -> bytes | None:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return v3_bytes("", parts[1])
    if len(parts) == 3 and parts[0] == "apis":
        return v3_bytes(parts[1], parts[2])
    return None
