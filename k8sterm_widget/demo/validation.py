"""Ephemeral containers as the apiserver decodes, defaults and validates them.

An update of ``pods/ephemeralcontainers`` yields the new list of ephemeral containers; the apiserver
decodes it into Go structs (dropping unknown fields, applying defaults such as
``terminationMessagePolicy: File``), validates it against the pod (``validateEphemeralContainers``), and
checks that no existing entry was removed or changed (``ValidatePodEphemeralContainersUpdate``).  The
texts are the ``field.Error`` strings of ``pkg/apis/core/validation``, because kubectl and the Python
clients show them verbatim.
"""

from __future__ import annotations

import json
import re
from typing import Any

from . import status as st
from .objects import Obj, pull_policy

# EphemeralContainer's JSON fields in Go struct order, with the JSON type each must have.
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "image": str,
    "command": list,
    "args": list,
    "workingDir": str,
    "ports": list,
    "envFrom": list,
    "env": list,
    "resources": dict,
    "resizePolicy": list,
    "restartPolicy": str,
    "restartPolicyRules": list,
    "volumeMounts": list,
    "volumeDevices": list,
    "livenessProbe": dict,
    "readinessProbe": dict,
    "startupProbe": dict,
    "lifecycle": dict,
    "terminationMessagePath": str,
    "terminationMessagePolicy": str,
    "imagePullPolicy": str,
    "securityContext": dict,
    "stdin": bool,
    "stdinOnce": bool,
    "tty": bool,
    "targetContainerName": str,
}
# Fields an ephemeral container may not set (allowedEphemeralContainerFields is an allow list).
_FORBIDDEN = (
    "ports", "resources", "resizePolicy", "restartPolicy", "restartPolicyRules",
    "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
)  # fmt: skip
_SPEC_PATH = "spec.ephemeralContainers"


MAX_DEPTH = 32  # deeper than any container field; keeps every stored pod serialisable


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests deeper than :data:`MAX_DEPTH` (level by level: no recursion to exhaust)."""
    level = [value]
    for _ in range(MAX_DEPTH + 1):
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
        ]
        if not level:
            return False
    return True


class DecodeError(ValueError):
    """A value of the wrong JSON type, which Go's decoder refuses before any validation."""


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    names: dict[type, str] = {dict: "object", list: "array", str: "string"}
    return names.get(type(value), "null")


def normalize(container: Any) -> Obj:
    """One ephemeral container decoded and defaulted: known fields only, in Go's order, empty ones omitted.

    ``resources`` is a struct, never omitted (``{}``); pull policy and termination message default.
    """
    if not isinstance(container, dict):
        raise DecodeError(
            f"cannot unmarshal {_go_type(container)} into Go value of type v1.EphemeralContainer"
        )
    out: Obj = {}
    for key, kind in _FIELDS.items():
        value = container.get(key)
        if value is None:
            continue
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise DecodeError(
                f"cannot unmarshal {_go_type(value)} into Go struct field "
                f"EphemeralContainer.spec.ephemeralContainers.{key}"
            )
        if _too_deep(value):
            raise DecodeError(f"EphemeralContainer.{key}: exceeded max depth")
        if key in ("command", "args") and not all(isinstance(v, str) for v in container[key]):
            raise DecodeError(
                f"cannot unmarshal into Go struct field EphemeralContainer.{key} of type string"
            )
        if value or key == "resources":
            out[key] = value
    out.setdefault("resources", {})
    if out.get("image"):
        out.setdefault("imagePullPolicy", pull_policy(out["image"]))
    out.setdefault("terminationMessagePath", "/dev/termination-log")
    out.setdefault("terminationMessagePolicy", "File")
    return {key: out[key] for key in _FIELDS if key in out}


def decode_error(patched: Any, error: DecodeError) -> st.Status:
    """The 422 of an update whose result does not decode into a Pod (no kind and name: nothing decoded)."""
    shown = json.dumps(patched, separators=(",", ":"))[:200]
    return st.invalid(
        "", "", [st.FieldError("patch", st.INVALID, f"Invalid value: {shown!r}: json: {error}")]
    )


