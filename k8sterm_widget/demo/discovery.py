"""Discovery documents and ``/version``, generated from the registry: what clients read first.

kubectl 1.37 asks ``/api`` and ``/apis`` for *aggregated* discovery (``Accept: …as=APIGroupDiscoveryList``,
``apidiscovery.k8s.io/v2``) and gets every resource of every group in two answers; older clients (and the
Python clients' dynamic client) read the legacy documents (``/api/v1``, ``/apis/<group>/<version>``).  Both
are built from :data:`.registry.REGISTRY`, so ``kubectl api-resources`` lists exactly what the demo serves.
"""

from __future__ import annotations

from typing import Any

from .registry import REGISTRY, Kind

KUBE_VERSION = "v1.37.1"
SERVER_ADDRESS = "172.18.0.2:6443"
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

Obj = dict[str, Any]

# subresource -> (kind, group, version, verbs); None for the kind of the parent
_SUBRESOURCES: dict[str, tuple[str | None, str, str, tuple[str, ...]]] = {
    "status": (None, "", "", ("get", "patch", "update")),
    "scale": ("Scale", "autoscaling", "v1", ("get", "patch", "update")),
    "exec": ("PodExecOptions", "", "v1", ("create", "get")),
    "attach": ("PodAttachOptions", "", "v1", ("create", "get")),
    "portforward": ("PodPortForwardOptions", "", "v1", ("create", "get")),
    "log": (None, "", "", ("get",)),
    "binding": ("Binding", "", "v1", ("create",)),
    "eviction": ("Eviction", "policy", "v1", ("create",)),
    "ephemeralcontainers": (None, "", "", ("get", "patch", "update")),
    "token": ("TokenRequest", "authentication.k8s.io", "v1", ("create",)),
    "finalize": (None, "", "", ("update",)),
    "proxy": (None, "", "v1", ("create", "delete", "get", "patch", "update")),
}
_PROXY_KINDS = {"Pod": "PodProxyOptions", "Service": "ServiceProxyOptions", "Node": "NodeProxyOptions"}


def version() -> Obj:
    major, minor, _patch = KUBE_VERSION.lstrip("v").split(".")
    return {
        "major": major,
        "minor": minor,
        "emulationMajor": major,
        "emulationMinor": minor,
        "minCompatibilityMajor": major,
        "minCompatibilityMinor": str(int(minor) - 1),
        "gitVersion": f"{KUBE_VERSION}+k8sterm-demo",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.26.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions() -> Obj:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": SERVER_ADDRESS}],
    }


def _versions(group: str) -> list[str]:
    return list(dict.fromkeys(k.version for k in REGISTRY.order if k.group == group))


def _group(name: str) -> Obj:
    versions = [{"groupVersion": f"{name}/{v}", "version": v} for v in _versions(name)]
    return {"name": name, "versions": versions, "preferredVersion": versions[0]}


def api_group_list() -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in REGISTRY.groups()]}


def api_group(name: str) -> Obj:
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _sub_kind(kind: Kind, sub: str) -> tuple[str, str, str, tuple[str, ...]]:
    sub_kind, group, ver, verbs = _SUBRESOURCES.get(sub, (None, "", "", ("get",)))
    if sub == "proxy":
        return _PROXY_KINDS.get(kind.kind, "ProxyOptions"), "", "v1", verbs
    if sub_kind is None:
        return kind.kind, "", "", verbs
    return sub_kind, group, ver, verbs


def resource_list(group: str, version: str) -> Obj:
    """The legacy ``APIResourceList`` of one group version (``/api/v1``, ``/apis/apps/v1``)."""
    resources: list[Obj] = []
    for k in REGISTRY.kinds_of(group, version):
        entry: Obj = {
            "name": k.resource,
            "singularName": k.singular,
            "namespaced": k.namespaced,
            "kind": k.kind,
            "verbs": list(k.verbs),
        }
        if k.short_names:
            entry["shortNames"] = list(k.short_names)
        if k.categories:
            entry["categories"] = list(k.categories)
        if k.storage_hash:
            entry["storageVersionHash"] = k.storage_hash
        resources.append(entry)
        for sub in sorted(k.subresources):
            sub_kind, sub_group, sub_version, verbs = _sub_kind(k, sub)
            item: Obj = {"name": f"{k.resource}/{sub}", "singularName": "", "namespaced": k.namespaced}
            if sub_group:
                item["group"] = sub_group
            if sub_version and sub_group:
                item["version"] = sub_version
            item["kind"] = sub_kind
            item["verbs"] = list(verbs)
            resources.append(item)
    out: Obj = {"kind": "APIResourceList", "groupVersion": f"{group}/{version}" if group else version}
    if group:
        out = {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}"}
    out["resources"] = resources
    return out


def core_v1_resources() -> Obj:
    return resource_list("", "v1")


def group_v1_resources(name: str) -> Obj:
    return resource_list(name, "v1")


def _aggregated_group(group: str) -> Obj:
    versions = []
    for ver in _versions(group):
        resources = []
        for k in REGISTRY.kinds_of(group, ver):
            entry: Obj = {
                "resource": k.resource,
                "responseKind": {"group": "", "version": "", "kind": k.kind},
                "scope": "Namespaced" if k.namespaced else "Cluster",
                "singularResource": k.singular,
                "verbs": list(k.verbs),
            }
            if k.short_names:
                entry["shortNames"] = list(k.short_names)
            if k.categories:
                entry["categories"] = list(k.categories)
            subs = []
            for sub in sorted(k.subresources):
                sub_kind, sub_group, sub_version, verbs = _sub_kind(k, sub)
                subs.append(
                    {
                        "subresource": sub,
                        "responseKind": {"group": sub_group, "version": sub_version, "kind": sub_kind},
                        "verbs": list(verbs),
                    }
                )
            if subs:
                entry["subresources"] = subs
            resources.append(entry)
        versions.append({"version": ver, "resources": resources, "freshness": "Current"})
    return {"metadata": {"name": group, "creationTimestamp": None}, "versions": versions}


def aggregated(legacy: bool) -> Obj:
    """``/api`` (``legacy``) or ``/apis`` as an ``APIGroupDiscoveryList``."""
    groups = [""] if legacy else REGISTRY.groups()
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [_aggregated_group(g) for g in groups],
    }


def wants_aggregated(accept: str) -> bool:
    for entry in accept.split(","):
        params = {}
        for p in entry.split(";")[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip()] = v.strip()
        if (
            params.get("g") == "apidiscovery.k8s.io"
            and params.get("v") == "v2"
            and params.get("as") == "APIGroupDiscoveryList"
        ):
            return True
        if entry.strip().split(";")[0] in ("application/json", "*/*"):
            return False
    return False
