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
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
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
    elif len(name) > 63 or not _DNS1123_LABEL.match(name):
        msg = (
            _DNS1123_LABEL_MSG if _DNS1123_LABEL.match(name) is None else "must be no more than 63 characters"
        )
        errors.append(st.FieldError(f"{path}.name", st.INVALID, f'Invalid value: "{name}": {msg}'))
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

_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    r"'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
_QUALIFIED_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex "
    "used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


def dns1123_subdomain(name: str) -> str:
    if len(name) > 253:
        return "must be no more than 253 characters"
    return "" if _DNS1123_SUBDOMAIN.match(name) else _DNS1123_SUBDOMAIN_MSG


def dns1123_label(name: str) -> str:
    if len(name) > 63:
        return "must be no more than 63 characters"
    return "" if _DNS1123_LABEL.match(name) else _DNS1123_LABEL_MSG


def dns1035_label(name: str) -> str:
    if len(name) > 63:
        return "must be no more than 63 characters"
    return "" if _DNS1035_LABEL.match(name) else _DNS1035_MSG


def path_segment_name(name: str) -> str:
    """Names of kinds without a DNS rule (RBAC roles): anything that is a path segment."""
    if name in (".", ".."):
        return f"may not be '{name}'"
    for bad in ("/", "%"):
        if bad in name:
            return f"may not contain '{bad}'"
    return ""


def qualified_name(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix and dns1123_subdomain(prefix):
        return "prefix part " + _DNS1123_SUBDOMAIN_MSG
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    return "" if _QUALIFIED_NAME.match(name) else _QUALIFIED_MSG


def labels_and_annotations(meta: Obj, path: str = "metadata") -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    labels = meta.get("labels") or {}
    if isinstance(labels, dict):
        for key, value in labels.items():
            problem = qualified_name(str(key))
            if problem:
                errors.append(
                    st.FieldError(f"{path}.labels", st.INVALID, f'Invalid value: "{key}": {problem}')
                )
            value = str(value)
            if len(value) > 63:
                errors.append(
                    st.FieldError(
                        f"{path}.labels",
                        st.INVALID,
                        f'Invalid value: "{value}": must be no more than 63 characters',
                    )
                )
            elif not _LABEL_VALUE.match(value):
                errors.append(
                    st.FieldError(
                        f"{path}.labels", st.INVALID, f'Invalid value: "{value}": {_LABEL_VALUE_MSG}'
                    )
                )
    annotations = meta.get("annotations") or {}
    if isinstance(annotations, dict):
        for key in annotations:
            problem = qualified_name(str(key))
            if problem:
                errors.append(
                    st.FieldError(f"{path}.annotations", st.INVALID, f'Invalid value: "{key}": {problem}')
                )
        total = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
        if total > 256 * 1024:
            errors.append(
                st.FieldError(
                    f"{path}.annotations",
                    "FieldValueTooLong",
                    f"Too long: must have at most {256 * 1024} bytes",
                )
            )
    return errors


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


def invalid_value(path: str, value: Any, detail: str) -> st.FieldError:
    shown = (
        f'"{value}"'
        if isinstance(value, str)
        else ("true" if value is True else "false" if value is False else value)
    )
    return st.FieldError(path, st.INVALID, f"Invalid value: {shown}: {detail}")


def immutable(path: str, value: Any) -> st.FieldError:
    return invalid_value(path, value, "field is immutable")


def go_map(value: dict[str, Any]) -> str:
    """``%#v`` of a ``map[string]string`` (keys sorted, as fmt prints maps)."""
    inner = ", ".join(f'"{k}":"{v}"' for k, v in sorted(value.items()))
    return f"map[string]string{{{inner}}}"


def non_negative(path: str, value: Any) -> list[st.FieldError]:
    if isinstance(value, int) and value < 0:
        return [invalid_value(path, value, "must be greater than or equal to 0")]
    return []
