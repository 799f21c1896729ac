"""The scheduler: binds each pending pod to the node if it fits, or says why not.

It runs the filters a one-node cluster can fail — node selector and required node affinity, taints,
``spec.nodeName`` pinned elsewhere, and resource requests against the node's allocatable minus what the
pods already on it request — and then either binds (event ``Scheduled``: ``Successfully assigned ns/pod
to node``) or leaves the pod ``Unschedulable`` with ``FailedScheduling`` and the scheduler's own summary
(``0/1 nodes are available: 1 Insufficient cpu. preemption: …``).  Unschedulable pods are retried when a
pod goes away, as the scheduler's queue moves them back on a pod deletion.
"""

from __future__ import annotations

import time
from typing import Any

from .. import quantity as quantities
from ..objects import rfc3339
from ..store import Event
from .base import Controller, is_active

Obj = dict[str, Any]


def quantity(value: Any) -> float:
    """A resource quantity (``100m``, ``1.5``, ``128Mi``) as a number; 0 if unparseable."""
    return quantities.as_float(value)


def pod_requests(pod: Obj) -> dict[str, float]:
    """Effective requests: max of the init containers' and the sum of the regular ones (+ sidecars)."""
    spec = pod.get("spec", {})
    total: dict[str, float] = {}
    for c in spec.get("containers") or []:
        for res, val in ((c.get("resources") or {}).get("requests") or {}).items():
            total[res] = total.get(res, 0.0) + quantity(val)
    for c in spec.get("initContainers") or []:
        for res, val in ((c.get("resources") or {}).get("requests") or {}).items():
            total[res] = max(total.get(res, 0.0), quantity(val))
    return total


