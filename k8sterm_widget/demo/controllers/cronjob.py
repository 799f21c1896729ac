"""The CronJob controller: a Job per schedule tick (``croniter`` reads the schedule), history limits.

A Job is named ``<cronjob>-<minutes since the epoch of its scheduled time>`` as the controller names it,
so a tick creates it once; ``concurrencyPolicy`` Forbid skips a tick while a Job runs, Replace deletes the
running one.  Finished Jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit`` are deleted.
Events: ``SuccessfulCreate`` (``Created job x``), ``SawCompletedJob``, ``SuccessfulDelete``.
"""

from __future__ import annotations

import copy
import datetime
import time
from typing import Any

from croniter import croniter

from ..kinds.common import controller_ref
from ..objects import rfc3339
from ..store import Event
from ..tables import parse_time
from ..verbs import ApiError
from .base import Controller, owner_key
from .job import finished

Obj = dict[str, Any]
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def _expression(schedule: str) -> str:
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        text = text.split(None, 1)[1] if " " in text else ""
    return _MACROS.get(text, text)


def schedule_error(schedule: str) -> str:
    """The validation text for an unparseable schedule, or ''."""
    expr = _expression(schedule)
    fields = expr.split()
    if expr.startswith("@every "):
        return ""
    if len(fields) != 5:
        return f"Expected exactly 5 fields, found {len(fields)}: {schedule}"
    if not croniter.is_valid(expr):
        return f"unparseable schedule: {schedule}"
    return ""


class CronJobController(Controller):
    name = "cronjob-controller"

    def resync(self) -> None:
        for cj in self.store.list("batch/cronjobs"):
            self.enqueue((cj["metadata"]["namespace"], cj["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        if event.resource == "batch/cronjobs":
            return [(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])]
        if event.resource == "batch/jobs":
            key = owner_key(event.obj, "CronJob")
            return [key] if key else []
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        cj = self.store.get("batch/cronjobs", namespace, name)
        if cj is None or cj["metadata"].get("deletionTimestamp"):
            return
        uid = cj["metadata"]["uid"]
        jobs = [
            j
            for j in self.store.list("batch/jobs", namespace)
            if any(r.get("uid") == uid for r in j["metadata"].get("ownerReferences") or [])
        ]
        spec = cj["spec"]
        now = time.time()
        status = copy.deepcopy(cj.get("status") or {})
        active = [j for j in jobs if not finished(j)]
        for job in jobs:
            state = finished(job)
            if state and any(ref.get("uid") == job["metadata"]["uid"] for ref in status.get("active") or []):
                self.events.record(
                    cj,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, condition: {state}",
                    self.name,
                )
                if state == "Complete":
                    done_at = job.get("status", {}).get("completionTime")
                    if done_at:
                        status["lastSuccessfulTime"] = done_at
        expr = _expression(spec.get("schedule", ""))
        created = parse_time(cj["metadata"].get("creationTimestamp")) or now
        last = parse_time(status.get("lastScheduleTime")) or created
        if not spec.get("suspend") and croniter.is_valid(expr):
            it = croniter(expr, datetime.datetime.fromtimestamp(last, datetime.timezone.utc))
            due: float | None = None
            while True:
                nxt = it.get_next(float)
                if nxt > now:
                    self.enqueue_after(key, nxt - now + 0.05)
                    break
                due = nxt
            if due is not None:
                started = self._start(cj, due, active)
                if started is not None:
                    active.append(started)
                    status["lastScheduleTime"] = rfc3339(due)
        status["active"] = [
            {
                "kind": "Job",
                "namespace": namespace,
                "name": j["metadata"]["name"],
                "uid": j["metadata"]["uid"],
                "apiVersion": "batch/v1",
                "resourceVersion": j["metadata"].get("resourceVersion", ""),
            }
            for j in active
            if self.api.find("batch/jobs", namespace, j["metadata"]["name"]) is not None
        ]
        if not status["active"]:
            del status["active"]
        self._cleanup(cj, jobs)
        if status != (cj.get("status") or {}):
            try:
                self.api.mutate(
                    "batch/cronjobs",
                    namespace,
                    name,
                    lambda o: o.__setitem__("status", status),
                    subresource="status",
                )
            except ApiError:
                pass

    def _start(self, cj: Obj, due: float, active: list[Obj]) -> Obj | None:
        policy = cj["spec"].get("concurrencyPolicy", "Allow")
        if active and policy == "Forbid":
            self.events.record(
                cj,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
                self.name,
            )
            return None
        if active and policy == "Replace":
            for job in active:
                self._delete(cj, job)
            active.clear()
        template = cj["spec"].get("jobTemplate") or {}
        meta = copy.deepcopy(template.get("metadata") or {})
        meta.pop("creationTimestamp", None)
        name = f"{cj['metadata']['name']}-{int(due // 60)}"
        meta.update(
            {"name": name, "namespace": cj["metadata"]["namespace"], "ownerReferences": [controller_ref(cj)]}
        )
        meta.setdefault("annotations", {})["batch.kubernetes.io/cronjob-scheduled-timestamp"] = rfc3339(due)
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        try:
            created = self.api.create(self.api.kind("batch/jobs"), job, namespace=cj["metadata"]["namespace"])
        except ApiError as exc:
            if exc.code != 409:
                self.events.record(cj, "Warning", "FailedCreate", f"Error creating job: {exc}", self.name)
            return None
        self.events.record(cj, "Normal", "SuccessfulCreate", f"Created job {name}", self.name)
        return created

    def _delete(self, cj: Obj, job: Obj) -> None:
        try:
            self.api.delete(
                self.api.kind("batch/jobs"),
                job["metadata"]["namespace"],
                job["metadata"]["name"],
                options={"propagationPolicy": "Background"},
            )
        except ApiError:
            return
        self.events.record(
            cj, "Normal", "SuccessfulDelete", f"Deleted job {job['metadata']['name']}", self.name
        )

    def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        for state, limit_key in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = cj["spec"].get(limit_key)
            if limit is None:
                continue
            done = sorted(
                (j for j in jobs if finished(j) == state),
                key=lambda j: j["metadata"].get("creationTimestamp", ""),
            )
            for job in done[: max(len(done) - int(limit), 0)]:
                self._delete(cj, job)
