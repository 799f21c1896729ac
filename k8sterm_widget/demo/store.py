"""The demo cluster's object store: namespaces and pods with resourceVersions and watch events.

It plays etcd plus the apiserver's watch cache.  Every change bumps a cluster-wide resourceVersion and is
published to watchers, so ``kubectl get pods -w``, informers and a shell UI waiting for a container to start
see the same ADDED/MODIFIED sequence they would see on a cluster.  Stored objects are never mutated in place
(changes replace them), so a handler can serialise an object it got without copying it.
All methods run on the server's event loop thread.
"""

from __future__ import annotations

import asyncio
import collections
import copy
from collections.abc import Callable
from dataclasses import dataclass

from .objects import Obj

HISTORY = 2000  # events kept for watches that resume from a resourceVersion
WATCH_QUEUE_LIMIT = 10000  # a watcher this far behind is dropped, as the apiserver drops slow watchers


@dataclass(frozen=True)
class Event:
    type: str  # ADDED | MODIFIED | DELETED
    kind: str  # Namespace | Pod
    obj: Obj
    rv: int


class TooOld(Exception):
    """The requested resourceVersion is older than the kept history (410 Expired)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


class Watcher:
    """An asynchronous stream of events for one watch request; closed when the store stops or it lags."""

    def __init__(self, kind: str, namespace: str | None) -> None:
        self.kind = kind
        self.namespace = namespace
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def wants(self, event: Event) -> bool:
        if event.kind != self.kind:
            return False
        return self.namespace is None or event.obj["metadata"].get("namespace") == self.namespace

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


class Store:
    def __init__(self) -> None:
        self._rv = 1
        self._namespaces: dict[str, Obj] = {}
        self._pods: dict[tuple[str, str], Obj] = {}
        self._history: collections.deque[Event] = collections.deque(maxlen=HISTORY)
        self._watchers: set[Watcher] = set()

    # --- reads ---------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def namespace(self, name: str) -> Obj | None:
        return self._namespaces.get(name)

    def namespaces(self) -> list[Obj]:
        return [self._namespaces[k] for k in sorted(self._namespaces)]

    def pod(self, namespace: str, name: str) -> Obj | None:
        return self._pods.get((namespace, name))

    def pods(self, namespace: str | None = None) -> list[Obj]:
        """Pods in etcd key order (namespace, then name), optionally of one namespace."""
        keys = sorted(k for k in self._pods if namespace is None or k[0] == namespace)
        return [self._pods[k] for k in keys]

    # --- writes --------------------------------------------------------------------------------

    def _stamp(self, obj: Obj) -> int:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        return self._rv

    def _publish(self, event: Event) -> None:
        self._history.append(event)
        for w in list(self._watchers):
            if w.wants(event):
                w.push(event)
            if w.closed:
                self._watchers.discard(w)

    def add_namespace(self, obj: Obj) -> Obj:
        rv = self._stamp(obj)
        self._namespaces[obj["metadata"]["name"]] = obj
        self._publish(Event("ADDED", "Namespace", obj, rv))
        return obj

    def add_pod(self, obj: Obj) -> Obj:
        rv = self._stamp(obj)
        meta = obj["metadata"]
        self._pods[(meta["namespace"], meta["name"])] = obj
        self._publish(Event("ADDED", "Pod", obj, rv))
        return obj

    def update_pod(self, namespace: str, name: str, mutate: Callable[[Obj], None]) -> Obj | None:
        """Apply ``mutate`` to a copy of the pod; store and publish it only if something changed."""
        current = self._pods.get((namespace, name))
        if current is None:
            return None
        updated = copy.deepcopy(current)
        mutate(updated)
        updated["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        if updated == current:
            return current
        rv = self._stamp(updated)
        self._pods[(namespace, name)] = updated
        self._publish(Event("MODIFIED", "Pod", updated, rv))
        return updated

    # --- watch ---------------------------------------------------------------------------------

    def watch(self, kind: str, namespace: str | None, since: int | None) -> tuple[Watcher, list[Event]]:
        """Register a watcher; return it with the already-recorded events after ``since``.

        ``since=None`` means "from now" (the caller sends the current objects as ADDED itself).
        """
        backlog: list[Event] = []
        if since is not None and since < self._rv:
            oldest = self._history[0].rv if self._history else self._rv
            if since < oldest - 1:
                raise TooOld(since, oldest)
            backlog = [e for e in self._history if e.rv > since]
        watcher = Watcher(kind, namespace)
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
