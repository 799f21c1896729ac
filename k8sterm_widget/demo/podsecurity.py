"""Pod Security admission, as kube-apiserver's ``PodSecurity`` plugin does it — with ``baseline`` as a floor.

The demo cluster's node is the user's own machine: a pod that asks for the host's namespaces, a hostPath
volume, ``privileged: true`` or extra capabilities asks for the user's machine, which a demo must not
hand out (a real cluster does, to whoever may create such pods: ``privileged: true`` *is* root on the
node). The runtime never grants any of it; this admission makes that readable, with the apiserver's own
words, *before* anything is stored::

    Error from server (Forbidden): error when creating "pod.yaml": pods "x" is forbidden: violates
    PodSecurity "baseline:latest": host namespaces (hostNetwork=true), privileged (container "x" must not
    set securityContext.privileged=true)

It is the configuration many clusters run (an ``AdmissionConfiguration`` whose ``defaults.enforce`` is
``baseline``), with two differences: a namespace's ``pod-security.kubernetes.io/enforce`` label may make
the level stricter (``restricted``) but not looser — ``privileged`` is enforced as ``baseline``; and where
no label asks for ``baseline`` or more, a container may add ``SYS_PTRACE``: ``kubectl debug``'s default
profile (``general``) and this package's debug containers ask for it, kind grants it, and inside the
pod's user namespace it reaches no further than the pod's own processes. A namespace labelled
``privileged`` may use ``hostPath`` volumes, as on such a cluster: the demo resolves their paths in the
node's own file system (``demo/volumes.py``, like kind's node container), never the machine's, so they hand
out nothing of the user's machine; everything else ``baseline`` refuses stays refused there.

The checks and their texts are pod-security-admission's (``staging/src/k8s.io/pod-security-admission/
policy/check_*.go``), in the order its registry runs them: the baseline checks by file name, then, at
``baseline``, the ones a ``restricted`` check overrides, or, at ``restricted``, the restricted checks.
Pods are checked on create and when ``kubectl debug`` adds an ephemeral container (``pods/
ephemeralcontainers``), as the plugin does; workload objects (Deployments …) are not, and their
controllers' pod creations fail with a ``FailedCreate`` event carrying the same text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

__all__ = ["ENFORCE_LABEL", "FLOOR", "evaluate", "level_of", "violation"]

Obj = dict[str, Any]
Result = tuple[str, str]  # (forbidden reason, forbidden detail)

ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"
VERSION_LABEL = "pod-security.kubernetes.io/enforce-version"
LEVELS = ("privileged", "baseline", "restricted")
#: The least a pod must meet here, whatever its namespace says.
FLOOR = "baseline"


# -- helpers as pod-security-admission has them (helpers.go) --------------------------------------------


def _plural(singular: str, plural: str, count: int) -> str:
    return singular if count == 1 else plural


def _quote(items: list[str]) -> str:
    return '"' + '", "'.join(items) + '"' if items else ""


def _goq(value: str) -> str:
    """Go's ``%q`` for the strings a pod spec holds."""
    return json.dumps(value, ensure_ascii=False)


