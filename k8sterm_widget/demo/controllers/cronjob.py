"""The CronJob controller: a Job per schedule tick (``croniter`` reads the schedule), history limits.

A Job is named ``<cronjob>-<minutes since the epoch of its scheduled time>`` as the controller names it,
so a tick creates it once; ``concurrencyPolicy`` Forbid skips a tick while a Job runs, Replace deletes the
running one.  Finished Jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit`` are deleted.
Events: ``SuccessfulCreate`` (``Created job x``), ``SawCompletedJob``, ``SuccessfulDelete``.
"""

from __future__ import annotations

import copy
import datetime
import re
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


# robfig/cron/v3 (v3.0.1, vendored by kube-apiserver) ParseStandard's bounds and errors, which
# validateScheduleFormat shows verbatim: "spec.schedule: Invalid value: \"61 * * * *\": end of range (61) ..."
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_FIELD_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, {m: i for i, m in enumerate(_MONTHS, 1)}),
    (0, 6, {d: i for i, d in enumerate(_DAYS)}),
)
_DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _atoi(expr: str) -> int:
    """``mustParseInt``: strconv.Atoi, then no negatives."""
    if not re.fullmatch(r"[+-]?[0-9]+", expr):
        raise ValueError(f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": invalid syntax')
    num = int(expr)
    if abs(num) > 2**63 - 1:
        raise ValueError(
            f'failed to parse int from {expr}: strconv.Atoi: parsing "{expr}": value out of range'
        )
    if num < 0:
        raise ValueError(f"negative number ({num}) not allowed: {expr}")
    return num


def _range_error(expr: str, low: int, high: int, names: dict[str, int]) -> str:
    """``getRange``'s refusal of one comma-separated part of a field, or ""."""
    try:
        range_and_step = expr.split("/")
        low_and_high = range_and_step[0].split("-")
        if low_and_high[0] in ("*", "?"):
            start, end = low, high
        else:
            named_start = names.get(low_and_high[0].lower())
            start = _atoi(low_and_high[0]) if named_start is None else named_start
            if len(low_and_high) == 1:
                end = start
            elif len(low_and_high) == 2:
                named_end = names.get(low_and_high[1].lower())
                end = _atoi(low_and_high[1]) if named_end is None else named_end
            else:
                return f"too many hyphens: {expr}"
        step = 1
        if len(range_and_step) == 2:
            step = _atoi(range_and_step[1])
            if len(low_and_high) == 1:
                end = high
        elif len(range_and_step) > 2:
            return f"too many slashes: {expr}"
    except ValueError as exc:
        return str(exc)
    if start < low:
        return f"beginning of range ({start}) below minimum ({low}): {expr}"
    if end > high:
        return f"end of range ({end}) above maximum ({high}): {expr}"
    if start > end:
        return f"beginning of range ({start}) beyond end of range ({end}): {expr}"
    if step == 0:
        return f"step of range should be a positive number: {expr}"
    return ""


def _duration_error(text: str) -> str:
    """``time.ParseDuration``'s refusal, or ""."""
    unit = r"(ns|us|\u00b5s|\u03bcs|ms|s|m|h)"
    if text in ("0", "+0", "-0") or re.fullmatch(rf"[-+]?(([0-9]+(\.[0-9]*)?|\.[0-9]+){unit})+", text):
        return ""
    quoted = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    bad_unit = re.fullmatch(r"[-+]?([0-9]*\.?[0-9]+([a-zA-Z\u00b5\u03bc]+))+", text)
    if bad_unit:
        found = re.findall(r"[0-9.]+([^0-9.]+)", text)
        unknown = next((u for u in found if not re.fullmatch(unit, u)), "")
        if unknown:
            return f"time: unknown unit {chr(34)}{unknown}{chr(34)} in duration {quoted}"
    if re.fullmatch(r"[-+]?[0-9.]+", text) and text.strip("+-."):
        return f"time: missing unit in duration {quoted}"
    return f"time: invalid duration {quoted}"


def schedule_error(schedule: str) -> str:
    """``cron.ParseStandard``'s error for ``schedule``, or '' (then the TZ rule of validateScheduleFormat)."""
    spec = schedule
    if not spec:
        return "empty spec string"
    if spec.startswith(("TZ=", "CRON_TZ=")):
        spec = spec[spec.find(" ") :].strip() if " " in spec else ""
        if not spec:
            return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if spec.startswith("@"):
        if spec.startswith("@every "):
            problem = _duration_error(spec[len("@every ") :])
            if problem:
                return f"failed to parse duration {spec}: {problem}"
        elif spec not in _DESCRIPTORS:
            return f"unrecognized descriptor: {spec}"
    else:
        fields = spec.split()
        if len(fields) != 5:
            return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
        for field, (low, high, names) in zip(fields, _FIELD_BOUNDS, strict=True):
            for expr in (e for e in field.split(",") if e):
                problem = _range_error(expr, low, high, names)
                if problem:
                    return problem
    if "TZ" in schedule:
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
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
