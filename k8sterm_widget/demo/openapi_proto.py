"""The OpenAPI v2 document in the protobuf form kubectl asks for (gnostic's ``openapi_v2.Document``).

client-go's ``OpenAPISchema()`` requests ``/openapi/v2`` as ``application/com.github.proto-openapi.spec.v2@
v1.0+protobuf`` and parses the answer with ``proto.Unmarshal``, without a JSON fallback.  kubectl falls back
to it whenever ``/openapi/v3`` has no document for a group-version — which is what happens for a typo in
``apiVersion`` or ``kind`` — so a JSON answer made kubectl say "proto: cannot parse invalid wire-format data"
where a cluster says "no matches for kind".  kube-openapi builds the protobuf by compiling the JSON document
with gnostic; this does the same mapping: every JSON field to the field number of gnostic's message
(``openapiv2/OpenAPIv2.proto``), free-form values (``default``, ``enum``, ``x-…`` extensions) as ``Any``
holding their YAML — JSON text is YAML.
"""

from __future__ import annotations

import json
import struct
from typing import Any

Obj = dict[str, Any]

# message name -> {json key: (field number, kind)}; kind is a scalar ("string", "bool", "int64", "double"),
# "[string]" for repeated strings, a message name, "[Message]" for repeated messages, or "any"/"[any]".
_MESSAGES: dict[str, dict[str, tuple[int, str]]] = {
    "Document": {
        "swagger": (1, "string"), "info": (2, "Info"), "host": (3, "string"), "basePath": (4, "string"),
        "schemes": (5, "[string]"), "consumes": (6, "[string]"), "produces": (7, "[string]"),
        "paths": (8, "Paths"), "definitions": (9, "Definitions"), "security": (12, "[SecurityRequirement]"),
        "securityDefinitions": (13, "SecurityDefinitions"),
    },
    "Info": {"title": (1, "string"), "version": (2, "string"), "description": (3, "string")},
    "PathItem": {
        "$ref": (1, "string"), "get": (2, "Operation"), "put": (3, "Operation"), "post": (4, "Operation"),
        "delete": (5, "Operation"), "options": (6, "Operation"), "head": (7, "Operation"),
        "patch": (8, "Operation"), "parameters": (9, "[ParametersItem]"),
    },
    "Operation": {
        "tags": (1, "[string]"), "summary": (2, "string"), "description": (3, "string"),
        "operationId": (5, "string"), "produces": (6, "[string]"), "consumes": (7, "[string]"),
        "parameters": (8, "[ParametersItem]"), "responses": (9, "Responses"), "schemes": (10, "[string]"),
        "deprecated": (11, "bool"),
    },
    "BodyParameter": {
        "description": (1, "string"), "name": (2, "string"), "in": (3, "string"), "required": (4, "bool"),
        "schema": (5, "Schema"),
    },
    "QueryParameterSubSchema": {
        "required": (1, "bool"), "in": (2, "string"), "description": (3, "string"), "name": (4, "string"),
        "allowEmptyValue": (5, "bool"), "type": (6, "string"), "format": (7, "string"),
        "collectionFormat": (9, "string"), "default": (10, "any"), "uniqueItems": (20, "bool"),
        "enum": (21, "[any]"),
    },
    "PathParameterSubSchema": {
        "required": (1, "bool"), "in": (2, "string"), "description": (3, "string"), "name": (4, "string"),
        "type": (5, "string"), "format": (6, "string"), "collectionFormat": (8, "string"),
        "default": (9, "any"), "uniqueItems": (19, "bool"), "enum": (20, "[any]"),
    },
    "Response": {"description": (1, "string"), "schema": (2, "SchemaItem")},
    "Schema": {
        "$ref": (1, "string"), "format": (2, "string"), "title": (3, "string"), "description": (4, "string"),
        "default": (5, "any"), "multipleOf": (6, "double"), "maximum": (7, "double"),
        "exclusiveMaximum": (8, "bool"), "minimum": (9, "double"), "exclusiveMinimum": (10, "bool"),
        "maxLength": (11, "int64"), "minLength": (12, "int64"), "pattern": (13, "string"),
        "maxItems": (14, "int64"), "minItems": (15, "int64"), "uniqueItems": (16, "bool"),
        "maxProperties": (17, "int64"), "minProperties": (18, "int64"), "required": (19, "[string]"),
        "enum": (20, "[any]"), "additionalProperties": (21, "AdditionalPropertiesItem"),
        "type": (22, "TypeItem"), "items": (23, "ItemsItem"), "allOf": (24, "[Schema]"),
        "properties": (25, "Properties"), "discriminator": (26, "string"), "readOnly": (27, "bool"),
        "example": (30, "any"),
    },
    "ApiKeySecurity": {
        "type": (1, "string"), "name": (2, "string"), "in": (3, "string"), "description": (4, "string"),
    },
}  # fmt: skip
# where each message keeps its x-… extensions (repeated NamedAny)
_EXTENSIONS = {
    "Document": 16, "Info": 7, "PathItem": 10, "Operation": 13, "BodyParameter": 6,
    "QueryParameterSubSchema": 23, "PathParameterSubSchema": 22, "Response": 5, "Schema": 31,
    "ApiKeySecurity": 5, "Paths": 1, "Responses": 2,
}  # fmt: skip


