"""The CronJob controller: kube-controller-manager's ``ControllerV2.syncCronJob``, tick by tick.

Schedules are read as ``cron.ParseStandard`` (robfig/cron v3) reads them: five-field lines and the
``@hourly``..``@yearly`` descriptors (stepped through by ``croniter`` in the schedule's zone: ``TZ=``/
``CRON_TZ=`` or ``spec.timeZone``, else UTC, the controller-manager's ``time.Local`` on kind), and
``@every <duration>`` as a ``ConstantDelaySchedule``: a delay of whole seconds (at least one) counted from
the CronJob's creation or last schedule time, not aligned to the clock like cron lines.  The missed and
next times come from ``mostRecentScheduleTime``/``nextScheduleTimeDuration`` (only the most recent missed
tick runs; ``startingDeadlineSeconds`` bounds how late).

A Job is named ``<cronjob>-<minutes since the epoch of its scheduled time>`` as the controller names it, so
a tick creates it once; ticks of an ``@every`` schedule shorter than a minute find their minute's Job
already there, and the controller re-adopts it (``lastScheduleTime`` advances, no new Job) as upstream
does.  ``concurrencyPolicy`` Forbid skips a tick while a Job is active, Replace deletes the active ones.
Finished Jobs beyond ``successfulJobsHistoryLimit``/``failedJobsHistoryLimit`` are deleted, oldest start
first.  Events carry the controller's reasons and texts (``SuccessfulCreate``, ``SawCompletedJob``,
``UnexpectedJob``, ``MissingJob``, ``JobAlreadyActive``, ``MissSchedule``, ``SuccessfulDelete``, ...).
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import re
import time
import zoneinfo
from fractions import Fraction
from typing import Any, Protocol

from croniter import croniter
from croniter.croniter import CroniterBadDateError

from .. import status as st
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
NEXT_SCHEDULE_DELTA = 0.1  # nextScheduleDelta: requeue 100 ms past the tick, for clock skew
_NS = 1_000_000_000
_UNIT_NS = {
    "ns": 1,
    "us": 10**3,
    "\u00b5s": 10**3,
    "\u03bcs": 10**3,
    "ms": 10**6,
    "s": _NS,
    "m": 60 * _NS,
    "h": 3600 * _NS,
}

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


def _time_zone(name: str) -> datetime.tzinfo:
    """``time.LoadLocation``: "" and "UTC" are UTC, "Local" the controller's zone (UTC here)."""
    if name in ("", "UTC", "Local"):
        return datetime.timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


def time_zone_error(zone: Any) -> str:
    """``validateTimeZone``'s refusal of ``spec.timeZone``, or ""."""
    if zone == "":
        return "timeZone must be nil or non-empty string"
    for part in str(zone).split("/"):
        if part in (".", "..") or part.startswith("-") or not re.fullmatch(r"[A-Za-z.\-_0-9+]{1,14}", part):
            return f"unknown time zone {zone}"
    if str(zone).lower() == "local":
        return "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"
    try:
        _time_zone(str(zone))
    except ValueError as exc:
        return str(exc)
    return ""


class _NoMatch(Exception):
    """robfig's ``Next`` found no time within five years (``0 0 31 2 *``): it returns the zero time."""


class Schedule(Protocol):
    def next(self, t: float) -> float: ...


class Every:
    """``ConstantDelaySchedule``: ``Every`` rounds a delay under a second up to one and truncates the
    rest to whole seconds; ``Next`` adds it to ``t`` with ``t``'s sub-second part dropped."""

    def __init__(self, delay_ns: int) -> None:
        delay_ns = max(delay_ns, _NS)
        self.delay = (delay_ns - delay_ns % _NS) // _NS

    def next(self, t: float) -> float:
        return float(math.floor(t) + self.delay)


class Cron:
    """``SpecSchedule``: a five-field line stepped by croniter in the schedule's zone."""

    def __init__(self, expr: str, zone: datetime.tzinfo) -> None:
        self.expr, self.zone = expr.replace("?", "*"), zone

    def next(self, t: float) -> float:
        try:
            return float(croniter(self.expr, datetime.datetime.fromtimestamp(t, self.zone)).get_next(float))
        except CroniterBadDateError:
            raise _NoMatch from None


