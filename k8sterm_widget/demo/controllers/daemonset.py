"""The DaemonSet controller: one pod per node that fits (the demo has one node), rolled on template change.

Pods are pinned to their node with required node affinity on ``metadata.name`` (as the controller does
since scheduling moved to the scheduler), tolerate the node-condition taints, and carry the
``controller-revision-hash`` of a ControllerRevision holding the template.  A pod of an older revision is
deleted and replaced (``RollingUpdate`` with ``maxUnavailable: 1``; ``OnDelete`` waits for the user).
"""

from __future__ import annotations

import copy
import time
from typing import Any

from ..kinds.common import controller_ref
from ..store import Event
from ..verbs import ApiError
from .base import Controller, is_active, is_available, is_pod_ready, owner_key
from .deployment import template_hash
from .replicaset import pod_from_template

Obj = dict[str, Any]
REVISION_LABEL = "controller-revision-hash"
_TOLERATIONS = [
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
]


class DaemonSetController(Controller):
    name = "daemonset-controller"

    def __init__(self, api: Any, node_name: str) -> None:
        super().__init__(api)
        self.node_name = node_name

    def resync(self) -> None:
        for ds in self.store.list("apps/daemonsets"):
            self.enqueue((ds["metadata"]["namespace"], ds["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        if event.resource == "apps/daemonsets":
            return [(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])]
        if event.resource == "pods":
            key = owner_key(event.obj, "DaemonSet")
            return [key] if key else []
        if event.resource == "nodes":
            return [
                (ds["metadata"]["namespace"], ds["metadata"]["name"])
                for ds in self.store.list("apps/daemonsets")
            ]
        return []

    def _fits(self, ds: Obj) -> bool:
        node = self.api.find("nodes", "", self.node_name)
        if node is None:
            return False
        labels = node["metadata"].get("labels") or {}
        selector = ((ds["spec"].get("template") or {}).get("spec") or {}).get("nodeSelector") or {}
        return all(labels.get(k) == v for k, v in selector.items())

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        ds = self.store.get("apps/daemonsets", namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        uid = ds["metadata"]["uid"]
        template = ds["spec"].get("template") or {}
        revision = template_hash(template)
        self._revision(ds, template, revision)
        pods = [
            p
            for p in self.store.pods(namespace)
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in p["metadata"].get("ownerReferences") or []
            )
        ]
        active = [p for p in pods if is_active(p)]
        fits = self._fits(ds)
        if fits and not active and not any(p["metadata"].get("deletionTimestamp") for p in pods):
            self._create(ds, template, revision)
        elif not fits:
            for pod in active:
                self._delete(ds, pod)
        else:
            strategy = ds["spec"].get("updateStrategy") or {}
            for pod in active[1:]:
                self._delete(ds, pod)
            stale = [
                p for p in active[:1] if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision
            ]
            if stale and strategy.get("type", "RollingUpdate") == "RollingUpdate":
                self._delete(ds, stale[0])
        self._status(ds, pods, revision, fits)

    def _revision(self, ds: Obj, template: Obj, revision: str) -> None:
        name = f"{ds['metadata']['name']}-{revision}"
        namespace = ds["metadata"]["namespace"]
        if self.api.find("apps/controllerrevisions", namespace, name) is not None:
            return
        existing = [
            cr
            for cr in self.store.list("apps/controllerrevisions", namespace)
            if any(r.get("uid") == ds["metadata"]["uid"] for r in cr["metadata"].get("ownerReferences") or [])
        ]
        number = max((int(cr.get("revision", 0)) for cr in existing), default=0) + 1
        cr = {
            "apiVersion": "apps/v1",
            "kind": "ControllerRevision",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": {
                    **((template.get("metadata") or {}).get("labels") or {}),
                    REVISION_LABEL: revision,
                },
                "ownerReferences": [controller_ref(ds)],
            },
            "data": {"spec": {"template": {**copy.deepcopy(template), "$patch": "replace"}}},
            "revision": number,
        }
        try:
            self.api.create(self.api.kind("apps/controllerrevisions"), cr, namespace=namespace)
        except ApiError:
            pass

    def _create(self, ds: Obj, template: Obj, revision: str) -> None:
        pod = pod_from_template(
            ds,
            template,
            generate_name=f"{ds['metadata']['name']}-",
            extra_labels={
                REVISION_LABEL: revision,
                "pod-template-generation": str(ds["metadata"].get("generation", 1)),
            },
        )
        spec = pod["spec"]
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": [self.node_name]}
                            ]
                        }
                    ]
                }
            }
        }
        tolerations = spec.setdefault("tolerations", [])
        for key, effect in _TOLERATIONS:
            if not any(t.get("key") == key for t in tolerations):
                tolerations.append({"key": key, "operator": "Exists", "effect": effect})
        try:
            created = self.api.create(self.api.kind("pods"), pod, namespace=ds["metadata"]["namespace"])
        except ApiError as exc:
            self.events.record(ds, "Warning", "FailedCreate", f"Error creating: {exc}", self.name)
            return
        self.events.record(
            ds, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", self.name
        )

    def _delete(self, ds: Obj, pod: Obj) -> None:
        try:
            self.api.delete(self.api.kind("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
        except ApiError:
            return
        self.events.record(
            ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", self.name
        )

    def _status(self, ds: Obj, pods: list[Obj], revision: str, fits: bool) -> None:
        now = time.time()
        active = [p for p in pods if is_active(p)]
        scheduled = [p for p in active if p["spec"].get("nodeName")]
        min_ready = int(ds["spec"].get("minReadySeconds") or 0)
        status = {
            "currentNumberScheduled": min(len(scheduled), 1),
            "numberMisscheduled": 0,
            "desiredNumberScheduled": 1 if fits else 0,
            "numberReady": min(sum(1 for p in active if is_pod_ready(p)), 1),
            "observedGeneration": ds["metadata"].get("generation", 1),
            "updatedNumberScheduled": min(
                sum(
                    1
                    for p in scheduled
                    if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision
                ),
                1,
            ),
            "numberAvailable": min(sum(1 for p in active if is_available(p, min_ready, now)), 1),
        }
        if status["desiredNumberScheduled"] - status["numberAvailable"] > 0:
            status["numberUnavailable"] = status["desiredNumberScheduled"] - status["numberAvailable"]
        if ds.get("status") == status:
            return
        try:
            self.api.mutate(
                "apps/daemonsets",
                ds["metadata"]["namespace"],
                ds["metadata"]["name"],
                lambda o: o.__setitem__("status", status),
                subresource="status",
            )
        except ApiError:
            pass