def _varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, data: bytes) -> bytes:
    return _key(number, 2) + _varint(len(data)) + data


def _string(number: int, text: str) -> bytes:
    return _bytes(number, text.encode())


def _named(name: str, value: bytes) -> bytes:
    """The ``NamedX`` pair every map of the document becomes: ``name = 1``, ``value = 2``."""
    return _string(1, name) + _bytes(2, value)


def _any(value: Any) -> bytes:
    """``Any{yaml = 2}``: gnostic keeps a free-form value as YAML text."""
    return _string(2, json.dumps(value, separators=(",", ":")))


def _extensions(message: str, obj: Obj) -> bytes:
    number = _EXTENSIONS.get(message)
    if number is None:
        return b""
    return b"".join(_bytes(number, _named(k, _any(v))) for k, v in obj.items() if k.startswith("x-"))


def _field(number: int, kind: str, value: Any) -> bytes:
    if kind.startswith("["):
        return b"".join(_field(number, kind[1:-1], v) for v in value)
    if kind == "string":
        return _string(number, str(value))
    if kind == "bool":
        return _key(number, 0) + _varint(1 if value else 0) if value else b""
    if kind == "int64":
        return _key(number, 0) + _varint(int(value))
    if kind == "double":
        return _key(number, 1) + struct.pack("<d", float(value))
    if kind == "any":
        return _bytes(number, _any(value))
    return _bytes(number, message(kind, value))


def message(name: str, obj: Any) -> bytes:
    """One JSON node of the document as gnostic's message ``name``."""
    special = _SPECIAL.get(name)
    if special is not None:
        return special(obj)
    out = b""
    for key, (number, kind) in _MESSAGES[name].items():
        if key in obj and obj[key] is not None:
            out += _field(number, kind, obj[key])
    return out + _extensions(name, obj)


def _paths(obj: Obj) -> bytes:
    return _extensions("Paths", obj) + b"".join(
        _bytes(2, _named(p, message("PathItem", item))) for p, item in obj.items() if not p.startswith("x-")
    )


def _definitions(obj: Obj) -> bytes:
    return b"".join(_bytes(1, _named(name, message("Schema", schema))) for name, schema in obj.items())


def _parameters_item(obj: Obj) -> bytes:
    if "$ref" in obj:
        return _bytes(2, _string(1, obj["$ref"]))  # ParametersItem.json_reference = JsonReference{_ref}
    if obj.get("in") == "body":
        parameter = _bytes(1, message("BodyParameter", obj))
    else:
        # NonBodyParameter: header = 1, formData = 2, query = 3, path = 4
        which = {"header": 1, "formData": 2, "query": 3, "path": 4}[obj.get("in", "query")]
        sub = "PathParameterSubSchema" if which == 4 else "QueryParameterSubSchema"
        parameter = _bytes(2, _bytes(which, message(sub, obj)))
    return _bytes(1, parameter)


def _responses(obj: Obj) -> bytes:
    return b"".join(
        _bytes(1, _named(code, _bytes(1, message("Response", response))))  # ResponseValue.response = 1
        for code, response in obj.items()
        if not code.startswith("x-")
    ) + _extensions("Responses", obj)


def _additional(value: Any) -> bytes:
    if isinstance(value, bool):
        return _key(2, 0) + _varint(1 if value else 0)  # AdditionalPropertiesItem.boolean = 2
    return _bytes(1, message("Schema", value))


def _type_item(value: Any) -> bytes:
    return b"".join(_string(1, t) for t in (value if isinstance(value, list) else [value]))


def _items(value: Any) -> bytes:
    return b"".join(_bytes(1, message("Schema", s)) for s in (value if isinstance(value, list) else [value]))


def _properties(obj: Obj) -> bytes:
    return b"".join(_bytes(1, _named(name, message("Schema", schema))) for name, schema in obj.items())


def _security(obj: Obj) -> bytes:
    # SecurityRequirement{additional_properties = 1: NamedStringArray{name, StringArray{value = 1}}}
    return b"".join(
        _bytes(1, _named(name, b"".join(_string(1, s) for s in scopes))) for name, scopes in obj.items()
    )


def _security_definitions(obj: Obj) -> bytes:
    # SecurityDefinitionsItem.api_key_security = 2 (the only kind the apiserver declares)
    return b"".join(
        _bytes(1, _named(name, _bytes(2, message("ApiKeySecurity", item)))) for name, item in obj.items()
    )


_SPECIAL = {
    "Paths": _paths,
    "Definitions": _definitions,
    "ParametersItem": _parameters_item,
    "Responses": _responses,
    "AdditionalPropertiesItem": _additional,
    "TypeItem": _type_item,
    "ItemsItem": _items,
    "Properties": _properties,
    "SecurityRequirement": _security,
    "SecurityDefinitions": _security_definitions,
    "SchemaItem": lambda obj: _bytes(1, message("Schema", obj)),  # SchemaItem.schema = 1
}


def document(doc: Obj) -> bytes:
    """The whole document as ``openapi_v2.Document``."""
    return message("Document", doc)
