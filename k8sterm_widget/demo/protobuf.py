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


# --- any built-in kind, from Kubernetes' own field table ------------------------------------------

_TABLE_FILE = "data/protobuf-fields.json"
_META = "k8s.io.apimachinery.pkg.apis.meta.v1."
_GROUP_PACKAGES = {
    "": "core", "apps": "apps", "batch": "batch", "rbac.authorization.k8s.io": "rbac",
    "discovery.k8s.io": "discovery", "coordination.k8s.io": "coordination",
    "authentication.k8s.io": "authentication", "authorization.k8s.io": "authorization",
    "autoscaling": "autoscaling", "policy": "policy", "events.k8s.io": "events", "meta.k8s.io": "",
}  # fmt: skip


def _table() -> dict[str, list[list[Any]]]:
    global _CACHE
    if _CACHE is None:
        import json
        from importlib import resources

        _CACHE = json.loads(resources.files(__package__).joinpath(_TABLE_FILE).read_text())
    return _CACHE


_CACHE: dict[str, list[list[Any]]] | None = None


def message_for(api_version: str, kind: str) -> str | None:
    """The protobuf message of a kind (``apps/v1``, ``Deployment`` → ``k8s.io.api.apps.v1.Deployment``)."""
    group, _, version = api_version.rpartition("/")
    if kind in ("DeleteOptions", "Status", "WatchEvent", "Table", "PartialObjectMetadata"):
        name = _META + kind
        return name if name in _table() else None
    package = _GROUP_PACKAGES.get(group)
    if package is None:
        return None
    name = f"k8s.io.api.{package}.{version}.{kind}"
    return name if name in _table() else None


def _signed(value: int, bits: int) -> int:
    value &= (1 << 64) - 1
    if value >= 1 << 63:
        value -= 1 << 64
    return value if bits == 64 else int(value)


