"""The declarative description of what the demo cluster contains (``scenario.yaml``).

Tutorials and tests name pods, containers and users from this file, so it is data, not code: a user can
point the cluster at their own YAML.  Its ``manifests:`` are ordinary Kubernetes manifests, applied through
the API at start exactly as ``kubectl apply`` would create them; the older short form (``namespaces:`` with
``pods:``) is turned into the same manifests.  A Pod manifest may carry a ``status.containerStatuses``
entry with a ``waiting`` or ``terminated`` state: that container is then *frozen* in that state (no
process runs), which is how the scenario shows a CrashLoopBackOff or a Completed pod at once.  Loading
validates eagerly and names the offending entry, because a typo in a scenario should fail at start with a
readable message rather than as a strange API answer later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


class ScenarioError(ValueError):
    """The scenario file is not well formed; the message says where."""


@dataclass(frozen=True)
class FrozenStatus:
    """A container state reported without running anything (``status:`` in the YAML)."""

    state: str  # "waiting" | "terminated"
    reason: str = ""
    message: str = ""
    exit_code: int = 0
    restart_count: int = 0
    last_exit_code: int | None = None


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    image: str
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    tty: bool = False
    stdin: bool = False
    cpu: str | None = None
    restart_policy: str | None = None  # init containers only: "Always" makes a sidecar
    status: FrozenStatus | None = None


@dataclass(frozen=True)
class PodSpec:
    name: str
    namespace: str
    containers: list[ContainerSpec]
    init_containers: list[ContainerSpec] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    restart_policy: str = "Always"
    service_account: str = "default"
    scheduled: bool = True


@dataclass(frozen=True)
class Rule:
    """An RBAC PolicyRule: ``resources`` may name subresources (``pods/exec``) and ``*``."""

    verbs: list[str]
    resources: list[str] = field(default_factory=list)
    non_resource_urls: list[str] = field(default_factory=list)
    namespaces: list[str] = field(default_factory=list)  # empty: cluster-wide binding
    api_groups: list[str] | None = None  # None: any group (the scenario's short form)
    resource_names: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class UserSpec:
    name: str
    rules: list[Rule]


@dataclass(frozen=True)
class Scenario:
    node: str
    namespace: str
    current_user: str
    users: list[UserSpec]
    namespaces: list[str]
    pods: list[PodSpec]
    source: str = "<builtin>"
    manifests: list[dict[str, Any]] = field(default_factory=list)

    def user(self, name: str) -> UserSpec | None:
        return next((u for u in self.users if u.name == name), None)

    def all_manifests(self) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, FrozenStatus]]]:
        """Every object to create at start, in order, and the frozen container states by pod."""
        out: list[dict[str, Any]] = []
        frozen: dict[tuple[str, str], dict[str, FrozenStatus]] = {}
        for ns in self.namespaces:
            out.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        for pod in self.pods:
            out.append(_pod_manifest(pod, self.node))
            states = {c.name: c.status for c in pod.init_containers + pod.containers if c.status is not None}
            if states:
                frozen[(pod.namespace, pod.name)] = states
        for manifest in self.manifests:
            manifest = dict(manifest)
            if manifest.get("kind") == "Pod" and isinstance(manifest.get("status"), dict):
                meta = manifest.get("metadata") or {}
                key = (str(meta.get("namespace") or self.namespace), str(meta.get("name", "")))
                given: dict[str, FrozenStatus | None] = {}
                for entry in manifest["status"].get("containerStatuses") or []:
                    given[entry["name"]] = _frozen_state(entry, key[1])
                frozen[key] = {k: v for k, v in given.items() if v is not None}
                manifest.pop("status")
            out.append(manifest)
        return out, frozen


def _frozen_state(entry: dict[str, Any], pod: str) -> FrozenStatus | None:
    state = entry.get("state") or {}
    last = (entry.get("lastState") or {}).get("terminated") or {}
    if "terminated" in state:
        t = state["terminated"] or {}
        return FrozenStatus(
            "terminated", reason=str(t.get("reason", "")), exit_code=int(t.get("exitCode", 0))
        )
    if "waiting" in state:
        w = state["waiting"] or {}
        return FrozenStatus(
            "waiting",
            reason=str(w.get("reason", "")),
            message=str(w.get("message", "")),
            restart_count=int(entry.get("restartCount", 0)),
            last_exit_code=int(last["exitCode"]) if "exitCode" in last else None,
        )
    return None


def _container_manifest(c: ContainerSpec) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "image": c.image}
    if c.command is not None:
        out["command"] = list(c.command)
    if c.args is not None:
        out["args"] = list(c.args)
    if c.working_dir:
        out["workingDir"] = c.working_dir
    if c.env:
        out["env"] = [{"name": k, "value": v} for k, v in c.env.items()]
    if c.cpu:
        out["resources"] = {"requests": {"cpu": c.cpu}}
    if c.restart_policy:
        out["restartPolicy"] = c.restart_policy
    if c.stdin:
        out["stdin"] = True
    if c.tty:
        out["tty"] = True
    return out


def _pod_manifest(pod: PodSpec, node: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": pod.name, "namespace": pod.namespace}
    if pod.labels:
        meta["labels"] = dict(pod.labels)
    if pod.annotations:
        meta["annotations"] = dict(pod.annotations)
    spec: dict[str, Any] = {}
    if pod.init_containers:
        spec["initContainers"] = [_container_manifest(c) for c in pod.init_containers]
    spec["containers"] = [_container_manifest(c) for c in pod.containers]
    spec["restartPolicy"] = pod.restart_policy
    if pod.service_account != "default":
        spec["serviceAccountName"] = pod.service_account
    if not pod.scheduled and not any(c.cpu for c in pod.containers):
        spec["nodeSelector"] = {"k8sterm.dev/unschedulable": "true"}  # no node has it: the scheduler says so
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def _str_list(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise ScenarioError(f"{where}: expected a list of strings")
    return [str(v) for v in value]


def _str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping")
    return {str(k): str(v) for k, v in value.items()}


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ScenarioError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _name(value: Any, where: str, pattern: re.Pattern[str] = _DNS1123_LABEL) -> str:
    if not isinstance(value, str) or not pattern.match(value) or len(value) > 253:
        raise ScenarioError(f"{where}: {value!r} is not a valid name (lower case DNS-1123)")
    return value


def _frozen(raw: Any, where: str) -> FrozenStatus | None:
    if raw is None:
        return None
    raw = _mapping(raw, where)
    state = raw.get("state")
    if state not in ("waiting", "terminated"):
        raise ScenarioError(f"{where}.state: must be waiting or terminated (running containers run)")
    last = raw.get("lastExitCode")
    return FrozenStatus(
        state=state,
        reason=str(raw.get("reason", "")),
        message=str(raw.get("message", "")),
        exit_code=int(raw.get("exitCode", 0)),
        restart_count=int(raw.get("restartCount", 0)),
        last_exit_code=None if last is None else int(last),
    )


def _container(raw: Any, where: str) -> ContainerSpec:
    raw = _mapping(raw, where)
    image = raw.get("image")
    if not isinstance(image, str) or not image:
        raise ScenarioError(f"{where}.image: required")
    return ContainerSpec(
        name=_name(raw.get("name"), f"{where}.name"),
        image=image,
        command=_str_list(raw["command"], f"{where}.command") if "command" in raw else None,
        args=_str_list(raw["args"], f"{where}.args") if "args" in raw else None,
        env=_str_map(raw.get("env"), f"{where}.env"),
        working_dir=raw.get("workingDir"),
        tty=bool(raw.get("tty", False)),
        stdin=bool(raw.get("stdin", False)),
        cpu=None if raw.get("cpu") is None else str(raw["cpu"]),
        restart_policy=raw.get("restartPolicy"),
        status=_frozen(raw.get("status"), f"{where}.status"),
    )


def _pod(raw: Any, namespace: str, where: str) -> PodSpec:
    raw = _mapping(raw, where)
    name = _name(raw.get("name"), f"{where}.name", _DNS1123_SUBDOMAIN)
    containers = [
        _container(c, f"{where}.containers[{i}]") for i, c in enumerate(raw.get("containers") or [])
    ]
    if not containers:
        raise ScenarioError(f"{where}: a pod needs at least one container")
    inits = [
        _container(c, f"{where}.initContainers[{i}]") for i, c in enumerate(raw.get("initContainers") or [])
    ]
    names = [c.name for c in inits + containers]
    if len(set(names)) != len(names):
        raise ScenarioError(f"{where}: container names must be unique")
    policy = raw.get("restartPolicy", "Always")
    if policy not in ("Always", "OnFailure", "Never"):
        raise ScenarioError(f"{where}.restartPolicy: must be Always, OnFailure or Never")
    return PodSpec(
        name=name,
        namespace=namespace,
        containers=containers,
        init_containers=inits,
        labels=_str_map(raw.get("labels"), f"{where}.labels"),
        annotations=_str_map(raw.get("annotations"), f"{where}.annotations"),
        restart_policy=policy,
        service_account=str(raw.get("serviceAccountName", "default")),
        scheduled=bool(raw.get("scheduled", True)),
    )


def _user(raw: Any, where: str) -> UserSpec:
    raw = _mapping(raw, where)
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ScenarioError(f"{where}.name: required")
    rules = []
    for i, r in enumerate(raw.get("rules") or []):
        r = _mapping(r, f"{where}.rules[{i}]")
        rules.append(
            Rule(
                verbs=_str_list(r.get("verbs"), f"{where}.rules[{i}].verbs"),
                resources=_str_list(r.get("resources"), f"{where}.rules[{i}].resources"),
                non_resource_urls=_str_list(r.get("nonResourceURLs"), f"{where}.rules[{i}].nonResourceURLs"),
                namespaces=_str_list(r.get("namespaces"), f"{where}.rules[{i}].namespaces"),
            )
        )
    return UserSpec(name=name, rules=rules)


def parse(data: Any, source: str = "<scenario>") -> Scenario:
    """Build a :class:`Scenario` from already-loaded YAML data."""
    data = _mapping(data, source)
    users = [_user(u, f"users[{i}]") for i, u in enumerate(data.get("users") or [])]
    if not users:
        raise ScenarioError("users: at least one user is required")
    namespaces: list[str] = []
    pods: list[PodSpec] = []
    for i, ns_raw in enumerate(data.get("namespaces") or []):
        ns_raw = _mapping(ns_raw, f"namespaces[{i}]")
        ns = _name(ns_raw.get("name"), f"namespaces[{i}].name")
        if ns in namespaces:
            raise ScenarioError(f"namespaces[{i}]: duplicate namespace {ns}")
        namespaces.append(ns)
        seen: set[str] = set()
        for j, pod_raw in enumerate(ns_raw.get("pods") or []):
            pod = _pod(pod_raw, ns, f"namespaces[{i}].pods[{j}]")
            if pod.name in seen:
                raise ScenarioError(f"namespaces[{i}].pods[{j}]: duplicate pod {pod.name}")
            seen.add(pod.name)
            pods.append(pod)
    manifests = data.get("manifests") or []
    if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
        raise ScenarioError(f"{source}: manifests: expected a list of Kubernetes manifests")
    for i, m in enumerate(manifests):
        if not m.get("apiVersion") or not m.get("kind") or not (m.get("metadata") or {}).get("name"):
            raise ScenarioError(f"manifests[{i}]: a manifest needs apiVersion, kind and metadata.name")
    namespace = str(data.get("namespace") or (namespaces[0] if namespaces else "default"))
    current = str(data.get("currentUser") or users[0].name)
    if current not in {u.name for u in users}:
        raise ScenarioError(f"currentUser: {current} is not a user of the scenario")
    return Scenario(
        node=_name(data.get("node", "demo-control-plane"), "node", _DNS1123_SUBDOMAIN),
        namespace=namespace,
        current_user=current,
        users=users,
        namespaces=namespaces,
        pods=pods,
        source=source,
        manifests=[dict(m) for m in manifests],
    )


def load(path: str | Path | None = None) -> Scenario:
    """Load the scenario at ``path``, or the one shipped with the package when ``path`` is None."""
    if path is None:
        text = resources.files(__package__).joinpath("scenario.yaml").read_text()
        source = "<builtin scenario.yaml>"
    else:
        text = Path(path).read_text()
        source = str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{source}: not valid YAML: {exc}") from None
    return parse(data, source)