def _duration_ns(text: str) -> int:
    """``time.ParseDuration`` of a duration ``schedule_error`` accepted, in nanoseconds."""
    total = Fraction(0)
    for whole, frac, unit in re.findall(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]+)", text.lstrip("+-")):
        total += Fraction(f"{whole or 0}.{frac or 0}") * _UNIT_NS[unit]
    return -int(total) if text.startswith("-") else int(total)


def parse_schedule(schedule: str) -> Schedule:
    """``cron.ParseStandard``: a ValueError carries its refusal."""
    spec, zone = schedule, _time_zone("")
    if not spec:
        raise ValueError("empty spec string")
    if spec.startswith(("TZ=", "CRON_TZ=")):
        name = spec[spec.index("=") + 1 : spec.find(" ") if " " in spec else len(spec)]
        try:
            zone = _time_zone(name)
        except ValueError as exc:
            raise ValueError(f"provided bad location {name}: {exc}") from None
        spec = spec[len(spec.split(" ", 1)[0]) :].strip()
    problem = schedule_error(spec)
    if problem:
        raise ValueError(problem)
    if spec.startswith("@every "):
        return Every(_duration_ns(spec[len("@every ") :]))
    return Cron(_MACROS.get(spec, spec), zone)


def format_schedule(cj: Obj) -> str:
    """``formatSchedule``: ``spec.timeZone`` becomes the ``TZ=`` prefix robfig reads."""
    spec = cj["spec"]
    schedule = str(spec.get("schedule") or "")
    zone = spec.get("timeZone")
    if "TZ" in schedule or zone is None:
        return schedule
    try:
        _time_zone(zone)
    except ValueError:
        return schedule
    return f"TZ={zone} {schedule}"


NONE_MISSED, FEW_MISSED, MANY_MISSED = 0, 1, 2


def most_recent_schedule_time(
    cj: Obj, now: float, sched: Schedule, include_deadline: bool
) -> tuple[float, float | None, int]:
    """``mostRecentScheduleTime``: (earliest time, the most recent tick <= now or None, how many missed).

    Raises ValueError when two ticks are under a second apart (a line that never matches)."""
    earliest = parse_time(cj["metadata"].get("creationTimestamp")) or now
    last = parse_time((cj.get("status") or {}).get("lastScheduleTime"))
    if last is not None:
        earliest = last
    deadline_seconds = cj["spec"].get("startingDeadlineSeconds")
    if include_deadline and deadline_seconds is not None:
        earliest = max(earliest, now - int(deadline_seconds))
    try:
        t1 = sched.next(earliest)
        t2 = sched.next(t1)
        if now < t1:
            return earliest, None, NONE_MISSED
        if now < t2:
            return earliest, t1, NONE_MISSED
        between = int(t2 - t1 + 0.5)
        if between < 1:
            raise _NoMatch
        # the controller's estimate of the missed ticks from the first interval, then two intervals back
        # and step to now: for @every the ticks stay on earliest + k * delay, whole seconds
        missed = int(now - t1) // between + 1
        most_recent = None
        t = sched.next(t1 + (missed - 2) * between)
        while t <= now:
            most_recent = t
            t = sched.next(t)
    except _NoMatch:
        raise ValueError("time difference between two schedules is less than 1 second") from None
    return earliest, most_recent, MANY_MISSED if missed > 100 else FEW_MISSED


def next_schedule_delay(cj: Obj, now: float, sched: Schedule) -> float | None:
    """``nextScheduleTimeDuration``: seconds until the tick after the most recent one, plus 100 ms."""
    try:
        earliest, most_recent, missed = most_recent_schedule_time(cj, now, sched, False)
    except ValueError:
        most_recent = now
    else:
        if most_recent is None:
            most_recent = earliest if missed == NONE_MISSED else now
    try:
        return sched.next(most_recent) + NEXT_SCHEDULE_DELTA - now
    except _NoMatch:
        return None


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _controlled_by(obj: Obj, uid: str) -> bool:
    return any(
        r.get("controller") and r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or []
    )


def _job_name(cj: Obj, scheduled: float) -> str:
    """``getJobName``: the scheduled time in minutes, so a tick's Job is made once."""
    return f"{cj['metadata']['name']}-{int(scheduled) // 60}"


def _in_active(cj: Obj, uid: str) -> bool:
    return any(ref.get("uid") == uid for ref in cj["status"].get("active") or [])


def _drop_active(cj: Obj, uid: str) -> None:
    """``deleteFromActiveList``; an empty list is omitted, as ``omitempty`` marshals it."""
    active = [ref for ref in cj["status"].get("active") or [] if ref.get("uid") != uid]
    if active:
        cj["status"]["active"] = active
    else:
        cj["status"].pop("active", None)


