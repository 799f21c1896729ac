"""``v1.Namespace`` and ``v1.Pod`` JSON as a kind cluster's apiserver and kubelet write it.

Clients decide from these fields (``spec.nodeName`` empty means unscheduled, only a ``state.running``
container can be exec'd, the ``default-container`` annotation picks kubectl's container), so the builders
emit the fields a real kubelet sets, in Go's field order, and derive ``phase`` and the conditions from the
container statuses with the kubelet's rules rather than letting each pod declare them.
"""

from __future__ import annotations

import copy
import hashlib
import time
import uuid
from typing import Any

from .scenario import ContainerSpec, PodSpec

Obj = dict[str, Any]

HOST_IP = "172.18.0.2"  # the node's address on kind's docker network


def rfc3339(t: float) -> str:
    """Second-precision UTC timestamp, as ``metav1.Time`` marshals."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def micro_time(t: float) -> str:
    """Microsecond-precision UTC timestamp, as ``metav1.MicroTime`` marshals (a Lease's renewTime)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 1_000_000:06d}Z"


def new_uid() -> str:
    return str(uuid.uuid4())


def namespace_object(name: str, created: float) -> Obj:
    return {
        "kind": "Namespace",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "uid": new_uid(),
            "resourceVersion": "0",
            "creationTimestamp": rfc3339(created),
            "labels": {"kubernetes.io/metadata.name": name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def qualified_image(image: str) -> str:
    """containerd names Docker Hub images in full: ``nginx:1.27`` → ``docker.io/library/nginx:1.27``."""
    name = image
    first = name.split("/", 1)[0]
    if "/" not in name:
        name = f"docker.io/library/{name}"
    elif "." not in first and ":" not in first and first != "localhost":
        name = f"docker.io/{name}"
    if ":" not in name.rsplit("/", 1)[-1] and "@" not in name:
        name += ":latest"
    return name


def pull_policy(image: str) -> str:
    """The API's default ``imagePullPolicy``: ``Always`` for ``:latest`` or no tag, else ``IfNotPresent``."""
    if "@" in image:
        return "IfNotPresent"
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def image_id(image: str) -> str:
    """A stable ``repo@sha256:…`` for the image (there are no real digests here)."""
    repo = qualified_image(image).rsplit(":", 1)[0]
    return f"{repo}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def container_id() -> str:
    return f"containerd://{uuid.uuid4().hex}{uuid.uuid4().hex}"


def _container_spec(c: ContainerSpec, policy: str | None = None) -> Obj:
    out: Obj = {"name": c.name, "image": c.image}
    if c.command:
        out["command"] = list(c.command)
    if c.args:
        out["args"] = list(c.args)
    if c.working_dir:
        out["workingDir"] = c.working_dir
    if c.env:
        out["env"] = [{"name": k, "value": v} for k, v in c.env.items()]
    out["resources"] = {"requests": {"cpu": c.cpu}} if c.cpu else {}
    if policy:
        out["restartPolicy"] = policy
    out["volumeMounts"] = [
        {
            "name": "kube-api-access",
            "readOnly": True,
            "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
        }
    ]
    out["terminationMessagePath"] = "/dev/termination-log"
    out["terminationMessagePolicy"] = "File"
    out["imagePullPolicy"] = pull_policy(c.image)
    if c.stdin:
        out["stdin"] = True
    if c.tty:
        out["tty"] = True
    return out


def pod_object(spec: PodSpec, *, node: str, created: float) -> Obj:
    """The pod as the apiserver stores it at creation (status filled in later by the node agent)."""
    metadata: Obj = {
        "name": spec.name,
        "namespace": spec.namespace,
        "uid": new_uid(),
        "resourceVersion": "0",
        "generation": 1,
        "creationTimestamp": rfc3339(created),
    }
    if spec.labels:
        metadata["labels"] = dict(spec.labels)
    if spec.annotations:
        metadata["annotations"] = dict(spec.annotations)
    pod_spec: Obj = {
        "volumes": [
            {
                "name": "kube-api-access",
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        ]
    }
    if spec.init_containers:
        pod_spec["initContainers"] = [_container_spec(c, c.restart_policy) for c in spec.init_containers]
    pod_spec["containers"] = [_container_spec(c) for c in spec.containers]
    pod_spec.update(
        {
            "restartPolicy": spec.restart_policy,
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": spec.service_account,
            "serviceAccount": spec.service_account,
        }
    )
    if spec.scheduled:
        pod_spec["nodeName"] = node
    pod_spec.update(
        {
            "securityContext": {},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        }
    )
    qos = "Burstable" if any(c.cpu for c in spec.containers + spec.init_containers) else "BestEffort"
    status: Obj = {"observedGeneration": 1, "phase": "Pending", "conditions": [], "qosClass": qos}
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": pod_spec, "status": status}


# --- container statuses -------------------------------------------------------------------------------


def container_status(
    name: str,
    image: str,
    state: Obj,
    *,
    last_state: Obj | None = None,
    restart_count: int = 0,
    cid: str | None = None,
    ready: bool = False,
    started: bool | None = False,
    pulled: bool = True,
) -> Obj:
    """A ``ContainerStatus``; ``started=None`` leaves the field out, as for ephemeral containers (no
    startup probes run for them, so the kubelet never sets it)."""
    out: Obj = {
        "name": name,
        "state": state,
        "lastState": last_state or {},
        "ready": ready,
        "restartCount": restart_count,
        "image": qualified_image(image) if pulled else image,
        "imageID": image_id(image) if pulled else "",
    }
    if cid:
        out["containerID"] = cid
    if started is not None:
        out["started"] = started
    return out


def running(started_at: float) -> Obj:
    return {"running": {"startedAt": rfc3339(started_at)}}


def waiting(reason: str, message: str = "") -> Obj:
    inner: Obj = {"reason": reason}
    if message:
        inner["message"] = message
    return {"waiting": inner}


def terminated(exit_code: int, started_at: float, finished_at: float, cid: str, reason: str = "") -> Obj:
    reason = reason or ("Completed" if exit_code == 0 else "Error")
    return {
        "terminated": {
            "exitCode": exit_code,
            "reason": reason,
            "startedAt": rfc3339(started_at),
            "finishedAt": rfc3339(finished_at),
            "containerID": cid,
        }
    }


# --- phase and conditions (kubelet's getPhase / generateAPIPodStatus) ----------------------------------


def _is_sidecar(pod: Obj, name: str) -> bool:
    return any(
        c["name"] == name and c.get("restartPolicy") == "Always"
        for c in pod["spec"].get("initContainers", [])
    )


def pod_phase(pod: Obj) -> str:
    """The kubelet's ``getPhase`` over the container statuses (init containers included)."""
    spec, status = pod["spec"], pod["status"]
    if not spec.get("nodeName"):
        return "Pending"
    init_statuses = {s["name"]: s for s in status.get("initContainerStatuses", [])}
    for c in spec.get("initContainers", []):
        s = init_statuses.get(c["name"])
        if s is None:
            return "Pending"
        if _is_sidecar(pod, c["name"]):
            if "running" not in s["state"]:
                return "Pending"
            continue
        term = s["state"].get("terminated")
        if term is None or term["exitCode"] != 0:
            if term is not None and spec["restartPolicy"] == "Never":
                return "Failed"
            return "Pending"
    by_name = {s["name"]: s for s in status.get("containerStatuses", [])}
    running_n = waiting_n = stopped = succeeded = unknown = 0
    for c in spec["containers"]:
        s = by_name.get(c["name"])
        if s is None:
            unknown += 1
        elif "running" in s["state"]:
            running_n += 1
        elif "terminated" in s["state"]:
            stopped += 1
            succeeded += s["state"]["terminated"]["exitCode"] == 0
        elif "waiting" in s["state"]:
            if "terminated" in s.get("lastState", {}):
                stopped += 1
            else:
                waiting_n += 1
        else:
            unknown += 1
    if waiting_n:
        return "Pending"
    if running_n and not unknown:
        return "Running"
    if not running_n and stopped and not unknown:
        if spec["restartPolicy"] == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        return "Failed" if spec["restartPolicy"] == "Never" else "Running"
    return "Pending"


def _condition(ctype: str, ok: bool, since: str, reason: str = "", message: str = "") -> Obj:
    out: Obj = {
        "type": ctype,
        "observedGeneration": 1,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    return out


def refresh_status(pod: Obj, *, now: float, unschedulable_message: str = "") -> None:
    """Recompute ``phase`` and ``conditions`` in place, keeping transition times of unchanged conditions."""
    status = pod["status"]
    old = {c["type"]: c for c in status.get("conditions", [])}
    stamp = rfc3339(now)

    def cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> Obj:
        prev = old.get(ctype)
        since = (
            prev["lastTransitionTime"] if prev and prev["status"] == ("True" if ok else "False") else stamp
        )
        return _condition(ctype, ok, since, reason, message)

    phase = pod_phase(pod)
    status["phase"] = phase
    if not pod["spec"].get("nodeName"):
        status["conditions"] = [
            cond("PodScheduled", False, "Unschedulable", unschedulable_message or "0/1 nodes are available.")
        ]
        return
    statuses = status.get("containerStatuses", [])
    inits = status.get("initContainerStatuses", [])
    terminal = phase in ("Succeeded", "Failed")
    not_ready = [s["name"] for s in statuses if not s["ready"]]
    not_ready += [s["name"] for s in inits if _is_sidecar(pod, s["name"]) and not s["ready"]]
    by_init = {s["name"]: s for s in inits}

    def init_ok(c: Obj) -> bool:
        s = by_init.get(c["name"])
        if s is None:
            return False
        if c.get("restartPolicy") == "Always":
            return bool(s.get("started"))
        term = s["state"].get("terminated")
        return term is not None and term["exitCode"] == 0

    pending_inits = [c["name"] for c in pod["spec"].get("initContainers", []) if not init_ok(c)]
    # The sandbox (PodReadyToStartContainers) exists from scheduling until the pod is terminal.
    conds = [cond("PodReadyToStartContainers", not terminal)]
    if terminal:
        conds.append(cond("Initialized", True, "PodCompleted"))
        conds.append(cond("Ready", False, "PodCompleted"))
        conds.append(cond("ContainersReady", False, "PodCompleted"))
    else:
        if not pending_inits:
            conds.append(cond("Initialized", True))
        else:
            names = " ".join(pending_inits)
            msg = f"containers with incomplete status: [{names}]"
            conds.append(cond("Initialized", False, "ContainersNotInitialized", msg))
        if not_ready:
            msg = f"containers with unready status: [{' '.join(not_ready)}]"
            conds.append(cond("Ready", False, "ContainersNotReady", msg))
            conds.append(cond("ContainersReady", False, "ContainersNotReady", msg))
        else:
            conds.append(cond("Ready", True))
            conds.append(cond("ContainersReady", True))
    conds.append(cond("PodScheduled", True))
    status["conditions"] = conds


def clone(obj: Obj) -> Obj:
    return copy.deepcopy(obj)
