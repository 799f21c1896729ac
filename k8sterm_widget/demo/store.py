"""The demo cluster's object store: every kind's objects with resourceVersions and watch events.

It plays etcd plus the apiserver's watch cache.  Objects are kept per resource (``"pods"``,
``"apps/deployments"``) under ``(namespace, name)``; every change bumps one cluster-wide resourceVersion and
is published to watchers (HTTP watches) and to listeners (the in-process controllers, which react on the
same loop turn, like informers).  Stored objects are never mutated in place (changes replace them), so a
handler can serialise an object it got without copying it.  All methods run on the server's event loop.
"""

from __future__ import annotations

import asyncio
import bisect
import builtins  # Store.list shadows list in the class body's annotations
import collections
import copy
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)
Obj = dict
HISTORY = 10000  # events kept for watches that resume from a resourceVersion
WATCH_QUEUE_LIMIT = 100000  # a watcher this far behind is dropped, as the apiserver drops slow watchers


@dataclass(frozen=True)
class Event:
    type: str  # ADDED | MODIFIED | DELETED
    resource: str  # registry key: "pods", "apps/deployments"
    obj: Obj
    rv: int
    old: Obj | None = None  # the previous object of a MODIFIED or DELETED event

    @property
    def kind(self) -> str:
        return str(self.obj.get("kind", ""))


class TooOld(Exception):
    """The requested resourceVersion is older than the kept history (410 Expired); ``replayable`` is the
    oldest resourceVersion a watch can still resume from."""

    def __init__(self, requested: int, replayable: int) -> None:
        super().__init__(f"too old resource version: {requested} ({replayable})")


class Watcher:
    """An asynchronous stream of events for one watch request; closed when the store stops or it lags."""

    def __init__(self, resource: str, namespace: str | None) -> None:
        self.resource = resource
        self.namespace = namespace
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def wants(self, event: Event) -> bool:
        if event.resource != self.resource:
            return False
        return self.namespace is None or event.obj["metadata"].get("namespace", "") == self.namespace

    def push(self, event: Event | None) -> None:
        if self.closed:
            return
        if event is None or self.queue.qsize() >= WATCH_QUEUE_LIMIT:
            self.closed = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    async def next(self, timeout: float) -> Event | None:
        """The next event; ``None`` when the watch ended; raises ``TimeoutError`` after ``timeout`` s."""
        return await asyncio.wait_for(self.queue.get(), timeout)

    def drain(self) -> list[Event | None]:
        """Every event already queued, without waiting."""
        out: list[Event | None] = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


