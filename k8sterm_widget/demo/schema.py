"""The Kubernetes API's own type definitions, and decoding a request body against them like Go does.

The definitions are not written here: they come from the ``kubernetes-validate`` package, which ships the
OpenAPI definitions of each Kubernetes release as JSON Schema (descriptions, required fields,
``x-kubernetes-group-version-kind``, ``x-kubernetes-patch-merge-key`` … intact).  Turning them back into
OpenAPI v2 definitions only undoes what the JSON-Schema conversion did (nullable type lists, ``oneOf``
for int-or-string and quantities, ``enum`` on ``kind``/``apiVersion``).

From them the demo gets, besides the OpenAPI documents (:mod:`.openapi`): the merge keys and strategies of
strategic merge patch for every kind (:mod:`.patch`), the list-map keys of server-side apply, and what the
apiserver's decoder does with a body: unknown fields (``strict decoding error: unknown field "spec.foo"``
under ``fieldValidation=Strict``, a warning under ``Warn``, silently dropped under ``Ignore``), values of the
wrong JSON type (``json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type
int32``), and ``null`` values, which Go's decoder leaves as zero values (so they vanish from the object).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import quantity as quantities

KUBE_MINOR = "1.37"
Obj = dict[str, Any]


class SchemaUnavailable(RuntimeError):
    """``kubernetes-validate`` is not installed (it comes with the ``demo`` extra)."""


def _schema_file() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise SchemaUnavailable(
            "the demo cluster needs the kubernetes-validate package: pip install k8sterm_widget[demo]"
        )
    base = Path(spec.origin).parent / "kubernetes-json-schema"
    candidates = sorted(base.glob(f"v{KUBE_MINOR}.*-local/_definitions.json")) or sorted(
        base.glob("v*-local/_definitions.json"),
        key=lambda p: [int(x) for x in p.parent.name[1:-6].split(".")],
    )
    if not candidates:
        raise SchemaUnavailable(f"kubernetes-validate has no schemas under {base}")
    return candidates[-1]


def _v2(node: Any) -> Any:
    """Undo the JSON-Schema conversion of one node (recursively)."""
    if isinstance(node, list):
        return [_v2(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: Obj = {}
    for key, value in node.items():
        if key == "$ref":
            out[key] = value.replace("#/$defs/", "#/definitions/")
        elif key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            out[key] = types[0] if types else "object"
        elif key in ("properties", "patternProperties"):
            out[key] = {k: _v2(v) for k, v in value.items()}
        else:
            out[key] = _v2(value)
    return out


_SPECIAL = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML "
        "marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, "
        "for example, a JSON field that can accept a name or number.",
        "type": "string",
        "format": "int-or-string",
    },
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number. It provides convenient "
        "marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.",
        "type": "string",
    },
}


@functools.lru_cache(maxsize=1)
def definitions() -> dict[str, Obj]:
    """OpenAPI v2 ``definitions`` of the Kubernetes release, keyed by Go package path and type name."""
    raw = json.loads(_schema_file().read_text())
    defs = raw.get("$defs") or raw.get("definitions") or {}
    out: dict[str, Obj] = {}
    for name, schema in defs.items():
        if name in _SPECIAL:
            out[name] = dict(_SPECIAL[name])
            continue
        converted = _v2(schema)
        for prop in ("kind", "apiVersion"):
            p = converted.get("properties", {}).get(prop)
            if isinstance(p, dict):
                p.pop("enum", None)
        out[name] = converted
    return out


@functools.lru_cache(maxsize=1)
def _by_gvk() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
            # the same kind is also declared by meta's WatchEvent/DeleteOptions for every group; prefer the
            # definition whose own name ends with the kind
            if key not in index or name.endswith("." + key[2]):
                index[key] = name
    return index


def definition_for(group: str, version: str, kind: str) -> str | None:
    return _by_gvk().get((group, version, kind))


def resolve(schema: Obj) -> tuple[str | None, Obj]:
    """Follow a ``$ref`` (also inside ``allOf``): the definition name and its schema."""
    ref = schema.get("$ref")
    if ref is None and schema.get("allOf"):
        ref = schema["allOf"][0].get("$ref")
    if ref is None:
        return None, schema
    name = ref.rsplit("/", 1)[-1]
    return name, definitions().get(name, {})


# --- patch metadata -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldMeta:
    """What strategic merge patch and apply need to know about one field."""

    schema: Obj
    merge_key: str | None = None
    strategies: frozenset[str] = frozenset()
    list_type: str | None = None
    map_keys: tuple[str, ...] = ()


def field_meta(schema: Obj | None, key: str) -> FieldMeta | None:
    """The metadata of property ``key`` of ``schema`` (an object schema, refs already resolved)."""
    if not schema:
        return None
    props = schema.get("properties")
    if props is None:
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return FieldMeta(schema=extra)
        return None
    prop = props.get(key)
    if prop is None:
        return None
    strategy = prop.get("x-kubernetes-patch-strategy", "")
    return FieldMeta(
        schema=prop,
        merge_key=prop.get("x-kubernetes-patch-merge-key"),
        strategies=frozenset(s for s in strategy.split(",") if s),
        list_type=prop.get("x-kubernetes-list-type"),
        map_keys=tuple(prop.get("x-kubernetes-list-map-keys", ())),
    )


def object_schema(schema: Obj | None) -> Obj | None:
    """The object schema a property's value has (refs resolved), or None for scalars and unknowns."""
    if not schema:
        return None
    _, target = resolve(schema)
    if target.get("type") == "object" or "properties" in target or "additionalProperties" in target:
        return target
    return None


