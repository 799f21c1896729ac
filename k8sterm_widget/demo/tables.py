"""Server-side printing: ``meta.k8s.io/v1`` Tables for ``kubectl get`` (``Accept: …;as=Table``).

kubectl does not compute the columns of ``get pods`` itself: it shows the cells the apiserver returns.  The
cells here follow ``pkg/printers/internalversion/printers.go`` (``printPod``, ``printNamespace``) so that the
STATUS column reads ``CrashLoopBackOff``, ``Completed``, ``Init:0/1`` or ``ContainerCreating`` exactly where
a cluster would, and ``-o wide`` gets IP, NODE, NOMINATED NODE and READINESS GATES (the apiserver always
generates the wide cells; kubectl hides priority-1 columns unless asked).
"""

from __future__ import annotations

import calendar
import collections
import functools
import time
from typing import Any

from . import status as st
from .objects import Obj

_NAME_DOC = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DOC = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for "
    "lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"
)


def _col(name: str, description: str, *, type_: str = "string", fmt: str = "", priority: int = 0) -> Obj:
    return {"name": name, "type": type_, "format": fmt, "description": description, "priority": priority}


POD_COLUMNS = [
    _col("Name", _NAME_DOC, fmt="name"),
    _col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
    _col("Status", "The aggregate status of the containers in this pod."),
    _col(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in "
        "this pod has restarted.",
    ),
    _col("Age", _AGE_DOC),
    _col(
        "IP",
        "podIP address allocated to the pod. Routable at least within the cluster. "
        "Empty if not yet allocated.",
        priority=1,
    ),
    _col(
        "Node",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for "
        "scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this "
        "node becomes responsible for the lifecycle of this pod. This field should not be used to express a "
        "desire for the pod to be scheduled on a specific node. "
        "https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
        priority=1,
    ),
    _col(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be "
        "scheduled right away as preemption victims receive their graceful termination periods. This field "
        "does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the "
        "pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the "
        "resources on this node to a higher priority pod that is created after preemption. As a result, "
        "this field may be different than PodSpec.nodeName when the pod is scheduled.",
        priority=1,
    ),
    _col(
        "Readiness Gates",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its "
        "containers are ready AND all conditions specified in the readiness gates have status equal to "
        '"True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates',
        priority=1,
    ),
]

NAMESPACE_COLUMNS = [
    _col("Name", _NAME_DOC, fmt="name"),
    _col("Status", "The status of the namespace"),
    _col("Age", _AGE_DOC),
]


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``: ``45s``, ``3m12s``, ``5h3m``, ``12d`` …

    The same as the pod browser's (``browser/rows.py``) on purpose: the demo cluster imports nothing of
    the product it referees.
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rest = s % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def parse_time(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return _parse_time(stamp)


@functools.lru_cache(maxsize=65536)
def _parse_time(stamp: str) -> float:
    """An RFC 3339 second stamp as epoch seconds (cached: a list of 5,000 pods shares few stamps)."""
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))


def _since(stamp: str | None, now: float) -> str:
    t = parse_time(stamp)
    return "<unknown>" if t is None else human_duration(now - t)