def validate(pod: Obj, new: list[Obj]) -> list[st.FieldError]:
    """``validateEphemeralContainers`` for ``new``, then the rule that existing entries stay as they are."""
    spec = pod["spec"]
    others = [c["name"] for key in ("containers", "initContainers") for c in spec.get(key, [])]
    volumes = {v.get("name") for v in spec.get("volumes", [])}
    names = set(others)
    errors: list[st.FieldError] = []
    for i, c in enumerate(new):
        path = f"{_SPEC_PATH}[{i}]"
        errors += _common(c, path, volumes)
        name = c.get("name", "")
        if name in names:
            errors.append(st.FieldError(f"{path}.name", st.DUPLICATE, f'Duplicate value: "{name}"'))
        else:
            names.add(name)
        target = c.get("targetContainerName", "")
        if target and target not in others:
            errors.append(
                st.FieldError(f"{path}.targetContainerName", st.NOT_FOUND, f'Not found: "{target}"')
            )
        for key in _FORBIDDEN:
            if c.get(key):
                errors.append(
                    st.FieldError(
                        f"{path}.{key}", st.FORBIDDEN, "Forbidden: cannot be set for an Ephemeral Container"
                    )
                )
        for j, mount in enumerate(c.get("volumeMounts", [])):
            for sub in ("subPath", "subPathExpr"):
                if isinstance(mount, dict) and mount.get(sub):
                    errors.append(
                        st.FieldError(
                            f"{path}.volumeMounts[{j}].{sub}",
                            st.FORBIDDEN,
                            "Forbidden: cannot be set for an Ephemeral Container",
                        )
                    )
    by_name = {c.get("name"): c for c in new}
    for old in spec.get("ephemeralContainers", []):
        now = by_name.get(old["name"])
        if now is None:
            detail = f'existing ephemeral containers "{old["name"]}" may not be removed\n'
        elif now != old:
            detail = f'existing ephemeral containers "{old["name"]}" may not be changed\n{_diff(old, now)}'
        else:
            continue
        errors.append(st.FieldError(_SPEC_PATH, st.FORBIDDEN, f"Forbidden: {detail}"))
    return errors


def _common(c: Obj, path: str, volumes: set[Any]) -> list[st.FieldError]:
    """``validateContainerCommon`` and ``validateContainerOnlyForPod``, as far as the demo needs them."""
    errors: list[st.FieldError] = []
    name = c.get("name", "")
    if not name:
        errors.append(st.FieldError(f"{path}.name", st.REQUIRED, "Required value"))
    else:
        errors += [invalid_value(f"{path}.name", name, m) for m in dns1123_label(name)]
    image = c.get("image", "")
    if not image:
        errors.append(st.FieldError(f"{path}.image", st.REQUIRED, "Required value"))
    errors += _supported(c, path, "terminationMessagePolicy", ("File", "FallbackToLogsOnError"))
    for j, mount in enumerate(c.get("volumeMounts", [])):
        mount_name = mount.get("name") if isinstance(mount, dict) else None
        if mount_name not in volumes:
            errors.append(
                st.FieldError(f"{path}.volumeMounts[{j}].name", st.NOT_FOUND, f'Not found: "{mount_name}"')
            )
    errors += _supported(c, path, "imagePullPolicy", ("Always", "IfNotPresent", "Never"))
    if image and image != image.strip():
        errors.append(
            st.FieldError(
                f"{path}.image",
                st.INVALID,
                f'Invalid value: "{image}": must not have leading or trailing whitespace',
            )
        )
    return errors


def _supported(c: Obj, path: str, key: str, allowed: tuple[str, ...]) -> list[st.FieldError]:
    value = c.get(key)
    if not value or value in allowed:
        return []
    supported = ", ".join(f'"{a}"' for a in allowed)
    body = f'Unsupported value: "{value}": supported values: {supported}'
    return [st.FieldError(f"{path}.{key}", "FieldValueNotSupported", body)]