def _time(msg: dict[int, list[bytes | int]], *, micro: bool = False) -> str | None:
    """A ``metav1.Time`` (``MicroTime`` keeps the microseconds) as its JSON; an empty message is the zero
    time, which Go writes as ``null`` (``time_proto.go``: ``Unmarshal`` of no bytes is ``time.Time{}``) — a
    pod template's ``creationTimestamp: null`` stays null, not 1970."""
    import datetime

    if not msg:
        return None
    seconds = msg.get(1, [0])[-1]
    nanos = msg.get(2, [0])[-1]
    assert isinstance(seconds, int) and isinstance(nanos, int)
    stamp = datetime.datetime.fromtimestamp(_signed(seconds, 64), datetime.timezone.utc)
    if micro:
        return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{_signed(nanos, 64) // 1000:06d}Z"
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scalar(type_name: str, value: bytes | int) -> Any:
    if type_name == "string":
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    if type_name == "bytes":
        import base64

        return base64.b64encode(value if isinstance(value, bytes) else b"").decode()
    if type_name == "bool":
        return bool(value)
    if type_name in ("int32", "int64"):
        return _signed(int(value), 64) if isinstance(value, int) else 0
    if type_name in ("double", "fixed64"):
        import struct

        return struct.unpack("<d", int(value).to_bytes(8, "little"))[0] if isinstance(value, int) else 0.0
    if type_name == "float":
        import struct

        return struct.unpack("<f", int(value).to_bytes(4, "little"))[0] if isinstance(value, int) else 0.0
    return value


def _special(type_name: str, raw: bytes) -> tuple[bool, Any]:
    """Messages whose JSON form is not an object: times, quantities, int-or-string, raw JSON."""
    short = type_name.rsplit(".", 1)[-1]
    if type_name in (_META + "Time", _META + "MicroTime"):
        return True, _time(fields(raw), micro=type_name == _META + "MicroTime")
    if type_name == _META + "Duration":
        value = fields(raw).get(1, [0])[-1]
        return True, f"{_signed(int(value), 64) / 1e9:g}s"
    if short == "Quantity":
        return True, _str(fields(raw), 1)
    if short == "IntOrString":
        msg = fields(raw)
        kind = msg.get(1, [0])[-1]
        if kind == 1:
            return True, _str(msg, 3)
        value = msg.get(2, [0])[-1]
        return True, _signed(int(value), 64)
    if short in ("RawExtension", "FieldsV1"):
        import json

        data = fields(raw).get(1, [b""])[-1]
        try:
            return True, json.loads(data) if isinstance(data, bytes) and data else None
        except ValueError:
            return True, None
    if short in ("Verbs", "ExtraValue"):
        return True, [v.decode("utf-8", "replace") for v in fields(raw).get(1, []) if isinstance(v, bytes)]
    return False, None


def decode_message(raw: bytes, type_name: str) -> Any:
    """One protobuf message as the JSON the same object has (proto field names are the JSON names)."""
    special, value = _special(type_name, raw)
    if special:
        return value
    spec = _table().get(type_name)
    if spec is None:
        return {}
    msg = fields(raw)
    out: dict[str, Any] = {}
    for number, name, ftype, label in spec:
        values = msg.get(number)
        if not values:
            continue
        if label == "map":
            mapping: dict[str, Any] = {}
            for entry in values:
                if not isinstance(entry, bytes):
                    continue
                kv = fields(entry)
                key = _str(kv, 1)
                item = kv.get(2, [b"" if ftype in ("string", "bytes") or "." in ftype else 0])[-1]
                mapping[key] = (
                    decode_message(item, ftype)
                    if "." in ftype and isinstance(item, bytes)
                    else _scalar(ftype, item)
                )
            out[name] = mapping
        elif "." in ftype:
            decoded = [decode_message(v, ftype) for v in values if isinstance(v, bytes)]
            if (type_name, name) in _INLINE and isinstance(decoded[-1], dict):
                out.update(decoded[-1])  # a Go struct embedded with json:",inline"
            else:
                out[name] = decoded if label == "repeated" else decoded[-1]
        elif label == "repeated":
            items: list[Any] = []
            for v in values:
                if isinstance(v, bytes) and ftype not in ("string", "bytes"):
                    pos = 0
                    while pos < len(v):  # a packed list of varints
                        n, pos = _varint(v, pos)
                        items.append(_scalar(ftype, n))
                else:
                    items.append(_scalar(ftype, v))
            out[name] = items
        else:
            value = _scalar(ftype, values[-1])
            # Go writes non-pointer fields even when zero, where its JSON encoder (omitempty) leaves them out;
            # pointer fields are written only when set. Zero values are therefore dropped, except for the
            # pointer fields whose zero a client sets on purpose.
            if value in ("", 0, False) and name not in _ZERO_MEANS_SET:
                continue
            out[name] = value
    return out


_CORE = "k8s.io.api.core.v1."
#: Fields whose Go struct is embedded inline (``json:",inline"``): in JSON their members sit in the parent,
#: in protobuf they are a message of their own (``Volume.volumeSource`` -> ``{"name", "hostPath"}``).
_INLINE = {
    (_CORE + message, field)
    for message, field in (
        ("Volume", "volumeSource"),
        ("PersistentVolumeSpec", "persistentVolumeSource"),
        ("EphemeralContainer", "ephemeralContainerCommon"),
        ("Probe", "handler"),
        ("ConfigMapKeySelector", "localObjectReference"),
        ("SecretKeySelector", "localObjectReference"),
        ("ConfigMapEnvSource", "localObjectReference"),
        ("SecretEnvSource", "localObjectReference"),
        ("ConfigMapVolumeSource", "localObjectReference"),
        ("ConfigMapProjection", "localObjectReference"),
        ("SecretProjection", "localObjectReference"),
        ("VolumeMountStatus", "volumeStatus"),
    )
}

_ZERO_MEANS_SET = {"replicas", "parallelism", "completions", "backoffLimit", "terminationGracePeriodSeconds",
                   "automountServiceAccountToken", "enableServiceLinks", "immutable", "optional",
                   "expirationSeconds", "gracePeriodSeconds", "orphanDependents"}  # fmt: skip


def decode_object(body: bytes) -> dict[str, Any]:
    """A ``k8s\\0``-framed protobuf object as its JSON (``apiVersion``, ``kind`` and all its fields)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing k8s protobuf magic")
    envelope = fields(body[len(MAGIC) :])
    type_meta = _sub(envelope, 1) or {}
    api_version, kind = _str(type_meta, 1), _str(type_meta, 2)
    raw = envelope.get(2, [b""])[-1]
    if not isinstance(raw, bytes):
        raise ProtobufError("empty object")
    name = message_for(api_version, kind)
    if name is None:
        raise ProtobufError(f"no protobuf message for {api_version} {kind}")
    obj = decode_message(raw, name)
    return {"apiVersion": api_version, "kind": kind, **obj}