def pod_cells(pod: Obj, now: float) -> tuple[list[Any], list[Obj] | None]:
    """The row of ``printPod`` (wide) and the row conditions (Completed for terminal pods)."""
    spec, status = pod["spec"], pod.get("status", {})
    phase = status.get("phase", "")
    reason = status.get("reason") or phase
    for cond in status.get("conditions", []):
        if cond.get("type") == "PodScheduled" and cond.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    conditions = None
    if phase == "Succeeded":
        conditions = [
            {
                "type": "Completed",
                "status": "True",
                "reason": "Succeeded",
                "message": "The pod has completed successfully.",
            }
        ]
    elif phase == "Failed":
        conditions = [
            {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
        ]

    init_specs = {c["name"]: c for c in spec.get("initContainers", [])}

    def sidecar(name: str) -> bool:
        return init_specs.get(name, {}).get("restartPolicy") == "Always"

    total = len(spec["containers"]) + sum(
        1 for c in init_specs.values() if c.get("restartPolicy") == "Always"
    )
    ready = restarts = sidecar_restarts = 0
    last_restart = sidecar_last = 0.0
    initializing = False
    for i, c in enumerate(status.get("initContainerStatuses", [])):
        restarts += c.get("restartCount", 0)
        last_term = c.get("lastState", {}).get("terminated")
        if last_term:
            last_restart = max(last_restart, parse_time(last_term.get("finishedAt")) or 0.0)
        if sidecar(c["name"]):
            sidecar_restarts += c.get("restartCount", 0)
            if last_term:
                sidecar_last = max(sidecar_last, parse_time(last_term.get("finishedAt")) or 0.0)
        state = c.get("state", {})
        term, wait = state.get("terminated"), state.get("waiting")
        if term is not None and term.get("exitCode") == 0:
            continue
        if sidecar(c["name"]) and c.get("started"):
            ready += bool(c.get("ready"))
            continue
        if term is not None:
            if not term.get("reason"):
                sig = term.get("signal", 0)
                reason = f"Init:Signal:{sig}" if sig else f"Init:ExitCode:{term.get('exitCode')}"
            else:
                reason = "Init:" + term["reason"]
        elif wait is not None and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        initializing = True
        break

    initialized = any(
        cond.get("type") == "Initialized" and cond.get("status") == "True"
        for cond in status.get("conditions", [])
    )
    if not initializing or initialized:
        restarts, last_restart = sidecar_restarts, sidecar_last
        has_running = False
        for c in reversed(status.get("containerStatuses", [])):
            restarts += c.get("restartCount", 0)
            last_term = c.get("lastState", {}).get("terminated")
            if last_term:
                last_restart = max(last_restart, parse_time(last_term.get("finishedAt")) or 0.0)
            state = c.get("state", {})
            wait, term = state.get("waiting"), state.get("terminated")
            if wait is not None and wait.get("reason"):
                reason = wait["reason"]
            elif term is not None and term.get("reason"):
                reason = term["reason"]
            elif term is not None:
                sig = term.get("signal", 0)
                reason = f"Signal:{sig}" if sig else f"ExitCode:{term.get('exitCode')}"
            elif c.get("ready") and "running" in state:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            ready_cond = any(
                cond.get("type") == "Ready" and cond.get("status") == "True"
                for cond in status.get("conditions", [])
            )
            reason = "Running" if ready_cond else "NotReady"

    if pod["metadata"].get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"

    restarts_cell = str(restarts)
    if restarts and last_restart:
        restarts_cell = f"{restarts} ({human_duration(now - last_restart)} ago)"
    ips = status.get("podIPs") or []
    gates = spec.get("readinessGates") or []
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions", [])}
        gates_cell = f"{sum(conds.get(g.get('conditionType')) == 'True' for g in gates)}/{len(gates)}"
    else:
        gates_cell = "<none>"
    cells = [
        pod["metadata"]["name"],
        f"{ready}/{total}",
        reason,
        restarts_cell,
        _since(pod["metadata"].get("creationTimestamp"), now),
        ips[0]["ip"] if ips else "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        gates_cell,
    ]
    return cells, conditions


def namespace_cells(ns: Obj, now: float) -> tuple[list[Any], list[Obj] | None]:
    return [
        ns["metadata"]["name"],
        ns["status"]["phase"],
        _since(ns["metadata"].get("creationTimestamp"), now),
    ], None


def wants_table(accept: str) -> str | None:
    """The Table version the Accept header asks for (``v1`` or ``v1beta1``), or None for plain JSON.

    kubectl sends ``application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;…``;
    the first acceptable entry wins, like the apiserver's content negotiation.
    """
    for entry in accept.split(","):
        params = {}
        parts = [p.strip() for p in entry.split(";")]
        media = parts[0].lower()
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                params[k.strip().lower()] = v.strip()
        if media not in ("application/json", "*/*", "application/*"):
            continue
        if (
            params.get("as") == "Table"
            and params.get("g") == "meta.k8s.io"
            and params.get("v") in ("v1", "v1beta1")
        ):
            return params["v"]
        if "as" not in params:
            return None
    return None


def columns_of(kind: Any) -> list[Obj]:
    """A kind's column definitions (``Kind.columns``), or the default Name/Created At of kinds without."""
    cols = getattr(kind, "columns", ()) or ()
    if not cols:
        return [
            _col("Name", _NAME_DOC, fmt="name"),
            _col("Created At", _AGE_DOC.split(".")[0] + ".", fmt="date"),
        ]
    return [_col(c.name, c.description, type_=c.type, fmt=c.format, priority=c.priority) for c in cols]


def cells_of(kind: Any, obj: Obj, now: float) -> tuple[list[Any], list[Obj] | None]:
    if getattr(kind, "kind", "") == "Pod":
        return pod_cells(obj, now)
    cells = getattr(kind, "cells", None)
    if cells is None:
        return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")], None
    return cells(obj, now), None


def table(
    kind: Any,
    objects: list[Obj],
    *,
    version: str,
    include_object: str,
    resource_version: str,
    continue_token: str = "",
    headers: bool = True,
    now: float | None = None,
    remaining: int | None = None,
) -> Obj:
    """A ``Table`` of objects of ``kind`` (a :class:`~.registry.Kind`); ``include_object`` is None,
    Metadata (default) or Object."""
    now = time.time() if now is None else now
    rows = []
    meta_kind = f"meta.k8s.io/{version}"
    for obj in objects:
        cells, conditions = cells_of(kind, obj, now)
        row: Obj = {"cells": cells}
        if conditions:
            row["conditions"] = conditions
        if include_object == "None":
            row["object"] = None
        elif include_object == "Object":
            row["object"] = obj
        else:
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": meta_kind,
                "metadata": obj["metadata"],
            }
        rows.append(row)
    metadata: Obj = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
    return {
        "kind": "Table",
        "apiVersion": meta_kind,
        "metadata": metadata,
        "columnDefinitions": columns_of(kind) if headers else None,
        "rows": rows,
    }


