"""The cluster's node network, server side: address plan, pod sandboxes, sockets inside the cluster.

One :class:`NodeNetwork` per cluster drives the node helper (``_node.py``, see there for what it builds).
The address plan is kind's:

============================  =====================================================================
``10.244.0.0/24``             pod network; ``10.244.0.1`` is the bridge ``cni0`` in the node netns,
                              pods get ``10.244.0.5`` and up (kind's first pods do, after CoreDNS)
``10.96.0.0/12``              Service ClusterIPs: ``10.96.0.1`` is the ``kubernetes`` Service (the API
                              server, reached through a socket the API server listens on in the node
                              netns), ``10.96.0.10`` the cluster DNS
``172.18.0.2``                the node's address (``status.hostIP``), also on the node netns' ``lo``
============================  =====================================================================

Everything of a cluster's network lives in namespaces of its own, so any number of clusters run side by
side: no host interface, route, bridge or iptables rule is ever touched. A process of the server reaches
into the cluster's network only through sockets the helper makes there (:meth:`NodeNetwork.socket`): a
listener on a Service address in the node netns (the API server's today; the cluster DNS and Service
proxies can be added the same way), or a socket inside a pod's netns that the server then connects to
``127.0.0.1:port`` (port-forward).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "API_SERVICE_IP",
    "API_SERVICE_PORT",
    "DNS_SERVICE_IP",
    "GATEWAY",
    "NODE_IP",
    "POD_CIDR",
    "SERVICE_CIDR",
    "NetworkError",
    "NodeNetwork",
    "Sandbox",
]

log = logging.getLogger(__name__)

POD_CIDR = ipaddress.ip_network("10.244.0.0/24")
GATEWAY = "10.244.0.1"
FIRST_POD_HOST = 5
SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
API_SERVICE_IP = "10.96.0.1"
API_SERVICE_PORT = 443
DNS_SERVICE_IP = "10.96.0.10"
NODE_IP = "172.18.0.2"  # kind's node address on its docker network; objects.HOST_IP says the same
BRIDGE = "cni0"
HELPER = str(Path(__file__).with_name("_node.py"))
START_TIMEOUT = 20.0


class NetworkError(OSError):
    """The node helper could not do what was asked (its own words)."""


@dataclass
class Sandbox:
    """A pod's namespaces (what a pause container holds): the containers of the pod join them.

    ``fds`` maps ``user``/``net``/``uts``/``ipc`` to descriptors this process holds open; a namespace
    lives as long as one of them or a process inside it does. ``ip`` is the pod IP (empty without a pod
    network).
    """

    key: str
    hostname: str
    ip: str
    fds: dict[str, int] = field(default_factory=dict)
    closed: bool = False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            for fd in self.fds.values():
                with contextlib.suppress(OSError):
                    os.close(fd)


class IPAM:
    """host-local IPAM for the node's pod range, from ``.5``, round-robin as host-local allocates: the next
    free address after the last one given, so a released one comes back last (the node's neighbour cache
    may still hold the gone pod's MAC for it)."""

    def __init__(
        self, network: ipaddress.IPv4Network | ipaddress.IPv6Network = POD_CIDR, first: int = FIRST_POD_HOST
    ) -> None:
        self._hosts = [str(ip) for ip in list(network.hosts())[first - 1 :]]
        self._taken: dict[str, str] = {}  # ip -> owner key
        self._last = -1  # index in _hosts of the address last given

    def allocate(self, key: str) -> str:
        for ip, owner in self._taken.items():
            if owner == key:
                return ip
        for step in range(1, len(self._hosts) + 1):
            index = (self._last + step) % len(self._hosts)
            ip = self._hosts[index]
            if ip not in self._taken:
                self._taken[ip] = key
                self._last = index
                return ip
        raise NetworkError(f"no free address in {POD_CIDR}")

    def reserve(self, key: str, ip: str) -> None:
        """Record ``ip`` (chosen elsewhere) as ``key``'s, so :meth:`allocate` returns it."""
        self.release(key)
        self._taken[ip] = key

    def release(self, key: str) -> None:
        for ip, owner in list(self._taken.items()):
            if owner == key:
                del self._taken[ip]


class NodeNetwork:
    """One cluster's node helper: start it, make sandboxes and sockets through it, stop it.

    ``own_userns``: the server is not root, so the helper makes a user namespace first (all sandboxes
    then live below it; :attr:`userns_fd` is it, for containers to join first). ``uid_map``: how a pod's
    user namespace maps its ids (``None``: pods get no user namespace). ``network``: False where the
    kernel refuses network namespaces or veth pairs; sandboxes then have no ``net`` and pods share the
    host's network. ``disk``: ``(path, size, owner)`` of the node's disk, a tmpfs of ``size`` bytes on the
    existing directory ``path`` that only the node's mount namespace sees, owned by ``owner`` (the pods'
    root) — every container's writable layer lives there (see ``_node.make_disk``).
    """

    def __init__(
        self,
        *,
        own_userns: bool,
        uid_map: str | None,
        network: bool = True,
        disk: tuple[str, int, int | None] | None = None,
    ) -> None:
        self.own_userns = own_userns
        self.uid_map = uid_map
        self.network = network
        self.disk = disk
        #: The node user namespace (unprivileged mode only), for containers and execs to enter first.
        self.userns_fd: int | None = None
        #: The node's mount namespace, where :attr:`disk` is mounted (containers' shims join it first).
        self.mntns_fd: int | None = None
        #: The node network namespace.
        self.netns_fd: int | None = None
        self._control: socket.socket | None = None
        self._popen: subprocess.Popen | None = None
        self._lock = asyncio.Lock()
        self._started: asyncio.Future[None] | None = None
        self._finished = False
        self._addresses = {API_SERVICE_IP, DNS_SERVICE_IP, NODE_IP}

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start_sync(self) -> None:
        """Start the helper and wait until the node network exists (blocking; raises NetworkError)."""
        self.spawn()
        self._finish_start()

    async def ready(self) -> None:
        """Wait (once) for the helper :meth:`spawn` started; raises NetworkError if it failed."""
        if self._started is None:
            self._started = asyncio.get_running_loop().run_in_executor(None, self._finish_start)
        await asyncio.shield(self._started)

    @property
    def pid(self) -> int | None:
        """The helper's process id (its ``/proc/<pid>/root`` shows the node's mount namespace)."""
        return self._popen.pid if self._popen is not None else None

    def spawn(self) -> None:
        """Start the helper without waiting for it: it sets the network up while the caller goes on."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._popen = subprocess.Popen(
                [sys.executable, "-I", "-S", HELPER, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            ours.close()
            raise NetworkError(f"cannot start the node helper: {exc}") from exc
        finally:
            theirs.close()
        self._control = ours
        cfg = {
            "own_userns": self.own_userns,
            "network": self.network,
            "bridge": BRIDGE,
            "gateway": GATEWAY,
            "prefix": POD_CIDR.prefixlen,
            "local_addresses": sorted(self._addresses),
        }
        if self.disk is not None:
            path, size, owner = self.disk
            cfg["disk"] = {"path": path, "size": size, "owner": owner}
        ours.settimeout(START_TIMEOUT)
        try:
            ours.send(json.dumps(cfg).encode())
        except OSError as exc:
            self.stop_sync()
            raise NetworkError(f"the node helper did not start: {exc}") from exc

    def _finish_start(self) -> None:
        if self._control is None:
            raise NetworkError("the node network is stopped")
        if self._finished:
            return
        ours = self._control
        try:
            data, fds, _, _ = socket.recv_fds(ours, 65536, 4)
        except OSError as exc:
            self.stop_sync()
            raise NetworkError(f"the node helper did not answer: {exc}") from exc
        reply = _parse(data)
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            self.stop_sync()
            raise NetworkError(str(reply.get("error") or "the node helper failed"))
        fds = list(fds)
        if self.own_userns:
            self.userns_fd = fds.pop(0)
        if self.disk is not None:
            self.mntns_fd = fds.pop(0)
        if self.network:
            self.netns_fd = fds.pop(0)
        ours.settimeout(None)
        self._finished = True

    def stop_sync(self) -> None:
        """End the helper (it exits on EOF) and drop our namespace references. Idempotent."""
        if self._control is not None:
            self._control.close()
            self._control = None
        for name in ("userns_fd", "mntns_fd", "netns_fd"):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)
        if self._popen is not None:
            try:
                self._popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
            self._popen = None

    # -- requests -----------------------------------------------------------------------------------------

    def _call_sync(self, request: dict, max_fds: int = 0) -> list[int]:
        if self._control is None:
            raise NetworkError("the node network is stopped")
        self._control.send(json.dumps(request).encode())
        data, fds, _, _ = socket.recv_fds(self._control, 65536, max(max_fds, 1))
        if not data:
            raise NetworkError("the node helper is gone")
        reply = _parse(data)
        if not reply.get("ok"):
            for fd in fds:
                os.close(fd)
            raise NetworkError(str(reply.get("error") or "the node helper failed"))
        return list(fds)

    async def _call(self, request: dict, max_fds: int = 0) -> list[int]:
        """One request, answered in a worker thread: the helper may take milliseconds (a fork)."""
        await self.ready()
        async with self._lock:
            return await asyncio.get_running_loop().run_in_executor(None, self._call_sync, request, max_fds)

    def _sandbox_request(self, key: str, hostname: str, ip: str) -> tuple[dict, list[str]]:
        request: dict = {"op": "sandbox", "key": key, "hostname": hostname, "ip": ip}
        names = []
        if self.uid_map is not None:
            request["uid_map"] = request["gid_map"] = self.uid_map
            names.append("user")
        if self.network:
            names.append("net")
        return request, [*names, "uts", "ipc"]

    async def create_sandbox(self, key: str, hostname: str, ip: str = "") -> Sandbox:
        """Make a pod's namespaces and wire ``ip`` into its network; ``key`` names it for :meth:`socket`."""
        request, names = self._sandbox_request(key, hostname, ip)
        fds = await self._call(request, len(names))
        return Sandbox(key, hostname, ip if self.network else "", dict(zip(names, fds, strict=True)))

    def create_sandbox_sync(self, key: str, hostname: str, ip: str = "") -> Sandbox:
        """:meth:`create_sandbox` for code without an event loop of its own (the isolation probe)."""
        request, names = self._sandbox_request(key, hostname, ip)
        fds = self._call_sync(request, len(names))
        return Sandbox(key, hostname, ip if self.network else "", dict(zip(names, fds, strict=True)))

    async def remove_sandbox(self, sandbox: Sandbox) -> None:
        sandbox.close()
        if self.network and self._control is not None:
            with contextlib.suppress(OSError):
                await self._call({"op": "release", "key": sandbox.key})

    async def forget(self, name: str) -> None:
        """Free the directory ``name`` of a container that has ended, on the node's disk."""
        if self.disk is not None and self._control is not None:
            with contextlib.suppress(OSError):
                await self._call({"op": "forget", "name": name})

    async def socket(
        self,
        family: int = socket.AF_INET,
        type: int = socket.SOCK_STREAM,
        *,
        bind: tuple[str, int] | None = None,
        pod: str | None = None,
    ) -> socket.socket:
        """A socket made inside the node's network namespace, or pod ``pod``'s (a sandbox key).

        ``bind``: bound there already (``SO_REUSEADDR``); an address of the Service range is first added
        to the node's ``lo``, so a listener on a new ClusterIP is one call. The socket is blocking, as
        ``socket.socket()`` makes them.
        """
        if not self.network:
            raise NetworkError("this cluster has no pod network (pods share the host's)")
        if bind is not None and pod is None:
            await self.add_address(bind[0])
        request = {"op": "socket", "family": int(family), "type": int(type), "netns": pod or "node"}
        if bind is not None:
            request["bind"] = [bind[0], int(bind[1])]
        (fd,) = await self._call(request, 1)
        return socket.socket(fileno=fd)

    async def add_address(self, address: str) -> None:
        """Put ``address`` on the node netns' ``lo`` (a ClusterIP a listener can bind to). Idempotent."""
        if address in self._addresses:
            return
        await self._call({"op": "address", "address": address})
        self._addresses.add(address)


def _parse(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except ValueError:
        return {"ok": False, "error": f"unreadable answer {data[:100]!r}"}
    return value if isinstance(value, dict) else {"ok": False, "error": "unreadable answer"}
