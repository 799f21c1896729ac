"""The node agent: runs the scenario's pods on the container runtime and keeps their status current.

This is the kubelet's part of the demo.  It starts each scheduled pod's containers as real processes, writes
the container statuses a kubelet would (``ContainerCreating`` → ``running``; an unknown image →
``ErrImagePull``/``ImagePullBackOff``; an exited container → ``terminated`` or, under a restarting policy,
``CrashLoopBackOff`` with the kubelet's back-off), and answers the questions exec, attach and logs ask:
which runtime container is *running* under this pod and name, and whose output ``kubectl logs`` shows.
Containers the scenario freezes get their status without a process.  Ephemeral containers added through
the API start at once, never restart, share their target container's processes, and are reported in
``ephemeralContainerStatuses``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from . import objects
from .objects import Obj
from .scenario import ContainerSpec, FrozenStatus, PodSpec
from .store import Store

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0  # a container that ran this long starts its back-off afresh


def go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String`` for whole seconds: ``10s``, ``1m20s``, ``5m0s``."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s"
    h, m = divmod(m, 60)
    return f"{h}h{m}m{s}s"


@dataclass
class _Live:
    """What the node knows about one container of one pod."""

    spec: ContainerSpec
    init: bool
    state: Obj
    last_state: Obj = field(default_factory=dict)
    restart_count: int = 0
    cid: str | None = None
    started: bool = False
    ready: bool = False
    pulled: bool = True
    frozen: bool = False  # the scenario fixed this state; no process runs
    started_at: float = 0.0
    handle: Any = None  # the runtime Container while it runs
    exited: asyncio.Future[int] | None = None
    ephemeral: bool = False
    target: str = ""  # an ephemeral container's targetContainerName
    run: Any = None  # the runtime Container of the latest run, kept after it exits (for logs)
    previous_run: Any = None  # and of the run before it

    def status(self) -> Obj:
        return objects.container_status(
            self.spec.name,
            self.spec.image,
            self.state,
            last_state=self.last_state,
            restart_count=self.restart_count,
            cid=self.cid,
            ready=self.ready,
            started=None if self.ephemeral else self.started,
            pulled=self.pulled,
        )


@dataclass
class _Pod:
    spec: PodSpec
    uid: str
    containers: dict[str, _Live] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # started all it can for now
    timers: set[asyncio.TimerHandle] = field(default_factory=set)
    restarts: set[asyncio.Task[bool]] = field(default_factory=set)
    starting: int = 0  # run_container calls in flight: never cancelled, or a process would escape


class Node:
    """Owns the runtime's containers for every pod of the store."""

    def __init__(self, store: Store, runtime: Any, images: Any, node_name: str) -> None:
        self.store = store
        self.runtime = runtime
        self.images = images
        self.name = node_name
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._next_ip = 5
        self._stopping = False

    # --- queries -------------------------------------------------------------------------------

    def running_container(self, namespace: str, pod: str, name: str) -> Any | None:
        """The runtime container behind ``pod``/``name`` if it is running now, else None."""
        p = self._pods.get((namespace, pod))
        live = p.containers.get(name) if p else None
        if live is None or live.handle is None or "running" not in live.state:
            return None
        return live.handle

    def log_source(self, namespace: str, pod: str, name: str, previous: bool) -> tuple[Any, str]:
        """The runtime container whose output ``pods/log`` shows, or the kubelet's refusal.

        The kubelet's ``validateContainerLogStatus``: the current run while it runs or after it ended, the
        one before with ``previous``; a container that never ran has no logs.  ``(None, "")`` means an
        empty log (a container the scenario froze has no output to show).
        """
        p = self._pods.get((namespace, pod))
        live = p.containers.get(name) if p else None
        if live is None:
            return None, f'container "{name}" in pod "{pod}" is not available'
        waiting, last = live.state.get("waiting"), live.last_state.get("terminated")
        if previous:
            if last is None:
                return None, f'previous terminated container "{name}" in pod "{pod}" not found'
            return (live.previous_run if "running" in live.state else live.run), ""
        if waiting is not None and last is None:
            reason = waiting.get("reason", "")
            if reason == "ErrImagePull":
                reason = "image can't be pulled"
            elif reason == "ImagePullBackOff":
                reason = "trying and failing to pull image"
            return None, f'container "{name}" in pod "{pod}" is waiting to start: {reason}'
        return live.run, ""

    # --- lifecycle -----------------------------------------------------------------------------

    def add_pod(self, spec: PodSpec, created: float) -> None:
        """Create the pod object and start its containers in the background."""
        obj = objects.pod_object(spec, node=self.name, created=created)
        pod = _Pod(spec=spec, uid=obj["metadata"]["uid"])
        self._pods[(spec.namespace, spec.name)] = pod
        if spec.scheduled:
            ip = f"10.244.0.{self._next_ip}"
            self._next_ip += 1
            obj["status"].update(
                {
                    "hostIP": objects.HOST_IP,
                    "hostIPs": [{"ip": objects.HOST_IP}],
                    "podIP": ip,
                    "podIPs": [{"ip": ip}],
                    "startTime": objects.rfc3339(created),
                }
            )
            for c in spec.init_containers:
                pod.containers[c.name] = _Live(c, True, objects.waiting("PodInitializing"))
            initial = "PodInitializing" if spec.init_containers else "ContainerCreating"
            for c in spec.containers:
                pod.containers[c.name] = _Live(c, False, objects.waiting(initial))
            for live in pod.containers.values():
                if live.spec.status is not None:
                    self._freeze(live, live.spec.status, created)
            self._write_statuses(obj, pod)
        objects.refresh_status(obj, now=created, unschedulable_message=_unschedulable(spec))
        self.store.add_pod(obj)
        if spec.scheduled:
            pod.task = asyncio.get_running_loop().create_task(self._run_pod(pod))

    def add_ephemeral(self, namespace: str, pod_name: str, container: Obj) -> None:
        """Start an ephemeral container the API just added (``container`` is its normalized spec).

        Like a kubelet, only a scheduled pod that has not finished runs it; its status starts as
        ``ContainerCreating`` (one watch event) and becomes ``running`` once the process is up.
        """
        pod = self._pods.get((namespace, pod_name))
        obj = self.store.pod(namespace, pod_name)
        if pod is None or obj is None or self._stopping or not pod.spec.scheduled:
            return
        if obj["status"].get("phase") in ("Succeeded", "Failed"):
            return
        env = {
            str(e["name"]): str(e.get("value", ""))
            for e in container.get("env", [])
            if isinstance(e, dict) and "name" in e
        }
        spec = ContainerSpec(
            name=container["name"],
            image=container["image"],
            command=container.get("command"),
            args=container.get("args"),
            env=env,
            working_dir=container.get("workingDir"),
            tty=bool(container.get("tty")),
            stdin=bool(container.get("stdin")),
        )
        live = _Live(
            spec,
            False,
            objects.waiting("ContainerCreating"),
            ephemeral=True,
            target=container.get("targetContainerName", ""),
        )
        pod.containers[spec.name] = live
        self._sync(pod)
        task = asyncio.get_running_loop().create_task(self._start(pod, live))
        pod.restarts.add(task)
        task.add_done_callback(pod.restarts.discard)

    async def wait_settled(self, timeout: float = 30.0) -> None:
        """Wait until every pod has started what it can (a running init container counts as settled)."""
        waits = [asyncio.ensure_future(p.settled.wait()) for p in self._pods.values() if p.task is not None]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=timeout)
            for w in pending:
                w.cancel()

    async def stop(self) -> None:
        """Stop starting and restarting; wait for starts in flight, which then stop what they started."""
        self._stopping = True
        tasks: list[asyncio.Task[Any]] = []
        for pod in self._pods.values():
            for t in pod.timers:
                t.cancel()
            mine = [*pod.restarts, *([pod.task] if pod.task is not None else [])]
            if not pod.starting:  # waiting on an init container or finished: safe to cancel
                for task in mine:
                    task.cancel()
            tasks += mine
        for task in tasks:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(task), 30)

    # --- internals -----------------------------------------------------------------------------

    def _freeze(self, live: _Live, frozen: FrozenStatus, now: float) -> None:
        live.cid = objects.container_id()
        if frozen.state == "terminated":
            live.state = objects.terminated(frozen.exit_code, now, now, live.cid, frozen.reason)
        else:
            live.state = objects.waiting(frozen.reason or "ContainerCreating", frozen.message)
            live.restart_count = frozen.restart_count
            if frozen.last_exit_code is not None:
                live.last_state = objects.terminated(frozen.last_exit_code, now, now, live.cid)
        live.frozen = True

    def _write_statuses(self, obj: Obj, pod: _Pod) -> None:
        for live in pod.containers.values():
            wait = live.state.get("waiting")
            if wait is not None and wait.get("reason") == "CrashLoopBackOff" and not wait.get("message"):
                wait["message"] = (
                    f"back-off {go_duration(_backoff(live.restart_count))} restarting failed "
                    f"container={live.spec.name} pod={pod.spec.name}_{pod.spec.namespace}({pod.uid})"
                )
        inits = [live.status() for live in pod.containers.values() if live.init]
        regular = [live.status() for live in pod.containers.values() if not live.init and not live.ephemeral]
        ephemeral = [live.status() for live in pod.containers.values() if live.ephemeral]
        status = obj["status"]
        if inits:
            status["initContainerStatuses"] = inits
        status["containerStatuses"] = regular
        if ephemeral:
            status["ephemeralContainerStatuses"] = ephemeral

    def _sync(self, pod: _Pod) -> None:
        if self._stopping:
            return

        def mutate(obj: Obj) -> None:
            self._write_statuses(obj, pod)
            objects.refresh_status(obj, now=time.time())

        self.store.update_pod(pod.spec.namespace, pod.spec.name, mutate)

    async def _run_pod(self, pod: _Pod) -> None:
        try:
            for live in [lv for lv in pod.containers.values() if lv.init]:
                if live.frozen:
                    if "terminated" in live.state and live.state["terminated"]["exitCode"] == 0:
                        continue
                    return
                ok = await self._start(pod, live)
                if not ok:
                    return
                if live.spec.restart_policy == "Always":
                    continue  # a sidecar: keeps running next to the app containers
                pod.settled.set()  # the pod now waits for its init container, as long as that takes
                code = await live.exited if live.exited else 1
                if code != 0:
                    return  # the pod stays Init:Error; no init retries in the demo
            regular = [lv for lv in pod.containers.values() if not lv.init and not lv.ephemeral]
            for live in regular:
                if live.state.get("waiting", {}).get("reason") == "PodInitializing":
                    live.state = objects.waiting("ContainerCreating")
            self._sync(pod)
            for live in regular:
                if not live.frozen:
                    await self._start(pod, live)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug here must not take the server down; the pod just stops progressing
            log.exception("starting pod %s/%s failed", pod.spec.namespace, pod.spec.name)
        finally:
            pod.settled.set()

    async def _start(self, pod: _Pod, live: _Live) -> bool:
        """Start one container; False if it could not (image unknown, start error)."""
        if self._stopping:
            return False
        image = self.images.lookup(live.spec.image)
        if image is None:
            self._image_pull_failed(pod, live)
            return False
        loop = asyncio.get_running_loop()
        live.exited = loop.create_future()
        exited = live.exited

        def on_exit(code: int) -> None:
            def deliver() -> None:
                if not exited.done():
                    exited.set_result(code)
                self._on_exit(pod, live, code)

            loop.call_soon_threadsafe(deliver)

        target = pod.containers.get(live.target) if live.target else None
        # an ephemeral container sees its target's processes (the target must run for that)
        shared = {"share_pid_with": target.handle} if target is not None and target.handle else {}
        pod.starting += 1
        try:
            handle = await self.runtime.run_container(
                namespace=pod.spec.namespace,
                pod=pod.spec.name,
                name=live.spec.name,
                image=image,
                command=live.spec.command,
                args=live.spec.args,
                env=dict(live.spec.env) or None,
                working_dir=live.spec.working_dir,
                tty=live.spec.tty,
                stdin=live.spec.stdin,
                on_exit=on_exit,
                **shared,
            )
        except Exception as exc:  # StartError and friends: the container never ran
            pod.starting -= 1
            if self._stopping:
                return False
            message = getattr(exc, "message", str(exc))
            now = time.time()
            live.cid = objects.container_id()
            live.started = live.ready = False
            live.handle = None
            term = objects.terminated(128, now, now, live.cid, "StartError")
            term["terminated"]["message"] = message
            if _restart_policy(pod, live) == "Never":
                live.state = term
            else:
                live.restart_count += 1
                live.last_state = term
                live.state = objects.waiting("CrashLoopBackOff")
                self._schedule_restart(pod, live)
            self._sync(pod)
            return False
        pod.starting -= 1
        if self._stopping:  # the node stopped while this container started: it must not outlive the node
            with contextlib.suppress(Exception):
                await handle.stop()
            return False
        live.handle = handle
        live.previous_run, live.run = live.run, handle
        live.cid = objects.container_id()
        live.started_at = time.time()
        live.state = objects.running(live.started_at)
        live.started = True
        live.ready = not live.ephemeral  # ephemeral containers are never ready
        self._sync(pod)
        return True

    def _image_pull_failed(self, pod: _Pod, live: _Live) -> None:
        ref = objects.qualified_image(live.spec.image)
        live.pulled = False
        live.state = objects.waiting(
            "ErrImagePull",
            f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found',
        )
        self._sync(pod)

        def backoff() -> None:
            live.state = objects.waiting("ImagePullBackOff", f'Back-off pulling image "{live.spec.image}"')
            self._sync(pod)

        pod.timers.add(asyncio.get_running_loop().call_later(1.0, backoff))

    def _on_exit(self, pod: _Pod, live: _Live, code: int) -> None:
        if self._stopping or live.handle is None:
            return
        log.info("container %s/%s/%s exited with %d", pod.spec.namespace, pod.spec.name, live.spec.name, code)
        now = time.time()
        live.handle = None
        live.ready = live.started = False
        term = objects.terminated(code, live.started_at, now, live.cid or objects.container_id())
        policy = _restart_policy(pod, live)
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            if now - live.started_at >= BACKOFF_RESET:
                live.restart_count = 0
            live.restart_count += 1
            live.last_state = term
            live.state = objects.waiting("CrashLoopBackOff")
            self._schedule_restart(pod, live)
        else:
            live.state = term
        self._sync(pod)

    def _schedule_restart(self, pod: _Pod, live: _Live) -> None:
        delay = 0.0 if live.restart_count <= 1 else _backoff(live.restart_count)

        def restart() -> None:
            if self._stopping:
                return
            task = asyncio.get_running_loop().create_task(self._start(pod, live))
            pod.restarts.add(task)

            def done(t: asyncio.Task[bool]) -> None:
                pod.restarts.discard(t)
                if not t.cancelled() and t.exception() is not None:
                    log.error("restarting %s/%s failed: %r", pod.spec.name, live.spec.name, t.exception())

            task.add_done_callback(done)

        pod.timers.add(asyncio.get_running_loop().call_later(delay, restart))


def _restart_policy(pod: _Pod, live: _Live) -> str:
    """Sidecars always restart; ephemeral containers never; the demo does not retry init containers."""
    if live.init:
        return "Always" if live.spec.restart_policy == "Always" else "Never"
    return "Never" if live.ephemeral else pod.spec.restart_policy


def _backoff(restart_count: int) -> float:
    """The kubelet's crash back-off before restart number ``restart_count + 1``."""
    return min(BACKOFF_INITIAL * 2 ** max(restart_count - 2, 0), BACKOFF_MAX)


def _unschedulable(spec: PodSpec) -> str:
    if any(c.cpu for c in spec.containers):
        return (
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
            "1 No preemption victims found for incoming pod."
        )
    return "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector."
