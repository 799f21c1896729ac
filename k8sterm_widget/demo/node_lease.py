"""The kubelet's heartbeat and its arrival on the node: the node's Lease and the events ``kubectl describe
node`` shows.

A kubelet keeps a Lease named after its node in ``kube-node-lease`` (component-helpers' lease controller,
started by pkg/kubelet/kubelet.go): ``holderIdentity`` the node, ``leaseDurationSeconds`` 40
(``nodeLeaseDurationSeconds``), ``renewTime`` moved every quarter of that (``NodeLeaseRenewIntervalFraction``
0.25), owned by the Node so that it goes with it.  ``kubectl describe node`` prints the lease's holder and
renew time (and "Failed to get lease" when there is none).  On start the kubelet records ``Starting``
("Starting kubelet."), one ``NodeHas…`` event per condition of its first status, ``NodeAllocatableEnforced``
and ``NodeReady`` against its node reference — whose uid is the node's *name* (kubelet.go's ``nodeRef``);
the node lifecycle controller adds ``RegisteredNode`` against the Node's real uid.  Events of a cluster-scoped
object live in ``default``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from .objects import Obj, micro_time

NAMESPACE = "kube-node-lease"
DURATION = 40
RENEW_INTERVAL = DURATION * 0.25

# pkg/kubelet/nodestatus/setters.go: the events of a first status, in the order the setters run
_CONDITION_EVENTS = ("NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID")


def announce(events: Any, node: Obj) -> None:
    """The events of a kubelet that has just registered its node, and of the controller that saw it."""
    name = node["metadata"]["name"]
    kubelet_ref: Obj = {"kind": "Node", "metadata": {"name": name, "uid": name}}
    events.record(kubelet_ref, "Normal", "Starting", "Starting kubelet.", "kubelet", host=True)
    for reason in _CONDITION_EVENTS:
        events.record(
            kubelet_ref, "Normal", reason, f"Node {name} status is now: {reason}", "kubelet", host=True
        )
    events.record(
        kubelet_ref,
        "Normal",
        "NodeAllocatableEnforced",
        "Updated Node Allocatable limit across pods",
        "kubelet",
        host=True,
    )
    # pkg/controller/nodelifecycle: nodeutil.RecordNodeEvent(... "RegisteredNode", "Registered Node %s in
    # Controller"), which formats "Node %s event: %s"
    events.record(
        node, "Normal", "RegisteredNode", f"Node {name} event: Registered Node {name} in Controller",
        "node-controller",
    )  # fmt: skip
    events.record(
        kubelet_ref, "Normal", "NodeReady", f"Node {name} status is now: NodeReady", "kubelet", host=True
    )


def lease_object(node: Obj, now: float) -> Obj:
    name = node["metadata"]["name"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": name, "uid": node["metadata"]["uid"]}
            ],
        },
        "spec": {"holderIdentity": name, "leaseDurationSeconds": DURATION, "renewTime": micro_time(now)},
    }


def ensure(api: Any, node_name: str) -> None:
    """Create the node's Lease (or renew it): what the kubelet's lease controller does every round."""
    kind = api.kind("coordination.k8s.io/leases")
    node = api.store.get("nodes", "", node_name)
    if node is None:
        return

    def renew(lease: Obj) -> None:
        lease.setdefault("spec", {})["renewTime"] = micro_time(time.time())

    if api.mutate(kind, NAMESPACE, node_name, renew) is None:
        api.create(kind, lease_object(node, time.time()), namespace=NAMESPACE)


async def heartbeat(api: Any, node_name: str, interval: float = RENEW_INTERVAL) -> None:
    """Renew the node's Lease every ``interval`` seconds until cancelled (recreate it if deleted)."""
    while True:
        await asyncio.sleep(interval)
        with contextlib.suppress(Exception):  # a failed round is retried at the next, as the kubelet does
            ensure(api, node_name)
