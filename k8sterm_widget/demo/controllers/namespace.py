"""Namespace lifecycle, and what every namespace gets: the ``default`` ServiceAccount and the
``kube-root-ca.crt`` ConfigMap (the service-account and root-CA-publisher controllers).

Deleting a namespace marks it ``Terminating``; this controller then deletes everything in it, waits until
all of it is gone (pods take their grace period), and finalizes the namespace, which removes it.
"""

from __future__ import annotations

from typing import Any

from ..store import Event
from ..verbs import ApiError
from .base import Controller

Obj = dict[str, Any]


class NamespaceController(Controller):
    name = "namespace-controller"

    def __init__(self, api: Any, ca_pem: str) -> None:
        super().__init__(api)
        self.ca_pem = ca_pem

    def resync(self) -> None:
        for ns in self.store.namespaces():
            self.enqueue(ns["metadata"]["name"])

    def watches(self, event: Event) -> list[Any]:
        if event.resource == "namespaces":
            return [event.obj["metadata"]["name"]]
        ns = event.obj["metadata"].get("namespace")
        if not ns:
            return []
        if event.type == "DELETED":
            owner = self.store.namespace(ns)
            if owner is not None and owner["metadata"].get("deletionTimestamp"):
                return [ns]
            if event.resource in ("serviceaccounts", "configmaps"):
                return [ns]
        return []

    def reconcile(self, key: Any) -> None:
        ns = self.store.namespace(key)
        if ns is None:
            return
        if ns["metadata"].get("deletionTimestamp"):
            self._empty(ns)
            return
        if self.api.find("serviceaccounts", key, "default") is None:
            try:
                self.api.create(
                    self.api.kind("serviceaccounts"), {"metadata": {"name": "default"}}, namespace=key
                )
            except ApiError:
                pass
        if self.api.find("configmaps", key, "kube-root-ca.crt") is None:
            cm = {
                "metadata": {
                    "name": "kube-root-ca.crt",
                    "annotations": {
                        "kubernetes.io/description": "Contains a CA bundle that can be used to "
                        "verify the kube-apiserver when using internal endpoints such as the "
                        "internal service IP or kubernetes.default.svc. No other usage is "
                        "guaranteed across distributions of Kubernetes clusters."
                    },
                },
                "data": {"ca.crt": self.ca_pem},
            }
            try:
                self.api.create(self.api.kind("configmaps"), cm, namespace=key)
            except ApiError:
                pass

    def _empty(self, ns: Obj) -> None:
        name = ns["metadata"]["name"]
        remaining = 0
        for kind in self.api.registry.order:
            if not kind.namespaced or "delete" not in kind.verbs:
                continue
            for obj in list(self.store.list(kind.key, name)):
                remaining += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue
                try:
                    self.api.delete(
                        kind, name, obj["metadata"]["name"], options={"propagationPolicy": "Background"}
                    )
                except ApiError:
                    pass
        if remaining:
            left = sum(len(self.store.list(k.key, name)) for k in self.api.registry.order if k.namespaced)
            if left:
                self.enqueue_after(name, 1.0)
                return

        def finalize(obj: Obj) -> None:
            obj.setdefault("spec", {})["finalizers"] = []

        self.store.mutate("namespaces", "", name, finalize)
        current = self.store.namespace(name)
        if current is not None and not current["metadata"].get("finalizers"):
            self.store.remove("namespaces", "", name)