class Scheduler(Controller):
    name = "default-scheduler"

    def __init__(self, api: Any, node_name: str) -> None:
        super().__init__(api)
        self.node_name = node_name
        self._unbound: set[tuple[str, str]] = set()

    def resync(self) -> None:
        for pod in self.store.pods():
            if not pod["spec"].get("nodeName"):
                self._unbound.add((pod["metadata"]["namespace"], pod["metadata"]["name"]))
                self.enqueue((pod["metadata"]["namespace"], pod["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        """New unbound pods; and every unbound pod again when room may have appeared (a pod going away,
        a node changing) — from the set of unbound pods kept here, not a scan of every pod."""
        obj = event.obj
        if event.resource == "pods":
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            if event.type == "DELETED" or obj["spec"].get("nodeName"):
                self._unbound.discard(key)
            else:
                self._unbound.add(key)
            freed = event.type == "DELETED" or (
                event.old is not None
                and not event.old["metadata"].get("deletionTimestamp")
                and obj["metadata"].get("deletionTimestamp")
            )
            if freed:
                return list(self._unbound)
            if event.type == "ADDED" and key in self._unbound:
                return [key]
        if event.resource == "nodes":
            return list(self._unbound)
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        pod = self.store.pod(namespace, name)
        if pod is None or pod["spec"].get("nodeName") or pod["metadata"].get("deletionTimestamp"):
            return
        if pod["spec"].get("schedulerName", "default-scheduler") != "default-scheduler":
            return
        if any(g for g in pod["spec"].get("schedulingGates") or []):
            self._set_condition(
                pod, "SchedulingGated", "Scheduling is blocked due to non-empty scheduling gates"
            )
            return
        node = self.api.find("nodes", "", self.node_name)
        reason = self._misfit(pod, node)
        if reason is None and node is not None:
            self._bind(pod, node)
            return
        message = f"0/1 nodes are available: 1 {reason}."
        if reason and reason.startswith("Insufficient"):
            message += " preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
        else:
            message += " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
        if node is None:
            message = "no nodes available to schedule pods"
        previous = next(
            (c for c in pod["status"].get("conditions") or [] if c.get("type") == "PodScheduled"), None
        )
        self._set_condition(pod, "Unschedulable", message)
        if previous is None or previous.get("message") != message:
            self.events.record(pod, "Warning", "FailedScheduling", message, "default-scheduler")

    def _misfit(self, pod: Obj, node: Obj | None) -> str | None:
        if node is None:
            return "node(s) not found"
        spec = pod["spec"]
        labels = node["metadata"].get("labels") or {}
        selector = spec.get("nodeSelector") or {}
        if any(labels.get(k) != v for k, v in selector.items()) or not _affinity_ok(spec, node):
            return "node(s) didn't match Pod's node affinity/selector"
        if node.get("spec", {}).get("unschedulable") and not any(
            t.get("key") == "node.kubernetes.io/unschedulable" for t in spec.get("tolerations") or []
        ):
            return "node(s) were unschedulable"
        for taint in node.get("spec", {}).get("taints") or []:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(spec, taint):
                return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
        allocatable = node.get("status", {}).get("allocatable", {})
        wanted = pod_requests(pod)
        used: dict[str, float] = {}
        count = 0
        for other in self.store.pods():
            if other["spec"].get("nodeName") != node["metadata"]["name"] or not is_active(other):
                continue
            count += 1
            for res, val in pod_requests(other).items():
                used[res] = used.get(res, 0.0) + val
        if count + 1 > quantity(allocatable.get("pods", 110)):
            return "Too many pods"
        missing = [
            res
            for res, val in wanted.items()
            if val and val + used.get(res, 0.0) > quantity(allocatable.get(res, 0))
        ]
        if missing:
            return ", 1 ".join(f"Insufficient {res}" for res in sorted(missing))
        return None

    def _bind(self, pod: Obj, node: Obj) -> None:
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        node_name = node["metadata"]["name"]
        now = rfc3339(time.time())

        def bind(obj: Obj) -> None:
            obj["spec"]["nodeName"] = node_name
            conditions = [c for c in obj["status"].get("conditions") or [] if c.get("type") != "PodScheduled"]
            conditions.append(
                {"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": now}
            )
            obj["status"]["conditions"] = conditions

        self.store.update_pod(ns, name, bind)
        self.events.record(
            pod,
            "Normal",
            "Scheduled",
            f"Successfully assigned {ns}/{name} to {node_name}",
            "default-scheduler",
        )

    def _set_condition(self, pod: Obj, reason: str, message: str) -> None:
        now = rfc3339(time.time())

        def mark(obj: Obj) -> None:
            conditions = [c for c in obj["status"].get("conditions") or [] if c.get("type") != "PodScheduled"]
            old = next(
                (c for c in obj["status"].get("conditions") or [] if c.get("type") == "PodScheduled"), None
            )
            since = old["lastTransitionTime"] if old and old.get("status") == "False" else now
            conditions.append(
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": since,
                    "reason": reason,
                    "message": message,
                }
            )
            obj["status"]["conditions"] = conditions
            obj["status"]["phase"] = "Pending"

        self.store.update_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], mark)


def _tolerates(spec: Obj, taint: Obj) -> bool:
    for t in spec.get("tolerations") or []:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists" and (not t.get("key") or t.get("key") == taint.get("key")):
            return True
        if t.get("key") == taint.get("key") and t.get("value", "") == taint.get("value", ""):
            return True
    return False


def _affinity_ok(spec: Obj, node: Obj) -> bool:
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    labels = node["metadata"].get("labels") or {}
    fields = {"metadata.name": node["metadata"]["name"]}
    for term in terms:
        ok = all(_expr(e, labels) for e in term.get("matchExpressions") or []) and all(
            _expr(e, fields) for e in term.get("matchFields") or []
        )
        if ok:
            return True
    return False


def _expr(expr: Obj, values: dict[str, str]) -> bool:
    key, op, wanted = expr.get("key"), expr.get("operator"), expr.get("values") or []
    value = values.get(key) if isinstance(key, str) else None
    if op == "In":
        return value is not None and value in wanted
    if op == "NotIn":
        return value is None or value not in wanted
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and wanted:
        try:
            a, b = int(value), int(wanted[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False