def item_schema(schema: Obj | None) -> Obj | None:
    """The schema of the items of an array-valued property."""
    if not schema:
        return None
    _, target = resolve(schema)
    items = target.get("items")
    return items if isinstance(items, dict) else None


# --- decoding -------------------------------------------------------------------------------------


@dataclass
class Decoded:
    obj: Any
    unknown: list[str] = field(default_factory=list)  # dotted paths of unknown fields, in document order
    duplicate: list[str] = field(default_factory=list)
    error: str = ""  # the first type error, in encoding/json's words (or the unstructured converter's)
    unstructured: bool = False  # decoding a patched map: runtime.DefaultUnstructuredConverter's words


def _go_type(schema: Obj) -> str:
    name, target = resolve(schema)
    if name is not None:
        if name in _SPECIAL:
            return {"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "intstr.IntOrString"}.get(
                name, "resource.Quantity"
            )
        if target.get("type") == "string":
            return "string"
        parts = name.split(".")
        return f"{parts[-2]}.{parts[-1]}"
    t = target.get("type")
    if t == "array":
        inner = target.get("items") or {}
        return "[]" + _go_type(inner)
    if t == "object":
        extra = target.get("additionalProperties")
        return "map[string]" + (_go_type(extra) if isinstance(extra, dict) else "interface {}")
    if t == "integer":
        return target.get("format", "int64")
    if t == "number":
        return "float64"
    if t == "boolean":
        return "bool"
    return "string"


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _TypeError(Exception):
    pass


def decode(obj: Any, definition: str, *, unstructured: bool = False) -> Decoded:
    """Decode ``obj`` as the Go type ``definition``: unknown fields listed (and dropped), nulls dropped,
    the first type mismatch reported in ``encoding/json``'s words — or, for the map a strategic merge
    patch produced (``unstructured``), in ``FromUnstructured``'s (``pkg/runtime/converter.go``)."""
    result = Decoded(obj=None, unstructured=unstructured)
    root = definitions().get(definition, {})
    struct = definition.rsplit(".", 1)[-1]
    try:
        result.obj = _decode(obj, {"$ref": f"#/definitions/{definition}"} if root else {}, "", struct, result)
    except _TypeError as exc:
        result.error = str(exc)
    return result


