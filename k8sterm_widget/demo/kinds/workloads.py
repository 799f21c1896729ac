"""``apps/v1`` and ``batch/v1`` kinds: Deployment, ReplicaSet, DaemonSet, ControllerRevision, Job, CronJob.

Defaults are ``pkg/apis/apps/v1/defaults.go`` and ``pkg/apis/batch/v1/defaults.go``; printers follow
``printDeployment``, ``printReplicaSet``, ``printDaemonSet``, ``printJob`` and ``printCronJob``.
"""

from __future__ import annotations

import re
from typing import Any

from .. import status as st
from .. import validation as v
from ..registry import REGISTRY, Column, Kind
from . import podspec
from .common import (
    AGE,
    NAME,
    age,
    containers_and_images,
    human_duration,
    selector_string,
    selector_value,
    workload_selector_errors,
)
from .core import REPLICA_COLUMNS, _fields, replica_cells

Obj = dict[str, Any]

_CONTAINERS = Column("Containers", priority=1, description="Names of each container in the template.")
_IMAGES = Column("Images", priority=1, description="Images referenced by each container in the template.")
_SELECTOR = Column(
    "Selector", priority=1, description="Selector that pods must match to be part of this object."
)


def _template_defaults(spec: Obj) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        podspec.default_template(template)


