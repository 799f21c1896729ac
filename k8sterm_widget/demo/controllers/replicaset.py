"""The ReplicaSet controller, and the ReplicationController manager (its older twin with a map selector).

Keeps ``spec.replicas`` active pods that match the selector and are owned by the set (adopting matching
orphans, as ``ClaimPods`` does), creating from the template (``SuccessfulCreate``: ``Created pod: x``) and
deleting the least valuable first (unscheduled, then not ready, then the newest: ``SuccessfulDelete``),
and reports ``replicas``/``readyReplicas``/``availableReplicas`` in the status.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from ..kinds.common import controller_ref, label_selector_matches
from ..store import Event
from ..tables import parse_time
from ..verbs import ApiError
from .base import Controller, is_active, is_available, is_pod_ready, owner_key

Obj = dict[str, Any]
BURST = 500  # pods created per reconcile; the rest on the next turn (the real one uses slow-start batches)


def pod_from_template(
    owner: Obj, template: Obj, *, generate_name: str, extra_labels: dict[str, str] | None = None
) -> Obj:
    meta = copy.deepcopy(template.get("metadata") or {})
    meta.pop("creationTimestamp", None)
    meta.pop("name", None)
    labels = dict(meta.get("labels") or {})
    labels.update(extra_labels or {})
    pod_meta: Obj = {"generateName": generate_name, "namespace": owner["metadata"]["namespace"]}
    if labels:
        pod_meta["labels"] = labels
    if meta.get("annotations"):
        pod_meta["annotations"] = meta["annotations"]
    if meta.get("finalizers"):
        pod_meta["finalizers"] = meta["finalizers"]
    pod_meta["ownerReferences"] = [controller_ref(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": pod_meta,
        "spec": copy.deepcopy(template.get("spec") or {}),
    }


class ReplicaSetController(Controller):
    name = "replicaset-controller"
    resource = "apps/replicasets"
    owner_kind = "ReplicaSet"

    def selector_matches(self, owner: Obj, labels: dict[str, str] | None) -> bool:
        return label_selector_matches(owner["spec"].get("selector"), labels)

    def resync(self) -> None:
        for obj in self.store.list(self.resource):
            self.enqueue((obj["metadata"]["namespace"], obj["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        if event.resource == self.resource:
            return [(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])]
        if event.resource == "pods":
            key = owner_key(event.obj, self.owner_kind)
            if key is not None:
                return [key]
            if event.type != "DELETED" and not event.obj["metadata"].get("ownerReferences"):
                labels = event.obj["metadata"].get("labels") or {}
                return [
                    (o["metadata"]["namespace"], o["metadata"]["name"])
                    for o in self.store.list(self.resource, event.obj["metadata"]["namespace"])
                    if self.selector_matches(o, labels)
                ]
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        owner = self.store.get(self.resource, namespace, name)
        if owner is None:
            return
        uid = owner["metadata"]["uid"]
        deleting = bool(owner["metadata"].get("deletionTimestamp"))
        pods = []
        for pod in self.store.pods(namespace):
            refs = pod["metadata"].get("ownerReferences") or []
            controller = next((r for r in refs if r.get("controller")), None)
            if controller is not None:
                if controller.get("uid") == uid:
                    pods.append(pod)
                continue
            if (
                deleting
                or not is_active(pod)
                or not self.selector_matches(owner, pod["metadata"].get("labels"))
            ):
                continue
            adopted = self._adopt(owner, pod)
            if adopted is not None:
                pods.append(adopted)
        active = [p for p in pods if is_active(p)]
        wanted = int(owner["spec"].get("replicas", 1) or 0)
        if not deleting:
            diff = wanted - len(active)
            if diff > 0:
                for _ in range(min(diff, BURST)):
                    self._create(owner)
                if diff > BURST:
                    self.enqueue_after(key, 0)
            elif diff < 0:
                for pod in _deletion_order(active)[:-diff]:
                    self._delete(owner, pod)
        self._status(owner, pods)

    def _adopt(self, owner: Obj, pod: Obj) -> Obj | None:
        def adopt(obj: Obj) -> None:
            obj["metadata"].setdefault("ownerReferences", []).append(controller_ref(owner))

        try:
            return self.api.mutate("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], adopt)
        except ApiError:
            return None

    def template(self, owner: Obj) -> Obj:
        return owner["spec"].get("template") or {}

    def _create(self, owner: Obj) -> None:
        pod = pod_from_template(owner, self.template(owner), generate_name=f"{owner['metadata']['name']}-")
        try:
            created = self.api.create(self.api.kind("pods"), pod, namespace=owner["metadata"]["namespace"])
        except ApiError as exc:
            self.events.record(owner, "Warning", "FailedCreate", f"Error creating: {exc}", self.name)
            return
        self.events.record(
            owner, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", self.name
        )

    def _delete(self, owner: Obj, pod: Obj) -> None:
        try:
            self.api.delete(self.api.kind("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
        except ApiError:
            return
        self.events.record(
            owner, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", self.name
        )

    def _status(self, owner: Obj, pods: list[Obj]) -> None:
        now = time.time()
        min_ready = int(owner["spec"].get("minReadySeconds") or 0)
        active = [p for p in pods if is_active(p)]
        labels_ok = [p for p in active if self.selector_matches(owner, p["metadata"].get("labels"))]
        ready = [p for p in active if is_pod_ready(p)]
        available = [p for p in active if is_available(p, min_ready, now)]
        terminating = [
            p
            for p in pods
            if p["metadata"].get("deletionTimestamp")
            and p["status"].get("phase") not in ("Succeeded", "Failed")
        ]
        status: Obj = {"replicas": len(active)}
        if labels_ok:
            status["fullyLabeledReplicas"] = len(labels_ok)
        if ready:
            status["readyReplicas"] = len(ready)
        if available:
            status["availableReplicas"] = len(available)
        status["terminatingReplicas"] = len(terminating)
        status["observedGeneration"] = owner["metadata"].get("generation", 1)
        if min_ready and len(ready) > len(available):
            self.enqueue_after((owner["metadata"]["namespace"], owner["metadata"]["name"]), min_ready)
        if owner.get("status") == status:
            return

        def write(obj: Obj) -> None:
            obj["status"] = status

        try:
            self.api.mutate(
                self.api.kind(self.resource),
                owner["metadata"]["namespace"],
                owner["metadata"]["name"],
                write,
                subresource="status",
            )
        except ApiError:
            pass


def _deletion_order(pods: list[Obj]) -> list[Obj]:
    """``ActivePodsWithRanks``: unscheduled first, then pending, not ready, then the most recently created."""

    def rank(pod: Obj) -> tuple[int, int, int, float]:
        scheduled = 1 if pod["spec"].get("nodeName") else 0
        phase = {"Pending": 0, "Unknown": 1, "Running": 2}.get(pod["status"].get("phase", ""), 0)
        ready = 1 if is_pod_ready(pod) else 0
        created = parse_time(pod["metadata"].get("creationTimestamp")) or 0.0
        return (scheduled, phase, ready, -created)

    return sorted(pods, key=rank)


class ReplicationManager(ReplicaSetController):
    name = "replication-controller"
    resource = "replicationcontrollers"
    owner_kind = "ReplicationController"

    def selector_matches(self, owner: Obj, labels: dict[str, str] | None) -> bool:
        selector = owner["spec"].get("selector") or {}
        labels = labels or {}
        return bool(selector) and all(labels.get(k) == v for k, v in selector.items())
