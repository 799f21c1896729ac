"""Just enough of the Kubernetes protobuf encoding to read a SelfSubjectAccessReview request.

kubectl (``auth can-i``) posts built-in types as ``application/vnd.kubernetes.protobuf``: the magic
``k8s\\0`` followed by a ``runtime.Unknown`` envelope whose ``raw`` field holds the object.  The demo answers
in JSON (kubectl accepts it), so only decoding is needed, and only of the fields an access review uses.
"""

from __future__ import annotations

from typing import Any

MAGIC = b"k8s\x00"


class ProtobufError(ValueError):
    pass


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ProtobufError("truncated varint")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> dict[int, list[bytes | int]]:
    """Decode one message level: field number → values (bytes for length-delimited, int for varints)."""
    out: dict[int, list[bytes | int]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: bytes | int
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            length, pos = _varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError("truncated field")
            value, pos = data[pos : pos + length], pos + length
        elif wire == 1:
            value, pos = int.from_bytes(data[pos : pos + 8], "little"), pos + 8
        elif wire == 5:
            value, pos = int.from_bytes(data[pos : pos + 4], "little"), pos + 4
        else:
            raise ProtobufError(f"unsupported wire type {wire}")
        out.setdefault(number, []).append(value)
    return out


def _str(msg: dict[int, list[bytes | int]], number: int) -> str:
    values = msg.get(number)
    if not values or not isinstance(values[-1], bytes):
        return ""
    return values[-1].decode("utf-8", "replace")


def _sub(msg: dict[int, list[bytes | int]], number: int) -> dict[int, list[bytes | int]] | None:
    values = msg.get(number)
    if not values or not isinstance(values[-1], bytes):
        return None
    return fields(values[-1])


def decode_ssar(body: bytes) -> dict[str, Any]:
    """A protobuf SelfSubjectAccessReview as the JSON ``{"spec": {...}}`` it stands for."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing k8s protobuf magic")
    envelope = fields(body[len(MAGIC) :])
    raw = envelope.get(2)
    if not raw or not isinstance(raw[-1], bytes):
        raise ProtobufError("empty object")
    review = fields(raw[-1])
    spec_msg = _sub(review, 2) or {}
    spec: dict[str, Any] = {}
    res = _sub(spec_msg, 1)
    if res is not None:
        names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
        spec["resourceAttributes"] = {n: _str(res, i) for i, n in enumerate(names, 1) if _str(res, i)}
    nonres = _sub(spec_msg, 2)
    if nonres is not None:
        spec["nonResourceAttributes"] = {
            n: _str(nonres, i) for i, n in ((1, "path"), (2, "verb")) if _str(nonres, i)
        }
    return {"spec": spec}
