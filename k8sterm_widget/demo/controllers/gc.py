"""The garbage collector: dependents follow their owners (``metadata.ownerReferences``).

* Background (the default): once an owner is gone, its dependents are deleted.
* Foreground: the owner waits, marked for deletion with the ``foregroundDeletion`` finalizer, while its
  dependents are deleted (in the foreground too); the finalizer is removed when none is left.
* Orphan: the owner's ``orphan`` finalizer makes the collector strip the owner's references from its
  dependents first, then the owner goes and the dependents stay.
A dependent with another owner that still exists loses only the reference to the one that is gone.
"""

from __future__ import annotations

from typing import Any

from ..store import Event
from ..verbs import FOREGROUND, ORPHAN, ApiError
from .base import Controller

Obj = dict[str, Any]


class GarbageCollector(Controller):
    name = "garbage-collector"

    def __init__(self, api: Any) -> None:
        super().__init__(api)
        self._where: dict[str, tuple[str, str, str]] = {}  # uid -> (resource, namespace, name)
        self._dependents: dict[str, set[tuple[str, str, str]]] = {}  # owner uid -> dependents

    def resync(self) -> None:
        for resource in list(self.store.resources()):
            for obj in self.store.list(resource):
                self._index(resource, obj, None)

    def _index(self, resource: str, obj: Obj, old: Obj | None) -> None:
        meta = obj["metadata"]
        ident = (resource, meta.get("namespace", ""), meta["name"])
        self._where[meta["uid"]] = ident
        if old is not None:
            for ref in old["metadata"].get("ownerReferences") or []:
                self._dependents.get(ref.get("uid", ""), set()).discard(ident)
        for ref in meta.get("ownerReferences") or []:
            self._dependents.setdefault(ref.get("uid", ""), set()).add(ident)

    def watches(self, event: Event) -> list[Any]:
        meta = event.obj["metadata"]
        uid = meta.get("uid", "")
        ident = (event.resource, meta.get("namespace", ""), meta["name"])
        keys: list[Any] = []
        if event.type == "DELETED":
            self._where.pop(uid, None)
            for ref in meta.get("ownerReferences") or []:
                deps = self._dependents.get(ref.get("uid", ""))
                if deps is not None:
                    deps.discard(ident)
                    owner = self._where.get(ref.get("uid", ""))
                    if owner is not None:
                        keys.append(("owner", ref["uid"]))  # a foreground owner may be done now
            if self._dependents.get(uid):
                keys.append(("orphaned", uid))
            return keys
        self._index(event.resource, event.obj, event.old)
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp") and (FOREGROUND in finalizers or ORPHAN in finalizers):
            keys.append(("owner", uid))
        if meta.get("ownerReferences") and event.type == "ADDED":
            keys.append(("check", uid))
        return keys

    def reconcile(self, key: Any) -> None:
        what, uid = key
        if what == "orphaned":
            for dependent in list(self._dependents.pop(uid, set())):
                self._release(dependent, uid)
            return
        if what == "check":
            checked = self._where.get(uid)
            if checked is None:
                return
            obj = self.store.get(*checked)
            if obj is None:
                return
            for ref in obj["metadata"].get("ownerReferences") or []:
                if self._where.get(ref.get("uid", "")) is None:
                    self._release(checked, ref.get("uid", ""))
            return
        ident = self._where.get(uid)
        if ident is None:
            return
        owner = self.store.get(*ident)
        if owner is None or not owner["metadata"].get("deletionTimestamp"):
            return
        finalizers = owner["metadata"].get("finalizers") or []
        deps = [d for d in self._dependents.get(uid, set()) if self.store.get(*d) is not None]
        if ORPHAN in finalizers:
            for dep in deps:
                self._strip(dep, uid)
            self._drop_finalizer(ident, ORPHAN)
            return
        if FOREGROUND in finalizers:
            waiting = False
            for dep in deps:
                obj = self.store.get(*dep)
                if obj is None:
                    continue
                waiting = True
                if not obj["metadata"].get("deletionTimestamp"):
                    self._delete(dep, "Foreground")
            if not waiting:
                self._drop_finalizer(ident, FOREGROUND)

    def _release(self, ident: tuple[str, str, str], gone_uid: str) -> None:
        """An owner is gone: delete the dependent unless another owner of it still exists."""
        obj = self.store.get(*ident)
        if obj is None:
            return
        refs = obj["metadata"].get("ownerReferences") or []
        alive = [
            r for r in refs if r.get("uid") != gone_uid and self._where.get(r.get("uid", "")) is not None
        ]
        if alive:
            self._strip(ident, gone_uid)
        elif not obj["metadata"].get("deletionTimestamp"):
            self._delete(ident, "Background")

    def _delete(self, ident: tuple[str, str, str], policy: str) -> None:
        resource, namespace, name = ident
        try:
            self.api.delete(self.api.kind(resource), namespace, name, options={"propagationPolicy": policy})
        except ApiError:
            pass

    def _strip(self, ident: tuple[str, str, str], owner_uid: str) -> None:
        resource, namespace, name = ident

        def strip(obj: Obj) -> None:
            refs = [r for r in obj["metadata"].get("ownerReferences") or [] if r.get("uid") != owner_uid]
            if refs:
                obj["metadata"]["ownerReferences"] = refs
            else:
                obj["metadata"].pop("ownerReferences", None)

        try:
            self.api.mutate(resource, namespace, name, strip)
        except ApiError:
            pass

    def _drop_finalizer(self, ident: tuple[str, str, str], finalizer: str) -> None:
        resource, namespace, name = ident

        def drop(obj: Obj) -> None:
            rest = [f for f in obj["metadata"].get("finalizers") or [] if f != finalizer]
            if rest:
                obj["metadata"]["finalizers"] = rest
            else:
                obj["metadata"].pop("finalizers", None)

        try:
            self.api.mutate(resource, namespace, name, drop)
        except ApiError:
            pass