def _workload_validate(obj: Obj, *, replicas: bool = True, kind: str = "deployment") -> list[st.FieldError]:
    """``ValidateDeploymentSpec`` and its twins: replicas, selector, then the template against it."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return [v.required("spec")]
    errors: list[st.FieldError] = []
    if replicas:
        errors += v.non_negative("spec.replicas", spec.get("replicas"))
    selector = spec.get("selector")
    selector_errors, usable = workload_selector_errors(selector, "spec.selector", kind)
    errors += selector_errors
    if usable:
        errors += podspec.validate_template(spec.get("template"), "spec.template", selector)
    errors += v.non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    errors += v.non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    return errors


def _selector_immutable(new: Obj, old: Obj) -> list[st.FieldError]:
    """``ValidateImmutableField(spec.selector)``: the bad value is the new selector, as JSON."""
    a, b = (new.get("spec") or {}).get("selector"), (old.get("spec") or {}).get("selector")
    if a != b:
        return [v.immutable("spec.selector", selector_value(a))]
    return []


# --- Deployment -----------------------------------------------------------------------------------


def _deployment_defaults(d: Obj) -> None:
    spec = d.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _template_defaults(spec)


def _deployment_validate(d: Obj) -> list[st.FieldError]:
    errors = _workload_validate(d)
    spec = d.get("spec") or {}
    strategy = spec.get("strategy") or {}
    errors += v.supported(strategy.get("type"), "spec.strategy.type", ("Recreate", "RollingUpdate"))
    if strategy.get("type") == "Recreate" and strategy.get("rollingUpdate"):
        errors.append(
            st.FieldError(
                "spec.strategy.rollingUpdate",
                st.FORBIDDEN,
                "Forbidden: may not be specified when strategy `type` is 'Recreate'",
            )
        )
    rolling = strategy.get("rollingUpdate") or {}
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    path = "spec.strategy.rollingUpdate"
    if strategy.get("type") == "RollingUpdate":
        # ValidateRollingUpdateDeployment
        errors += int_or_percent(unavailable, f"{path}.maxUnavailable")
        errors += int_or_percent(surge, f"{path}.maxSurge")
        if _is_zero(surge) and _is_zero(unavailable):
            errors.append(
                v.invalid_value(f"{path}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0")
            )
        if (
            isinstance(unavailable, str)
            and re.fullmatch(r"[0-9]+%", unavailable)
            and int(unavailable[:-1]) > 100
        ):
            errors.append(
                v.invalid_value(f"{path}.maxUnavailable", unavailable, "must not be greater than 100%")
            )
    pds = spec.get("progressDeadlineSeconds")
    if (
        isinstance(pds, int)
        and isinstance(spec.get("minReadySeconds"), int)
        and pds <= spec["minReadySeconds"]
    ):
        errors.append(
            v.invalid_value("spec.progressDeadlineSeconds", pds, "must be greater than minReadySeconds")
        )
    return errors


def int_or_percent(value: Any, path: str) -> list[st.FieldError]:
    """``ValidatePositiveIntOrPercent``: a non-negative integer or a ``<digits>%`` string."""
    if isinstance(value, str):
        if re.fullmatch(r"[0-9]+%", value):
            return []
        return [v.invalid_value(path, value, v.regex_error(_PERCENT_MSG, "[0-9]+%", "1%", "93%"))]
    return v.non_negative(path, value)


_PERCENT_MSG = "a valid percent string must be a numeric string followed by an ending '%'"


def _is_zero(value: Any) -> bool:
    return value in (0, "0", "0%")


def _deployment_cells(d: Obj, now: float) -> list[Any]:
    spec, status = d.get("spec", {}), d.get("status", {})
    containers, images = containers_and_images((spec.get("template") or {}).get("spec") or {})
    return [
        d["metadata"]["name"],
        f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
        status.get("updatedReplicas", 0),
        status.get("availableReplicas", 0),
        age(d, now),
        containers,
        images,
        selector_string(spec.get("selector")),
    ]


DEPLOYMENT = REGISTRY.add(
    Kind(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        categories=("all",),
        subresources=("scale", "status"),
        has_status=True,
        generation=True,
        generation_meta=("annotations",),  # pkg/registry/apps/deployment/strategy.go PrepareForUpdate
        status_meta=("annotations",),  # deploymentStatusStrategy resets only spec and labels
        storage_hash="8aSe+NMegvE=",
        columns=(
            NAME,
            Column("Ready", description="Number of the pod with ready state"),
            Column(
                "Up-to-date",
                "integer",
                description="Total number of non-terminated pods targeted by "
                "this deployment that have the desired template spec.",
            ),
            Column(
                "Available",
                "integer",
                description="Total number of available pods (ready for at least "
                "minReadySeconds) targeted by this deployment.",
            ),
            AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        cells=_deployment_cells,
        field_selectors=_fields(),
        defaults=_deployment_defaults,
        validate=_deployment_validate,
        validate_update=_selector_immutable,
    )
)


# --- ReplicaSet -----------------------------------------------------------------------------------


def _rs_defaults(rs: Obj) -> None:
    spec = rs.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("replicas", 1)
    _template_defaults(spec)


REPLICASET = REGISTRY.add(
    Kind(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        categories=("all",),
        subresources=("scale", "status"),
        has_status=True,
        generation=True,
        storage_hash="P1RzHs8/mWQ=",
        columns=REPLICA_COLUMNS,
        cells=replica_cells,
        field_selectors=_fields("status.replicas"),
        defaults=_rs_defaults,
        validate=lambda o: _workload_validate(o, kind="replicaset"),
        validate_update=_selector_immutable,
    )
)


# --- DaemonSet ------------------------------------------------------------------------------------


def _ds_defaults(ds: Obj) -> None:
    spec = ds.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    strategy = spec.setdefault("updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _template_defaults(spec)


def _ds_cells(ds: Obj, now: float) -> list[Any]:
    spec, status = ds.get("spec", {}), ds.get("status", {})
    template_spec = (spec.get("template") or {}).get("spec") or {}
    containers, images = containers_and_images(template_spec)
    node_selector = ",".join(
        f"{k}={val}" for k, val in sorted((template_spec.get("nodeSelector") or {}).items())
    )
    return [
        ds["metadata"]["name"],
        status.get("desiredNumberScheduled", 0),
        status.get("currentNumberScheduled", 0),
        status.get("numberReady", 0),
        status.get("updatedNumberScheduled", 0),
        status.get("numberAvailable", 0),
        node_selector or "<none>",
        age(ds, now),
        containers,
        images,
        selector_string(spec.get("selector")),
    ]


DAEMONSET = REGISTRY.add(
    Kind(
        "apps",
        "v1",
        "daemonsets",
        "DaemonSet",
        short_names=("ds",),
        categories=("all",),
        subresources=("status",),
        has_status=True,
        generation=True,
        storage_hash="dd7pWHUlMKQ=",
        columns=(
            NAME,
            Column(
                "Desired",
                "integer",
                description="The desired number of nodes that should be running the daemon pod.",
            ),
            Column(
                "Current",
                "integer",
                description="The number of nodes that are running at least 1 "
                "daemon pod and are supposed to run the daemon pod.",
            ),
            Column(
                "Ready",
                "integer",
                description="numberReady is the number of nodes that should be "
                "running the daemon pod and have one or more of the daemon pod running and ready.",
            ),
            Column(
                "Up-to-date",
                "integer",
                description="The total number of nodes that are running updated daemon pod",
            ),
            Column(
                "Available",
                "integer",
                description="The number of nodes that should be running the "
                "daemon pod and have one or more of the daemon pod running and available (ready for at "
                "least spec.minReadySeconds)",
            ),
            Column(
                "Node Selector",
                description="NodeSelector is a selector which must be true for the "
                "pod to fit on a node. Selector which must match a node's labels for the pod to be "
                "scheduled on that node.",
            ),
            AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        cells=_ds_cells,
        field_selectors=_fields(),
        defaults=_ds_defaults,
        validate=lambda o: _workload_validate(o, replicas=False, kind="daemonset"),
        validate_update=_selector_immutable,
    )
)


def _revision_cells(cr: Obj, now: float) -> list[Any]:
    owner = next((r for r in cr["metadata"].get("ownerReferences") or [] if r.get("controller")), None)
    controller = "<none>"
    if owner:
        group = owner.get("apiVersion", "").rpartition("/")[0]
        controller = (
            f"{owner.get('kind', '').lower()}.{group}/{owner.get('name')}" if group else owner.get("name")
        )
    return [cr["metadata"]["name"], controller, cr.get("revision", 0), age(cr, now)]


CONTROLLER_REVISION = REGISTRY.add(
    Kind(
        "apps",
        "v1",
        "controllerrevisions",
        "ControllerRevision",
        storage_hash="85nkx63pcBU=",
        columns=(
            NAME,
            Column("Controller", description="Controller of the object"),
            Column(
                "Revision",
                "integer",
                description="Revision indicates the revision of the state represented by Data.",
            ),
            AGE,
        ),
        cells=_revision_cells,
        field_selectors=_fields(),
    )
)

REGISTRY.add(
    Kind(
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        short_names=("sts",),
        categories=("all",),
        subresources=("scale", "status"),
        has_status=True,
        generation=True,
        storage_hash="H+vl74LkKdo=",
        columns=(
            NAME,
            Column("Ready", description="Number of the pod with ready state"),
            AGE,
            _CONTAINERS,
            _IMAGES,
        ),
        cells=lambda o, now: [
            o["metadata"]["name"],
            f"{o.get('status', {}).get('readyReplicas', 0)}/{o.get('spec', {}).get('replicas', 1)}",
            age(o, now),
            *containers_and_images(((o.get("spec") or {}).get("template") or {}).get("spec") or {}),
        ],
        field_selectors=_fields(),
        defaults=_rs_defaults,
        validate=lambda o: _workload_validate(o, kind="statefulset"),
    )
)


# --- Job ------------------------------------------------------------------------------------------


def _job_defaults(job: Obj) -> None:
    spec = job.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    if not spec.get("podFailurePolicy"):
        spec.setdefault("podReplacementPolicy", "TerminatingOrFailed")
    _template_defaults(spec)


def _job_prepare(job: Obj, api: Any) -> None:
    """``generateSelector``: the job's uid labels its pods, unless ``manualSelector`` is set."""
    spec = job["spec"]
    if spec.get("manualSelector"):
        return
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    labels = spec["template"].setdefault("metadata", {}).setdefault("labels", {})
    labels.update(
        {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": name,
            "controller-uid": uid,
            "job-name": name,
        }
    )
    spec["selector"] = {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}


