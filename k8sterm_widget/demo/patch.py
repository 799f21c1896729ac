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

Only the merge keys of ``v1.Pod`` are known (by field name; the demo patches nothing else).  Inputs are
never modified.  Failures raise :class:`PatchError` carrying the Status the apiserver answers with.
"""

from __future__ import annotations

import copy
from typing import Any

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


def strategic_merge(original: dict[str, Any], patch: Any) -> dict[str, Any]:
    """Apply a strategic merge patch to a Pod-shaped object."""
    if not isinstance(patch, dict):
        raise PatchError(st.bad_request("invalid JSON document"))
    merged = _merge_map(original, patch)
    return merged if merged is not None else {}


def _merge_map(original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any] | None:
    """``None`` when the patch deletes the whole map (``$patch: delete``)."""
    directive = patch.get("$patch", "merge")
    if directive == "delete":
        return None
    if directive == "replace":
        return _clean(patch)
    if directive != "merge":
        raise PatchError(st.bad_request(f"Unknown patch type: {directive}"))
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
        merged = _merge_value(key, result.get(key), value)
        if merged is None:
            result.pop(key, None)
        else:
            result[key] = merged
    for key, order in patch.items():
        if key.startswith(_ORDER) and isinstance(result.get(key[len(_ORDER) :]), list):
            name = key[len(_ORDER) :]
            result[name] = _ordered(result[name], order, MERGE_KEYS.get(name))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_value(key: str, original: Any, patch: Any) -> Any:
    if isinstance(patch, dict):
        return _merge_map(original if isinstance(original, dict) else {}, patch)
    if isinstance(patch, list):
        current = original if isinstance(original, list) else []
        if key in MERGE_KEYS and all(isinstance(item, dict) for item in patch):
            return _merge_list(current, patch, MERGE_KEYS[key])
        if key in MERGED_PRIMITIVE_LISTS:
            return current + [v for v in patch if v not in current]
        return _clean(patch)
    return patch


def _merge_list(original: list[Any], patch: list[dict[str, Any]], key: str) -> list[Any]:
    if any(item.get("$patch") == "replace" for item in patch):
        return [_clean(item) for item in patch if item.get("$patch") != "replace"]
    result = copy.deepcopy(original)
    for item in patch:
        if key not in item:
            raise PatchError(
                st.bad_request(f"map: {_go_map(item)} does not contain declared merge key: {key}")
            )
        index = next(
            (i for i, old in enumerate(result) if isinstance(old, dict) and old.get(key) == item[key]), None
        )
        if item.get("$patch") == "delete":
            result = [old for old in result if not (isinstance(old, dict) and old.get(key) == item[key])]
        elif index is None:
            added = _merge_map({}, item)
            if added is not None:
                result.append(added)
        else:
            merged = _merge_map(result[index], item)
            if merged is None:
                del result[index]
            else:
                result[index] = merged
    return result


def _ordered(items: list[Any], order: Any, key: str | None) -> list[Any]:
    """``$setElementOrder``: the listed elements in the given order, then the others as they were."""
    if not isinstance(order, list):
        raise PatchError(st.bad_request("invalid patch format for $setElementOrder list"))

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


def _go_map(value: dict[str, Any]) -> str:
    return "map[" + " ".join(f"{k}:{v}" for k, v in sorted(value.items())) + "]"


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


class _OpFailed(Exception):
    pass


def json_patch(document: Any, operations: Any) -> Any:
    """Apply the operations in order to a copy of ``document``; all or nothing."""
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
    doc = copy.deepcopy(document)
    try:
        for op in operations:
            doc = _apply(doc, op)
    except _OpFailed:
        raise PatchError(st.unprocessable()) from None  # the apiserver hides why (NewGenericServerResponse)
    return doc


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise _OpFailed
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path else []


def _parent(doc: Any, parts: list[str]) -> tuple[Any, str]:
    if not parts:
        raise _OpFailed
    node = doc
    for part in parts[:-1]:
        node = _child(node, part)
    return node, parts[-1]


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise _OpFailed


def _get(doc: Any, path: Any) -> Any:
    node = doc
    for part in _pointer(path):
        node = _child(node, part)
    return node


def _add(doc: Any, path: Any, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts)
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-":
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent):
            parent.insert(int(last), value)
        else:
            raise _OpFailed
    else:
        raise _OpFailed
    return doc


def _remove(doc: Any, path: Any) -> Any:
    parent, last = _parent(doc, _pointer(path))
    _child(parent, last)  # must exist
    if isinstance(parent, dict):
        del parent[last]
    else:
        del parent[int(last)]
    return doc


def _apply(doc: Any, op: dict[str, Any]) -> Any:
    kind, path = op.get("op"), op.get("path")
    if kind in ("add", "replace", "test") and "value" not in op:
        raise _OpFailed
    if kind == "add":
        return _add(doc, path, copy.deepcopy(op["value"]))
    if kind == "remove":
        return _remove(doc, path)
    if kind == "replace":
        _get(doc, path)
        if not _pointer(path):
            return copy.deepcopy(op["value"])
        return _add(_remove(doc, path), path, copy.deepcopy(op["value"]))
    if kind == "move":
        value = _get(doc, op.get("from"))
        return _add(_remove(doc, op.get("from")), path, value)
    if kind == "copy":
        return _add(doc, path, copy.deepcopy(_get(doc, op.get("from"))))
    if kind == "test":
        if _get(doc, path) != op["value"]:
            raise _OpFailed
        return doc
    raise _OpFailed
