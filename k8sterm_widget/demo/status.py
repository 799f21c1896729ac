"""``metav1.Status`` objects with the texts a real apiserver and kubelet produce.

Clients match on these bytes: kubectl prints ``message`` verbatim, client-go decodes the exit code from the
``ExitCode`` cause, the Python clients parse channel 3 with YAML.  So the builders keep Go's field order
(``kind, apiVersion, metadata, status, message, reason, details, code``), omit empty fields as Go's
``omitempty`` does, and reproduce the wording of apimachinery's ``errors.New*`` helpers.  HTTP responses carry
``kind``/``apiVersion`` (Go clients need them to recognise a Status); the channel-3 Status of an exec session
does not, because the kubelet and the apiserver's stream translator marshal the bare struct.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

Status = dict[str, Any]

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def encode(obj: Any) -> bytes:
    """Serialise like Go's ``encoding/json`` encoder: compact, HTML-escaped, UTF-8, trailing newline."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in _GO_ESCAPES.items():
        if raw in text:
            text = text.replace(raw, escaped)
    return (text + "\n").encode()


def compact(obj: Any) -> bytes:
    """Like :func:`encode` without the newline: ``json.Marshal`` as used for the channel-3 Status."""
    return encode(obj)[:-1]


def _status(
    *,
    status: str,
    message: str = "",
    reason: str = "",
    details: dict[str, Any] | None = None,
    code: int = 0,
    typed: bool = True,
) -> Status:
    out: Status = {}
    if typed:
        out["kind"] = "Status"
        out["apiVersion"] = "v1"
    out["metadata"] = {}
    out["status"] = status
    if message:
        out["message"] = message
    if reason:
        out["reason"] = reason
    if details is not None:
        out["details"] = details
    if code:
        out["code"] = code
    return out


def _details(
    *, name: str = "", group: str = "", kind: str = "", causes: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    if kind:
        out["kind"] = kind
    if causes:
        out["causes"] = causes
    return out


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def success(*, typed: bool = False) -> Status:
    """The channel-3 Status of a session whose command exited 0."""
    return _status(status="Success", typed=typed)


def unauthorized() -> Status:
    """401: the bearer token is unknown (apiserver ``authentication`` filter)."""
    return _status(status="Failure", message="Unauthorized", reason="Unauthorized", code=401)


def forbidden(resource: str, name: str, err: str, *, group: str = "") -> Status:
    """403 as ``apierrors.NewForbidden``; ``err`` is the authorizer's text (may be empty)."""
    if not resource:
        message = f"forbidden: {err}"
    elif not name:
        message = f"{_qualified(resource, group)} is forbidden: {err}"
    else:
        message = f'{_qualified(resource, group)} "{name}" is forbidden: {err}'
    return _status(
        status="Failure",
        message=message,
        reason="Forbidden",
        details=_details(name=name, group=group, kind=resource),
        code=403,
    )


def not_found(resource: str, name: str, *, group: str = "") -> Status:
    """404 as ``apierrors.NewNotFound``: ``pods "p" not found``."""
    return _status(
        status="Failure",
        message=f'{_qualified(resource, group)} "{name}" not found',
        reason="NotFound",
        details=_details(name=name, group=group, kind=resource),
        code=404,
    )


def no_such_resource() -> Status:
    """404 for an API path no handler serves (``the server could not find the requested resource``)."""
    return _status(
        status="Failure",
        message="the server could not find the requested resource",
        reason="NotFound",
        details={},
        code=404,
    )


def bad_request(message: str) -> Status:
    """400 as ``apierrors.NewBadRequest`` (no details)."""
    return _status(status="Failure", message=message, reason="BadRequest", code=400)


def method_not_allowed() -> Status:
    """405 for a verb the resource does not support."""
    return _status(
        status="Failure",
        message="the server does not allow this method on the requested resource",
        reason="MethodNotAllowed",
        details={},
        code=405,
    )


def too_large(message: str) -> Status:
    """413 as ``apierrors.NewRequestEntityTooLargeError``."""
    return _status(status="Failure", message=message, reason="RequestEntityTooLarge", code=413)


def server_error(message: str) -> Status:
    """What ``ErrorToAPIStatus`` makes of an error that is not a Status (e.g. one of strategicpatch's):
    500, no reason, the error's text (kubectl: ``Error from server: <message>``)."""
    return _status(status="Failure", message=message, code=500)


def gone(message: str) -> Status:
    """410 Expired, e.g. a watch from a resourceVersion older than the kept history."""
    return _status(status="Failure", message=message, reason="Expired", code=410)


def internal_error(err: str, *, typed: bool = True) -> Status:
    """500 as ``apierrors.NewInternalError``: the message gains the ``Internal error occurred:`` prefix."""
    return _status(
        status="Failure",
        message=f"Internal error occurred: {err}",
        reason="InternalError",
        details=_details(causes=[{"message": err}]),
        code=500,
        typed=typed,
    )


def non_zero_exit(exit_code: int, message_detail: str, *, typed: bool = False) -> Status:
    """The NonZeroExitCode Status; the cause *type* ``ExitCode`` is serialised as ``reason``."""
    return _status(
        status="Failure",
        message=f"command terminated with non-zero exit code: {message_detail}",
        reason="NonZeroExitCode",
        details=_details(causes=[{"reason": "ExitCode", "message": str(exit_code)}]),
        typed=typed,
    )


def conflict(resource: str, name: str) -> Status:
    """409 for an update against a stale resourceVersion (``apierrors.NewConflict``)."""
    return _status(
        status="Failure",
        message=(
            f'Operation cannot be fulfilled on {resource} "{name}": the object has been modified; '
            "please apply your changes to the latest version and try again"
        ),
        reason="Conflict",
        details=_details(name=name, kind=resource),
        code=409,
    )


# Cause types of field errors (``field.ErrorType``) and the words their messages start with.
INVALID, REQUIRED, DUPLICATE, NOT_FOUND, FORBIDDEN = (
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueDuplicate",
    "FieldValueNotFound",
    "FieldValueForbidden",
)


@dataclass(frozen=True)
class FieldError:
    """One ``field.Error``: ``body`` is its ``ErrorBody()``, e.g. ``Duplicate value: "app"``."""

    field: str
    type: str
    body: str

    def __str__(self) -> str:
        return f"{self.field}: {self.body}"


def invalid(kind: str, name: str, errors: list[FieldError], *, group: str = "") -> Status:
    """422 as ``apierrors.NewInvalid``: ``Pod "p" is invalid: <error>`` or ``…: [<e1>, <e2>]``."""
    texts = list(dict.fromkeys(str(e) for e in errors))  # the aggregate drops repeated messages
    summary = texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"
    qualified = f"{kind}.{group}" if group else kind
    causes = [{"reason": e.type, "message": e.body, "field": e.field} for e in errors]
    return _status(
        status="Failure",
        message=f'{qualified} "{name}" is invalid: {summary}',
        reason="Invalid",
        details={**_details(name=name, group=group, kind=kind), "causes": causes},
        code=422,
    )


def unprocessable() -> Status:
    """422 that hides its cause, as the apiserver answers a JSON patch that does not apply."""
    return _status(
        status="Failure",
        message="the server rejected our request due to an error in our request",
        reason="Invalid",
        details={},
        code=422,
    )


def unsupported_media_type(accepted: list[str]) -> Status:
    """415 for a request body in a format the endpoint does not take."""
    return _status(
        status="Failure",
        message="the body of the request was in an unknown format - accepted media types include: "
        + ", ".join(accepted),
        reason="UnsupportedMediaType",
        code=415,
    )
