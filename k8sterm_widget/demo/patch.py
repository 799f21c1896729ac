"""The three PATCH formats of the Kubernetes API, applied to JSON objects (dicts and lists).

* **strategic merge patch** (``application/strategic-merge-patch+json``): what kubectl sends, e.g.
  ``kubectl debug`` adds an ephemeral container with ``{"spec":{"ephemeralContainers":[{…}]}}``.  Lists
  whose Go type declares a merge key are merged element by element on that key instead of being
  replaced, which is what lets a patch *add* a container without repeating the existing ones.  The
  directives ``$patch`` (``replace``, ``delete``, ``merge``), ``$retainKeys``, ``$setElementOrder/<list>``
  and ``$deleteFromPrimitiveList/<list>`` are honoured as apimachinery's ``strategicpatch`` does.
* **JSON merge patch** (RFC 7386, ``application/merge-patch+json``): maps merge, ``null`` deletes, any
  other value (lists included) replaces.
* **JSON patch** (RFC 6902, ``application/json-patch+json``): what the official Python client sends by
  default; ``add``/``remove``/``replace``/``move``/``copy``/``test`` on JSON pointers.

Strategic merge takes its merge keys and strategies from the kind's OpenAPI definitions (see
:mod:`.schema`: the ``x-kubernetes-patch-merge-key``/``-strategy`` of every field, as the Go struct tags
declare them); without a schema it falls back to the Pod's keys by field name.  JSON patch is the
``jsonpatch`` package.  Inputs are never modified.  Failures raise :class:`PatchError` carrying the Status
the apiserver answers with.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch
import jsonpointer

from . import schema as schemas
from . import status as st

# patchMergeKey of the Pod's list fields with patchStrategy "merge" (k8s.io/api/core/v1/types.go)
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "schedulingGates": "name",
    "resourceClaims": "name",
    "ownerReferences": "uid",
    "conditions": "type",
}
MERGED_PRIMITIVE_LISTS = {"finalizers"}
MAX_JSON_PATCH_OPERATIONS = 10000
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVES = "$deleteFromPrimitiveList/"


class PatchError(Exception):
    """The patch cannot be applied; :attr:`status` is what the apiserver answers."""

    def __init__(self, status: st.Status) -> None:
        super().__init__(status.get("message", ""))
        self.status = status


# --- strategic merge patch ------------------------------------------------------------------------


def schema_for(kind: Any) -> dict[str, Any] | None:
    """The object schema of a registered kind (None when the definitions are unavailable)."""
    try:
        name = schemas.definition_for(kind.group, kind.version, kind.kind)
    except schemas.SchemaUnavailable:
        return None
    return schemas.definitions().get(name) if name else None


def strategic_merge(
    original: dict[str, Any], patch: Any, schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Apply a strategic merge patch; ``schema`` is the object's OpenAPI schema (Pod keys by name without)."""
    if not isinstance(patch, dict):
        raise PatchError(st.bad_request("invalid JSON document"))
    merged = _merge_map(original, patch, schema)
    return merged if merged is not None else {}


class _Meta:
    """Merge key and strategy of one field: from the schema, or the Pod's table by field name."""

    def __init__(self, key: str, parent: dict[str, Any] | None) -> None:
        meta = schemas.field_meta(parent, key) if parent is not None else None
        self.schema: dict[str, Any] | None = None
        if meta is not None:
            self.merge_key = meta.merge_key
            self.merge = "merge" in meta.strategies
            self.retain = "retainKeys" in meta.strategies
            self.schema = meta.schema
        elif parent is not None and parent.get("properties") is not None:
            self.merge_key, self.merge, self.retain = None, False, False
        else:
            self.merge_key = MERGE_KEYS.get(key)
            self.merge = key in MERGE_KEYS or key in MERGED_PRIMITIVE_LISTS
            self.retain = False

    def child(self) -> dict[str, Any] | None:
        return schemas.object_schema(self.schema) if self.schema is not None else None

    def item(self) -> dict[str, Any] | None:
        if self.schema is None:
            return None
        return schemas.object_schema(schemas.item_schema(self.schema))


