"""The :class:`Runtime`: owns the state directory, the isolation verdict, the node network, image layers,
pod sandboxes and containers — containerd's part of the demo cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from . import caps, limits, rootfs
from . import layers as layers_mod
from .container import Container
from .images import Image
from .isolation import Isolation, probe, random_base, uid_map
from .network import (
    API_SERVICE_IP,
    API_SERVICE_PORT,
    DNS_SERVICE_IP,
    IPAM,
    NetworkError,
    NodeNetwork,
    Sandbox,
)
from .userland import Staged, stage

PROCESS_BASE = random_base()

__all__ = ["Runtime"]

log = logging.getLogger(__name__)

CLUSTER_DOMAIN = "cluster.local"


def default_disk_size() -> int:
    """The node disk's size: a tenth of the machine's memory, at most 2 GiB (it is memory: a tmpfs)."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        memory = 8 << 30
    return max(64 << 20, min(2 << 30, memory // 10))


def hosts_file(ip: str, hostname: str) -> str:
    """``/etc/hosts`` as the kubelet writes it (``managedHostsFileContent`` in kubelet_pods.go)."""
    lines = [
        "# Kubernetes-managed hosts file.",
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "fe00::0\tip6-mcastprefix",
        "fe00::1\tip6-allnodes",
        "fe00::2\tip6-allrouters",
    ]
    if ip:
        lines.append(f"{ip}\t{hostname}")
    return "\n".join(lines) + "\n"


def resolv_conf(namespace: str) -> str:
    """``/etc/resolv.conf`` for ``dnsPolicy: ClusterFirst`` (containerd's ``parseDNSOptions`` order)."""
    search = f"{namespace}.svc.{CLUSTER_DOMAIN} svc.{CLUSTER_DOMAIN} {CLUSTER_DOMAIN}"
    return f"search {search}\nnameserver {DNS_SERVICE_IP}\noptions ndots:5\n"


class Runtime:
    """Runs demo containers as real processes (see the package docstring for the isolation modes).

    ``state_dir`` holds staged userlands for process mode; it should be private to this runtime. Image
    layers and mount points live in a temporary directory of their own, removed by :meth:`stop`.
    ``isolation``: ``"auto"`` (the most the probe finds), ``"namespaces"`` (raise if unavailable) or
    ``"process"``. ``disk_size``: bytes of the node's disk, which every container's writable layer shares
    (default :func:`default_disk_size`); ``pids_limit``: processes per pod (see :mod:`.limits`).
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        isolation: str = "auto",
        disk_size: int | None = None,
        pids_limit: int = limits.PIDS,
    ) -> None:
        if isolation not in ("auto", "namespaces", "process"):
            raise ValueError(f"isolation must be auto, namespaces or process, not {isolation!r}")
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if isolation == "process":
            self._isolation = Isolation("process", reason="requested")
        else:
            self._isolation = probe()
            if self._isolation.mode != "namespaces" and isolation == "namespaces":
                raise RuntimeError(f"namespace isolation is not available: {self._isolation.reason}")
        #: The resolved mode: ``"namespaces"`` or ``"process"``.
        self.isolation: str = self._isolation.mode
        #: True when namespaces come from an unprivileged user namespace (not running as root).
        self.userns: bool = self._isolation.userns
        #: What degrades on this machine, in one line ("" when nothing does); the cluster prints it.
        self.notice = self._isolation.notice if isolation == "auto" or self.isolation == "process" else ""
        self._base = PROCESS_BASE  # one uid range per process: its clusters share the image layers
        self._staged: dict[str, Staged] = {}
        self._layers: dict[str, layers_mod.Layer] = {}
        self._containers: set[Container] = set()
        self._implicit: dict[tuple[str, str], Sandbox] = {}
        self._sandboxes: dict[str, Sandbox] = {}
        self._ipam = IPAM()
        self._stopped = False
        #: The cluster's node network (``None`` in process mode, or where pods share the host network).
        self.network: NodeNetwork | None = None
        self._node: NodeNetwork | None = None
        #: What containers' roots are made of: image layers and empty mount points, nothing secret. Apart from
        #: ``state_dir`` (which may hold the cluster's keys) because a pod's root, another uid on the host
        #: when mapped, must be able to walk to it.
        self._public = Path(tempfile.mkdtemp(prefix="k8sterm-containers-"))
        os.chmod(self._public, 0o711)
        self.pids_limit = pids_limit
        #: Bytes of the node's disk: all containers' writable layers together (namespace mode).
        self.disk_size = disk_size or default_disk_size()
        self._disk = self._public / "disk"
        self._disk.mkdir()
        if self.isolation == "namespaces":
            owner = self._owner()
            self._node = NodeNetwork(
                own_userns=self._isolation.users == "own",
                uid_map=uid_map(self._isolation.users, self._base),
                network=self._isolation.network,
                disk=(str(self._disk), self.disk_size, owner[0] if owner else None),
            )
            self._node.spawn()  # it sets the node network up while the cluster starts its API
            if self._isolation.network:
                self.network = self._node

    def __repr__(self) -> str:
        return f"<Runtime {self.isolation} {self.state_dir} containers={len(self._containers)}>"

    @property
    def containers(self) -> list[Container]:
        """The containers of this runtime that are running (or starting)."""
        return list(self._containers)

    def api_endpoint(self, local_port: int) -> tuple[str, int]:
        """Where a pod reaches the API server (``KUBERNETES_SERVICE_HOST``/``_PORT``): the ``kubernetes``
        Service inside the pod network, else the server's own loopback port (pods share the host's)."""
        if self.network is not None:
            return API_SERVICE_IP, API_SERVICE_PORT
        return "127.0.0.1", local_port

    # -- images -------------------------------------------------------------------------------------------

    def _owner(self) -> tuple[int, int] | None:
        return (self._base, self._base) if self._isolation.users == "range" else None

    def layer(self, image: Image) -> layers_mod.Layer:
        """``image``'s layer, built on first use (and its notice logged once, if the host lacks parts)."""
        layer = self._layers.get(image.name)
        if layer is None:
            layer = layers_mod.cached(image, owner=self._owner(), uid_range=self._isolation.users != "own")
            if layer.notice:
                log.warning("%s", layer.notice)
            self._layers[image.name] = layer
        return layer

    def _stage(self, image: Image) -> Staged:
        staged = self._staged.get(image.name)
        if staged is None:
            staged = stage(image, self.state_dir, hardlink=False)  # process mode: copies, never links
            if staged.missing:
                log.info("image %s: the host lacks %s", image.name, ", ".join(staged.missing))
            self._staged[image.name] = staged
        return staged

    # -- sandboxes ----------------------------------------------------------------------------------------

    @property
    def pod_network(self) -> bool:
        """Pods have network namespaces of their own (reachable only through :attr:`network`)."""
        return self.network is not None

    async def create_sandbox(
        self, *, namespace: str, pod: str, uid: str | None = None, ip: str | None = None
    ) -> Sandbox:
        """A pod's sandbox: in namespace mode its user, network, UTS and IPC namespaces, with ``ip`` (the
        node's choice; else the runtime allocates one) on its ``eth0``."""
        if self._stopped:
            raise RuntimeError("runtime is stopped")
        key = uid or f"{namespace}/{pod}"
        if ip:
            self._ipam.reserve(key, ip)
        if self._node is None:
            sandbox = Sandbox(key=key, hostname=pod, ip=self._ipam.allocate(key))
        else:
            ip = self._ipam.allocate(key) if self._isolation.network else ""
            try:
                sandbox = await self._node.create_sandbox(key, pod, ip)
            except BaseException:
                self._ipam.release(key)
                raise
            if not sandbox.ip:  # pods share the host's network: the pod IP is for show only
                sandbox.ip = self._ipam.allocate(key)
        self._sandboxes[key] = sandbox
        return sandbox

    async def remove_sandbox(self, sandbox: Sandbox) -> None:
        """Release a sandbox whose containers have all stopped (its namespaces go with the last user)."""
        self._sandboxes.pop(sandbox.key, None)
        self._ipam.release(sandbox.key)
        if self._node is not None:
            with contextlib.suppress(NetworkError, OSError):
                await self._node.remove_sandbox(sandbox)
        sandbox.close()

    # -- containers ---------------------------------------------------------------------------------------

    def _env(
        self, image: Image, staged: Staged, pod: str, env: dict[str, str] | None, uid: int = 0
    ) -> dict[str, str]:
        """Image env, then ``HOSTNAME``, then the container's env, then ``HOME`` if still unset: the user's
        home in the image's ``/etc/passwd``, or ``/`` (runc's ``setupUser``)."""
        result = dict(image.env)
        result["HOSTNAME"] = pod
        result.update(env or {})
        result.setdefault("HOME", "/root" if uid == 0 else self._home(image, uid))
        if self.isolation == "process" and staged.bin_dir is not None:
            # No mount namespace to hide the host's programs: the staged directory is all PATH offers.
            result["PATH"] = str(staged.bin_dir)
        return result

    def _passwd(self, image: Image, uid: int) -> list[str] | None:
        """The image's ``/etc/passwd`` entry of ``uid`` (its fields), if it has one."""
        if self.isolation == "namespaces":
            with contextlib.suppress(OSError):
                for line in (self.layer(image).root / "etc" / "passwd").read_text().splitlines():
                    fields = line.split(":")
                    if len(fields) > 5 and fields[2] == str(uid):
                        return fields
        return None

    def _home(self, image: Image, uid: int) -> str:
        entry = self._passwd(image, uid)
        return (entry[5] or "/") if entry else "/"

    def _user(self, image: Image, security: dict) -> list | None:
        """``[uid, gid, groups]`` to become, or None to stay root. Without ``runAsGroup`` the gid is the
        user's in the image's ``/etc/passwd``, else 0 (containerd's ``WithUserID``)."""
        uid, gid, groups = security.get("uid"), security.get("gid"), list(security.get("groups") or ())
        if uid is None and gid is None and not groups:
            return None
        uid = int(uid or 0)
        if gid is None:
            entry = self._passwd(image, uid)
            gid = int(entry[3]) if entry and entry[3].isdigit() else 0
        return [uid, int(gid), [int(g) for g in groups]]

    # -- the kubelet's directories --------------------------------------------------------------------

    async def kubelet_dir(self) -> tuple[Path, str] | None:
        """The kubelet's directory on the node's disk (pods' volumes, and ``node/``, the node's own file
        system that ``hostPath`` volumes use), as two paths: how this process reaches it (through the node
        helper's mount namespace, ``/proc/<helper>/root/…``) and how the containers' shims see it. Made on
        first call; ``None`` in process mode, where nothing is mounted. Being on the node's disk, what pods
        write into ``emptyDir`` and ``hostPath`` volumes counts against its size, like their writable layers.
        """
        if self.isolation != "namespaces" or self._node is None:
            return None
        await self._node.ready()
        pid = self._node.pid
        if pid is None:
            return None
        node = f"{self._disk}/kubelet"
        server = Path(f"/proc/{pid}/root{node}")
        if not server.exists():
            server.mkdir(mode=0o711)
            self.give(server)
        return server, node

    @property
    def owner(self) -> tuple[int, int] | None:
        """The pods' root as the host knows it (its uid range's first id); ``None``: this very user."""
        return self._owner()

    def give(self, path: Path) -> None:
        """Hand ``path`` to the pods' root, so it is root's inside containers."""
        owner = self._owner()
        if owner is not None:
            os.lchown(path, *owner)

    def _launch(
        self,
        image: Image,
        sandbox: Sandbox,
        namespace: str,
        service_account: dict[str, str] | None,
        security: dict | None = None,
        volumes: list[rootfs.VolumeMount] | None = None,
    ) -> dict:
        security = security or {}
        layer = self.layer(image)
        root = self._public / "rootfs"
        root.mkdir(exist_ok=True)
        disk_dir = uuid.uuid4().hex
        scratch = self._disk / disk_dir  # made by the container's pid 1, on the node's disk
        files = {
            "/etc/hostname": sandbox.hostname + "\n",
            "/etc/hosts": hosts_file(sandbox.ip if self._isolation.network else "", sandbox.hostname),
            "/etc/resolv.conf": resolv_conf(namespace),
        }
        if not self._isolation.network:
            files["/etc/hosts"] = hosts_file(sandbox.ip, sandbox.hostname)
        mounts = rootfs.plan(
            str(root),
            str(scratch),
            layer,
            files=files,
            service_account=service_account,
            userns=self._isolation.users != "none",
            sysfs=self._isolation.network,
            tty_gid=self._isolation.users != "own",
            read_only_root=bool(security.get("read_only_root")),
            volumes=volumes or (),
        )
        namespaces: list[tuple[str, int]] = []
        if self._node is not None and self._node.userns_fd is not None:
            namespaces.append(("node_user", self._node.userns_fd))
        if self._node is not None and self._node.mntns_fd is not None:
            namespaces.append(("node_mnt", self._node.mntns_fd))  # before the pod's user namespace
        for kind in ("user", "net", "uts", "ipc"):
            if kind in sandbox.fds:
                namespaces.append((kind, sandbox.fds[kind]))
        return {
            "namespaces": namespaces,
            "mounts": mounts,
            "root": str(root),
            "owner": self._owner(),
            "disk_dir": disk_dir,
            "pids": self.pids_limit,
            "caps": caps.effective(security.get("add") or (), security.get("drop") or ()),
            "user": self._user(image, security),
        }

    async def run_container(
        self,
        *,
        namespace: str,
        pod: str,
        name: str,
        image: Image,
        command: list[str] | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        working_dir: str | None = None,
        tty: bool = False,
        stdin: bool = False,
        on_exit: Callable[[int], None] | None = None,
        share_pid_with: Container | None = None,
        sandbox: Sandbox | None = None,
        service_account: dict[str, str] | None = None,
        oom_score_adj: int = 1000,
        security: dict | None = None,
        volumes: list[rootfs.VolumeMount] | None = None,
    ) -> Container:
        """Start a container in ``sandbox`` (one of its own pod's, made on first use, if ``None``) and
        return once its main process runs.

        Raises :class:`~.errors.StartError` (runc's wording) when the main process cannot be started, e.g.
        its command is not in the image. ``on_exit(code)`` is called from the event loop when the
        container's main process exits on its own — not after :meth:`Container.stop` or :meth:`stop`.
        ``share_pid_with``: a running container whose PID namespace this one joins (an ephemeral debug
        container's target); ignored in process mode. ``service_account``: file name -> content of the
        projected service-account volume (``token``, ``ca.crt``, ``namespace``). ``oom_score_adj``: the
        kubelet's for the container's QoS class (BestEffort: 1000; see :mod:`.limits`). ``security``: the
        effective security context as the kubelet hands it to the runtime — ``uid``, ``gid``, ``groups``
        (``runAsUser``, ``runAsGroup``, supplemental groups), ``add``/``drop`` (capabilities; only the
        default set and :data:`.caps.GRANTABLE` can be granted) and ``read_only_root``.
        ``volumes``: the pod's volumes for this container, bound into its root (namespace mode only).
        """
        if self._stopped:
            raise RuntimeError("runtime is stopped")
        if sandbox is None:
            sandbox = self._implicit.get((namespace, pod))
            if sandbox is None:
                sandbox = await self.create_sandbox(namespace=namespace, pod=pod)
                self._implicit[(namespace, pod)] = sandbox
        staged = self._stage(image) if self.isolation == "process" else Staged()
        launch = (
            self._launch(image, sandbox, namespace, service_account, security or {}, volumes)
            if self.isolation == "namespaces"
            else None
        )
        if launch is not None:
            launch["oom_score_adj"] = oom_score_adj
        container = Container(
            namespace=namespace,
            pod=pod,
            name=name,
            image=image,
            isolation=self._isolation,
            staged=staged,
            env=self._env(image, staged, pod, env, int((security or {}).get("uid") or 0)),
            tty=tty,
            stdin=stdin,
            on_exit=on_exit,
            share_pid_with=share_pid_with,
            launch=launch,
            node_user=self._node.userns_fd if self._node is not None else None,
        )
        container._on_finished = self._finished
        self._containers.add(container)
        try:
            argv = image.argv(command, args)
            if self.isolation == "process" and not command and image.process_mode_argv:
                argv = list(image.process_mode_argv)
            await container._start(argv, working_dir or image.working_dir)
        except BaseException:
            self._containers.discard(container)
            raise
        if self._stopped:  # stop() ran while this one was starting
            await container.stop()
        return container

    def _finished(self, container: Container) -> None:
        """A container has ended: forget it and free its writable layer on the node's disk."""
        self._containers.discard(container)
        disk_dir = container._launch.get("disk_dir")
        if disk_dir and self._node is not None and not self._stopped:
            asyncio.get_running_loop().create_task(self._node.forget(disk_dir))

    async def stop(self) -> None:
        """Kill every container and exec session, then end the node network. Idempotent."""
        self._stopped = True
        containers = list(self._containers)
        self._containers.clear()
        await asyncio.gather(*(c.stop() for c in containers))
        for sandbox in list(self._sandboxes.values()):
            sandbox.close()
        self._sandboxes.clear()
        self._implicit.clear()
        if self._node is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._node.stop_sync)
        shutil.rmtree(self._public, ignore_errors=True)
