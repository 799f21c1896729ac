"""Endpoints and EndpointSlices from the pods a Service selects (the two endpoint controllers).

A pod counts once it has an IP and is not terminal; it is a ready address when its ``Ready`` condition is
true (``notReadyAddresses`` otherwise, or ``conditions.ready: false`` in a slice), unless the Service
``publishNotReadyAddresses``.  Named target ports resolve against each pod's container ports.  The
``kubernetes`` Service of ``default`` points at the API server, as the apiserver itself maintains it.
"""

from __future__ import annotations

import time
from typing import Any

from ..kinds.common import controller_ref
from ..objects import rfc3339
from ..store import Event
from ..verbs import ApiError, random_suffix
from .base import Controller, is_pod_ready

Obj = dict[str, Any]
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
HEADLESS = "service.kubernetes.io/headless"


def _target_port(port: Obj, pod: Obj) -> int | None:
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("name") == target and p.get("protocol", "TCP") == port.get("protocol", "TCP"):
                return int(p["containerPort"])
    return None


class EndpointsController(Controller):
    name = "endpoint-controller"

    def __init__(self, api: Any, node_name: str, apiserver_endpoint: tuple[str, int]) -> None:
        super().__init__(api)
        self.node_name = node_name
        self.apiserver = apiserver_endpoint

    def resync(self) -> None:
        for svc in self.store.list("services"):
            self.enqueue((svc["metadata"]["namespace"], svc["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        obj = event.obj
        if event.resource == "services":
            return [(obj["metadata"]["namespace"], obj["metadata"]["name"])]
        if event.resource == "pods":
            if event.type == "MODIFIED" and event.old is not None and not _relevant_change(event.old, obj):
                return []
            labels = obj["metadata"].get("labels") or {}
            old_labels = (event.old or {}).get("metadata", {}).get("labels") or {}
            ns = obj["metadata"]["namespace"]
            return [
                (ns, s["metadata"]["name"])
                for s in self.store.list("services", ns)
                if (sel := s["spec"].get("selector")) and (_selects(sel, labels) or _selects(sel, old_labels))
            ]
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        svc = self.store.get("services", namespace, name)
        if svc is None:
            ep = self.store.get("endpoints", namespace, name)
            if ep is not None:
                try:
                    self.api.delete(self.api.kind("endpoints"), namespace, name)
                except ApiError:
                    pass
            return
        if namespace == "default" and name == "kubernetes":
            ip, port = self.apiserver
            subsets: list[Obj] = [
                {"addresses": [{"ip": ip}], "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}
            ]
            self._write_endpoints(svc, subsets)
            self._write_slice(
                svc,
                [{"addresses": [ip], "conditions": {"ready": True}}],
                [{"name": "https", "port": port, "protocol": "TCP"}],
            )
            return
        selector = svc["spec"].get("selector")
        if not selector or svc["spec"].get("type") == "ExternalName":
            return
        publish = bool(svc["spec"].get("publishNotReadyAddresses"))
        ready_addresses: list[Obj] = []
        not_ready: list[Obj] = []
        slice_endpoints: list[Obj] = []
        ports: dict[tuple[Any, ...], None] = {}
        for pod in self.store.pods(namespace):
            if not _selects(selector, pod["metadata"].get("labels") or {}):
                continue
            ip = pod.get("status", {}).get("podIP")
            if not ip or pod["status"].get("phase") in ("Succeeded", "Failed"):
                continue
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            ready = is_pod_ready(pod) and not terminating
            address = {
                "ip": ip,
                "nodeName": pod["spec"].get("nodeName", ""),
                "targetRef": {
                    "kind": "Pod",
                    "namespace": namespace,
                    "name": pod["metadata"]["name"],
                    "uid": pod["metadata"]["uid"],
                },
            }
            for p in svc["spec"].get("ports") or []:
                target = _target_port(p, pod)
                if target is not None:
                    ports[(p.get("name", ""), target, p.get("protocol", "TCP"), p.get("appProtocol"))] = None
            if not terminating or publish:
                (ready_addresses if ready or publish else not_ready).append(address)
            slice_endpoints.append(
                {
                    "addresses": [ip],
                    "conditions": {
                        "ready": ready or publish,
                        "serving": is_pod_ready(pod),
                        "terminating": terminating,
                    },
                    "targetRef": address["targetRef"],
                    "nodeName": address["nodeName"],
                }
            )
        port_list = []
        for pname, number, proto, app in ports:
            entry: Obj = {"port": number, "protocol": proto}
            if pname:
                entry = {"name": pname, **entry}
            if app:
                entry["appProtocol"] = app
            port_list.append(entry)
        subsets = []
        if (ready_addresses or not_ready) and port_list:
            subset: Obj = {}
            if ready_addresses:
                subset["addresses"] = sorted(ready_addresses, key=lambda a: a["ip"])
            if not_ready:
                subset["notReadyAddresses"] = sorted(not_ready, key=lambda a: a["ip"])
            subset["ports"] = port_list
            subsets.append(subset)
        self._write_endpoints(svc, subsets)
        # a slice names every port, "" for an unnamed one (kubectl describe dereferences the name)
        slice_ports = [
            {"name": p.get("name", ""), **{k: v for k, v in p.items() if k != "name"}} for p in port_list
        ]
        self._write_slice(
            svc, slice_endpoints if port_list or not svc["spec"].get("ports") else [], slice_ports
        )

    def _write_endpoints(self, svc: Obj, subsets: list[Obj]) -> None:
        namespace, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        labels = dict(svc["metadata"].get("labels") or {})
        if not svc["spec"].get("clusterIP") or svc["spec"].get("clusterIP") == "None":
            labels[HEADLESS] = ""
        current = self.store.get("endpoints", namespace, name)
        stamp = rfc3339(time.time())
        if current is None:
            ep: Obj = {
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "labels": labels,
                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": stamp},
                }
            }
            if subsets:
                ep["subsets"] = subsets
            try:
                self.api.create(self.api.kind("endpoints"), ep, namespace=namespace)
            except ApiError:
                pass
            return
        if current.get("subsets", []) == subsets and (current["metadata"].get("labels") or {}) == labels:
            return

        def write(obj: Obj) -> None:
            obj["metadata"]["labels"] = labels
            obj["metadata"].setdefault("annotations", {})[
                "endpoints.kubernetes.io/last-change-trigger-time"
            ] = stamp
            if subsets:
                obj["subsets"] = subsets
            else:
                obj.pop("subsets", None)

        self.api.mutate("endpoints", namespace, name, write)

    def _write_slice(self, svc: Obj, endpoints: list[Obj], ports: list[Obj]) -> None:
        namespace, name = svc["metadata"]["namespace"], svc["metadata"]["name"]
        existing = [
            s
            for s in self.store.list("discovery.k8s.io/endpointslices", namespace)
            if (s["metadata"].get("labels") or {}).get(SERVICE_NAME) == name
        ]
        labels = {
            **(svc["metadata"].get("labels") or {}),
            MANAGED_BY: "endpointslice-controller.k8s.io",
            SERVICE_NAME: name,
        }
        if svc["spec"].get("clusterIP") == "None":
            labels[HEADLESS] = ""
        endpoints = sorted(endpoints, key=lambda e: e["addresses"][0])
        if existing:
            current = existing[0]
            if (
                current.get("endpoints") == endpoints
                and current.get("ports") == ports
                and (current["metadata"].get("labels") or {}) == labels
            ):
                return

            def write(obj: Obj) -> None:
                obj["metadata"]["labels"] = labels
                obj["endpoints"] = endpoints
                obj["ports"] = ports

            self.api.mutate("discovery.k8s.io/endpointslices", namespace, current["metadata"]["name"], write)
            return
        es = {
            "metadata": {
                "name": f"{name}-{random_suffix()}",
                "namespace": namespace,
                "labels": labels,
                "ownerReferences": [controller_ref(svc)],
                "generateName": f"{name}-",
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        }
        try:
            self.api.create(self.api.kind("discovery.k8s.io/endpointslices"), es, namespace=namespace)
        except ApiError:
            pass


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _relevant_change(old: Obj, new: Obj) -> bool:
    if old["metadata"].get("labels") != new["metadata"].get("labels"):
        return True
    if bool(old["metadata"].get("deletionTimestamp")) != bool(new["metadata"].get("deletionTimestamp")):
        return True
    a, b = old.get("status", {}), new.get("status", {})
    return (
        a.get("podIP") != b.get("podIP")
        or a.get("phase") != b.get("phase")
        or is_pod_ready(old) != is_pod_ready(new)
    )