class _Table:
    """One resource's objects, with their etcd keys (``namespace/name``) kept sorted: lists come out in
    etcd's order and a page of a paged list starts with a bisection, not a scan of everything before it."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Obj] = {}
        self.keys: list[str] = []
        self.by_key: dict[str, Obj] = {}

    def put(self, key: tuple[str, str], obj: Obj) -> None:
        etcd_key = f"{key[0]}/{key[1]}"
        if key not in self.objects:
            bisect.insort(self.keys, etcd_key)
        self.objects[key] = obj
        self.by_key[etcd_key] = obj

    def remove(self, key: tuple[str, str]) -> None:
        if self.objects.pop(key, None) is not None:
            etcd_key = f"{key[0]}/{key[1]}"
            del self.by_key[etcd_key]
            i = bisect.bisect_left(self.keys, etcd_key)
            if i < len(self.keys) and self.keys[i] == etcd_key:
                del self.keys[i]

    def span(self, namespace: str | None, start: str = "") -> tuple[int, int]:
        """The index range of ``keys`` in ``namespace`` (None: all) from ``start`` (a key or a key + NUL)."""
        lo, hi = 0, len(self.keys)
        if namespace is not None:
            # "/" + 1 is "0": every key with the prefix "namespace/" sorts below "namespace0"
            lo = bisect.bisect_left(self.keys, namespace + "/")
            hi = bisect.bisect_left(self.keys, namespace + "0", lo)
        if start:
            lo = max(lo, bisect.bisect_left(self.keys, start, lo, hi))
        return lo, hi

    def items(self, namespace: str | None, start: str = "", limit: int = 0) -> list[Obj]:
        lo, hi = self.span(namespace, start)
        if limit:
            hi = min(hi, lo + limit)
        by_key = self.by_key
        return [by_key[k] for k in self.keys[lo:hi]]


Listener = Callable[[Event], None]


class Store:
    def __init__(self, history: int = HISTORY) -> None:
        self._rv = 1
        self._tables: dict[str, _Table] = collections.defaultdict(_Table)
        self._history: collections.deque[Event] = collections.deque(maxlen=max(history, 1))
        self._watchers: set[Watcher] = set()
        self._listeners: list[Listener] = []
        self._listener_errors: set[tuple[Listener, type[BaseException]]] = set()

    # --- reads ---------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, resource: str, namespace: str, name: str) -> Obj | None:
        return self._tables[resource].objects.get((namespace, name))

    def list(
        self, resource: str, namespace: str | None = None, *, start: str = "", limit: int = 0
    ) -> list[Obj]:
        """Objects in etcd key order (``namespace/name``), optionally of one namespace, from the key
        ``start`` on (a continue token's key: the last one listed + NUL), at most ``limit`` (0: all)."""
        return self._tables[resource].items(namespace, start, limit)

    def count(self, resource: str, namespace: str | None = None, *, start: str = "") -> int:
        """How many objects :meth:`list` would return, without listing them."""
        lo, hi = self._tables[resource].span(namespace, start)
        return hi - lo

    def resources(self) -> Iterable[str]:
        return [r for r, t in self._tables.items() if t.objects]

    # the two kinds the exec, log and debug handlers ask for
    def pod(self, namespace: str, name: str) -> Obj | None:
        return self.get("pods", namespace, name)

    def pods(self, namespace: str | None = None) -> builtins.list[Obj]:
        return self.list("pods", namespace)

    def namespace(self, name: str) -> Obj | None:
        return self.get("namespaces", "", name)

    def namespaces(self) -> builtins.list[Obj]:
        return self.list("namespaces")

    # --- writes --------------------------------------------------------------------------------

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def _publish(self, event: Event) -> None:
        self._history.append(event)
        for w in list(self._watchers):
            if w.wants(event):
                w.push(event)
            if w.closed:
                self._watchers.discard(w)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception as exc:  # the write is committed: an informer's failure never fails it
                self._listener_failed(listener, event, exc)

    def _listener_failed(self, listener: Listener, event: Event, exc: Exception) -> None:
        """Log a listener's failure with its traceback the first time it fails this way, then quietly: the
        writer and the other listeners go on, as a failing informer handler leaves kube-apiserver's write."""
        key = (listener, type(exc))
        if key in self._listener_errors:
            log.debug(
                "store listener %r failed again on %s %s: %s", listener, event.type, event.resource, exc
            )
            return
        self._listener_errors.add(key)
        log.error(
            "store listener %r failed on %s %s (logged once per kind of error)",
            listener,
            event.type,
            event.resource,
            exc_info=exc,
        )

    @staticmethod
    def _key(obj: Obj) -> tuple[str, str]:
        meta = obj["metadata"]
        return meta.get("namespace", "") or "", meta["name"]

    def create(self, resource: str, obj: Obj) -> Obj:
        """Store a new object (the caller checked it does not exist) and publish ADDED."""
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        self._tables[resource].put(self._key(obj), obj)
        self._publish(Event("ADDED", resource, obj, rv))
        return obj

    def replace(self, resource: str, obj: Obj) -> Obj:
        """Store a new version of an existing object and publish MODIFIED (no change: nothing happens)."""
        key = self._key(obj)
        table = self._tables[resource]
        current = table.objects.get(key)
        if current is None:
            raise KeyError(key)
        obj["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if obj == current:
            return current
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        table.put(key, obj)
        self._publish(Event("MODIFIED", resource, obj, rv, current))
        return obj

    def remove(self, resource: str, namespace: str, name: str) -> Obj | None:
        """Delete the object for good and publish DELETED (with a fresh resourceVersion, like etcd)."""
        table = self._tables[resource]
        current = table.objects.get((namespace, name))
        if current is None:
            return None
        table.remove((namespace, name))
        rv = self._next_rv()
        gone = copy.copy(current)
        gone["metadata"] = {**current["metadata"], "resourceVersion": str(rv)}
        self._publish(Event("DELETED", resource, gone, rv, current))
        return gone

    def mutate(self, resource: str, namespace: str, name: str, change: Callable[[Obj], None]) -> Obj | None:
        """Apply ``change`` to a copy of the object; store and publish it only if something changed."""
        current = self.get(resource, namespace, name)
        if current is None:
            return None
        updated = copy.deepcopy(current)
        change(updated)
        return self.replace(resource, updated)

    # kept for the node agent and the debug handler
    def add_pod(self, obj: Obj) -> Obj:
        return self.create("pods", obj)

    def add_namespace(self, obj: Obj) -> Obj:
        return self.create("namespaces", obj)

    def update_pod(self, namespace: str, name: str, mutate: Callable[[Obj], None]) -> Obj | None:
        return self.mutate("pods", namespace, name, mutate)

    # --- watch ---------------------------------------------------------------------------------

    def listen(self, listener: Listener) -> None:
        """Call ``listener(event)`` synchronously after every change (controllers queue work from it)."""
        self._listeners.append(listener)

    def watch(
        self, resource: str, namespace: str | None, since: int | None
    ) -> tuple[Watcher, builtins.list[Event]]:
        """Register a watcher; return it with the already-recorded events after ``since``.

        ``since=None`` means "from now" (the caller sends the current objects as ADDED itself).
        """
        backlog: list[Event] = []
        if since is not None and since < self._rv:
            oldest = self._history[0].rv if self._history else self._rv
            if since < oldest - 1:
                raise TooOld(
                    since, oldest - 1
                )  # watch_cache.go: "too old resource version: %d (%d)", rv, oldest-1
            backlog = [e for e in self._history if e.rv > since]
        watcher = Watcher(resource, namespace)
        backlog = [e for e in backlog if watcher.wants(e)]
        self._watchers.add(watcher)
        return watcher, backlog

    def unwatch(self, watcher: Watcher) -> None:
        self._watchers.discard(watcher)

    def close_watches(self) -> None:
        """End every watch stream (server shutdown)."""
        for w in list(self._watchers):
            w.push(None)
        self._watchers.clear()