# --- lists as bytes: what a 5,000-pod `kubectl get pods` needs to be quick -----------------------------

_ENCODED: collections.OrderedDict[int, tuple[Obj, bytes]] = collections.OrderedDict()
_ENCODED_MAX = 50000


def encoded(obj: Obj, *, strip_type: bool = False) -> bytes:
    """``obj`` as compact Go-style JSON, cached by identity (stored objects are never changed in place: a
    change replaces them, so the cache holds a reference and the id cannot be reused meanwhile)."""
    key = id(obj) * 2 + strip_type
    hit = _ENCODED.get(key)
    if hit is not None and hit[0] is obj:
        _ENCODED.move_to_end(key)
        return hit[1]
    value = {k: v for k, v in obj.items() if k not in ("kind", "apiVersion")} if strip_type else obj
    data = st.compact(value)
    _ENCODED[key] = (obj, data)
    if len(_ENCODED) > _ENCODED_MAX:
        _ENCODED.popitem(last=False)
    return data


_TIME_RELATIVE = {"Event", "Job", "CronJob"}  # cells besides Age that move with the clock
_CELLS: collections.OrderedDict[int, tuple[Obj, bytes, bytes, float | None]] = collections.OrderedDict()


def _cells_parts(
    kind: Any, obj: Obj, now: float, age_at: int | None
) -> tuple[bytes, bytes, float | None] | None:
    """A row's encoded cells (and conditions) around the Age cell, and the creation time Age is computed
    from at each request; None when the row has other cells that move with the clock (a pod's last
    restart)."""
    hit = _CELLS.get(id(obj))
    if hit is None or hit[0] is not obj:
        cells, conditions = cells_of(kind, obj, now)
        if getattr(kind, "kind", "") == "Pod" and cells[3] != "0":
            return None
        head = b'{"cells":' + st.compact(cells[:age_at])[:-1] + (b"," if age_at else b"")
        tail = st.compact(cells[age_at + 1 :])[1:] if age_at is not None else b"]"
        if len(cells) > (age_at or 0) + 1:
            tail = b"," + tail
        if conditions:
            tail += b',"conditions":' + st.compact(conditions)
        hit = (obj, head, tail, parse_time(obj["metadata"].get("creationTimestamp")))
        _CELLS[id(obj)] = hit
        if len(_CELLS) > _ENCODED_MAX:
            _CELLS.popitem(last=False)
    return hit[1], hit[2], hit[3]


def table_bytes(
    kind: Any,
    objects: list[Obj],
    *,
    version: str,
    include_object: str,
    resource_version: str,
    continue_token: str = "",
    remaining: int | None = None,
    now: float | None = None,
) -> bytes:
    """:func:`table` encoded, from pieces cached per object version: only the Age cells are computed per
    request (once per distinct age), and the page is joined once."""
    now = time.time() if now is None else now
    meta_kind = f"meta.k8s.io/{version}"
    prefix = (
        b',"object":{"kind":"PartialObjectMetadata","apiVersion":"' + meta_kind.encode() + b'","metadata":'
    )
    age_at = next((i for i, c in enumerate(columns_of(kind)) if c["name"] == "Age"), None)
    cacheable = age_at is not None and getattr(kind, "kind", "") not in _TIME_RELATIVE
    unknown_age = st.compact("<unknown>")
    ages: dict[int, bytes] = {}  # a page of pods made together shares a handful of ages
    parts: list[bytes] = []
    for obj in objects:
        cached = _cells_parts(kind, obj, now, age_at) if cacheable else None
        if cached is None:
            cells, conditions = cells_of(kind, obj, now)
            parts.append(b'{"cells":' + st.compact(cells))
            if conditions:
                parts.append(b',"conditions":' + st.compact(conditions))
        else:
            before, after, created = cached
            if created is None:
                age = unknown_age
            else:
                seconds = int(now - created)
                age = ages.get(seconds) or ages.setdefault(seconds, st.compact(human_duration(seconds)))
            parts += (before, age, after)
        if include_object == "None":
            parts.append(b',"object":null},')
        elif include_object == "Object":
            parts += (b',"object":', encoded(obj), b"},")
        else:
            parts += (prefix, encoded(obj["metadata"]), b"}},")
    rows = b"".join(parts)[:-1]  # the last row's comma
    metadata: Obj = {"resourceVersion": resource_version}
    if continue_token:
        metadata["continue"] = continue_token
        if remaining is not None:
            metadata["remainingItemCount"] = remaining
    head = {
        "kind": "Table",
        "apiVersion": meta_kind,
        "metadata": metadata,
        "columnDefinitions": columns_of(kind),
    }
    return st.encode(head)[:-2] + b',"rows":[' + rows + b"]}\n"