def _decode(value: Any, schema: Obj, path: str, struct: str, out: Decoded) -> Any:
    name, target = resolve(schema) if schema else (None, {})
    if not target:
        return value
    if name in _SPECIAL:
        if name.endswith("IntOrString"):
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                # IntOrString.UnmarshalJSON: anything but a string is unmarshalled into the int32
                raise _TypeError(f"json: cannot unmarshal {_json_kind(value)} into Go value of type int32")
            return value
        # Quantity.UnmarshalJSON parses while decoding; the stored form is the canonical one
        try:
            return quantities.canonical(value)
        except quantities.QuantityError as exc:
            raise _TypeError(str(exc)) from None
    t = target.get("type")
    if t == "object" or "properties" in target:
        if not isinstance(value, dict):
            if out.unstructured:
                into = "struct from:" if "properties" in target else "map from"
                raise _TypeError(f"cannot restore {into} {_reflect_kind(value)}")
            raise _TypeError(_mismatch(value, _go_type(schema), struct, path))
        props = target.get("properties")
        if props is None:
            extra = target.get("additionalProperties")
            if target.get("x-kubernetes-preserve-unknown-fields") or not isinstance(extra, dict):
                return value
            return {
                k: _decode(v, extra, f"{path}.{k}" if path else k, struct, out)
                for k, v in value.items()
                if v is not None
            }
        here = name.rsplit(".", 1)[-1] if name else struct
        decoded: Obj = {}
        for key, v in value.items():
            child = f"{path}.{key}" if path else key
            prop = props.get(key)
            if prop is None:
                out.unknown.append(child)
                continue
            if v is None:
                continue
            field_value = _decode(v, prop, child, here, out)
            if _empty_collection(field_value, prop):
                # Go keeps an empty slice or map as nil once stored (protobuf has no empty list): omitted
                continue
            decoded[key] = field_value
        return decoded
    if t == "array":
        if not isinstance(value, list):
            if out.unstructured:
                raise _TypeError(f"cannot restore slice from {_reflect_kind(value)}")
            raise _TypeError(_mismatch(value, _go_type(schema), struct, path))
        items = target.get("items") or {}
        return [_decode(v, items, f"{path}[{i}]", struct, out) for i, v in enumerate(value)]
    if t == "string":
        if not isinstance(value, str):
            if target.get("format") == "byte" and value is None:
                return value
            raise _TypeError(_refusal(value, "string", struct, path, out))
        if target.get("format") == "byte":
            problem = base64_error(value)
            if problem:
                raise _TypeError(problem)
        return value
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise _TypeError(_refusal(value, target.get("format", "int64"), struct, path, out))
        return int(value)
    if t == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _TypeError(_refusal(value, "float64", struct, path, out))
        return value
    if t == "boolean":
        if not isinstance(value, bool):
            raise _TypeError(_refusal(value, "bool", struct, path, out))
        return value
    return value


_BASE64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def base64_error(text: str) -> str:
    """encoding/json decodes a ``[]byte`` field with ``base64.StdEncoding`` (padding required, CR and LF
    skipped); this walks the input as its ``decodeQuantum`` does and names the same offset."""
    si, n = 0, len(text)

    def corrupt(offset: int) -> str:
        return f"illegal base64 data at input byte {offset}"

    while True:
        j = 0
        while j < 4:
            if si == n:
                return "" if j == 0 else corrupt(si - j)
            c = text[si]
            si += 1
            if c in _BASE64:
                j += 1
                continue
            if c in "\r\n":
                continue
            if c != "=" or j < 2:
                return corrupt(si - 1)
            if j == 2:  # "==" expected: the second one must follow (newlines skipped)
                while si < n and text[si] in "\r\n":
                    si += 1
                if si == n:
                    return corrupt(n)
                if text[si] != "=":
                    return corrupt(si - 1)
                si += 1
            while si < n and text[si] in "\r\n":
                si += 1
            return corrupt(si) if si < n else ""


def _empty_collection(value: Any, schema: Obj) -> bool:
    """An empty list, or an empty map where the type is a map (an empty struct stays ``{}``)."""
    if value == []:
        return True
    if value != {}:
        return False
    _, target = resolve(schema)
    return "properties" not in target and isinstance(target.get("additionalProperties"), dict)


def _reflect_kind(value: Any) -> str:
    """The ``reflect.Kind`` of a value decoded into ``interface{}`` (integers kept as int64)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    return "slice" if isinstance(value, list) else "map"


def _refusal(value: Any, go_type: str, struct: str, path: str, out: Decoded) -> str:
    """A scalar of the wrong type: ``encoding/json``'s text, or ``fromUnstructured``'s (which converts
    between integer kinds, refuses a fraction with "cannot convert", and knows nothing else)."""
    if not out.unstructured:
        return _mismatch(value, go_type, struct, path)
    kind = _reflect_kind(value)
    if kind == "int64" and go_type == "string":
        return "cannot convert int64 to string"  # Go can convert an int to a string, JSON may not
    if kind == "float64" and go_type.startswith("int"):
        return f"cannot convert float64 to {go_type}"
    return f"unrecognized type: {go_type}"


def _mismatch(value: Any, go_type: str, struct: str, path: str) -> str:
    where = re.sub(r"\[\d+\]", "", path)  # encoding/json names the field path without list indexes
    return (
        f"json: cannot unmarshal {_json_kind(value)} into Go struct field {struct}.{where} of type {go_type}"
    )