def _merge_map(
    original: dict[str, Any], patch: dict[str, Any], schema: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """``mergeMap``; a ``$patch`` in a map is ``handleDirectiveInMergeMap``: ``replace`` takes the patch,
    ``delete`` leaves an empty map, anything else (``merge`` too) is ``ErrBadPatchType``."""
    if "$patch" in patch:
        directive = patch["$patch"]
        if directive == "replace":
            return _clean(patch)
        if directive == "delete":
            return {}
        raise PatchError(st.server_error(f"unknown patch type: {go_v(directive)} in map: {go_v(patch)}"))
    result = copy.deepcopy(original)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVES):
            name = key[len(_DELETE_PRIMITIVES) :]
            if isinstance(result.get(name), list) and isinstance(value, list):
                result[name] = [v for v in result[name] if v not in value]
            continue
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = _merge_value(_Meta(key, schema), result.get(key), value)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    for key, order in patch.items():
        if key.startswith(_ORDER) and isinstance(result.get(key[len(_ORDER) :]), list):
            name = key[len(_ORDER) :]
            result[name] = _ordered(result[name], order, _Meta(name, schema).merge_key)
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_value(meta: _Meta, original: Any, patch: Any) -> Any:
    if isinstance(patch, dict):
        return _merge_map(original if isinstance(original, dict) else {}, patch, meta.child())
    if isinstance(patch, list):
        current = original if isinstance(original, list) else []
        if meta.merge and meta.merge_key and all(isinstance(item, dict) for item in patch):
            return _merge_list(current, patch, meta.merge_key, meta.item())
        if meta.merge and not meta.merge_key:
            return current + [v for v in _clean(patch) if v not in current]
        return _clean(patch)
    return patch


def _merge_list(
    original: list[Any], patch: list[dict[str, Any]], key: str, schema: dict[str, Any] | None = None
) -> list[Any]:
    """``mergeSliceWithSpecialElements`` then ``mergeSlice``: directives first (``delete`` by merge key,
    ``replace``), then every element merged by its merge key."""
    replace = False
    plain: list[dict[str, Any]] = []
    result = copy.deepcopy(original)
    for item in patch:
        if "$patch" not in item:
            plain.append(item)
            continue
        directive = item["$patch"]
        if directive == "delete":
            if key not in item:
                raise PatchError(st.server_error(_no_merge_key(item, key)))
            result = [old for old in result if not (isinstance(old, dict) and old.get(key) == item[key])]
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise PatchError(st.server_error("merging lists cannot yet be specified in the patch"))
        else:
            raise PatchError(st.server_error(f"unknown patch type: {go_v(directive)} in map: {go_v(item)}"))
    if replace:
        return [_clean(item) for item in plain]
    for item in plain:
        if key not in item:
            raise PatchError(st.server_error(_no_merge_key(item, key)))
        index = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item[key]), None
        )
        if index is None:
            added = _merge_map({}, item, schema)
            if added is not None:
                result.append(added)
        else:
            merged = _merge_map(result[index], item, schema)
            if merged is None:
                del result[index]
            else:
                result[index] = merged
    return result


def _no_merge_key(item: dict[str, Any], key: str) -> str:
    return f"map: {go_v(item)} does not contain declared merge key: {key}"  # mergepatch.ErrNoMergeKey


def _ordered(items: list[Any], order: Any, key: str | None) -> list[Any]:
    """``$setElementOrder``: the listed elements in the given order, then the others as they were."""
    if not isinstance(order, list):
        raise PatchError(st.bad_request("invalid patch format of setElementOrder list"))

    def ident(value: Any) -> Any:
        return value.get(key) if key and isinstance(value, dict) else value

    wanted = [ident(o) for o in order]
    listed = sorted((i for i in items if ident(i) in wanted), key=lambda i: wanted.index(ident(i)))
    return listed + [i for i in items if ident(i) not in wanted]


def _clean(value: Any) -> Any:
    """A patch value with its directives removed (a value that replaces rather than merges)."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def go_v(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value: ``map[k:v ...]`` with sorted keys, ``[a b]``, ``<nil>``."""
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_v(v)}" for k, v in sorted(value.items())) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_v(v) for v in value) + "]"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- JSON merge patch (RFC 7386) -------------------------------------------------------------------


def merge_patch(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --- JSON patch (RFC 6902) ------------------------------------------------------------------------


def json_patch(document: Any, operations: Any) -> Any:
    """Apply the operations in order to a copy of ``document``; all or nothing (the ``jsonpatch`` package)."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        kind = "object" if isinstance(operations, dict) else type(operations).__name__
        raise PatchError(
            st.bad_request(f"json: cannot unmarshal {kind} into Go value of type jsonpatch.Patch")
        )
    if len(operations) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchError(
            st.too_large(
                f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                f"got {len(operations)}"
            )
        )
    try:
        return jsonpatch.JsonPatch(operations).apply(document, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError, TypeError,
            ValueError, AttributeError):  # fmt: skip
        raise PatchError(st.unprocessable()) from None  # the apiserver hides why (NewGenericServerResponse)
