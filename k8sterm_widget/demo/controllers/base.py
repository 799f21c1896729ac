"""What every controller shares: a deduplicating work queue fed by store events, and the event recorder.

Controllers run on the server's event loop like kube-controller-manager's loops run against informers:
a store change queues the keys it affects (``enqueue``), and each key is reconciled once per loop turn no
matter how many changes queued it, from the state the store holds *then*.  A reconcile that raises is
logged and retried later, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from ..objects import rfc3339
from ..store import Event
from ..verbs import Api, ApiError

log = logging.getLogger(__name__)
Obj = dict[str, Any]
RETRY_DELAY = 1.0


class Controller:
    """Subclasses implement :meth:`watches` (which keys an event affects) and :meth:`reconcile`."""

    name = "controller"

    def __init__(self, api: Api) -> None:
        self.api = api
        self.store = api.store
        self._queue: dict[Any, None] = {}
        self._scheduled = False
        self._timers: dict[Any, asyncio.TimerHandle] = {}
        self._stopped = False
        self.events: Events = api.services["events"]

    def start(self) -> None:
        self.store.listen(self._on_event)
        self.resync()

    def stop(self) -> None:
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def resync(self) -> None:
        """Queue everything the controller owns (at start)."""

    def watches(self, event: Event) -> list[Any]:
        return []

    def reconcile(self, key: Any) -> None:
        raise NotImplementedError

    # --- queue ---------------------------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if self._stopped:
            return
        for key in self.watches(event):
            self.enqueue(key)

    def enqueue(self, key: Any) -> None:
        if self._stopped:
            return
        self._queue[key] = None
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def enqueue_after(self, key: Any, delay: float) -> None:
        """Reconcile ``key`` again after ``delay`` seconds (the earliest request wins)."""
        if self._stopped:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + max(delay, 0.0)
        timer = self._timers.get(key)
        if timer is not None and timer.when() <= due:
            return
        if timer is not None:
            timer.cancel()

        def fire() -> None:
            self._timers.pop(key, None)
            self.enqueue(key)

        self._timers[key] = loop.call_at(due, fire)

    def _drain(self) -> None:
        self._scheduled = False
        keys, self._queue = list(self._queue), {}
        for key in keys:
            if self._stopped:
                return
            try:
                self.reconcile(key)
            except ApiError as exc:
                log.debug("%s: %s: %s", self.name, key, exc)
                self.enqueue_after(key, RETRY_DELAY)
            except Exception:
                log.exception("%s failed to reconcile %s", self.name, key)
                self.enqueue_after(key, RETRY_DELAY)


def owner_key(obj: Obj, kind: str) -> tuple[str, str] | None:
    """(namespace, name) of the controller owner of ``obj`` if it is of ``kind``."""
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller") and ref.get("kind") == kind:
            return obj["metadata"].get("namespace", ""), ref.get("name", "")
    return None


def is_pod_ready(pod: Obj) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in pod.get("status", {}).get("conditions") or []
    )


def ready_since(pod: Obj) -> float | None:
    from ..tables import parse_time

    for c in pod.get("status", {}).get("conditions") or []:
        if c.get("type") == "Ready" and c.get("status") == "True":
            return parse_time(c.get("lastTransitionTime"))
    return None


def is_available(pod: Obj, min_ready: int, now: float) -> bool:
    if not is_pod_ready(pod):
        return False
    if min_ready <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + min_ready <= now


def is_active(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") not in ("Succeeded", "Failed") and not pod["metadata"].get(
        "deletionTimestamp"
    )


class Events:
    """``record.EventRecorder``: core/v1 Events with the reporting component's name, aggregated like the
    event correlator does (the same reason and message on the same object bumps ``count``)."""

    def __init__(self, api: Api, host: str) -> None:
        self.api = api
        self.host = host
        self._recent: dict[tuple[str, str, str, str, str], str] = {}
        self._seq = 0

    def record(
        self,
        obj: Obj,
        event_type: str,
        reason: str,
        message: str,
        component: str,
        *,
        field_path: str = "",
        host: bool = False,
    ) -> None:
        meta = obj["metadata"]
        namespace = meta.get("namespace") or "default"
        key = (meta.get("uid", ""), reason, message, component, field_path)
        now = time.time()
        stamp = rfc3339(now)
        kind = self.api.kind("events")
        existing_name = self._recent.get(key)
        if existing_name is not None:
            existing = self.api.find(kind, namespace, existing_name)
            if existing is not None:

                def bump(ev: Obj) -> None:
                    ev["count"] = int(ev.get("count") or 1) + 1
                    ev["lastTimestamp"] = stamp

                with contextlib.suppress(ApiError):
                    self.api.mutate(kind, namespace, existing_name, bump)
                return
        self._seq += 1
        name = f"{meta.get('name', '')}.{time.time_ns() + self._seq:x}"
        involved: Obj = {
            "kind": obj.get("kind", ""),
            "namespace": meta.get("namespace", ""),
            "name": meta.get("name", ""),
            "uid": meta.get("uid", ""),
            "apiVersion": obj.get("apiVersion", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        }
        # an ObjectReference omits what it lacks (the kubelet's reference to its node has no apiVersion)
        involved = {k: v for k, v in involved.items() if v or k in ("kind", "name")}
        if field_path:
            involved["fieldPath"] = field_path
        source: Obj = {"component": component}
        if host:
            source["host"] = self.host
        event = {
            "metadata": {"name": name, "namespace": namespace},
            "involvedObject": involved,
            "reason": reason,
            "message": message,
            "source": source,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "type": event_type,
            "eventTime": None,
            "reportingComponent": component,
            "reportingInstance": self.host if host else "",
        }
        with contextlib.suppress(ApiError):
            self.api.create(kind, event, namespace=namespace)
            self._recent[key] = name
            if len(self._recent) > 4096:
                self._recent.pop(next(iter(self._recent)))


def node_capacity() -> tuple[int, int]:
    """(cpus, memory bytes) of this machine, what the kubelet reports as the node's capacity."""
    cpus = os.cpu_count() or 1
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
        memory = kib * 1024
    except (OSError, StopIteration, ValueError):
        memory = 8 << 30
    return cpus, memory