def _job_validate(job: Obj) -> list[st.FieldError]:
    spec = job.get("spec")
    if not isinstance(spec, dict):
        return [v.required("spec")]
    errors: list[st.FieldError] = []
    for key in (
        "parallelism",
        "completions",
        "backoffLimit",
        "activeDeadlineSeconds",
        "ttlSecondsAfterFinished",
    ):
        errors += v.non_negative(f"spec.{key}", spec.get(key))
    if spec.get("manualSelector") and spec.get("selector") is None:
        errors.append(v.required("spec.selector"))
    selector = spec.get("selector") if spec.get("manualSelector") else podspec.NO_SELECTOR
    errors += podspec.validate_template(
        spec.get("template"), "spec.template", selector, restart=("OnFailure", "Never")
    )
    errors += v.supported(spec.get("completionMode"), "spec.completionMode", ("NonIndexed", "Indexed"))
    return errors


def _job_update(new: Obj, old: Obj) -> list[st.FieldError]:
    a, b = new.get("spec") or {}, old.get("spec") or {}
    errors: list[st.FieldError] = []
    if a.get("selector") != b.get("selector"):
        errors += _selector_immutable(new, old)
    template_a = {k: val for k, val in (a.get("template") or {}).items()}
    template_b = {k: val for k, val in (b.get("template") or {}).items()}
    if template_a != template_b:
        errors.append(
            st.FieldError(
                "spec.template", st.INVALID, "Invalid value: core.PodTemplateSpec{...}: field is immutable"
            )
        )
    if a.get("completions") != b.get("completions"):
        errors.append(v.immutable("spec.completions", a.get("completions")))
    if a.get("completionMode") != b.get("completionMode"):
        errors.append(v.immutable("spec.completionMode", a.get("completionMode")))
    return errors


