"""Server-side apply and ``managedFields``: who set which field (structured-merge-diff's model).

Every write made through the API records its field manager (``kubectl-create``,
``kubectl-client-side-apply``, a client's ``fieldManager``) with the fields it changed, in the
``FieldsV1`` format (``{"f:spec":{"f:replicas":{}}}``, list items as ``k:{"name":"nginx"}``).  An apply
(``kubectl apply --server-side``, ``application/apply-patch+yaml``) declares the complete set of fields
its manager wants: fields it owned before and no longer lists are removed (unless another manager owns
them), a field that another manager owns with a different value is a conflict (409, the apiserver's
``Apply failed with 1 conflict: conflict with "…" using apps/v1: .spec.replicas``) unless ``force=true``,
which takes the field over.  Lists merge as the schema says: ``x-kubernetes-list-type: map`` by its keys,
``set`` by value, anything else replaced whole.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from . import schema as schemas
from . import status as st
from .objects import rfc3339

Obj = dict[str, Any]
Path = tuple[str, ...]
_META_TRACKED = ("labels", "annotations", "ownerReferences", "finalizers")


# --- field sets ----------------------------------------------------------------------------------


def _list_keys(meta: schemas.FieldMeta | None) -> tuple[tuple[str, ...], str]:
    """(keys, list type) of a list field: map lists by their keys, sets, or atomic."""
    if meta is None:
        return (), "atomic"
    if meta.list_type == "map" and meta.map_keys:
        return meta.map_keys, "map"
    if meta.list_type == "set":
        return (), "set"
    if meta.merge_key and "merge" in meta.strategies:
        return (meta.merge_key,), "map"
    if "merge" in meta.strategies:
        return (), "set"
    return (), "atomic"


# list-map key fields that the API defaults: an applied item without them names the defaulted live item
_KEY_DEFAULTS = {"protocol": "TCP"}


def _has_keys(item: Any, want: Obj) -> bool:
    return isinstance(item, dict) and all(item.get(k, _KEY_DEFAULTS.get(k)) == v for k, v in want.items())


def _item_token(item: Any, keys: tuple[str, ...]) -> str:
    values = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys if k in item or k in _KEY_DEFAULTS}
    return "k:" + json.dumps(values, separators=(",", ":"), sort_keys=True)


def smd_path(obj: Obj, schema: Obj | None, dotted: str) -> str:
    """A decoder's field path (``spec.containers[0].bogus``) as structured-merge-diff prints it
    (``.spec.containers[name="app"].bogus``): list-map items by their keys, other items by index."""
    out = ""
    value: Any = obj
    meta: schemas.FieldMeta | None = None
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        if part.startswith("["):
            index = int(part[1:-1])
            item = value[index] if isinstance(value, list) and index < len(value) else {}
            keys, _ = _list_keys(meta)
            if keys and isinstance(item, dict):
                out += "[" + ",".join(f"{k}={json.dumps(item.get(k))}" for k in keys if k in item) + "]"
            else:
                out += part
            value = item
            schema = schemas.object_schema(schemas.item_schema(meta.schema)) if meta else None
            continue
        meta = schemas.field_meta(schema, part)
        out += "." + part
        value = value.get(part) if isinstance(value, dict) else None
        schema = schemas.object_schema(meta.schema) if meta else None
    return out


def field_paths(obj: Obj, schema: Obj | None, *, root: bool = True) -> set[Path]:
    """Every owned path of ``obj``: leaves, map/list-item markers (``"."``)."""
    out: set[Path] = set()
    _walk(obj, schema, (), out, root)
    return out


def _walk(value: Any, schema: Obj | None, path: Path, out: set[Path], root: bool = False) -> None:
    if not isinstance(value, dict):
        out.add(path)
        return
    for key, child in value.items():
        if root and key in ("apiVersion", "kind", "status"):
            continue
        if root and key == "metadata":
            if isinstance(child, dict):
                field = schemas.field_meta(schema, key) if schema else None
                meta_schema = schemas.object_schema(field.schema) if field else None
                for mkey in _META_TRACKED:
                    if mkey in child:
                        _field(mkey, child[mkey], meta_schema, ("f:metadata",), out)
            continue
        _field(key, child, schema, path, out)


def _field(key: str, child: Any, schema: Obj | None, path: Path, out: set[Path]) -> None:
    meta = schemas.field_meta(schema, key) if schema is not None else None
    here = (*path, f"f:{key}")
    child_schema = schemas.object_schema(meta.schema) if meta is not None else None
    if isinstance(child, dict):
        if child_schema is not None and child_schema.get("properties") is None:
            out.add((*here, "."))  # a map: owning it is owning the key set
            for k, val in child.items():
                inner = child_schema.get("additionalProperties")
                _walk_value(
                    val,
                    schemas.object_schema(inner) if isinstance(inner, dict) else None,
                    (*here, f"f:{k}"),
                    out,
                )
            return
        if not child:
            out.add(here)
            return
        _walk(child, child_schema, here, out)
        return
    if isinstance(child, list):
        keys, kind = _list_keys(meta)
        item_schema = schemas.object_schema(schemas.item_schema(meta.schema)) if meta is not None else None
        if kind == "map" and all(isinstance(i, dict) for i in child):
            for item in child:
                token = (*here, _item_token(item, keys))
                out.add((*token, "."))
                _walk(item, item_schema, token, out)
            return
        if kind == "set":
            for item in child:
                out.add((*here, "v:" + json.dumps(item, separators=(",", ":"))))
            return
    out.add(here)


def _walk_value(value: Any, schema: Obj | None, path: Path, out: set[Path]) -> None:
    if isinstance(value, dict) and value:
        _walk(value, schema, path, out)
    else:
        out.add(path)


def to_fields_v1(paths: set[Path]) -> Obj:
    tree: Obj = {}
    for path in sorted(paths):
        node = tree
        for token in path:
            node = node.setdefault(token, {})
    return tree


def from_fields_v1(tree: Obj, prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for token, child in (tree or {}).items():
        path = (*prefix, token)
        if child:
            out |= from_fields_v1(child, path)
        else:
            out.add(path)
    return out


def _leaf_value(obj: Any, path: Path) -> tuple[bool, Any]:
    """The value at a field path (``(False, None)`` if absent)."""
    node = obj
    for token in path:
        if token == ".":
            return True, node
        if token.startswith("f:") and isinstance(node, dict):
            key = token[2:]
            if key not in node:
                return False, None
            node = node[key]
        elif token.startswith("k:") and isinstance(node, list):
            want = json.loads(token[2:])
            node = next((i for i in node if isinstance(i, dict) and _has_keys(i, want)), None)
            if node is None:
                return False, None
        elif token.startswith("v:") and isinstance(node, list):
            want = json.loads(token[2:])
            return (want in node), want
        else:
            return False, None
    return True, node


def _remove_path(obj: Any, path: Path) -> None:
    if not path:
        return
    parent_path, last = path[:-1], path[-1]
    if last == ".":
        _remove_path(obj, parent_path)
        return
    found, parent = _leaf_value(obj, parent_path) if parent_path else (True, obj)
    if not found:
        return
    if last.startswith("f:") and isinstance(parent, dict):
        parent.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [i for i in parent if not (isinstance(i, dict) and _has_keys(i, want))]
    elif last.startswith("v:") and isinstance(parent, list):
        want = json.loads(last[2:])
        parent[:] = [i for i in parent if i != want]


# --- merge ---------------------------------------------------------------------------------------


def merge(live: Any, applied: Any, schema: Obj | None) -> Any:
    """Structured merge of an applied configuration into the live object."""
    if not isinstance(applied, dict) or not isinstance(live, dict):
        return copy.deepcopy(applied)
    out = copy.deepcopy(live)
    for key, value in applied.items():
        meta = schemas.field_meta(schema, key) if schema is not None else None
        child_schema = schemas.object_schema(meta.schema) if meta is not None else None
        if isinstance(value, dict):
            out[key] = merge(out.get(key) if isinstance(out.get(key), dict) else {}, value, child_schema)
        elif isinstance(value, list):
            keys, kind = _list_keys(meta)
            existing = out.get(key)
            current = existing if isinstance(existing, list) else []
            if kind == "map" and all(isinstance(i, dict) for i in value):
                item_schema = schemas.object_schema(schemas.item_schema(meta.schema)) if meta else None
                merged = list(current)
                for item in value:
                    token = _item_token(item, keys)
                    idx = next(
                        (
                            i
                            for i, c in enumerate(merged)
                            if isinstance(c, dict) and _item_token(c, keys) == token
                        ),
                        None,
                    )
                    if idx is None:
                        merged.append(copy.deepcopy(item))
                    else:
                        merged[idx] = merge(merged[idx], item, item_schema)
                out[key] = merged
            elif kind == "set":
                out[key] = list(current) + [copy.deepcopy(v) for v in value if v not in current]
            else:
                out[key] = copy.deepcopy(value)
        else:
            out[key] = value
    return out


# --- managers ------------------------------------------------------------------------------------


def _entries(obj: Obj) -> list[Obj]:
    return list(obj.get("metadata", {}).get("managedFields") or [])


def _set_entries(obj: Obj, entries: list[Obj]) -> None:
    kept = [e for e in entries if e.get("fieldsV1")]
    if kept:
        obj["metadata"]["managedFields"] = kept
    else:
        obj["metadata"].pop("managedFields", None)


def schema_of_kind(kind: Any) -> Obj | None:
    return _schema_of({"apiVersion": kind.api_version, "kind": kind.kind})


def _schema_of(obj: Obj) -> Obj | None:
    group, _, version = str(obj.get("apiVersion", "")).rpartition("/")
    try:
        name = schemas.definition_for(group, version, str(obj.get("kind", "")))
    except schemas.SchemaUnavailable:
        return None
    return schemas.definitions().get(name) if name else None


def record_update(
    obj: Obj, old: Obj | None, manager: str, operation: str, now: float, subresource: str = ""
) -> None:
    """Give ``manager`` the fields this write changed (all of them on create), taking them from others."""
    schema = _schema_of(obj)
    if subresource == "status":
        new_paths = {p for p in _status_paths(obj, schema)}
        old_paths = _status_paths(old, schema) if old else set()
    else:
        new_paths = field_paths(obj, schema)
        old_paths = field_paths(old, schema) if old else set()
    changed = {p for p in new_paths if p not in old_paths or _leaf_value(obj, p) != _leaf_value(old or {}, p)}
    entries = [e for e in _entries(old or obj) if e]
    if not changed:
        if old is not None:
            _set_entries(obj, entries)
        return
    out: list[Obj] = []
    mine: Obj | None = None
    for e in entries:
        paths = from_fields_v1(e.get("fieldsV1") or {})
        if (
            e.get("manager") == manager
            and e.get("operation") == operation
            and e.get("subresource", "") == subresource
        ):
            mine = e
            continue
        rest = paths - changed
        if rest != paths:
            e = {**e, "fieldsV1": to_fields_v1(rest)}
        out.append(e)
    owned = (from_fields_v1(mine.get("fieldsV1") or {}) if mine else set()) | changed
    owned &= new_paths
    entry: Obj = {
        "manager": manager,
        "operation": operation,
        "apiVersion": obj.get("apiVersion", ""),
        "time": rfc3339(now),
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(owned),
    }
    if subresource:
        entry["subresource"] = subresource
    out.append(entry)
    _set_entries(obj, out)


def _status_paths(obj: Obj | None, schema: Obj | None) -> set[Path]:
    if not obj or "status" not in obj:
        return set()
    meta = schemas.field_meta(schema, "status") if schema else None
    out: set[Path] = set()
    _field("status", obj["status"], schema, (), out)
    del meta
    return out


class ApplyConflict(Exception):
    pass


def server_side_apply(
    api: Any,
    kind: Any,
    namespace: str,
    name: str,
    applied: Any,
    *,
    manager: str,
    force: bool,
    dry_run: bool,
    decode: Callable[[Any], Obj],
    subresource: str = "",
) -> tuple[Obj, bool]:
    """Apply ``applied`` as ``manager``; returns the object and whether it was created."""
    from .verbs import ApiError

    if not manager:
        raise ApiError(
            st.invalid(
                "PatchOptions",
                "",
                [st.FieldError("fieldManager", st.REQUIRED, "Required value: is required for apply patch")],
                group="meta.k8s.io",
            )
        )
    if not isinstance(applied, dict):
        raise ApiError(st.bad_request("error decoding YAML: Object 'Kind' is missing in 'null'"))
    if not applied.get("kind") or not applied.get("apiVersion"):
        missing = "Kind" if not applied.get("kind") else "apiVersion"
        raise ApiError(
            st.bad_request(f"Object '{missing}' is missing in '{json.dumps(applied, separators=(',', ':'))}'")
        )
    meta = applied.get("metadata") or {}
    if meta.get("name") and meta["name"] != name:
        raise ApiError(
            st.bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )
        )
    decoded = decode(applied)
    schema = _schema_of({**decoded, "apiVersion": kind.api_version, "kind": kind.kind})
    new_paths = field_paths(decoded, schema)
    now_entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": kind.api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(new_paths),
    }
    live = api.find(kind, namespace, name)
    import time

    now = time.time()
    now_entry["time"] = rfc3339(now)
    if live is None:
        body = copy.deepcopy(decoded)
        body.setdefault("metadata", {})["name"] = name
        body["metadata"]["managedFields"] = [now_entry]
        return api.create(kind, body, namespace=namespace, dry_run=dry_run), True
    entries = _entries(live)
    conflicts: list[tuple[str, str, Path]] = []
    kept: list[Obj] = []
    previous: set[Path] = set()
    for e in entries:
        paths = from_fields_v1(e.get("fieldsV1") or {})
        if e.get("manager") == manager and e.get("operation") == "Apply":
            previous = paths
            continue
        clash = {
            p for p in paths & new_paths if p[-1] != "." and _leaf_value(live, p) != _leaf_value(decoded, p)
        }
        if clash and not force:
            conflicts += [(e.get("manager", ""), e.get("apiVersion", ""), p) for p in sorted(clash)]
        if clash and force:
            e = {**e, "fieldsV1": to_fields_v1(paths - clash)}
        kept.append(e)
    if conflicts:
        raise ApiError(_conflict_status(conflicts))
    merged = merge(live, decoded, schema)
    others: set[Path] = set()
    for e in kept:
        others |= from_fields_v1(e.get("fieldsV1") or {})
    for path in sorted(previous - new_paths - others, key=len, reverse=True):
        _remove_path(merged, path)
    merged["metadata"]["managedFields"] = [*kept, now_entry]
    _set_entries(merged, merged["metadata"]["managedFields"])
    merged["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
    obj = api.update(kind, merged, namespace=namespace, name=name, subresource=subresource, dry_run=dry_run)
    return obj, False


def _dotted(path: Path) -> str:
    out = ""
    for token in path:
        if token == ".":
            continue
        if token.startswith("f:"):
            out += "." + token[2:]
        elif token.startswith("k:"):
            out += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(token[2:]).items()) + "]"
        elif token.startswith("v:"):
            out += f"[{token[2:]}]"
    return out


def _conflict_status(conflicts: list[tuple[str, str, Path]]) -> st.Status:
    by_manager: dict[tuple[str, str], list[str]] = {}
    for manager, version, path in conflicts:
        by_manager.setdefault((manager, version), []).append(_dotted(path))
    n = len(conflicts)
    if n == 1:
        (manager, version), paths = next(iter(by_manager.items()))
        message = f'Apply failed with 1 conflict: conflict with "{manager}" using {version}: {paths[0]}'
    else:
        parts = []
        for (manager, version), paths in by_manager.items():
            parts.append(
                f'conflicts with "{manager}" using {version}:\n' + "\n".join(f"- {p}" for p in paths)
            )
        message = f"Apply failed with {n} conflicts: " + "\n".join(parts)
    causes = [
        {"reason": "FieldManagerConflict", "message": f'conflict with "{m}" using {v}', "field": _dotted(p)}
        for m, v, p in conflicts
    ]
    return st._status(
        status="Failure", message=message, reason="Conflict", details={"causes": causes}, code=409
    )