def _diff(old: Obj, new: Obj) -> str:
    """A field-by-field difference in the spirit of ``cmp.Diff`` (whose output is deliberately unstable)."""
    lines = ["  core.EphemeralContainer{"]
    for key in dict.fromkeys([*old, *new]):
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if a is not None:
            lines.append(f"- \t{key}: {json.dumps(a)},")
        if b is not None:
            lines.append(f"+ \t{key}: {json.dumps(b)},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


# --- names, labels and annotations (apimachinery's validation helpers) ------------------------------
#
# Each checker returns the list of messages Go's returns (k8s.io/apimachinery pkg/util/validation and
# pkg/api/validate/content, v1.37): a name can break several rules at once and gets one field error per
# message.  Patterns are matched whole (``fullmatch``: Go's ``$`` does not accept a trailing newline).

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
    "character"
)


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """``RegexError``: the rule, its examples and the pattern, in Go's words."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def _matches(fmt: str, value: str) -> bool:
    return re.fullmatch(fmt, value) is not None


_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character"
)


def dns1123_subdomain(name: str, unit: str = "characters") -> list[str]:
    """``IsDNS1123Subdomain`` (``content``'s, used for label key prefixes, counts ``bytes``)."""
    errs = [f"must be no more than 253 {unit}"] if len(name) > 253 else []
    if not _matches(_DNS1123_SUBDOMAIN_FMT, name):
        errs.append(regex_error(_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def dns1123_label(name: str) -> list[str]:
    errs = ["must be no more than 63 characters"] if len(name) > 63 else []
    if not _matches(_DNS1123_LABEL_FMT, name):
        if _matches(_DNS1123_SUBDOMAIN_FMT, name):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def dns1035_label(name: str) -> list[str]:
    errs = ["must be no more than 63 characters"] if len(name) > 63 else []
    if not _matches(_DNS1035_LABEL_FMT, name):
        errs.append(
            regex_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035_LABEL_FMT,
                "my-name",
                "abc-123",
            )
        )
    return errs


def path_segment_name(name: str) -> list[str]:
    """``IsValidPathSegmentName``: names of kinds without a DNS rule (RBAC roles)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


PORT_RANGE = "must be between 1 and 65535, inclusive"  # IsValidPortNum


def port_name(name: str) -> list[str]:
    """``IsValidPortName``: an IANA service name, lower case."""
    errs = ["must be no more than 15 characters"] if len(name) > 15 else []
    if not _matches("[-a-z0-9]+", name):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if re.search("[a-z]", name) is None:
        errs.append("must contain at least one letter (a-z)")
    if "--" in name:
        errs.append("must not contain consecutive hyphens")
    if name and (name[0] == "-" or name[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def label_key(key: str) -> list[str]:
    """``content.IsLabelKey`` (``IsQualifiedName``): an optional DNS subdomain prefix and a name."""
    parts = key.split("/")
    if len(parts) > 2:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    errs: list[str] = []
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs += ["prefix part " + m for m in dns1123_subdomain(prefix, "bytes")]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode()) > 63:
        errs.append("name part must be no more than 63 bytes")
    if not _matches(_LABEL_KEY_FMT, name):
        errs.append(
            "name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def label_value(value: str) -> list[str]:
    """``content.IsLabelValue``."""
    errs = ["must be no more than 63 bytes"] if len(value.encode()) > 63 else []
    if not _matches(_LABEL_VALUE_FMT, value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def validate_labels(values: Any, path: str) -> list[st.FieldError]:
    """``ValidateLabels``: every key and value, each message its own error at the map's path."""
    errors: list[st.FieldError] = []
    if isinstance(values, dict):
        for key, value in values.items():
            errors += [invalid_value(path, key, m) for m in label_key(str(key))]
            errors += [invalid_value(path, value, m) for m in label_value(str(value))]
    return errors


ANNOTATIONS_LIMIT = 256 * 1024  # TotalAnnotationSizeLimitB


def validate_annotations(values: Any, path: str) -> list[st.FieldError]:
    """``ValidateAnnotations``: keys are label keys (in any case); all of them at most 256 KiB."""
    errors: list[st.FieldError] = []
    if isinstance(values, dict):
        for key in values:
            errors += [invalid_value(path, key, m) for m in label_key(str(key).lower())]
        total = sum(len(str(k).encode()) + len(str(val).encode()) for k, val in values.items())
        if total > ANNOTATIONS_LIMIT:
            errors.append(too_long(path, ANNOTATIONS_LIMIT))
    return errors


def too_long(path: str, limit: int) -> st.FieldError:
    """``field.TooLong``: the value itself is left out."""
    return st.FieldError(path, "FieldValueTooLong", f"Too long: may not be more than {limit} bytes")


def labels_and_annotations(meta: Obj, path: str = "metadata") -> list[st.FieldError]:
    return validate_labels(meta.get("labels"), f"{path}.labels") + validate_annotations(
        meta.get("annotations"), f"{path}.annotations"
    )


def supported(value: Any, path: str, allowed: tuple[str, ...]) -> list[st.FieldError]:
    if value in allowed:
        return []
    options = ", ".join(f'"{a}"' for a in allowed)
    return [
        st.FieldError(
            path, "FieldValueNotSupported", f'Unsupported value: "{value}": supported values: {options}'
        )
    ]


def required(path: str, detail: str = "") -> st.FieldError:
    return st.FieldError(path, st.REQUIRED, f"Required value: {detail}" if detail else "Required value")


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """``strconv.Quote``: printable characters stay, quotes and backslashes and control bytes are escaped."""
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_value(value: Any) -> str:
    """A ``field.Error``'s bad value as ``ErrorBody`` renders it since apimachinery 1.34
    (``pkg/util/validation/field/errors.go``): numbers and booleans plainly, strings ``%q``-quoted, anything
    else — maps, lists, structs — as ``json.Marshal`` writes it.  Callers pass dicts in the Go struct's field
    order (``json.Marshal`` keeps it for structs and sorts map keys; :func:`go_map_value` sorts)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    return st.compact(value).decode()


def go_map_value(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """A Go map as ``json.Marshal`` orders it (by key); ``None`` stays ``null``."""
    return None if value is None else dict(sorted(value.items()))


def invalid_value(path: str, value: Any, detail: str) -> st.FieldError:
    return st.FieldError(path, st.INVALID, f"Invalid value: {go_value(value)}: {detail}")


def immutable(path: str, value: Any) -> st.FieldError:
    return invalid_value(path, value, "field is immutable")


def non_negative(path: str, value: Any) -> list[st.FieldError]:
    if isinstance(value, int) and value < 0:
        return [invalid_value(path, value, "must be greater than or equal to 0")]
    return []