def _has_condition(obj: Obj, ctype: str) -> bool:
    return any(
        c.get("type") == ctype and c.get("status") == "True"
        for c in obj.get("status", {}).get("conditions") or []
    )


def _job_cells(job: Obj, now: float) -> list[Any]:
    from ..tables import parse_time

    spec, status = job.get("spec", {}), job.get("status", {})
    if spec.get("completions") is not None:
        completions = f"{status.get('succeeded', 0)}/{spec['completions']}"
    elif (spec.get("parallelism") or 0) > 1:
        completions = f"{status.get('succeeded', 0)}/1 of {spec['parallelism']}"
    else:
        completions = f"{status.get('succeeded', 0)}/1"
    start, done = parse_time(status.get("startTime")), parse_time(status.get("completionTime"))
    duration = "" if start is None else human_duration((done if done is not None else now) - start)
    if _has_condition(job, "Complete"):
        state = "Complete"
    elif _has_condition(job, "Failed"):
        state = "Failed"
    elif job["metadata"].get("deletionTimestamp"):
        state = "Terminating"
    elif _has_condition(job, "Suspended"):
        state = "Suspended"
    elif _has_condition(job, "FailureTarget"):
        state = "FailureTarget"
    elif _has_condition(job, "SuccessCriteriaMet"):
        state = "SuccessCriteriaMet"
    else:
        state = "Running"
    containers, images = containers_and_images((spec.get("template") or {}).get("spec") or {})
    return [
        job["metadata"]["name"],
        state,
        completions,
        duration,
        age(job, now),
        containers,
        images,
        selector_string(spec.get("selector")),
    ]