def _job_ref(job: Obj) -> Obj:
    meta = job["metadata"]
    return {
        "kind": "Job",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
        "apiVersion": "batch/v1",
        "resourceVersion": meta.get("resourceVersion", ""),
    }


def _start_order(job: Obj) -> tuple[bool, float, str]:
    """``byJobStartTime``: by ``status.startTime``, Jobs not started last, then by name."""
    started = parse_time((job.get("status") or {}).get("startTime"))
    return started is None, started or 0.0, job["metadata"]["name"]


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
        """``sync``: clean up finished Jobs, sync, write the status back even when the sync failed."""
        namespace, name = key
        stored = self.store.get("batch/cronjobs", namespace, name)
        if stored is None:
            return
        cj = copy.deepcopy(stored)
        cj["status"] = cj.get("status") or {}
        uid = cj["metadata"]["uid"]
        jobs = [j for j in self.store.list("batch/jobs", namespace) if _controlled_by(j, uid)]
        self._cleanup(cj, jobs)
        try:
            delay = self._sync(cj, jobs, time.time())
        finally:
            if cj["status"] != (stored.get("status") or {}):
                self.api.mutate(
                    "batch/cronjobs",
                    namespace,
                    name,
                    lambda o: o.__setitem__("status", cj["status"]),
                    subresource="status",
                )
        if delay is not None:
            self.enqueue_after(key, delay)

    def _event(self, cj: Obj, warning: bool, reason: str, message: str) -> None:
        self.events.record(cj, "Warning" if warning else "Normal", reason, message, self.name)

    def _sync(self, cj: Obj, jobs: list[Obj], now: float) -> float | None:
        """``syncCronJob``: the requeue delay (None: wait for a change); an ApiError is retried."""
        status = cj["status"]
        children = set()
        for job in jobs:
            uid = job["metadata"]["uid"]
            children.add(uid)
            found, state = _in_active(cj, uid), finished(job)
            if not found and not state:
                self._event(
                    cj,
                    True,
                    "UnexpectedJob",
                    f"Saw a job that the controller did not create or forgot: {job['metadata']['name']}",
                )
            elif found and state:
                _drop_active(cj, uid)
                self._event(
                    cj,
                    False,
                    "SawCompletedJob",
                    f"Saw completed job: {job['metadata']['name']}, status: {state}",
                )
            elif state == "Complete":
                done_at = (job.get("status") or {}).get("completionTime")
                last = parse_time(status.get("lastSuccessfulTime"))
                if done_at and (last is None or (parse_time(done_at) or 0) > last):
                    status["lastSuccessfulTime"] = done_at
        for ref in list(status.get("active") or []):
            if (
                ref.get("uid") not in children
                and self.api.find("batch/jobs", ref["namespace"], ref["name"]) is None
            ):
                self._event(cj, False, "MissingJob", f"Active job went missing: {ref['name']}")
                _drop_active(cj, ref.get("uid", ""))
        spec = cj["spec"]
        if cj["metadata"].get("deletionTimestamp"):
            return None
        if spec.get("timeZone") is not None:
            try:
                _time_zone(spec["timeZone"])
            except ValueError as exc:
                self._event(
                    cj, True, "UnknownTimeZone", f"invalid timeZone: {_go_quote(spec['timeZone'])}: {exc}"
                )
                return None
        if spec.get("suspend"):
            return None
        if "TZ" in str(spec.get("schedule") or ""):
            self._event(
                cj,
                True,
                "UnsupportedSchedule",
                f"CRON_TZ or TZ used in schedule {_go_quote(spec['schedule'])} is not officially supported, "
                "see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
            )
        try:
            sched = parse_schedule(format_schedule(cj))
        except ValueError as exc:
            self._event(
                cj,
                True,
                "UnparseableSchedule",
                f"unparseable schedule: {_go_quote(spec.get('schedule', ''))} : {exc}",
            )
            return None
        try:
            _, scheduled, missed = most_recent_schedule_time(cj, now, sched, True)
        except ValueError as exc:
            self._event(cj, True, "InvalidSchedule", f"invalid schedule: {spec.get('schedule', '')} : {exc}")
            return None
        if scheduled is None or scheduled > now:
            return next_schedule_delay(cj, now, sched)
        if missed == MANY_MISSED:
            self._event(
                cj,
                True,
                "TooManyMissedTimes",
                "too many missed start times. "
                "Set or decrease .spec.startingDeadlineSeconds or check clock skew",
            )
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + int(deadline) < now:
            stamp = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(scheduled))
            self._event(cj, True, "MissSchedule", f"Missed scheduled time to start a job: {stamp}")
            return next_schedule_delay(cj, now, sched)
        name = _job_name(cj, scheduled)
        if (
            any(r.get("name") == name for r in status.get("active") or [])
            or parse_time(status.get("lastScheduleTime")) == scheduled
        ):
            return next_schedule_delay(cj, now, sched)
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and status.get("active"):
            self._event(
                cj,
                False,
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            )
            return next_schedule_delay(cj, now, sched)
        if policy == "Replace":
            for ref in list(status.get("active") or []):
                running = self.api.find("batch/jobs", ref["namespace"], ref["name"])
                if running is None:
                    missing = ApiError(st.not_found("jobs", ref["name"], group="batch"))
                    self._event(cj, True, "FailedGet", f"Get job: {missing}")
                    raise missing
                if not self._delete(cj, running):
                    raise ApiError(
                        st.internal_error(f"could not replace job {ref['namespace']}/{ref['name']}")
                    )
        created = self._create(cj, name, scheduled)
        if created is None:
            return None
        status["active"] = [*(status.get("active") or []), _job_ref(created)]
        status["lastScheduleTime"] = rfc3339(scheduled)
        return next_schedule_delay(cj, now, sched)

    def _create(self, cj: Obj, name: str, scheduled: float) -> Obj | None:
        """``getJobFromTemplate2`` + create; a Job of this tick already there is re-adopted if it is ours
        and not active (None: leave it, the status stays as it is)."""
        namespace = cj["metadata"]["namespace"]
        template = cj["spec"].get("jobTemplate") or {}
        annotations = dict((template.get("metadata") or {}).get("annotations") or {})
        zone = _time_zone(cj["spec"].get("timeZone") or "")
        annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"] = (
            datetime.datetime.fromtimestamp(scheduled, zone).isoformat().replace("+00:00", "Z")
        )
        meta: Obj = {"name": name, "namespace": namespace, "annotations": annotations}
        labels = (template.get("metadata") or {}).get("labels")
        if labels:
            meta["labels"] = dict(labels)
        meta["ownerReferences"] = [controller_ref(cj)]
        request = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {}),
        }
        try:
            created: Obj = self.api.create(self.api.kind("batch/jobs"), request, namespace=namespace)
            self._event(cj, False, "SuccessfulCreate", f"Created job {name}")
            return created
        except ApiError as exc:
            causes = (exc.status.get("details") or {}).get("causes") or []
            if any(c.get("reason") == "NamespaceTerminating" for c in causes):
                raise
            if exc.status.get("reason") != "AlreadyExists":
                self._event(cj, True, "FailedCreate", f"Error creating job: {exc}")
                raise
        existing = self.api.find("batch/jobs", namespace, name)
        if existing is None:
            raise ApiError(st.not_found("jobs", name, group="batch"))
        uid = existing["metadata"]["uid"]
        if not _controlled_by(existing, cj["metadata"]["uid"]) or _in_active(cj, uid):
            return None
        return existing

    def _delete(self, cj: Obj, job: Obj) -> bool:
        """``deleteJob``: the Job (its pods in the background) and its place in the active list."""
        try:
            self.api.delete(
                self.api.kind("batch/jobs"),
                job["metadata"]["namespace"],
                job["metadata"]["name"],
                options={"propagationPolicy": "Background"},
            )
        except ApiError as exc:
            self._event(cj, True, "FailedDelete", f"Deleted job: {exc}")
            return False
        _drop_active(cj, job["metadata"]["uid"])
        self._event(cj, False, "SuccessfulDelete", f"Deleted job {job['metadata']['name']}")
        return True

    def _cleanup(self, cj: Obj, jobs: list[Obj]) -> None:
        """``cleanupFinishedJobs``: the oldest finished Jobs beyond each history limit."""
        for state, limit_key in (
            ("Complete", "successfulJobsHistoryLimit"),
            ("Failed", "failedJobsHistoryLimit"),
        ):
            limit = cj["spec"].get(limit_key)
            if limit is None:
                continue
            done = sorted((j for j in jobs if finished(j) == state), key=_start_order)
            for job in done[: max(len(done) - int(limit), 0)]:
                self._delete(cj, job)
