"""Subresources with a shape of their own: ``scale`` (``kubectl scale``), ``pods/binding``, ``pods/eviction``
(``kubectl drain``), ``serviceaccounts/token`` (``kubectl create token``) and ``namespaces/finalize``."""

from __future__ import annotations

import json
import time
from typing import Any

import yaml
from aiohttp import web

from . import patch as patches
from . import protobuf
from . import status as st
from .context import CTX, respond_json, respond_status
from .kinds.common import map_selector_string, selector_string
from .objects import rfc3339
from .registry import Kind
from .verbs import ApiError

Obj = dict[str, Any]


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    if raw.startswith(protobuf.MAGIC):
        try:
            return protobuf.decode_object(raw)
        except (protobuf.ProtobufError, ValueError, IndexError):
            raise ApiError(st.bad_request("the body of the request was in an unknown format")) from None
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        try:
            return yaml.safe_load(raw.decode())
        except (yaml.YAMLError, UnicodeDecodeError):
            raise ApiError(st.bad_request("the body of the request was in an unknown format")) from None


def _scale_of(kind: Kind, obj: Obj) -> Obj:
    selector = obj["spec"].get("selector") or {}
    text = (
        map_selector_string(selector) if kind.kind == "ReplicationController" else selector_string(selector)
    )
    meta = obj["metadata"]
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": meta["name"],
            "namespace": meta.get("namespace", ""),
            "uid": meta["uid"],
            "resourceVersion": meta["resourceVersion"],
            "creationTimestamp": meta["creationTimestamp"],
        },
        "spec": {"replicas": int(obj["spec"].get("replicas", 0) or 0)},
        "status": {
            "replicas": int((obj.get("status") or {}).get("replicas", 0) or 0),
            "selector": "" if text == "<none>" else text,
        },
    }


async def scale(request: web.Request, kind: Kind, namespace: str, name: str) -> web.StreamResponse:
    api = request.app[CTX].api
    try:
        obj = api.get(kind, namespace, name)
        current = _scale_of(kind, obj)
        if request.method == "GET":
            return respond_json(current)
        if request.method == "PUT":
            body = await _json_body(request)
        elif request.method == "PATCH":
            document = await _json_body(request)
            media = request.headers.get("Content-Type", "").split(";")[0].strip()
            if media == "application/json-patch+json":
                body = patches.json_patch(current, document)
            elif media == "application/strategic-merge-patch+json":
                body = patches.strategic_merge(current, document)
            else:
                body = patches.merge_patch(current, document)
        else:
            return respond_status(st.method_not_allowed())
        if not isinstance(body, dict):
            raise ApiError(st.bad_request('Scale in version "v1" cannot be handled as a Scale'))
        replicas = (body.get("spec") or {}).get("replicas", 0)
        if not isinstance(replicas, int) or replicas < 0:
            raise ApiError(
                st.invalid(
                    "Scale",
                    name,
                    [
                        st.FieldError(
                            "spec.replicas",
                            st.INVALID,
                            f"Invalid value: {replicas}: must be greater than or equal to 0",
                        )
                    ],
                    group="autoscaling",
                )
            )
        version = (body.get("metadata") or {}).get("resourceVersion")
        if version and version != obj["metadata"]["resourceVersion"]:
            from .verbs import conflict

            raise conflict(kind, name)

        def set_replicas(o: Obj) -> None:
            o["spec"]["replicas"] = replicas

        updated = api.mutate(
            kind, namespace, name, set_replicas, manager=request.query.get("fieldManager", "")
        )
        return respond_json(_scale_of(kind, updated or obj))
    except patches.PatchError as exc:
        return respond_status(exc.status)
    except ApiError as exc:
        return respond_status(exc.status)