JOB = REGISTRY.add(
    Kind(
        "batch",
        "v1",
        "jobs",
        "Job",
        categories=("all",),
        subresources=("status",),
        has_status=True,
        generation=True,
        storage_hash="mudhfqk/qZY=",
        columns=(
            NAME,
            Column("Status", description="Status of the job."),
            Column(
                "Completions",
                description="The desired number of successfully finished pods the job should be run with.",
            ),
            Column("Duration", description="Time required to complete the job."),
            AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        cells=_job_cells,
        field_selectors=_fields("status.successful"),
        defaults=_job_defaults,
        validate=_job_validate,
        validate_update=_job_update,
        prepare_create=_job_prepare,
    )
)


# --- CronJob --------------------------------------------------------------------------------------


def _cronjob_defaults(cj: Obj) -> None:
    spec = cj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if isinstance(job_spec, dict):
        job_copy = {"spec": job_spec}
        _job_defaults(job_copy)
        spec["jobTemplate"].setdefault("metadata", {})
        if "creationTimestamp" not in spec["jobTemplate"]["metadata"]:
            spec["jobTemplate"]["metadata"]["creationTimestamp"] = None


def _cronjob_validate(cj: Obj) -> list[st.FieldError]:
    from ..controllers.cronjob import schedule_error, time_zone_error

    spec = cj.get("spec")
    if not isinstance(spec, dict):
        return [v.required("spec")]
    errors: list[st.FieldError] = []
    schedule = spec.get("schedule")
    if not schedule:
        errors.append(v.required("spec.schedule"))
    else:
        problem = schedule_error(schedule)
        if problem:
            errors.append(v.invalid_value("spec.schedule", schedule, problem))
    errors += v.supported(
        spec.get("concurrencyPolicy"), "spec.concurrencyPolicy", ("Allow", "Forbid", "Replace")
    )
    job_spec = (spec.get("jobTemplate") or {}).get("spec")
    if not isinstance(job_spec, dict):
        errors.append(v.required("spec.jobTemplate.spec"))
    else:
        errors += podspec.validate_template(
            job_spec.get("template"),
            "spec.jobTemplate.spec.template",
            podspec.NO_SELECTOR,
            restart=("OnFailure", "Never"),
        )
    if spec.get("timeZone") is not None:
        problem = time_zone_error(spec["timeZone"])
        if problem:
            errors.append(v.invalid_value("spec.timeZone", spec["timeZone"], problem))
    return errors


def _cronjob_cells(cj: Obj, now: float) -> list[Any]:
    from .common import since

    spec, status = cj.get("spec", {}), cj.get("status", {})
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    containers, images = containers_and_images((job_spec.get("template") or {}).get("spec") or {})
    last = since(status.get("lastScheduleTime"), now) if status.get("lastScheduleTime") else "<none>"
    return [
        cj["metadata"]["name"],
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "True" if spec.get("suspend") else "False",
        len(status.get("active") or []),
        last,
        age(cj, now),
        containers,
        images,
        selector_string(job_spec.get("selector")),
    ]


CRONJOB = REGISTRY.add(
    Kind(
        "batch",
        "v1",
        "cronjobs",
        "CronJob",
        short_names=("cj",),
        categories=("all",),
        subresources=("status",),
        has_status=True,
        generation=True,
        storage_hash="sd5LIXh4Fjs=",
        columns=(
            NAME,
            Column(
                "Schedule", description="The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."
            ),
            Column(
                "Timezone",
                description="The time zone name for the given schedule, see "
                "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
            ),
            Column(
                "Suspend",
                "boolean",
                description="This flag tells the controller to suspend subsequent "
                "executions, it does not apply to already started executions. Defaults to false.",
            ),
            Column("Active", "integer", description="A list of pointers to currently running jobs."),
            Column(
                "Last Schedule",
                description="Information when was the last time the job was successfully scheduled.",
            ),
            AGE,
            _CONTAINERS,
            _IMAGES,
            _SELECTOR,
        ),
        cells=_cronjob_cells,
        field_selectors=_fields(),
        defaults=_cronjob_defaults,
        validate=_cronjob_validate,
    )
)
