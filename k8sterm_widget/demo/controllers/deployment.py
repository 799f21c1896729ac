"""The Deployment controller: ReplicaSets per pod template, rolling updates, revisions, status.

As ``pkg/controller/deployment``: the ReplicaSet whose template equals the Deployment's (ignoring the
``pod-template-hash`` label) is the *new* one; it is created as ``<name>-<hash>`` with the next
``deployment.kubernetes.io/revision`` when missing, and reused (its revision bumped, the old number kept
in ``revision-history``) after ``kubectl rollout undo``.  RollingUpdate scales the new set up within
``replicas + maxSurge`` and old sets down while ``replicas - maxUnavailable`` pods stay available;
Recreate empties the old sets first.  Events are ``ScalingReplicaSet`` (``Scaled up replica set x from 0
to 3``); conditions ``Available`` and ``Progressing`` carry the controller's reasons, which
``kubectl rollout status`` and ``describe`` read.
"""

from __future__ import annotations

import copy
import json
import math
import time
from typing import Any

from ..kinds.common import controller_ref, label_selector_matches
from ..objects import rfc3339
from ..store import Event
from ..verbs import ApiError
from .base import Controller, is_active, is_available, owner_key

Obj = dict[str, Any]
HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: Obj, collisions: int = 0) -> str:
    """``controller.ComputeHash``: FNV-32a of the template, safe-encoded like ``rand.SafeEncodeString``."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode() + (
        str(collisions).encode() if collisions else b""
    )
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(_ALPHABET[ord(ch) % len(_ALPHABET)] for ch in str(h))


def _without_hash(template: Obj) -> Obj:
    t = copy.deepcopy(template)
    labels = (t.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(HASH_LABEL, None)
    return t


def _resolve(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = float(value[:-1])
        except ValueError:
            return 0
        scaled = pct * total / 100
        return int(math.ceil(scaled) if round_up else math.floor(scaled))
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class DeploymentController(Controller):
    name = "deployment-controller"

    def resync(self) -> None:
        for d in self.store.list("apps/deployments"):
            self.enqueue((d["metadata"]["namespace"], d["metadata"]["name"]))

    def watches(self, event: Event) -> list[Any]:
        if event.resource == "apps/deployments":
            return [(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])]
        if event.resource == "apps/replicasets":
            key = owner_key(event.obj, "Deployment")
            return [key] if key else []
        return []

    def reconcile(self, key: Any) -> None:
        namespace, name = key
        d = self.store.get("apps/deployments", namespace, name)
        if d is None or d["metadata"].get("deletionTimestamp"):
            return
        uid = d["metadata"]["uid"]
        sets = [
            rs
            for rs in self.store.list("apps/replicasets", namespace)
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in rs["metadata"].get("ownerReferences") or []
            )
        ]
        spec = d["spec"]
        template = spec.get("template") or {}
        new = next(
            (rs for rs in sets if _without_hash(rs["spec"].get("template") or {}) == _without_hash(template)),
            None,
        )
        old = [rs for rs in sets if rs is not new]
        max_revision = max(
            (int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0) for rs in sets), default=0
        )
        replicas = int(spec.get("replicas", 1) or 0)
        if spec.get("paused"):
            self._sync_status(d, new, sets)
            return
        if new is None:
            new = self._create_set(d, template, max_revision + 1, replicas, old)
            if new is None:
                return
            sets.append(new)
        else:
            new = self._bump_revision(d, new, max_revision)
        self._annotate_revision(d, new)
        strategy = spec.get("strategy") or {}
        if strategy.get("type") == "Recreate":
            self._recreate(d, new, old, replicas)
        else:
            self._rolling(d, new, old, replicas, strategy.get("rollingUpdate") or {})
        self._cleanup(d, old)
        sets = [
            rs
            for rs in self.store.list("apps/replicasets", namespace)
            if any(r.get("uid") == uid for r in rs["metadata"].get("ownerReferences") or [])
        ]
        new = next((rs for rs in sets if rs["metadata"]["name"] == new["metadata"]["name"]), new)
        self._sync_status(d, new, sets)

    # --- replica sets ----------------------------------------------------------------------------

    def _create_set(self, d: Obj, template: Obj, revision: int, replicas: int, old: list[Obj]) -> Obj | None:
        collisions = int(d.get("status", {}).get("collisionCount") or 0)
        h = template_hash(template, collisions)
        t = copy.deepcopy(template)
        t.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = h
        selector = copy.deepcopy(d["spec"].get("selector") or {})
        selector.setdefault("matchLabels", {})[HASH_LABEL] = h
        strategy = d["spec"].get("strategy") or {}
        surge = _resolve((strategy.get("rollingUpdate") or {}).get("maxSurge", "25%"), replicas, True)
        annotations = {
            k: v
            for k, v in (d["metadata"].get("annotations") or {}).items()
            if k != "kubectl.kubernetes.io/last-applied-configuration" and k != REVISION
        }
        annotations.update(
            {DESIRED: str(replicas), MAX_REPLICAS: str(replicas + surge), REVISION: str(revision)}
        )
        initial = replicas if not any(int(rs["spec"].get("replicas") or 0) for rs in old) else 0
        if strategy.get("type") == "Recreate":
            initial = 0
        rs = {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {
                "name": f"{d['metadata']['name']}-{h}",
                "namespace": d["metadata"]["namespace"],
                "labels": dict(t["metadata"]["labels"]),
                "annotations": annotations,
                "ownerReferences": [controller_ref(d)],
            },
            "spec": {
                "replicas": initial,
                "minReadySeconds": int(d["spec"].get("minReadySeconds") or 0),
                "selector": selector,
                "template": t,
            },
        }
        try:
            created = self.api.create(
                self.api.kind("apps/replicasets"), rs, namespace=d["metadata"]["namespace"]
            )
        except ApiError as exc:
            if exc.code == 409:
                self.api.mutate(
                    "apps/deployments",
                    d["metadata"]["namespace"],
                    d["metadata"]["name"],
                    lambda o: o.setdefault("status", {}).__setitem__("collisionCount", collisions + 1),
                    subresource="status",
                )
            return None
        if initial:
            self._scaled(d, created, 0, initial)
        self._progress(d, "NewReplicaSetCreated", f'Created new replica set "{created["metadata"]["name"]}"')
        return created

    def _annotate_revision(self, d: Obj, new: Obj) -> None:
        """The Deployment carries its new ReplicaSet's revision (``kubectl rollout undo`` patches it)."""
        revision = (new["metadata"].get("annotations") or {}).get(REVISION)
        if not revision or (d["metadata"].get("annotations") or {}).get(REVISION) == revision:
            return

        def annotate(obj: Obj) -> None:
            obj["metadata"].setdefault("annotations", {})[REVISION] = revision

        # through /status, as sync.go's getNewReplicaSet does (UpdateStatus): generation stays
        self.api.mutate(
            "apps/deployments",
            d["metadata"]["namespace"],
            d["metadata"]["name"],
            annotate,
            subresource="status",
        )

    def _bump_revision(self, d: Obj, rs: Obj, max_revision: int) -> Obj:
        annotations = rs["metadata"].get("annotations") or {}
        current = int(annotations.get(REVISION, "0") or 0)
        replicas = int(d["spec"].get("replicas", 1) or 0)
        want_desired = str(replicas)
        if current >= max_revision and annotations.get(DESIRED) == want_desired:
            return rs

        def bump(obj: Obj) -> None:
            ann = obj["metadata"].setdefault("annotations", {})
            if current < max_revision:
                history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h]
                ann[REVISION_HISTORY] = ",".join([*history, str(current)])
                ann[REVISION] = str(max_revision + 1)
            ann[DESIRED] = want_desired

        return (
            self.api.mutate("apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], bump)
            or rs
        )

    def _scale(self, d: Obj, rs: Obj, replicas: int) -> Obj:
        before = int(rs["spec"].get("replicas") or 0)
        if before == replicas:
            return rs

        def set_replicas(obj: Obj) -> None:
            obj["spec"]["replicas"] = replicas
            obj["metadata"].setdefault("annotations", {})[DESIRED] = str(
                int(d["spec"].get("replicas", 1) or 0)
            )

        updated = self.api.mutate(
            "apps/replicasets", rs["metadata"]["namespace"], rs["metadata"]["name"], set_replicas
        )
        self._scaled(d, rs, before, replicas)
        return updated or rs

    def _scaled(self, d: Obj, rs: Obj, before: int, after: int) -> None:
        word = "up" if after > before else "down"
        self.events.record(
            d,
            "Normal",
            "ScalingReplicaSet",
            f"Scaled {word} replica set {rs['metadata']['name']} from {before} to {after}",
            self.name,
        )

    def _available(self, rs: Obj) -> int:
        """The available pods of a ReplicaSet — what its status says once the ReplicaSet controller has
        caught up, counted from the pods themselves: a status written before the set was scaled down still
        counts the pods being deleted, and trusting it would take away more than maxUnavailable.  A set
        scaled below its available pods keeps that many (its controller deletes unavailable pods first)."""
        uid = rs["metadata"]["uid"]
        min_ready = int(rs["spec"].get("minReadySeconds") or 0)
        now = time.time()
        owned = (
            p
            for p in self.store.pods(rs["metadata"]["namespace"])
            if any(
                r.get("uid") == uid and r.get("controller")
                for r in p["metadata"].get("ownerReferences") or []
            )
        )
        available = sum(1 for p in owned if is_active(p) and is_available(p, min_ready, now))
        return min(available, int(rs["spec"].get("replicas") or 0))

    def _rolling(self, d: Obj, new: Obj, old: list[Obj], replicas: int, rolling: Obj) -> None:
        """rolloutRolling (pkg/controller/deployment/rolling.go): scale the new ReplicaSet up if it can
        (reconcileNewReplicaSet), else the old ones down if they can (reconcileOldReplicaSets) — one step per
        pass; the ReplicaSet events of each step bring the next pass."""
        surge = _resolve(rolling.get("maxSurge", "25%"), replicas, True)
        unavailable = min(_resolve(rolling.get("maxUnavailable", "25%"), replicas, False), replicas)
        if surge == 0 and unavailable == 0:  # ResolveFenceposts
            unavailable = 1
        active_old = [rs for rs in old if int(rs["spec"].get("replicas") or 0) > 0]
        new_count = int(new["spec"].get("replicas") or 0)
        # reconcileNewReplicaSet, NewRSNewReplicas: never more pods in all sets than replicas + maxSurge
        if new_count > replicas:
            self._scale(d, new, replicas)
            return
        if new_count < replicas:
            total = new_count + sum(int(rs["spec"].get("replicas") or 0) for rs in active_old)
            grow = min(replicas + surge - total, replicas - new_count)
            if grow > 0:
                self._scale(d, new, new_count + grow)
                return
        if not active_old:
            return
        # reconcileOldReplicaSets: what may go while replicas - maxUnavailable stay available, counting the
        # new set's pods that are not available yet as gone
        all_pods = new_count + sum(int(rs["spec"].get("replicas") or 0) for rs in active_old)
        min_available = replicas - unavailable
        new_unavailable = new_count - self._available(new)
        max_scaled_down = all_pods - min_available - new_unavailable
        if max_scaled_down <= 0:
            return
        oldest_first = sorted(active_old, key=lambda r: r["metadata"].get("creationTimestamp", ""))
        # cleanupUnhealthyReplicas: old pods that are not available go first, within max_scaled_down
        cleaned = 0
        for i, rs in enumerate(oldest_first):
            if cleaned >= max_scaled_down:
                break
            count = int(rs["spec"].get("replicas") or 0)
            unhealthy = count - self._available(rs)
            if count == 0 or unhealthy <= 0:
                continue
            down = min(max_scaled_down - cleaned, unhealthy)
            oldest_first[i] = self._scale(d, rs, count - down)
            cleaned += down
        # scaleDownOldReplicaSetsForRollingUpdate
        budget = sum(self._available(rs) for rs in [new, *oldest_first]) - min_available
        for rs in oldest_first:
            if budget <= 0:
                break
            count = int(rs["spec"].get("replicas") or 0)
            if count <= 0:
                continue
            down = min(count, budget)
            self._scale(d, rs, count - down)
            budget -= down

    def _recreate(self, d: Obj, new: Obj, old: list[Obj], replicas: int) -> None:
        active_old = [rs for rs in old if int(rs["spec"].get("replicas") or 0) > 0]
        for rs in active_old:
            self._scale(d, rs, 0)
        if active_old:
            return
        namespace = d["metadata"]["namespace"]
        old_uids = {rs["metadata"]["uid"] for rs in old}
        if any(
            any(r.get("uid") in old_uids for r in p["metadata"].get("ownerReferences") or [])
            for p in self.store.pods(namespace)
        ):
            return  # wait until every old pod is gone
        self._scale(d, new, replicas)

    def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        limit = int(d["spec"].get("revisionHistoryLimit", 10))
        idle = [
            rs
            for rs in old
            if int(rs["spec"].get("replicas") or 0) == 0 and not rs.get("status", {}).get("replicas")
        ]
        idle.sort(key=lambda rs: int((rs["metadata"].get("annotations") or {}).get(REVISION, "0") or 0))
        for rs in idle[: max(len(idle) - limit, 0)]:
            try:
                self.api.delete(
                    self.api.kind("apps/replicasets"), rs["metadata"]["namespace"], rs["metadata"]["name"]
                )
            except ApiError:
                pass

    # --- status ----------------------------------------------------------------------------------

    def _progress(self, d: Obj, reason: str, message: str) -> None:
        self._conditions(d, {"Progressing": ("True", reason, message)})

    def _conditions(self, d: Obj, wanted: dict[str, tuple[str, str, str]]) -> None:
        now = rfc3339(time.time())

        def write(obj: Obj) -> None:
            status = obj.setdefault("status", {})
            conditions = status.get("conditions") or []
            for ctype, (state, reason, message) in wanted.items():
                old = next((c for c in conditions if c.get("type") == ctype), None)
                cond = {
                    "type": ctype,
                    "status": state,
                    "lastUpdateTime": now,
                    "lastTransitionTime": old["lastTransitionTime"]
                    if old and old.get("status") == state
                    else now,
                    "reason": reason,
                    "message": message,
                }
                if (
                    old
                    and old.get("reason") == reason
                    and old.get("message") == message
                    and old.get("status") == state
                ):
                    cond["lastUpdateTime"] = old.get("lastUpdateTime", now)
                conditions = [c for c in conditions if c.get("type") != ctype] + [cond]
            order = {"Available": 0, "Progressing": 1, "ReplicaFailure": 2}
            status["conditions"] = sorted(conditions, key=lambda c: order.get(c.get("type"), 9))

        self.api.mutate(
            "apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"], write, subresource="status"
        )

    def _sync_status(self, d: Obj, new: Obj | None, sets: list[Obj]) -> None:
        d = self.store.get("apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"]) or d
        replicas = int(d["spec"].get("replicas", 1) or 0)
        strategy = d["spec"].get("strategy") or {}
        unavailable_max = 0
        if strategy.get("type", "RollingUpdate") == "RollingUpdate":
            rolling = strategy.get("rollingUpdate") or {}
            unavailable_max = _resolve(rolling.get("maxUnavailable", "25%"), replicas, False)
            if unavailable_max == 0 and _resolve(rolling.get("maxSurge", "25%"), replicas, True) == 0:
                unavailable_max = 1
        total = sum(int(rs.get("status", {}).get("replicas") or 0) for rs in sets)
        ready = sum(int(rs.get("status", {}).get("readyReplicas") or 0) for rs in sets)
        available = sum(int(rs.get("status", {}).get("availableReplicas") or 0) for rs in sets)
        updated = int((new or {}).get("status", {}).get("replicas") or 0)
        status: Obj = {"observedGeneration": d["metadata"].get("generation", 1)}
        if total:
            status["replicas"] = total
        if updated:
            status["updatedReplicas"] = updated
        if ready:
            status["readyReplicas"] = ready
        if available:
            status["availableReplicas"] = available
        if total - available > 0:
            status["unavailableReplicas"] = total - available
        status["terminatingReplicas"] = sum(
            int(rs.get("status", {}).get("terminatingReplicas") or 0) for rs in sets
        )
        if d.get("status", {}).get("collisionCount"):
            status["collisionCount"] = d["status"]["collisionCount"]
        if available >= replicas - unavailable_max:
            avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            avail = ("False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.")
        wanted = {"Available": avail}
        if new is not None:
            name = new["metadata"]["name"]
            complete = (
                updated == replicas
                and total == updated
                and available >= updated
                and int(new.get("status", {}).get("availableReplicas") or 0) >= replicas
            )
            if d["spec"].get("paused"):
                wanted["Progressing"] = ("Unknown", "DeploymentPaused", "Deployment is paused")
            elif complete:
                wanted["Progressing"] = (
                    "True",
                    "NewReplicaSetAvailable",
                    f'ReplicaSet "{name}" has successfully progressed.',
                )
            else:
                wanted["Progressing"] = ("True", "ReplicaSetUpdated", f'ReplicaSet "{name}" is progressing.')

        def write(obj: Obj) -> None:
            current = obj.get("status") or {}
            conditions = current.get("conditions") or []
            obj["status"] = {**status, "conditions": conditions}

        self.api.mutate(
            "apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"], write, subresource="status"
        )
        current = {
            c.get("type"): (c.get("status"), c.get("reason"), c.get("message"))
            for c in (
                self.store.get("apps/deployments", d["metadata"]["namespace"], d["metadata"]["name"]) or d
            )
            .get("status", {})
            .get("conditions")
            or []
        }
        if any(current.get(k) != v for k, v in wanted.items()):
            self._conditions(d, wanted)


def selector_matches(d: Obj, labels: dict[str, str] | None) -> bool:
    return label_selector_matches(d["spec"].get("selector"), labels)


__all__ = ["DeploymentController", "is_available", "template_hash"]
