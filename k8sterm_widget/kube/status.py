"""Turn what the cluster says (HTTP codes, ``metav1.Status`` JSON, channel-3 text) into typed errors.

The same failure reaches us from three directions — a REST pre-flight call, a refused WebSocket handshake,
a Status on channel 3 after the upgrade — and must become the same exception each time. The official
client flattens the handshake case into ``ApiException(status=0)`` and parses channel 3 with
``int(causes[0].message)``, which raises on an InternalError (docs/exec-protocol.md §8.4, §8.6); we parse
the Status ourselves. Message *texts* differ between the v5 translator and the kubelet path
(§4.6), so decisions use ``reason``, ``code`` and ``causes``, and texts only as a last resort.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import (
    CommandNotFound,
    ContainerNotRunning,
    ContainerNotValid,
    Forbidden,
    K8stermError,
    PodNotFound,
    PodNotRunning,
    RemoteError,
    Unauthorized,
)

_FORBIDDEN = re.compile(
    r'User "(?P<user>[^"]*)" cannot (?P<verb>\S+) resource "(?P<resource>[^"]+)"'
    r'(?: in API group "[^"]*")?(?: in the namespace "(?P<namespace>[^"]+)")?'
)
_NOT_VALID = re.compile(r"container (?P<container>\S+) is not valid for pod (?P<pod>\S+)")
_MUST_SPECIFY = re.compile(
    r"a container name must be specified for pod [^\s,]+(?:, choose one of: \[(?P<choices>[^\]]*)\])?"
)
_NO_HOST = re.compile(r"pod (?P<pod>\S+) does not have a host assigned")
_CONTAINER_NOT_FOUND = re.compile(r'container not found \("(?P<container>[^"]*)"\)')
_EXEC_FAILED = re.compile(r'exec: "(?P<cmd>[^"]*)": (?P<detail>.+?)(?:: unknown)?$')
_NOT_FOUND_MARKERS = ("executable file not found", "no such file or directory", "permission denied")


@dataclass
class Context:
    """What we were trying to do, so a bare Status can be explained in terms the user used."""

    server: str = ""
    pod: str = ""
    namespace: str = ""
    container: str | None = None
    command: Sequence[str] = ()


def parse_status(payload: bytes | str) -> dict | None:
    """A Status object from JSON, or ``None`` when the payload is not JSON (pre-v4 plain text)."""
    if isinstance(payload, bytes):
        payload = payload.decode("utf-8", errors="replace")
    payload = payload.strip()
    if not payload.startswith("{"):
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def exit_code_of(status: dict) -> int | None:
    """The exit code a NonZeroExitCode Status carries (``causes[].reason == "ExitCode"``), like client-go."""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                code = int(cause.get("message", ""))
            except ValueError:
                return None
            return code if 0 <= code <= 255 else None
    return None


def error_from_status(status: dict | None, text: str, code: int | None, ctx: Context) -> K8stermError:
    """Map a failure Status (or a plain-text body) to the matching typed error."""
    status = status or {}
    message = str(status.get("message") or text or "").strip()
    reason = status.get("reason") or ""
    code = status.get("code") or code

    if code == 401 or reason == "Unauthorized":
        return Unauthorized(ctx.server, message or "Unauthorized")
    if code == 403 or reason == "Forbidden":
        m = _FORBIDDEN.search(message)
        if m:
            return Forbidden(
                message,
                user=m["user"],
                verb=m["verb"],
                resource=m["resource"],
                namespace=m["namespace"],
            )
        return Forbidden(message or "forbidden")
    if code == 404 or reason == "NotFound":
        return PodNotFound(ctx.pod, ctx.namespace)

    if m := _NO_HOST.search(message):
        return PodNotRunning(
            message, pod=ctx.pod, phase="Pending", hint="The pod is not scheduled yet; wait until it runs."
        )
    if m := _NOT_VALID.search(message):
        return ContainerNotValid(message, container=m["container"], pod=m["pod"], choices=())
    if m := _MUST_SPECIFY.search(message):
        choices = (m["choices"] or "").split()
        return ContainerNotValid(message, container=None, pod=ctx.pod, choices=choices)
    if m := _CONTAINER_NOT_FOUND.search(message):
        return ContainerNotRunning(
            f'container "{m["container"]}" of pod "{ctx.pod}" is not running',
            pod=ctx.pod,
            container=m["container"],
            hint="It may be starting, crash-looping or finished; check with kubectl describe pod.",
        )
    m = _EXEC_FAILED.search(message)
    if m and any(marker in m["detail"] for marker in _NOT_FOUND_MARKERS):
        return CommandNotFound(list(ctx.command) or [m["cmd"]], m["detail"])
    if "executable file not found" in message:
        return CommandNotFound(list(ctx.command), "executable file not found in $PATH")
    return RemoteError(message or f"the cluster answered HTTP {code}", code=code, reason=reason or None)


__all__ = ["Context", "error_from_status", "exit_code_of", "parse_status"]
