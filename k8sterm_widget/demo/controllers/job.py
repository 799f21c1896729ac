"""The Job controller and CronJob's TTL partner: run pods to completion, count, finish, clean up.

Keeps up to ``parallelism`` pods running while fewer than ``completions`` have succeeded, counts failures
against ``backoffLimit`` (with the controller's growing delay before a replacement), and ends the Job with
the conditions and texts of ``pkg/controller/job``: ``SuccessCriteriaMet`` + ``Complete``
(``CompletionsReached``, ``Reached expected number of succeeded pods``) or ``FailureTarget`` + ``Failed``
(``BackoffLimitExceeded``, ``Job has reached the specified backoff limit``; ``DeadlineExceeded``).  Pods
carry the ``batch.kubernetes.io/job-tracking`` finalizer until counted.  ``ttlSecondsAfterFinished``
deletes a finished Job (the TTL-after-finished controller).
"""

from __future__ import annotations

import time
from typing import Any

from ..objects import rfc3339
from ..store import Event
from ..tables import parse_time
from ..verbs import ApiError
from .base import Controller, is_pod_ready, owner_key
from .replicaset import pod_from_template

Obj = dict[str, Any]
TRACKING = "batch.kubernetes.io/job-tracking"
BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0


def finished(job: Obj) -> str:
    for c in job.get("status", {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return ""


class JobController(Controller):
    name = "job-controller"

    def resync(self) -> None:
        for job in self.store.list("batch/jobs"):
            self.enqueue((job["metadata"]["namespace"], job["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        if event.resource == "batch/jobs":
            return [(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])]
        if event.resource == "pods":
            key = owner_key(event.obj, "Job")
            keys: list[Any] = [key] if key else []
            meta = event.obj["metadata"]
            if (
                event.type != "DELETED"
                and TRACKING in (meta.get("finalizers") or [])
                and meta.get("deletionTimestamp")
            ):
                keys.append(("pod", meta["namespace"], meta["name"]))  # released below if its Job is gone
            return keys
        return []

    def reconcile(self, key: Any) -> None:
        if key[0] == "pod":
            pod = self.store.pod(key[1], key[2])
            owner = owner_key(pod, "Job") if pod is not None else None
            if pod is not None and (owner is None or self.store.get("batch/jobs", *owner) is None):
                self._untrack(pod)  # an orphan: nothing will count it, so it must not wait for that
            return
        namespace, name = key
        job = self.store.get("batch/jobs", namespace, name)
        if job is None:
            return
        uid = job["metadata"]["uid"]
        pods = [
            p
            for p in self.store.pods(namespace)
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in p["metadata"].get("ownerReferences") or []
            )
        ]
        spec, status = job["spec"], dict(job.get("status") or {})
        now = time.time()
        succeeded_pods = [p for p in pods if p["status"].get("phase") == "Succeeded"]
        failed_pods = [p for p in pods if p["status"].get("phase") == "Failed"]
        active = [
            p
            for p in pods
            if p["status"].get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")
        ]
        terminating = [
            p
            for p in pods
            if p["metadata"].get("deletionTimestamp")
            and p["status"].get("phase") not in ("Succeeded", "Failed")
        ]
        succeeded = max(int(status.get("succeeded") or 0), 0)
        failed = max(int(status.get("failed") or 0), 0)
        counted = set(job["metadata"].get("annotations", {}).get("k8sterm.dev/counted", "").split(","))
        for pod in succeeded_pods + failed_pods:
            if TRACKING in (pod["metadata"].get("finalizers") or []):
                if pod["metadata"]["uid"] not in counted:
                    if pod in succeeded_pods:
                        succeeded += 1
                    else:
                        failed += 1
                self._untrack(pod)
        for pod in terminating:
            self._untrack(pod)
        done = finished(job)
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) or 0)
        backoff_limit = int(spec.get("backoffLimit", 6))
        new_conditions: list[tuple[str, str, str]] = []
        if not done and not job["metadata"].get("deletionTimestamp"):
            start = parse_time(status.get("startTime"))
            deadline = spec.get("activeDeadlineSeconds")
            if failed > backoff_limit:
                new_conditions = [
                    ("FailureTarget", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                    ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                ]
            elif deadline and start is not None and now - start >= int(deadline):
                new_conditions = [
                    ("FailureTarget", "DeadlineExceeded", "Job was active longer than specified deadline"),
                    ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline"),
                ]
            elif (completions is not None and succeeded >= int(completions)) or (
                completions is None and succeeded > 0 and not active
            ):
                new_conditions = [
                    ("SuccessCriteriaMet", "CompletionsReached", "Reached expected number of succeeded pods"),
                    ("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                ]
            elif spec.get("suspend"):
                for pod in active:
                    self._delete_pod(job, pod)
                active = []
            else:
                want = parallelism
                if completions is not None:
                    want = min(parallelism, int(completions) - succeeded)
                missing = want - len(active) - len(terminating)
                delay = self._backoff(failed, failed_pods, now)
                if missing > 0 and delay > 0:
                    self.enqueue_after(key, delay)
                elif missing > 0:
                    for _ in range(missing):
                        self._create(job)
                if deadline and start is not None:
                    self.enqueue_after(key, start + int(deadline) - now)
            if new_conditions:
                for pod in active:
                    self._delete_pod(job, pod)
        self._write_status(job, status, succeeded, failed, active, terminating, pods, new_conditions, now)
        ttl = spec.get("ttlSecondsAfterFinished")
        done = finished(self.store.get("batch/jobs", namespace, name) or job)
        if done and ttl is not None:
            finish = (
                parse_time(
                    (self.store.get("batch/jobs", namespace, name) or job)
                    .get("status", {})
                    .get("completionTime")
                )
                or now
            )
            remaining = finish + int(ttl) - now
            if remaining <= 0:
                try:
                    self.api.delete(
                        self.api.kind("batch/jobs"),
                        namespace,
                        name,
                        options={"propagationPolicy": "Background"},
                    )
                except ApiError:
                    pass
            else:
                self.enqueue_after(key, remaining)

    def _backoff(self, failed: int, failed_pods: list[Obj], now: float) -> float:
        if failed <= 0 or not failed_pods:
            return 0.0
        last = max((parse_time(_finished_at(p)) or 0.0) for p in failed_pods)
        delay = min(BACKOFF_BASE * 2 ** (failed - 1), BACKOFF_MAX)
        return max(last + delay - now, 0.0)

    def _untrack(self, pod: Obj) -> None:
        def drop(obj: Obj) -> None:
            obj["metadata"]["finalizers"] = [
                f for f in obj["metadata"].get("finalizers") or [] if f != TRACKING
            ]
            if not obj["metadata"]["finalizers"]:
                del obj["metadata"]["finalizers"]

        try:
            self.api.mutate("pods", pod["metadata"]["namespace"], pod["metadata"]["name"], drop)
        except ApiError:
            pass

    def _create(self, job: Obj) -> None:
        template = job["spec"].get("template") or {}
        pod = pod_from_template(job, template, generate_name=f"{job['metadata']['name']}-")
        pod["metadata"]["finalizers"] = [*pod["metadata"].get("finalizers", []), TRACKING]
        try:
            created = self.api.create(self.api.kind("pods"), pod, namespace=job["metadata"]["namespace"])
        except ApiError as exc:
            self.events.record(job, "Warning", "FailedCreate", f"Error creating: {exc}", self.name)
            return
        self.events.record(
            job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}", self.name
        )

    def _delete_pod(self, job: Obj, pod: Obj) -> None:
        try:
            self.api.delete(self.api.kind("pods"), pod["metadata"]["namespace"], pod["metadata"]["name"])
        except ApiError:
            return
        self.events.record(
            job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}", self.name
        )

    def _write_status(
        self,
        job: Obj,
        status: Obj,
        succeeded: int,
        failed: int,
        active: list[Obj],
        terminating: list[Obj],
        pods: list[Obj],
        new_conditions: list[tuple[str, str, str]],
        now: float,
    ) -> None:
        stamp = rfc3339(now)
        out = dict(status)
        out.setdefault("startTime", stamp) if not job["spec"].get("suspend") else None
        out["active"] = len(active)
        out["ready"] = sum(1 for p in active if is_pod_ready(p))
        out["terminating"] = len(terminating)
        if succeeded:
            out["succeeded"] = succeeded
        if failed:
            out["failed"] = failed
        if not out["active"]:
            del out["active"]
        out["uncountedTerminatedPods"] = {}
        conditions = list(out.get("conditions") or [])
        for ctype, reason, message in new_conditions:
            conditions.append(
                {
                    "type": ctype,
                    "status": "True",
                    "lastProbeTime": stamp,
                    "lastTransitionTime": stamp,
                    "reason": reason,
                    "message": message,
                }
            )
        if conditions:
            out["conditions"] = conditions
        if new_conditions and new_conditions[-1][0] == "Complete":
            out["completionTime"] = stamp
        if out == job.get("status"):
            return
        try:
            self.api.mutate(
                "batch/jobs",
                job["metadata"]["namespace"],
                job["metadata"]["name"],
                lambda o: o.__setitem__("status", out),
                subresource="status",
            )
        except ApiError:
            return
        if new_conditions:
            kind = new_conditions[-1][0]
            if kind == "Complete":
                self.events.record(job, "Normal", "Completed", "Job completed", self.name)
            else:
                self.events.record(job, "Warning", new_conditions[-1][1], new_conditions[-1][2], self.name)


def _finished_at(pod: Obj) -> str | None:
    for c in pod.get("status", {}).get("containerStatuses") or []:
        term = (c.get("state") or {}).get("terminated")
        if term:
            return term.get("finishedAt")
    return None
