"""Discovery documents and ``/version``: what clients read before they make a single real request.

kubectl 1.37 asks ``/api`` and ``/apis`` for aggregated discovery (``Accept: …as=APIGroupDiscoveryList…,
application/json``) and falls back to the legacy documents when the server answers plain JSON, then reads
``/api/v1`` to map ``pods``/``po``/``ns`` to resources.  The legacy documents are therefore enough; they
list only what the demo serves, so ``kubectl api-resources`` tells the truth about it.
"""

from __future__ import annotations

from typing import Any

KUBE_VERSION = "v1.37.1"
SERVER_ADDRESS = "172.18.0.2:6443"


def version() -> dict[str, Any]:
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


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": SERVER_ADDRESS}],
    }


#: The API groups besides core, in the apiserver's priority order; each serves one review resource.
GROUPS = {
    "authentication.k8s.io": ("selfsubjectreviews", "SelfSubjectReview"),
    "authorization.k8s.io": ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
}


def _group(name: str) -> dict[str, Any]:
    version = {"groupVersion": f"{name}/v1", "version": "v1"}
    return {"name": name, "versions": [version], "preferredVersion": version}


def api_group_list() -> dict[str, Any]:
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(name) for name in GROUPS]}


def api_group(name: str) -> dict[str, Any]:
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def _resource(
    name: str,
    kind: str,
    verbs: list[str],
    *,
    singular: str = "",
    namespaced: bool = True,
    short: list[str] | None = None,
    categories: list[str] | None = None,
    storage_hash: str = "",
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind}
    out["verbs"] = verbs
    if short:
        out["shortNames"] = short
    if categories:
        out["categories"] = categories
    if storage_hash:
        out["storageVersionHash"] = storage_hash
    return out


def core_v1_resources() -> dict[str, Any]:
    return {
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            _resource(
                "namespaces",
                "Namespace",
                ["get", "list", "watch"],
                singular="namespace",
                namespaced=False,
                short=["ns"],
                storage_hash="Q3oi5N2YM8M=",
            ),
            _resource(
                "pods",
                "Pod",
                ["get", "list", "watch"],
                singular="pod",
                short=["po"],
                categories=["all"],
                storage_hash="xPOwRZ+Yhw8=",
            ),
            _resource("pods/attach", "PodAttachOptions", ["create", "get"]),
            _resource("pods/ephemeralcontainers", "Pod", ["get", "patch", "update"]),
            _resource("pods/exec", "PodExecOptions", ["create", "get"]),
            _resource("pods/log", "Pod", ["get"]),
            _resource("pods/status", "Pod", ["get"]),
        ],
    }


def group_v1_resources(name: str) -> dict[str, Any]:
    resource, kind = GROUPS[name]
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{name}/v1",
        "resources": [_resource(resource, kind, ["create"], singular=resource[:-1], namespaced=False)],
    }
