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
