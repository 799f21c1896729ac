"""The node agent: runs the scenario's pods on the container runtime and keeps their status current.

This is the kubelet's part of the demo.  It starts each scheduled pod's containers as real processes, writes
the container statuses a kubelet would (``ContainerCreating`` → ``running``; an unknown image →
``ErrImagePull``/``ImagePullBackOff``; an exited container → ``terminated`` or, under a restarting policy,
``CrashLoopBackOff`` with the kubelet's back-off), and answers the questions exec, attach and logs ask:
which runtime container is *running* under this pod and name, and whose output ``kubectl logs`` shows.
Containers the scenario freezes keep the status it gives them; one that has run in that state (terminated,
or waiting with a last termination) runs its command once, so that its logs are what it printed.
Ephemeral containers added through the API start at once, never restart, share their target container's
processes, and are reported in ``ephemeralContainerStatuses``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from . import kubelet_security, node_lease, objects
from .controllers.base import node_capacity
from .controllers.scheduler import quantity
from .objects import Obj
from .scenario import ContainerSpec, FrozenStatus, PodSpec
from .store import Store
from .volumes import MountError, Volumes

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 10.0
BACKOFF_MAX = 300.0
BACKOFF_RESET = 600.0  # a container that ran this long starts its back-off afresh
REPLAY_LIMIT = 5.0  # how long a frozen container's replay may run (see Node._replay)
POD_HOSTS = range(5, 255)  # 10.244.0.5-254: the node's pod range, as the runtime's IPAM (runtime/network.py)


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
    restart_count: int = 0  # containers made after the first: bumped when a restart makes one, never reset
    crashes: int = 0  # exits since the kubelet's back-off for this container was last reset
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
    raw: Obj | None = None  # the container as the pod spec has it (env sources, probes, ports)
    probing: asyncio.Task[None] | None = None
    replay: asyncio.Task[None] | None = None  # a frozen container's one run, for its logs (see _replay)

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
    namespace: str
    name: str
    uid: str
    restart_policy: str
    containers: dict[str, _Live] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # started all it can for now
    timers: set[asyncio.TimerHandle] = field(default_factory=set)
    restarts: set[asyncio.Task[Any]] = field(default_factory=set)
    starting: int = 0  # run_container calls in flight: never cancelled, or a process would escape
    ip: str = ""
    sandbox: Any = None  # the runtime's Sandbox (its namespaces; the IP wired into them) once made
    sandbox_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # one sandbox, however many starts
    killing: bool = False
    probes: list[asyncio.Task[None]] = field(default_factory=list)
    volumes: Any = None  # volumes.PodVolumes once set up
    kubelet_home: Any = None  # the runtime's kubelet_dir once a setup was tried (what deletion cleans)
    mount_attempts: int = 0
    seen_meta: Any = None  # the labels and annotations its downward-API files were written from


class Node:
    """The kubelet: runs the containers of every pod bound to this node and reports their status."""

    def __init__(self, store: Store, runtime: Any, images: Any, node_name: str) -> None:
        self.store = store
        self.runtime = runtime
        self.images = images
        self.name = node_name
        self._pods: dict[tuple[str, str], _Pod] = {}
        self._ips_in_use: set[int] = set()  # pod addresses as numbers: 10.244.a.b is a * 256 + b
        self._last_ip = POD_HOSTS[-1]  # the address last given: the first pod gets .5
        self._overflow_ip = 256  # past the /24 (more pods than it holds: frozen scenario pods)
        self._stopping = False
        self.frozen: dict[tuple[str, str], dict[str, FrozenStatus]] = {}  # scenario statuses, by pod
        self.events: Any = None  # controllers.base.Events, set by the cluster
        self.api: Any = None  # verbs.Api, for the deletions a kubelet makes
        self.env: Any = None  # callable(pod, container) -> (env dict, error text): see kubelet_env
        self.volumes = Volumes(store, runtime, self._issue_token)
        self.ca_pem = b""  # the cluster CA, for pods' kube-api-access volumes (set by the cluster)
        #: Where pods reach the API server when they share the host's network (no pod network), set by the
        #: cluster: the ``kubernetes`` Service's variables then point there instead of its ClusterIP.
        self.api_endpoint: tuple[str, int] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        #: Closed while the cluster starts (:meth:`hold_replays`): frozen containers' one runs wait for it.
        self._replays_open = asyncio.Event()
        self._replays_open.set()

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
        empty log (a frozen container whose replay could not start).
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

    async def replayed(self, namespace: str, pod: str, name: str) -> None:
        """Wait until a frozen container's replay has written all it will (see :meth:`_replay`)."""
        p = self._pods.get((namespace, pod))
        live = p.containers.get(name) if p else None
        if live is not None and live.replay is not None:
            await asyncio.wait({live.replay}, timeout=REPLAY_LIMIT + 10)

    # --- the pods the API binds here -----------------------------------------------------------

    def start(self) -> None:
        """Follow the store: run every pod bound to this node, stop every pod being deleted."""
        self.store.listen(self._on_event)
        node = self.store.get("nodes", "", self.name)
        if node is not None and self.events is not None:
            node_lease.announce(self.events, node)
        if self.api is not None:
            node_lease.ensure(self.api, self.name)
            self._heartbeat = asyncio.get_running_loop().create_task(
                node_lease.heartbeat(self.api, self.name)
            )
        for obj in self.store.pods():
            if obj["spec"].get("nodeName") == self.name:
                self._admit(obj)

    def _on_event(self, event: Any) -> None:
        if event.resource in ("configmaps", "secrets") and not self._stopping:
            self._source_changed(event.resource, event.obj)
            return
        if event.resource != "pods" or self._stopping:
            return
        obj = event.obj
        key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
        pod = self._pods.get(key)
        if event.type == "DELETED":
            if pod is not None and pod.uid == obj["metadata"]["uid"]:
                self._forget(pod, force=True)
            return
        if obj["spec"].get("nodeName") != self.name:
            return
        if pod is None or pod.uid != obj["metadata"]["uid"]:
            if pod is not None:
                self._forget(pod, force=True)
            if not obj["metadata"].get("deletionTimestamp"):
                self._admit(obj)
            elif obj["status"].get("phase") in ("Succeeded", "Failed") or not obj["status"].get(
                "containerStatuses"
            ):
                asyncio.get_running_loop().call_soon(self._finish_deletion, obj)
            return
        if obj["metadata"].get("deletionTimestamp") and not pod.killing:
            pod.killing = True
            asyncio.get_running_loop().create_task(self._kill_pod(pod, obj))
        elif pod.volumes is not None and not pod.killing:
            meta = (obj["metadata"].get("labels"), obj["metadata"].get("annotations"))
            if meta != pod.seen_meta:  # downward-API files follow the pod's labels and annotations
                pod.seen_meta = meta
                self.volumes.refresh(obj, pod.volumes)

    def _allocate_ip(self) -> str:
        """The next free address after the last one given, wrapping around: host-local IPAM's round-robin
        (plugins/ipam/host-local/backend/allocator). A released address comes back last, not next: the
        node's neighbour cache keeps the gone pod's MAC for it a while, and a new pod there would be
        unreachable from the node (its probes, Services) for up to a minute."""
        size = len(POD_HOSTS)
        start = self._last_ip - POD_HOSTS[0]
        for step in range(1, size + 1):
            n = POD_HOSTS[(start + step) % size]
            if n not in self._ips_in_use:
                self._last_ip = n
                break
        else:
            n = self._overflow_ip
            while n in self._ips_in_use:
                n += 1
            self._overflow_ip = n + 1
        self._ips_in_use.add(n)
        return f"10.244.{n // 256}.{n % 256}"

    def _ip_in_use(self, ip: str, used: bool) -> None:
        """Mark a pod address (one given here, or one a restored pod had) taken or free."""
        with contextlib.suppress(ValueError):
            net, a, b = ip.rsplit(".", 2)
            if net == "10.244":
                n = int(a) * 256 + int(b)
                if used:
                    self._ips_in_use.add(n)
                else:
                    self._ips_in_use.discard(n)

    def _admit(self, obj: Obj) -> None:
        """A pod newly bound here: give it an IP, report it, start its containers in the background."""
        meta, spec = obj["metadata"], obj["spec"]
        key = (meta["namespace"], meta["name"])
        pod = _Pod(
            namespace=key[0], name=key[1], uid=meta["uid"], restart_policy=spec.get("restartPolicy", "Always")
        )
        self._pods[key] = pod
        if obj["status"].get("phase") in ("Succeeded", "Failed"):
            return
        now = time.time()
        pod.ip = obj["status"].get("podIP") or (
            objects.HOST_IP if spec.get("hostNetwork") else self._allocate_ip()
        )
        self._ip_in_use(pod.ip, True)  # a pod restored with its address keeps it
        frozen = self.frozen.get(key, {})
        for c in spec.get("initContainers") or []:
            pod.containers[c["name"]] = _Live(
                container_spec(c, frozen.get(c["name"])), True, objects.waiting("PodInitializing"), raw=c
            )
        initial = "PodInitializing" if spec.get("initContainers") else "ContainerCreating"
        for c in spec.get("containers") or []:
            pod.containers[c["name"]] = _Live(
                container_spec(c, frozen.get(c["name"])), False, objects.waiting(initial), raw=c
            )
        for live in pod.containers.values():
            if live.spec.status is not None:
                self._freeze(live, live.spec.status, now)

        def report(o: Obj) -> None:
            o["status"].update(
                {
                    "hostIP": objects.HOST_IP,
                    "hostIPs": [{"ip": objects.HOST_IP}],
                    "podIP": pod.ip,
                    "podIPs": [{"ip": pod.ip}],
                    "startTime": o["status"].get("startTime") or objects.rfc3339(now),
                }
            )
            self._write_statuses(o, pod)
            objects.refresh_status(o, now=now)

        self.store.update_pod(key[0], key[1], report)
        pod.task = asyncio.get_running_loop().create_task(self._run_pod(pod))
        for live in pod.containers.values():
            if live.frozen and ("terminated" in live.state or "terminated" in live.last_state):
                live.replay = asyncio.get_running_loop().create_task(self._replay(pod, live))
                pod.restarts.add(live.replay)
                live.replay.add_done_callback(pod.restarts.discard)

    def add_pod(self, spec: PodSpec, created: float) -> None:  # pragma: no cover - kept for old callers
        raise RuntimeError("pods are created through the API now (cluster.apply)")

    async def _kill_pod(self, pod: _Pod, obj: Obj) -> None:
        """Graceful deletion: ``Killing`` each running container (SIGTERM, the grace period, SIGKILL),
        report them terminated, then delete the pod object for good (grace 0, as the status manager)."""
        grace = float(obj["metadata"].get("deletionGracePeriodSeconds") or 0)
        for t in pod.timers:
            t.cancel()
        for task in [*pod.restarts, *([pod.task] if pod.task is not None and not pod.starting else [])]:
            task.cancel()
        stops = []
        for live in pod.containers.values():
            if live.probing is not None:
                live.probing.cancel()
            if live.handle is not None and "running" in live.state:
                self._record(obj, "Normal", "Killing", f"Stopping container {live.spec.name}", live)
                stops.append(self._stop_container(live, grace))
        if stops:
            await asyncio.gather(*stops, return_exceptions=True)
        if self._stopping:
            return
        self._sync(pod, force=True)
        self._finish_deletion(obj)

    async def _stop_container(self, live: _Live, grace: float) -> None:
        handle = live.handle
        started = live.started_at
        with contextlib.suppress(Exception):
            await handle.stop(grace)
        code = 137
        with contextlib.suppress(Exception):
            code = await asyncio.wait_for(handle.wait(), 1.0)
        now = time.time()
        live.handle = None
        live.ready = live.started = False
        live.state = objects.terminated(code, started, now, live.cid or objects.container_id())

    def _finish_deletion(self, obj: Obj) -> None:
        if self.api is None or self._stopping:
            return
        meta = obj["metadata"]
        with contextlib.suppress(Exception):
            self.api.delete(
                self.api.kind("pods"),
                meta["namespace"],
                meta["name"],
                options={"gracePeriodSeconds": 0, "preconditions": {"uid": meta["uid"]}},
            )

    def _forget(self, pod: _Pod, *, force: bool) -> None:
        """The pod object is gone (or replaced): kill whatever still runs, release its IP."""
        key = (pod.namespace, pod.name)
        if self._pods.get(key) is pod:
            del self._pods[key]
        pod.killing = True
        if pod.ip and pod.ip != objects.HOST_IP:
            self._ip_in_use(pod.ip, False)
        if pod.sandbox is not None:  # its namespaces live on while a container still runs in them
            sandbox, pod.sandbox = pod.sandbox, None
            asyncio.get_running_loop().create_task(_quietly(self.runtime.remove_sandbox(sandbox)))
        home = pod.volumes.home if pod.volumes is not None else pod.kubelet_home
        pod.volumes = pod.kubelet_home = None
        if home is not None:  # also what a failed setup left: the kubelet's cleanupOrphanedPodDirs
            self.volumes.teardown(home, pod.uid)
        for t in pod.timers:
            t.cancel()
        for task in [*pod.restarts, *([pod.task] if pod.task is not None and not pod.starting else [])]:
            task.cancel()
        for live in pod.containers.values():
            if live.probing is not None:
                live.probing.cancel()
            if live.handle is not None:
                handle, live.handle = live.handle, None
                asyncio.get_running_loop().create_task(_quietly(handle.stop(0)))

    def add_ephemeral(self, namespace: str, pod_name: str, container: Obj) -> None:
        """Start an ephemeral container the API just added (``container`` is its normalized spec).

        Like a kubelet, only a scheduled pod that has not finished runs it; its status starts as
        ``ContainerCreating`` (one watch event) and becomes ``running`` once the process is up.
        """
        pod = self._pods.get((namespace, pod_name))
        obj = self.store.pod(namespace, pod_name)
        if pod is None or obj is None or self._stopping or not obj["spec"].get("nodeName"):
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

    def hold_replays(self) -> None:
        """Frozen containers' runs (:meth:`_replay`) wait until :meth:`release_replays`: at a cluster start
        they would compete for the CPUs with the pods that really run (a third more CPU for the default
        scenario), and nothing needs them before someone reads their logs, which wait for them anyway."""
        self._replays_open.clear()

    def release_replays(self) -> None:
        self._replays_open.set()

    async def stop(self) -> None:
        """Stop starting and restarting; wait for starts in flight, which then stop what they started."""
        self._stopping = True
        self._replays_open.set()  # a held replay then sees the node stopping and ends
        if self._heartbeat is not None:
            self._heartbeat.cancel()
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
            live.crashes = frozen.restart_count + 1  # waiting after the exit of its latest container
            if frozen.last_exit_code is not None:
                live.last_state = objects.terminated(frozen.last_exit_code, now, now, live.cid)
        live.frozen = True

    def _write_statuses(self, obj: Obj, pod: _Pod) -> None:
        for live in pod.containers.values():
            wait = live.state.get("waiting")
            if wait is not None and wait.get("reason") == "CrashLoopBackOff" and not wait.get("message"):
                wait["message"] = (
                    f"back-off {go_duration(_backoff(live.crashes))} restarting failed "
                    f"container={live.spec.name} pod={pod.name}_{pod.namespace}({pod.uid})"
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

    def _sync(self, pod: _Pod, *, force: bool = False) -> None:
        if (
            self._stopping
            or (pod.killing and not force)
            or self._pods.get((pod.namespace, pod.name)) is not pod
        ):
            return

        def mutate(obj: Obj) -> None:
            self._write_statuses(obj, pod)
            objects.refresh_status(obj, now=time.time())

        self.store.update_pod(pod.namespace, pod.name, mutate)

    async def _sandbox(self, pod: _Pod) -> None:
        """The pod's sandbox (containerd's RunPodSandbox): its namespaces, with the pod IP wired in."""
        async with pod.sandbox_lock:  # a frozen container's replay may start next to a real one
            if pod.sandbox is None:
                pod.sandbox = await self.runtime.create_sandbox(
                    namespace=pod.namespace, pod=pod.name, uid=pod.uid, ip=pod.ip
                )

    def _issue_token(
        self, namespace: str, account: str, seconds: int, audiences: list[str] | None, pod: Obj
    ) -> str:
        """A bound service-account token for a projected volume (the kubelet's TokenRequest)."""
        tokens = getattr(self.api, "services", {}).get("tokens") if self.api is not None else None
        if tokens is None:
            return ""
        token, _ = tokens.issue(namespace, account, seconds=seconds, audiences=audiences, pod=pod)
        return str(token)

    # --- volumes (see volumes.py) --------------------------------------------------------------

    async def _mount(self, pod: _Pod) -> bool:
        """Set up the pod's volumes before any container starts; on failure the kubelet's ``FailedMount``
        event, and another try after a back-off (or as soon as a missing ConfigMap or Secret appears)."""
        if pod.volumes is not None:
            return True
        obj = self.store.pod(pod.namespace, pod.name)
        if obj is None or pod.killing:
            return False
        home = await self.runtime.kubelet_dir()
        if pod.killing:  # forgotten while we waited: make nothing its deletion would not clean
            return False
        pod.kubelet_home = home
        try:
            pod.volumes = self.volumes.setup(obj, home)
        except (MountError, OSError) as exc:
            self._record(obj, "Warning", "FailedMount", str(exc))
            delay = min(2.0**pod.mount_attempts, 32.0)
            pod.mount_attempts += 1
            pod.timers.add(asyncio.get_running_loop().call_later(delay, self._retry_mount, pod))
            return False
        pod.seen_meta = (obj["metadata"].get("labels"), obj["metadata"].get("annotations"))
        return True

    def _retry_mount(self, pod: _Pod) -> None:
        if self._stopping or pod.killing or pod.volumes is not None:
            return
        if self._pods.get((pod.namespace, pod.name)) is not pod:
            return
        if pod.task is not None and not pod.task.done():
            return
        pod.task = asyncio.get_running_loop().create_task(self._run_pod(pod))

    def _source_changed(self, resource: str, obj: Obj) -> None:
        """A ConfigMap or Secret changed: pods waiting for it try again now; pods reading it get new files."""
        namespace, name = obj["metadata"].get("namespace"), obj["metadata"].get("name")
        for pod in list(self._pods.values()):
            if pod.namespace != namespace or pod.killing:
                continue
            if pod.volumes is None and pod.mount_attempts:
                for timer in list(pod.timers):
                    timer.cancel()
                pod.timers.clear()
                self._retry_mount(pod)
            elif pod.volumes is not None and (resource, name) in pod.volumes.sources:
                current = self.store.pod(pod.namespace, pod.name)
                if current is not None:
                    self.volumes.refresh(current, pod.volumes)

    def _host_network_env(self, env: dict[str, str]) -> dict[str, str]:
        """No pod network: the ``kubernetes`` Service's ClusterIP is unreachable, so name the server."""
        if self.api_endpoint is None or "KUBERNETES_SERVICE_HOST" not in env:
            return env
        host, port = self.api_endpoint
        old = f"{env['KUBERNETES_SERVICE_HOST']}:{env.get('KUBERNETES_SERVICE_PORT', '443')}"
        fixed = {k: v.replace(old, f"{host}:{port}") for k, v in env.items()}
        fixed.update({"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": str(port)})
        for key in [k for k in fixed if k.startswith("KUBERNETES_PORT_443_TCP")]:
            fixed[key.replace("_443_", f"_{port}_")] = fixed.pop(key).replace("443", str(port))
        if "KUBERNETES_SERVICE_PORT_HTTPS" in fixed:
            fixed["KUBERNETES_SERVICE_PORT_HTTPS"] = str(port)
        return fixed

    async def open_connection(self, host: str, port: int, **kwargs: Any) -> Any:
        """``asyncio.open_connection`` as the node makes it: into the pod network, where there is one."""
        network = getattr(self.runtime, "network", None)
        if network is None:
            return await asyncio.open_connection(host, port, **kwargs)
        sock = await network.socket()
        try:
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, port))
        except BaseException:
            sock.close()
            raise
        return await asyncio.open_connection(sock=sock, server_hostname=kwargs.pop("server_hostname", None)
                                             if kwargs.get("ssl") else None, **kwargs)  # fmt: skip

    async def _run_pod(self, pod: _Pod) -> None:
        try:  # the sandbox comes with the first container that runs (frozen pods never need one)
            if any(not lv.frozen for lv in pod.containers.values()) and not await self._mount(pod):
                return
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
            log.exception("starting pod %s/%s failed", pod.namespace, pod.name)
        finally:
            pod.settled.set()

    def _run_config(self, pod: _Pod, live: _Live, obj: Obj | None) -> tuple[dict[str, Any], str]:
        """What the runtime needs to start ``live`` — its env resolved, ``$(VAR)`` expanded, the effective
        security context — or the kubelet's reason to refuse (``CreateContainerConfigError``'s text)."""
        target = pod.containers.get(live.target) if live.target else None
        # an ephemeral container sees its target's processes (the target must run for that)
        shared = {"share_pid_with": target.handle} if target is not None and target.handle else {}
        env = dict(live.spec.env)
        command, args = live.spec.command, live.spec.args
        if obj is not None and live.raw is not None and self.env is not None:
            resolved, problem = self.env(obj, live.raw)
            if problem:
                return {}, problem
            env = resolved
            command = _expand(command, env)
            args = _expand(args, env)
        security: dict[str, Any] = {}
        if obj is not None and live.raw is not None:
            refused = kubelet_security.verify_run_as_non_root(obj, live.raw)
            if refused:
                return {}, refused
            security = kubelet_security.runtime_security(obj, live.raw)
        if not getattr(self.runtime, "pod_network", False):
            env = self._host_network_env(env)
        config = {
            "namespace": pod.namespace,
            "pod": pod.name,
            "name": live.spec.name,
            "command": command,
            "args": args,
            "env": env or None,
            "working_dir": live.spec.working_dir,
            "tty": live.spec.tty,
            "stdin": live.spec.stdin,
            "volumes": self.volumes.mounts(live.raw or {}, pod.volumes, env),
            "oom_score_adj": oom_score_adj(obj, live.raw),
            "security": security,
        }
        return {**config, **shared}, ""

    async def _replay(self, pod: _Pod, live: _Live) -> None:
        """Run a frozen container's command once, so that its logs are what it prints, as on a node where
        it really ran: ``kubectl logs completed`` prints ``done``, and a crash-looping container's current
        and ``--previous`` logs are its last run's (the kubelet's ``validateContainerLogStatus`` shows a
        waiting container's ``lastState.terminated`` run).  The scenario's state stays as written; a run
        that has not ended after :data:`REPLAY_LIMIT` seconds is stopped, its output so far is its log.
        """
        await self._replays_open.wait()
        image = self.images.lookup(live.spec.image)
        if image is None or self._stopping or pod.killing:
            return
        config, problem = self._run_config(pod, live, self.store.pod(pod.namespace, pod.name))
        if problem:
            return
        pod.starting += 1
        try:
            await self._sandbox(pod)
            handle = await self.runtime.run_container(image=image, sandbox=pod.sandbox, **config)
        except Exception:  # a start error: the container never ran, so it has nothing to show
            return
        finally:
            pod.starting -= 1
        live.run = handle
        try:
            if not (self._stopping or pod.killing):
                await asyncio.wait_for(handle.wait(), REPLAY_LIMIT)
        except asyncio.TimeoutError:
            pass
        finally:
            await asyncio.shield(_quietly(handle.stop(0)))

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

        obj = self.store.pod(pod.namespace, pod.name)
        config, problem = self._run_config(pod, live, obj)
        if problem:
            self._config_error(pod, live, problem)
            return False
        if obj is not None and not live.ephemeral:
            self._record(
                obj,
                "Normal",
                "Pulled",
                f'Container image "{live.spec.image}" already present on machine',
                live,
            )
        pod.starting += 1
        try:
            await self._sandbox(pod)
            handle = await self.runtime.run_container(
                image=image, on_exit=on_exit, sandbox=pod.sandbox, **config
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
                live.crashes += 1
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
        raw = live.raw or {}
        live.started = not raw.get("startupProbe")
        live.ready = not live.ephemeral and live.started and not raw.get("readinessProbe")
        if obj is not None:
            self._record(obj, "Normal", "Created", f"Created container: {live.spec.name}", live)
            self._record(obj, "Normal", "Started", f"Started container {live.spec.name}", live)
        self._sync(pod)
        if (
            any(raw.get(p) for p in ("startupProbe", "readinessProbe", "livenessProbe"))
            and not live.ephemeral
        ):
            from .probes import run_probes

            live.probing = asyncio.get_running_loop().create_task(run_probes(self, pod, live, handle))
        return True

    # --- probes (see probes.py) ----------------------------------------------------------------

    def probe_host(self, pod: _Pod) -> str:
        """Where the node reaches a pod's ports: its IP on a per-pod network, else the shared host's."""
        return pod.ip if getattr(self.runtime, "pod_network", False) else "127.0.0.1"

    async def connect(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to a pod's port, as the kubelet opens one for port-forward and proxies."""
        live = self._pods.get((pod["metadata"]["namespace"], pod["metadata"]["name"]))
        network = getattr(self.runtime, "network", None)
        if network is not None and live is not None and live.sandbox is not None:
            # containerd's PortForward: dial localhost inside the pod's own network namespace
            sock = await network.socket(pod=live.sandbox.key)
            try:
                sock.setblocking(False)
                await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port)), 10)
            except BaseException:
                sock.close()
                raise
            return await asyncio.open_connection(sock=sock)
        host = self.probe_host(live) if live is not None else "127.0.0.1"
        return await asyncio.wait_for(asyncio.open_connection(host, port), 10)

    async def dial(self, pod: Obj, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP connection to ``podIP:port`` as the node network routes it (Services, ``pods/proxy``).

        Unlike :meth:`connect` (port-forward's ``localhost`` inside the pod), this reaches only what listens
        on the pod's ``eth0`` address, as on a real cluster.  Without a pod network: the host's loopback.
        """
        ip = pod.get("status", {}).get("podIP", "")
        if getattr(self.runtime, "network", None) is not None and ip:
            return await asyncio.wait_for(self.open_connection(ip, port), 10)
        return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)

    def probe_changed(self, pod: _Pod) -> None:
        self._sync(pod)

    def probe_failed(self, pod: _Pod, live: _Live, probe: str, output: str) -> None:
        obj = self.store.pod(pod.namespace, pod.name)
        if obj is not None:
            self._record(obj, "Warning", "Unhealthy", f"{probe.capitalize()} probe failed: {output}", live)

    async def probe_restart(self, pod: _Pod, live: _Live, handle: Any, probe: str) -> None:
        obj = self.store.pod(pod.namespace, pod.name)
        if obj is not None:
            self._record(
                obj,
                "Normal",
                "Killing",
                f"Container {live.spec.name} failed {probe} probe, will be restarted",
                live,
            )
        grace = float((obj or {}).get("spec", {}).get("terminationGracePeriodSeconds", 30) or 0)
        live.probing = None
        with contextlib.suppress(Exception):
            await handle.stop(grace)
        code = 137
        with contextlib.suppress(Exception):
            code = await asyncio.wait_for(handle.wait(), 1.0)
        if live.handle is handle:
            self._on_exit(pod, live, code)

    def _record(self, obj: Obj, kind: str, reason: str, message: str, live: _Live | None = None) -> None:
        if self.events is None:
            return
        path = ""
        if live is not None:
            section = (
                "initContainers" if live.init else "ephemeralContainers" if live.ephemeral else "containers"
            )
            path = f"spec.{section}{{{live.spec.name}}}"
        self.events.record(obj, kind, reason, message, "kubelet", field_path=path, host=True)

    def _config_error(self, pod: _Pod, live: _Live, problem: str) -> None:
        """``CreateContainerConfigError``: a missing ConfigMap/Secret key; retried like the kubelet does."""
        live.state = objects.waiting("CreateContainerConfigError", problem)
        obj = self.store.pod(pod.namespace, pod.name)
        if obj is not None:
            self._record(obj, "Warning", "Failed", f"Error: {problem}", live)
        self._sync(pod)

        def retry() -> None:
            if self._stopping or pod.killing:
                return
            task = asyncio.get_running_loop().create_task(self._start(pod, live))
            pod.restarts.add(task)
            task.add_done_callback(pod.restarts.discard)

        pod.timers.add(asyncio.get_running_loop().call_later(2.0, retry))

    def _image_pull_failed(self, pod: _Pod, live: _Live) -> None:
        ref = objects.qualified_image(live.spec.image)
        live.pulled = False
        detail = (
            f'failed to pull and unpack image "{ref}": failed to resolve reference "{ref}": {ref}: not found'
        )
        live.state = objects.waiting("ErrImagePull", detail)
        obj = self.store.pod(pod.namespace, pod.name)
        if obj is not None:
            self._record(obj, "Normal", "Pulling", f'Pulling image "{live.spec.image}"', live)
            self._record(
                obj, "Warning", "Failed", f'Failed to pull image "{live.spec.image}": {detail}', live
            )
            self._record(obj, "Warning", "Failed", "Error: ErrImagePull", live)
        self._sync(pod)

        def backoff() -> None:
            live.state = objects.waiting("ImagePullBackOff", f'Back-off pulling image "{live.spec.image}"')
            current = self.store.pod(pod.namespace, pod.name)
            if current is not None:
                self._record(
                    current, "Normal", "BackOff", f'Back-off pulling image "{live.spec.image}"', live
                )
                self._record(current, "Warning", "Failed", "Error: ImagePullBackOff", live)
            self._sync(pod)

        pod.timers.add(asyncio.get_running_loop().call_later(1.0, backoff))

    def _on_exit(self, pod: _Pod, live: _Live, code: int) -> None:
        if self._stopping or live.handle is None or pod.killing:
            return
        if live.probing is not None:
            live.probing.cancel()
            live.probing = None
        log.info("container %s/%s/%s exited with %d", pod.namespace, pod.name, live.spec.name, code)
        now = time.time()
        live.handle = None
        live.ready = live.started = False
        term = objects.terminated(code, live.started_at, now, live.cid or objects.container_id())
        policy = _restart_policy(pod, live)
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            if now - live.started_at >= BACKOFF_RESET:
                live.crashes = 0
            live.crashes += 1
            live.last_state = term
            live.state = objects.waiting("CrashLoopBackOff")
            if live.crashes > 1:  # doBackOff: the first exit restarts at once, later ones wait
                obj = self.store.pod(pod.namespace, pod.name)
                if obj is not None:
                    self._record(
                        obj,
                        "Warning",
                        "BackOff",
                        f"Back-off restarting failed container {live.spec.name} "
                        f"in pod {pod.name}_{pod.namespace}({pod.uid})",
                        live,
                    )
            self._schedule_restart(pod, live)
        else:
            live.state = term
        self._sync(pod)

    def _schedule_restart(self, pod: _Pod, live: _Live) -> None:
        delay = 0.0 if live.crashes <= 1 else _backoff(live.crashes)

        def restart() -> None:
            if self._stopping:
                return
            # restartCount is the new container's (kuberuntime's startContainer: the previous one's + 1):
            # while the back-off runs, the status still shows the count of the container that exited
            live.restart_count += 1
            task = asyncio.get_running_loop().create_task(self._start(pod, live))
            pod.restarts.add(task)

            def done(t: asyncio.Task[bool]) -> None:
                pod.restarts.discard(t)
                if not t.cancelled() and t.exception() is not None:
                    log.error("restarting %s/%s failed: %r", pod.name, live.spec.name, t.exception())

            task.add_done_callback(done)

        pod.timers.add(asyncio.get_running_loop().call_later(delay, restart))


def oom_score_adj(pod: Obj | None, container: Obj | None) -> int:
    """The kubelet's OOM score for a container (``GetContainerOOMScoreAdjust``, pkg/kubelet/qos/policy.go):
    BestEffort 1000, Guaranteed -997, Burstable 1000 - 1000·memory request/capacity within [3, 999]. The
    runtime keeps it at 3 or more: the demo's node is the notebook's machine (see runtime/limits.py)."""
    qos = ((pod or {}).get("status") or {}).get("qosClass", "BestEffort")
    if qos == "BestEffort":
        return 1000
    if qos == "Guaranteed":
        return -997
    request = quantity((((container or {}).get("resources") or {}).get("requests") or {}).get("memory", 0))
    score = 1000 - (1000 * int(request)) // node_capacity()[1]  # Go's int64 division
    return min(max(score, 1000 - 997), 999)


def _restart_policy(pod: _Pod, live: _Live) -> str:
    """Sidecars always restart; ephemeral containers never; the demo does not retry init containers."""
    if live.init:
        return "Always" if live.spec.restart_policy == "Always" else "Never"
    return "Never" if live.ephemeral else pod.restart_policy


def _backoff(crashes: int) -> float:
    """The kubelet's crash back-off after exit number ``crashes`` (the first restarts at once)."""
    return min(BACKOFF_INITIAL * 2 ** max(crashes - 2, 0), BACKOFF_MAX)


async def _quietly(coro: Any) -> None:
    with contextlib.suppress(Exception):
        await coro


def container_spec(c: Obj, frozen: FrozenStatus | None = None) -> ContainerSpec:
    """The runtime's view of a container of a pod spec (literal env only; sources resolve at start)."""
    env = {
        str(e["name"]): str(e.get("value", ""))
        for e in c.get("env") or []
        if isinstance(e, dict) and "name" in e and "valueFrom" not in e
    }
    return ContainerSpec(
        name=c["name"],
        image=c.get("image", ""),
        command=c.get("command"),
        args=c.get("args"),
        env=env,
        working_dir=c.get("workingDir"),
        tty=bool(c.get("tty")),
        stdin=bool(c.get("stdin")),
        restart_policy=c.get("restartPolicy"),
        status=frozen,
    )


def _expand(values: list[str] | None, env: dict[str, str]) -> list[str] | None:
    """``$(VAR)`` expansion of command and args (``$$`` escapes), as the kubelet does."""
    if values is None:
        return None
    from .kubelet_env import expand

    return [expand(v, env) for v in values]
