"""Watching pods: one streaming GET instead of polling, with resourceVersions so nothing is missed.

A Kubernetes watch (``GET …/pods?watch=true&resourceVersion=RV``) answers with one JSON event per line,
``{"type": "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR", "object": …}``, for every change after
``RV``. The server ends it after ``timeoutSeconds`` (or its own 30-60 minutes); the client then watches
again from the last resourceVersion it saw. A resourceVersion the server no longer remembers is an
``ERROR`` event with a ``410 Gone`` Status: the client must list again (:class:`WatchExpired`).

The official client's ``kubernetes.watch.Watch`` deserializes every event into model objects and cannot be
stopped from another thread while it waits; here events stay plain dicts (what the UI needs) and
:func:`abort` unblocks a reader at once (urllib3's ``HTTPResponse.shutdown``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubernetes import client

from .config import Cluster

BOOKMARK = "BOOKMARK"


class WatchExpired(Exception):
    """The watch's resourceVersion is too old (410 Gone): list again, then watch from the list's version."""


class WatchFailed(Exception):
    """The server ended the watch with an ERROR event other than 410; ``status`` is its Status object."""

    def __init__(self, status: dict) -> None:
        super().__init__(str(status.get("message") or status.get("reason") or "watch failed"))
        self.status = status


def open_pod_watch(
    api_client: client.ApiClient,
    cluster: Cluster,
    namespace: str,
    *,
    resource_version: str,
    timeout_seconds: int,
    field_selector: str | None = None,
) -> Any:
    """Start a pod watch in ``namespace``; returns the raw urllib3 response (read it with :func:`events`)."""
    kwargs: dict[str, Any] = {}
    if field_selector:
        kwargs["field_selector"] = field_selector
    return client.CoreV1Api(api_client).list_namespaced_pod(
        namespace,
        watch=True,
        resource_version=resource_version,
        allow_watch_bookmarks=True,
        timeout_seconds=max(1, int(timeout_seconds)),
        _preload_content=False,
        # The read timeout outlasts the server's own end of the watch; bookmarks keep long ones talking.
        _request_timeout=(cluster.connect_timeout, timeout_seconds + 30),
        **kwargs,
    )


def events(response: Any) -> Iterator[dict]:
    """The events of a watch response, one dict per line, until the server ends it.

    Raises :class:`WatchExpired` on 410 Gone and :class:`WatchFailed` on other ERROR events.
    """
    pending = b""
    for chunk in response.stream(amt=None, decode_content=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            if line.strip():
                yield _event(line)
    if pending.strip():
        yield _event(pending)


def _event(line: bytes) -> dict:
    try:
        event = json.loads(line)
    except ValueError:
        raise WatchFailed({"message": "the watch sent a line that is not JSON"}) from None
    if not isinstance(event, dict):
        raise WatchFailed({"message": "the watch sent something that is not an event"})
    if event.get("type") == "ERROR":
        status = event.get("object") or {}
        if status.get("code") == 410 or status.get("reason") in ("Expired", "Gone"):
            raise WatchExpired(status.get("message") or "resourceVersion too old")
        raise WatchFailed(status)
    return event


def abort(response: Any) -> None:
    """Unblock a thread reading ``response`` and release its connection (safe from any thread)."""
    if response is None:
        return
    try:
        response.shutdown()
    except Exception:
        pass
    try:
        response.release_conn()
    except Exception:
        pass


__all__ = ["BOOKMARK", "WatchExpired", "WatchFailed", "abort", "events", "open_pod_watch"]