def _containers(spec: Obj) -> Iterator[Obj]:
    """``visitContainers``: init containers, containers, then ephemeral containers."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container


def _sc(obj: Obj) -> Obj:
    value = obj.get("securityContext")
    return value if isinstance(value, dict) else {}


def _named(items: list[str]) -> str:
    return f"{_plural('container', 'containers', len(items))} {_quote(items)}"


# -- baseline -------------------------------------------------------------------------------------------


def _app_armor(meta: Obj, spec: Obj) -> Result | None:
    prefix = "container.apparmor.security.beta.kubernetes.io/"
    bad = sorted(
        f"{key}={_goq(str(value))}"
        for key, value in (meta.get("annotations") or {}).items()
        if key.startswith(prefix)
        and value
        and value != "runtime/default"
        and not str(value).startswith("localhost/")
    )
    if bad:
        reason = _plural("forbidden AppArmor profile", "forbidden AppArmor profiles", len(bad))
        return reason, ", ".join(bad)
    return None


def _host_namespaces(meta: Obj, spec: Obj) -> Result | None:
    used = [f"{name}=true" for name in ("hostNetwork", "hostPID", "hostIPC") if spec.get(name)]
    return ("host namespaces", ", ".join(used)) if used else None


def _host_ports(meta: Obj, spec: Obj) -> Result | None:
    bad: list[str] = []
    ports: set[str] = set()
    for c in _containers(spec):
        used = [str(p["hostPort"]) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        if used:
            bad.append(c.get("name", ""))
            ports.update(used)
    if not bad:
        return None
    detail = (
        f"{_named(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}"
    )
    return "hostPort", detail


def _host_probes(meta: Obj, spec: Obj) -> Result | None:
    bad: set[str] = set()
    hosts: set[str] = set()
    for c in _containers(spec):
        handlers = [c.get(p) for p in ("livenessProbe", "readinessProbe", "startupProbe")]
        lifecycle = c.get("lifecycle")
        if isinstance(lifecycle, dict):
            handlers += [lifecycle.get("postStart"), lifecycle.get("preStop")]
        for handler in handlers:
            for way in ("httpGet", "tcpSocket"):
                target = handler.get(way) if isinstance(handler, dict) else None
                if isinstance(target, dict) and target.get("host"):
                    bad.add(c.get("name", ""))
                    hosts.add(str(target["host"]))
    if not bad:
        return None
    names = sorted(bad)
    detail = (
        f"{_named(names)} {_plural('uses', 'use', len(names))} "
        f"{_plural('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{_quote(sorted(hosts))}"
    )
    return "probe or lifecycle host", detail


def _privileged(meta: Obj, spec: Obj) -> Result | None:
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("privileged") is True]
    return ("privileged", f"{_named(bad)} must not set securityContext.privileged=true") if bad else None


def _proc_mount(meta: Obj, spec: Obj) -> Result | None:
    bad, kinds = [], set()
    for c in _containers(spec):
        mount = _sc(c).get("procMount")
        if mount is not None and mount != "Default":
            bad.append(c.get("name", ""))
            kinds.add(str(mount))
    if bad:
        return "procMount", f"{_named(bad)} must not set securityContext.procMount to {_quote(sorted(kinds))}"
    return None


def _se_linux(meta: Obj, spec: Obj) -> Result | None:
    allowed = {"", "container_t", "container_init_t", "container_kvm_t"}
    bad_types: set[str] = set()
    flags = {"user": False, "role": False}

    def valid(options: Any) -> bool:
        if not isinstance(options, dict):
            return True
        ok = True
        if options.get("type", "") not in allowed:
            ok = False
            bad_types.add(str(options.get("type")))
        for key in ("user", "role"):
            if options.get(key):
                ok = False
                flags[key] = True
        return ok

    setters = [] if valid(_sc(spec).get("seLinuxOptions")) else ["pod"]
    bad = [c.get("name", "") for c in _containers(spec) if not valid(_sc(c).get("seLinuxOptions"))]
    if bad:
        setters.append(_named(bad))
    if not setters:
        return None
    data = []
    if bad_types:  # as upstream: user and role are only named next to a bad type
        data.append(f"{_plural('type', 'types', len(bad_types))} {_quote(sorted(bad_types))}")
        data += [f"{key} may not be set" for key in ("user", "role") if flags[key]]
    who = " and ".join(setters)
    return "seLinuxOptions", f"{who} set forbidden securityContext.seLinuxOptions: {'; '.join(data)}"


_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_unprivileged_port_start",
}


def _sysctls(meta: Obj, spec: Obj) -> Result | None:
    names = [
        str(s.get("name"))
        for s in _sc(spec).get("sysctls") or []
        if isinstance(s, dict) and s.get("name") not in _SAFE_SYSCTLS
    ]
    return ("forbidden sysctls", ", ".join(names)) if names else None


def _git_repo_volumes(meta: Obj, spec: Obj) -> Result | None:
    bad = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "gitRepo" in v]
    if not bad:
        return None
    detail = (
        f"{_plural('volume', 'volumes', len(bad))} {_quote(bad)} {_plural('uses', 'use', len(bad))} "
        'restricted volume type "gitRepo"'
    )
    return "restricted volume types", detail


def _host_process(meta: Obj, spec: Obj) -> Result | None:
    def set_(sc: Obj) -> bool:
        return (sc.get("windowsOptions") or {}).get("hostProcess") is True

    setters = ["pod"] if set_(_sc(spec)) else []
    bad = [c.get("name", "") for c in _containers(spec) if set_(_sc(c))]
    if bad:
        setters.append(_named(bad))
    if setters:
        who = " and ".join(setters)
        return "hostProcess", f"{who} must not set securityContext.windowsOptions.hostProcess=true"
    return None


_BASELINE_CAPABILITIES = frozenset((
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
    "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
))  # fmt: skip


def _capabilities(sc: Obj, key: str) -> list[str]:
    caps = sc.get("capabilities")
    values = caps.get(key) if isinstance(caps, dict) else None
    return [str(v) for v in values or []]


def _non_default_capabilities(spec: Obj, allowed: frozenset[str]) -> Result | None:
    bad, extra = [], set()
    for c in _containers(spec):
        added = [cap for cap in _capabilities(_sc(c), "add") if cap not in allowed]
        if added:
            bad.append(c.get("name", ""))
            extra.update(added)
    if bad:
        detail = f"{_named(bad)} must not include {_quote(sorted(extra))} in securityContext.capabilities.add"
        return "non-default capabilities", detail
    return None


def _capabilities_baseline(meta: Obj, spec: Obj) -> Result | None:
    return _non_default_capabilities(spec, _BASELINE_CAPABILITIES)


def _capabilities_floor(meta: Obj, spec: Obj) -> Result | None:
    """The baseline check with ``SYS_PTRACE`` allowed (what ``kubectl debug`` asks for)."""
    return _non_default_capabilities(spec, _BASELINE_CAPABILITIES | {"SYS_PTRACE"})


def _host_path_volumes(meta: Obj, spec: Obj) -> Result | None:
    bad = [v.get("name", "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    return ("hostPath volumes", f"{_plural('volume', 'volumes', len(bad))} {_quote(bad)}") if bad else None


def _seccomp_type(sc: Obj) -> str | None:
    profile = sc.get("seccompProfile")
    return str(profile.get("type", "")) if isinstance(profile, dict) else None


def _seccomp(meta: Obj, spec: Obj, *, required: bool) -> Result | None:
    valid = ("RuntimeDefault", "Localhost")
    setters: list[str] = []
    values: set[str] = set()
    pod_type = _seccomp_type(_sc(spec))
    if pod_type is not None and pod_type not in valid:
        setters.append("pod")
        values.add(pod_type)
    pod_set = pod_type in valid
    explicit, implicit = [], []
    for c in _containers(spec):
        kind = _seccomp_type(_sc(c))
        if kind is not None:
            if kind not in valid:
                explicit.append(c.get("name", ""))
                values.add(kind)
        elif not pod_set:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(_named(explicit))
    if setters:
        who = " and ".join(setters)
        return (
            "seccompProfile",
            f"{who} must not set securityContext.seccompProfile.type to {_quote(sorted(values))}",
        )
    if required and implicit:
        allowed = '"RuntimeDefault" or "Localhost"'
        return (
            "seccompProfile",
            f"pod or {_named(implicit)} must set securityContext.seccompProfile.type to {allowed}",
        )
    return None


# -- restricted -----------------------------------------------------------------------------------------


def _privilege_escalation(meta: Obj, spec: Obj) -> Result | None:
    bad = [
        c.get("name", "") for c in _containers(spec) if _sc(c).get("allowPrivilegeEscalation") is not False
    ]
    if bad:
        detail = f"{_named(bad)} must set securityContext.allowPrivilegeEscalation=false"
        return "allowPrivilegeEscalation != false", detail
    return None


def _capabilities_restricted(meta: Obj, spec: Obj) -> Result | None:
    missing, adding, extra = [], [], set()
    for c in _containers(spec):
        sc = _sc(c)
        if not isinstance(sc.get("capabilities"), dict):
            missing.append(c.get("name", ""))
            continue
        if "ALL" not in _capabilities(sc, "drop"):
            missing.append(c.get("name", ""))
        added = [cap for cap in _capabilities(sc, "add") if cap != "NET_BIND_SERVICE"]
        if added:
            adding.append(c.get("name", ""))
            extra.update(added)
    details = []
    if missing:
        details.append(f'{_named(missing)} must set securityContext.capabilities.drop=["ALL"]')
    if adding:
        extras = _quote(sorted(extra))
        details.append(f"{_named(adding)} must not include {extras} in securityContext.capabilities.add")
    return ("unrestricted capabilities", "; ".join(details)) if details else None


_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                    "projected", "secret")  # fmt: skip
_RESTRICTED_VOLUMES = (
    "hostPath", "gcePersistentDisk", "awsElasticBlockStore", "gitRepo", "nfs", "iscsi", "glusterfs", "rbd",
    "flexVolume", "cinder", "cephfs", "flocker", "fc", "azureFile", "vsphereVolume", "quobyte", "azureDisk",
    "photonPersistentDisk", "portworxVolume", "scaleIO", "storageos",
)  # fmt: skip


def _restricted_volumes(meta: Obj, spec: Obj) -> Result | None:
    bad, kinds = [], set()
    for volume in spec.get("volumes") or []:
        if not isinstance(volume, dict) or any(k in volume for k in _ALLOWED_VOLUMES):
            continue
        bad.append(volume.get("name", ""))
        kinds.add(next((k for k in _RESTRICTED_VOLUMES if k in volume), "unknown"))
    if not bad:
        return None
    detail = (
        f"{_plural('volume', 'volumes', len(bad))} {_quote(bad)} {_plural('uses', 'use', len(bad))} "
        f"{_plural('restricted volume type', 'restricted volume types', len(kinds))} {_quote(sorted(kinds))}"
    )
    return "restricted volume types", detail


def _run_as_non_root(meta: Obj, spec: Obj) -> Result | None:
    setters: list[str] = []
    pod_value = _sc(spec).get("runAsNonRoot")
    if pod_value is False:
        setters.append("pod")
    explicit, implicit = [], []
    for c in _containers(spec):
        value = _sc(c).get("runAsNonRoot")
        if value is False:
            explicit.append(c.get("name", ""))
        elif value is None and pod_value is not True:
            implicit.append(c.get("name", ""))
    if explicit:
        setters.append(_named(explicit))
    if setters:
        who = " and ".join(setters)
        return "runAsNonRoot != true", f"{who} must not set securityContext.runAsNonRoot=false"
    if implicit:
        return "runAsNonRoot != true", f"pod or {_named(implicit)} must set securityContext.runAsNonRoot=true"
    return None


def _run_as_user(meta: Obj, spec: Obj) -> Result | None:
    setters = ["pod"] if _sc(spec).get("runAsUser") == 0 else []
    bad = [c.get("name", "") for c in _containers(spec) if _sc(c).get("runAsUser") == 0]
    if bad:
        setters.append(_named(bad))
    return ("runAsUser=0", f"{' and '.join(setters)} must not set runAsUser=0") if setters else None


Check = Callable[[Obj, Obj], "Result | None"]

_BASELINE: list[Check] = [
    _app_armor, _host_namespaces, _host_ports, _host_probes, _privileged, _proc_mount, _se_linux, _sysctls,
    _git_repo_volumes, _host_process,
]  # fmt: skip
#: Baseline checks that a restricted one replaces.
_BASELINE_ONLY: list[Check] = [
    _capabilities_baseline,
    _host_path_volumes,
    lambda meta, spec: _seccomp(meta, spec, required=False),
]
_RESTRICTED: list[Check] = [
    _privilege_escalation,
    _capabilities_restricted,
    _restricted_volumes,
    _run_as_non_root,
    _run_as_user,
    lambda meta, spec: _seccomp(meta, spec, required=True),
]


def evaluate(pod: Obj, level: str, *, ptrace: bool = False, host_path: bool = False) -> list[Result]:
    """The checks ``pod`` fails at ``level`` (``privileged``: none), in the registry's order; ``ptrace``:
    adding ``SYS_PTRACE`` passes ``baseline`` (the demo's floor, see above); ``host_path``: so do
    ``hostPath`` volumes (a namespace labelled ``privileged``)."""
    if level == "privileged":
        return []
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    checks = _BASELINE
    if level == "restricted":
        checks = [c for c in checks if c is not _git_repo_volumes] + _RESTRICTED
    else:
        checks = checks + _BASELINE_ONLY
    if ptrace:
        checks = [_capabilities_floor if c is _capabilities_baseline else c for c in checks]
    if host_path:
        checks = [c for c in checks if c is not _host_path_volumes]
    return [result for check in checks if (result := check(meta, spec)) is not None]


def level_of(namespace: Obj | None) -> tuple[str, str, bool]:
    """(level, version, floor) enforced in ``namespace``: its label if valid and not below :data:`FLOOR`;
    ``floor`` is True where the label asks for less than that (or nothing), so the floor applies."""
    labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
    level = labels.get(ENFORCE_LABEL)
    floor = level not in LEVELS or LEVELS.index(level) < LEVELS.index(FLOOR)
    version = str(labels.get(VERSION_LABEL) or "latest")
    return (FLOOR if floor else str(level)), version, floor


def violation(pod: Obj, namespace: Obj | None) -> str | None:
    """``violates PodSecurity "baseline:latest": …`` for ``pod`` in ``namespace``, or None if it may run."""
    level, version, floor = level_of(namespace)
    asked = (((namespace or {}).get("metadata") or {}).get("labels") or {}).get(ENFORCE_LABEL)
    failed = evaluate(pod, level, ptrace=floor, host_path=asked == "privileged")
    if not failed:
        return None
    detail = ", ".join(f"{reason} ({text})" if text else reason for reason, text in failed)
    return f"violates PodSecurity {_goq(f'{level}:{version}')}: {detail}"
