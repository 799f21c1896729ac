"""The kubelet's part of a container's ``securityContext``: what it asks the runtime for, and what it
refuses to start.

``pkg/securitycontext`` ``DetermineEffectiveSecurityContext``: the container's fields win over the pod's
(``runAsUser``, ``runAsGroup``, ``runAsNonRoot``); ``supplementalGroups`` and ``fsGroup`` are the pod's.
``pkg/kubelet/kuberuntime/security_context_others.go`` ``verifyRunAsNonRoot``: a container that must not
run as root but would is a ``CreateContainerConfigError`` with the kubelet's text. The runtime then runs
the process as that user with the capabilities asked for (``runtime/caps.py``: never more than
containerd's default set and ``SYS_PTRACE``) and, for ``readOnlyRootFilesystem``, a read-only ``/``.

What a pod asks for *beyond* that — ``privileged``, host namespaces, more capabilities — never gets here:
Pod Security admission refuses it (``podsecurity.py``). ``allowPrivilegeEscalation: true`` is not granted
either: every container runs with ``no_new_privs``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["effective", "runtime_security", "verify_run_as_non_root"]

Obj = dict[str, Any]

#: Every demo image runs as root (uid 0): none has a ``USER`` of its own.
IMAGE_UID = 0


def _dict(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def effective(pod: Obj, container: Obj) -> Obj:
    """The container's security context with the pod's filled in where the container says nothing."""
    pod_sc = _dict(_dict(pod.get("spec")).get("securityContext"))
    merged = dict(_dict(container.get("securityContext")))
    for key in ("runAsUser", "runAsGroup", "runAsNonRoot", "seLinuxOptions", "seccompProfile"):
        if merged.get(key) is None and pod_sc.get(key) is not None:
            merged[key] = pod_sc[key]
    return merged


def _format_pod(pod: Obj) -> str:
    """``format.Pod``: ``name_namespace(uid)``."""
    meta = _dict(pod.get("metadata"))
    return f"{meta.get('name', '')}_{meta.get('namespace', '')}({meta.get('uid', '')})"


def verify_run_as_non_root(pod: Obj, container: Obj, image_uid: int = IMAGE_UID) -> str | None:
    """The kubelet's refusal of a container that must not run as root but would, or None."""
    sc = effective(pod, container)
    if sc.get("runAsNonRoot") is not True:
        return None
    where = f"(pod: {_quote(_format_pod(pod))}, container: {container.get('name', '')})"
    if sc.get("runAsUser") is not None:
        return f"container's runAsUser breaks non-root policy {where}" if sc["runAsUser"] == 0 else None
    if image_uid == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    return None


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def runtime_security(pod: Obj, container: Obj) -> Obj:
    """What the runtime gets (``Runtime.run_container(security=...)``): user, groups, capabilities, root."""
    sc = effective(pod, container)
    pod_sc = _dict(_dict(pod.get("spec")).get("securityContext"))
    groups = [int(g) for g in pod_sc.get("supplementalGroups") or [] if isinstance(g, int)]
    if isinstance(pod_sc.get("fsGroup"), int):
        groups.append(pod_sc["fsGroup"])
    capabilities = _dict(sc.get("capabilities"))
    result: Obj = {
        "add": [str(c) for c in capabilities.get("add") or []],
        "drop": [str(c) for c in capabilities.get("drop") or []],
        "read_only_root": sc.get("readOnlyRootFilesystem") is True,
    }
    if isinstance(sc.get("runAsUser"), int):
        result["uid"] = sc["runAsUser"]
    if isinstance(sc.get("runAsGroup"), int):
        result["gid"] = sc["runAsGroup"]
    if groups:
        result["groups"] = sorted(set(groups))
    return result
