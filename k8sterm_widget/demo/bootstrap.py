"""What a fresh cluster holds before any user manifest: the control plane's own objects, the node, and the
controllers that keep them moving — what ``kubeadm init`` and kind leave behind, wired to the demo's store.
"""

from __future__ import annotations

import asyncio
import functools
import os
import platform
import uuid
from typing import Any

from . import (
    kinds,  # noqa: F401  (registers every kind)
    kubelet_env,
    rbac,
)
from .allocators import Allocators
from .controllers.base import Controller, Events, node_capacity
from .controllers.clusterroleaggregation import ClusterRoleAggregationController
from .controllers.cronjob import CronJobController
from .controllers.daemonset import DaemonSetController
from .controllers.deployment import DeploymentController
from .controllers.endpoints import EndpointsController
from .controllers.gc import GarbageCollector
from .controllers.job import JobController
from .controllers.namespace import NamespaceController
from .controllers.replicaset import ReplicaSetController, ReplicationManager
from .controllers.scheduler import Scheduler
from .objects import HOST_IP
from .verbs import Api, ApiError

Obj = dict[str, Any]
SERVICE_CIDR_BASE = (10, 96)
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
API_PORT = 6443
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def node_object(name: str) -> Obj:
    cpus, memory = node_capacity()
    kib = f"{memory // 1024}Ki"
    capacity = {
        "cpu": str(cpus),
        "ephemeral-storage": "102400000Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": kib,
        "pods": "110",
    }
    uname = platform.uname()
    conditions = [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
    ]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "beta.kubernetes.io/arch": "amd64",
                "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "node-role.kubernetes.io/control-plane": "",
            },
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": "10.244.0.0/16",
            "podCIDRs": ["10.244.0.0/16"],
            "providerID": f"kind://docker/k8sterm/{name}",
        },
        "status": {
            "capacity": capacity,
            "allocatable": dict(capacity),
            "conditions": [
                {
                    "type": t,
                    "status": s,
                    "lastHeartbeatTime": None,
                    "lastTransitionTime": None,
                    "reason": r,
                    "message": m,
                }
                for t, s, r, m in conditions
            ],
            "addresses": [{"type": "InternalIP", "address": HOST_IP}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": uuid.uuid4().hex,
                "systemUUID": str(uuid.uuid4()),
                "bootID": str(uuid.uuid4()),
                "kernelVersion": uname.release,
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "containerd://2.1.1",
                "kubeletVersion": "v1.37.1",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        },
    }


def _stamp_node(node: Obj, now: str) -> None:
    for c in node["status"]["conditions"]:
        c["lastHeartbeatTime"] = c["lastTransitionTime"] = now


def create_system_objects(api: Api, node_name: str, users: list[Any]) -> None:
    """Namespaces, the node, the ``kubernetes`` Service and the bootstrap RBAC policy."""
    from .objects import rfc3339

    for ns in SYSTEM_NAMESPACES:
        api.create(api.kind("namespaces"), {"metadata": {"name": ns}})
    node = node_object(node_name)
    _stamp_node(node, rfc3339(__import__("time").time()))
    api.create(api.kind("nodes"), node)
    api.create(
        api.kind("services"),
        {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": KUBERNETES_SERVICE_IP,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": API_PORT}],
            },
        },
    )
    api.create(api.kind("services"), {
        "metadata": {"name": "kube-dns", "namespace": "kube-system",
                     "labels": {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true",
                                "kubernetes.io/name": "CoreDNS"}},
        "spec": {"clusterIP": DNS_SERVICE_IP,
                 "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                           {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                           {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]},
    })  # fmt: skip
    for obj in rbac.bootstrap(users):
        kind = api.registry.for_object(obj)
        assert kind is not None
        api.create(kind, obj, namespace=obj["metadata"].get("namespace", ""))


def start_controllers(api: Api, node: Any, node_name: str, ca_pem: str) -> list[Controller]:
    controllers: list[Controller] = [
        GarbageCollector(api),
        NamespaceController(api, ca_pem),
        Scheduler(api, node_name),
        ReplicaSetController(api),
        ReplicationManager(api),
        DeploymentController(api),
        DaemonSetController(api, node_name),
        JobController(api),
        CronJobController(api),
        EndpointsController(api, node_name, (HOST_IP, API_PORT)),
        ClusterRoleAggregationController(api),
    ]
    for c in controllers:
        c.start()
    node.events = api.services["events"]
    node.api = api
    node.env = functools.partial(kubelet_env.resolve, api.store)
    node.start()
    return controllers


def make_api(store: Any, node_name: str, sa_key: bytes) -> Api:
    api = Api(store, node_name=node_name)
    api.services["ipam"] = Allocators()
    api.services["events"] = Events(api, node_name)
    api.services["tokens"] = rbac.ServiceAccountTokens(store, sa_key)
    return api


def apply_manifests(api: Api, manifests: list[Obj], default_namespace: str) -> None:
    """Create each manifest through the API (defaults, validation, admission), as ``kubectl create``."""
    from .scenario import ScenarioError

    for i, manifest in enumerate(manifests):
        kind = api.registry.for_object(manifest)
        if kind is None:
            raise ScenarioError(
                f"manifests[{i}]: no kind {manifest.get('kind')!r} in {manifest.get('apiVersion')!r}"
            )
        namespace = (manifest.get("metadata") or {}).get("namespace") or default_namespace
        try:
            api.create(kind, manifest, namespace=namespace if kind.namespaced else "")
        except ApiError as exc:
            if exc.code == 409 and kind.kind == "Namespace":
                continue
            raise ScenarioError(
                f"manifests[{i}] ({manifest.get('kind')} {manifest['metadata'].get('name')}): {exc}"
            ) from None


async def settle(api: Api, node: Any, timeout: float = 30.0) -> None:
    """Let the controllers and the scheduler run until every pod is bound or refused, then wait for the node
    to start what it can."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        await asyncio.sleep(0.005)
        pending = [
            p
            for p in api.store.pods()
            if not p["spec"].get("nodeName")
            and not any(c.get("type") == "PodScheduled" for c in p["status"].get("conditions") or [])
        ]
        unadmitted = [
            p
            for p in api.store.pods()
            if p["spec"].get("nodeName") == node.name
            and (p["metadata"]["namespace"], p["metadata"]["name"]) not in node._pods
        ]
        if not pending and not unadmitted:
            break
    await node.wait_settled(max(deadline - loop.time(), 0.1))


def sa_signing_key(state_dir: Any) -> bytes:
    path = state_dir / "sa.key"
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            return data
    except OSError:
        pass
    from .pki import _write_private

    data = os.urandom(32)
    _write_private(path, data)
    return data