async def binding(request: web.Request, kind: Kind, namespace: str, name: str) -> web.StreamResponse:
    if request.method != "POST":
        return respond_status(st.method_not_allowed())
    api = request.app[CTX].api
    try:
        body = await _json_body(request) or {}
        target = (body.get("target") or {}).get("name", "")
        pod = api.get(kind, namespace, name)
        if pod["spec"].get("nodeName"):
            raise ApiError(
                st._status(
                    status="Failure",
                    message=f'pod {name} is already assigned to node "{pod["spec"]["nodeName"]}"',
                    reason="Conflict",
                    details={"name": name, "kind": "binding"},
                    code=409,
                )
            )
        now = rfc3339(time.time())

        def bind(o: Obj) -> None:
            o["spec"]["nodeName"] = target
            conds = [c for c in o["status"].get("conditions") or [] if c.get("type") != "PodScheduled"]
            o["status"]["conditions"] = [
                *conds,
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now},
            ]

        api.store.update_pod(namespace, name, bind)
        return respond_json(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )
    except ApiError as exc:
        return respond_status(exc.status)


async def eviction(request: web.Request, kind: Kind, namespace: str, name: str) -> web.StreamResponse:
    if request.method != "POST":
        return respond_status(st.method_not_allowed())
    api = request.app[CTX].api
    try:
        body = await _json_body(request) or {}
        api.delete(kind, namespace, name, options=body.get("deleteOptions") or {})
        return respond_json(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201
        )
    except ApiError as exc:
        return respond_status(exc.status)


async def token(request: web.Request, kind: Kind, namespace: str, name: str) -> web.StreamResponse:
    if request.method != "POST":
        return respond_status(st.method_not_allowed())
    ctx = request.app[CTX]
    try:
        ctx.api.get(kind, namespace, name)
        body = await _json_body(request) or {}
        spec = body.get("spec") or {}
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise ApiError(
                st.invalid(
                    "TokenRequest",
                    name,
                    [
                        st.FieldError(
                            "spec.expirationSeconds",
                            st.INVALID,
                            f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                        )
                    ],
                    group="authentication.k8s.io",
                )
            )
        bound = spec.get("boundObjectRef") or {}
        pod = ctx.api.find("pods", namespace, bound.get("name", "")) if bound.get("kind") == "Pod" else None
        text, exp = ctx.api.services["tokens"].issue(
            namespace, name, seconds=seconds, audiences=spec.get("audiences") or None, pod=pod
        )
        return respond_json(
            {
                "kind": "TokenRequest",
                "apiVersion": "authentication.k8s.io/v1",
                "metadata": {"name": name, "namespace": namespace, "creationTimestamp": rfc3339(time.time())},
                "spec": {
                    "audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                    "expirationSeconds": seconds,
                    "boundObjectRef": spec.get("boundObjectRef"),
                },
                "status": {"token": text, "expirationTimestamp": rfc3339(exp)},
            },
            201,
        )
    except ApiError as exc:
        return respond_status(exc.status)


async def finalize(request: web.Request, kind: Kind, namespace: str, name: str) -> web.StreamResponse:
    if request.method != "PUT":
        return respond_status(st.method_not_allowed())
    api = request.app[CTX].api
    try:
        body = await _json_body(request) or {}
        wanted = (body.get("spec") or {}).get("finalizers") or []

        def set_finalizers(o: Obj) -> None:
            o.setdefault("spec", {})["finalizers"] = wanted

        obj = api.store.mutate("namespaces", "", name, set_finalizers)
        if obj is None:
            raise ApiError(st.not_found("namespaces", name))
        obj = api._finish_if_done(kind, obj)
        return respond_json(obj)
    except ApiError as exc:
        return respond_status(exc.status)


def register(ctx: Any) -> None:
    for key in ("apps/deployments", "apps/replicasets", "apps/statefulsets", "replicationcontrollers"):
        ctx.subresources[(key, "scale")] = scale
    ctx.subresources[("pods", "binding")] = binding
    ctx.subresources[("pods", "eviction")] = eviction
    ctx.subresources[("serviceaccounts", "token")] = token
    ctx.subresources[("namespaces", "finalize")] = finalize
