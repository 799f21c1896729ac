"""REST calls through the official client: the raw response's JSON, and its errors as typed errors.

Why raw: calls made with ``_preload_content=False`` skip the client's model classes (slow to build for
big lists, and they drop fields they do not know) and return urllib3's response, though the client's
annotations still name the model. :func:`json_body` says so once, with a check, for every caller.
"""

from __future__ import annotations

import json
from typing import Any

import urllib3
from kubernetes.client.rest import ApiException

from ..errors import ClusterUnreachable, K8stermError
from .config import Cluster
from .status import Context, error_from_status, parse_status


def json_body(response: object) -> Any:
    """The decoded JSON of a response returned by a ``_preload_content=False`` call."""
    if not isinstance(response, urllib3.BaseHTTPResponse):
        raise TypeError(f"expected the raw urllib3 response, got {type(response).__name__}")
    return json.loads(response.data)


def rest_error(exc: BaseException, cluster: Cluster, ctx: Context) -> K8stermError:
    """Map an exception from a REST call of the official client to a typed error without secrets."""
    if isinstance(exc, K8stermError):
        return exc
    if isinstance(exc, ApiException):
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else (exc.body or "")
        status = parse_status(body)
        return error_from_status(status, body if status is None else "", exc.status, ctx)
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    return ClusterUnreachable(cluster.server, _network_reason(exc))


def _network_reason(exc: BaseException) -> str:
    """A short cause for a network failure; urllib3's own text repeats the pool and URL at length."""
    text = str(exc)
    lowered = text.lower()
    if isinstance(exc, urllib3.exceptions.SSLError) or "certificate" in lowered or "ssl" in lowered:
        return (
            "TLS handshake failed ("
            + ("certificate verify failed" if "verify" in lowered else "TLS error")
            + ")"
        )
    if "refused" in lowered:  # before timeouts: urllib3's NewConnectionError subclasses ConnectTimeoutError
        return "connection refused"
    if isinstance(exc, (urllib3.exceptions.ConnectTimeoutError, TimeoutError)) or "timed out" in lowered:
        return "connection timed out"
    if (
        "name or service not known" in lowered
        or "nodename nor servname" in lowered
        or "resolution" in lowered
    ):
        return "host name could not be resolved"
    return type(exc).__name__


__all__ = ["json_body", "rest_error"]
