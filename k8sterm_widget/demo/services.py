"""The service proxy (kube-proxy's part): a connection to a Service's ClusterIP and port, or to a NodePort,
reaches one of its ready endpoints.

kube-proxy programs iptables; the demo splices TCP in user space.  For every ``(ClusterIP, port)`` of every
Service it opens a listener and, per connection, picks a ready endpoint at random (iptables mode's choice)
and connects to ``podIP:targetPort`` through the node network (``Node.dial``).  Where the listeners live:

* **with a pod network** (runtime/network.py): the ClusterIP listener is a socket made in the node's network
  namespace, bound to the ClusterIP itself, which is where pods' packets to ``10.96.0.0/12`` arrive; a
  NodePort listens there on the node's address (``172.18.0.2:<nodePort>``) and
* on the **host's** ``127.0.0.1:<nodePort>`` — what ``minikube service --url`` and Docker Desktop give: the
  Kubernetes Basics tutorial's ``curl http://$(minikube ip):$NODE_PORT`` is ``curl 127.0.0.1:$NODE_PORT``;
* **without a pod network** pods share the host's network and no ClusterIP is routable: each ClusterIP port
  maps to an ephemeral port of the host's loopback (:attr:`ServiceProxy.local`, which tests dial), and
  NodePorts listen on ``127.0.0.1`` as above.

A Service without a ready endpoint refuses the connection (kube-proxy's REJECT rule).  A NodePort that is
taken on the host (another program, another demo cluster) is logged and left out; the ClusterIP still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Any

from .store import Event, Store

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Handler = Any  # Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
NODE_IP = "172.18.0.2"  # objects.HOST_IP: the node's address inside the cluster network
#: Services the cluster serves in this process on their ClusterIP already: the API server listens on
#: 10.96.0.1:443 and the cluster DNS on 10.96.0.10:53 (UDP and TCP) in the node's network namespace.
IN_PROCESS = {("default", "kubernetes"), ("kube-system", "kube-dns")}


class ServiceProxy:
    """``network``: the runtime's node network (``None`` where pods share the host's)."""

    def __init__(self, store: Store, node: Any, network: Any = None) -> None:
        self.store = store
        self.node = node
        self.network = network
        # (ns/name, where, ip, port) -> server; where: "cluster" (the ClusterIP), "host" or "node" (NodePort)
        self._servers: dict[tuple[str, str, str, int], asyncio.Server] = {}
        self.local: dict[tuple[str, int], tuple[str, int]] = {}  # (ClusterIP, port) -> where it listens
        self._pending: set[tuple[str, str]] = set()
        self._scheduled = False
        self._syncing: asyncio.Task[None] | None = None
        self._connections: set[asyncio.Task[Any]] = set()  # spliced connections, ended by stop()

    def start(self) -> None:
        self.store.listen(self._on_event)
        for svc in self.store.list("services"):
            self._queue(svc["metadata"]["namespace"], svc["metadata"]["name"])

    def _on_event(self, event: Event) -> None:
        if event.resource == "services":
            self._queue(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])

    def _queue(self, namespace: str, name: str) -> None:
        self._pending.add((namespace, name))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._kick)

    def _kick(self) -> None:
        if self._syncing is None or self._syncing.done():
            self._syncing = asyncio.ensure_future(self._sync())

    async def wait_synced(self) -> None:
        """Until every queued Service has its listeners (tests, ``settle``)."""
        while self._scheduled or self._pending or (self._syncing is not None and not self._syncing.done()):
            await asyncio.sleep(0.01)

    def _wanted(self, svc: Obj | None) -> set[tuple[str, str, int, int]]:
        """``(where, ip, port, service port)`` listeners a Service needs."""
        spec = (svc or {}).get("spec", {})
        ip = spec.get("clusterIP")
        if svc is None or not ip or ip == "None" or spec.get("type") == "ExternalName":
            return set()
        meta = svc["metadata"]
        if (meta["namespace"], meta["name"]) in IN_PROCESS and self.network is not None:
            return set()
        wanted = set()
        for p in spec.get("ports") or []:
            if p.get("protocol", "TCP") != "TCP":
                continue
            port = int(p["port"])
            wanted.add(("cluster", ip, port, port))
            if p.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
                wanted.add(("host", "127.0.0.1", int(p["nodePort"]), port))
                if self.network is not None:
                    wanted.add(("node", NODE_IP, int(p["nodePort"]), port))
        return wanted

    async def _listen(self, where: str, ip: str, port: int, handler: Handler) -> asyncio.Server:
        if where == "host":
            return await asyncio.start_server(handler, "127.0.0.1", port)
        if self.network is None:  # a ClusterIP nothing routes to: a loopback port stands for it
            return await asyncio.start_server(handler, "127.0.0.1", 0)
        sock = await self.network.socket(bind=(ip, port))
        try:
            sock.listen(128)
            sock.setblocking(False)
            return await asyncio.start_server(handler, sock=sock)
        except BaseException:
            sock.close()
            raise

    async def _sync(self) -> None:
        while self._pending:
            self._scheduled = False
            pending, self._pending = self._pending, set()
            for namespace, name in pending:
                await self._sync_one(namespace, name)
        self._scheduled = False

    async def _sync_one(self, namespace: str, name: str) -> None:
        ident = f"{namespace}/{name}"
        wanted = self._wanted(self.store.get("services", namespace, name))
        keep = {(where, ip, port) for where, ip, port, _ in wanted}
        for key in [k for k in self._servers if k[0] == ident and k[1:] not in keep]:
            self._servers.pop(key).close()
            if key[1] == "cluster":
                self.local.pop((key[2], key[3]), None)
        for where, ip, port, service_port in sorted(wanted):
            if (ident, where, ip, port) in self._servers:
                continue
            try:
                server = await self._listen(where, ip, port, self._handler(namespace, name, service_port))
            except OSError as exc:
                log.warning("service %s: cannot listen on %s:%d (%s): %s", ident, ip, port, where, exc)
                continue
            self._servers[(ident, where, ip, port)] = server
            if where == "cluster":
                sock = server.sockets[0].getsockname() if server.sockets else ("", 0)
                self.local[(ip, port)] = (sock[0], sock[1])

    def _handler(self, namespace: str, name: str, port: int) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._connections.add(task)
                task.add_done_callback(self._connections.discard)
            target = self._pick(namespace, name, port)
            if target is None:  # no ready endpoint: the connection is refused (iptables REJECT)
                writer.close()
                return
            pod, target_port = target
            try:
                up_reader, up_writer = await self.node.dial(pod, target_port)
            except (OSError, asyncio.TimeoutError):
                writer.close()
                return

            async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
                with contextlib.suppress(ConnectionError, OSError):
                    while chunk := await src.read(65536):
                        dst.write(chunk)
                        await dst.drain()
                    if dst.can_write_eof():
                        dst.write_eof()

            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            for w in (writer, up_writer):
                w.close()

        return handle

    def _pick(self, namespace: str, name: str, port: int) -> tuple[Obj, int] | None:
        svc = self.store.get("services", namespace, name)
        endpoints = self.store.get("endpoints", namespace, name)
        if svc is None or endpoints is None:
            return None
        spec_port = next((p for p in svc["spec"].get("ports") or [] if int(p["port"]) == port), None)
        if spec_port is None:
            return None
        choices = []
        for subset in endpoints.get("subsets") or []:
            ep_port = next(
                (p for p in subset.get("ports") or [] if p.get("name", "") == spec_port.get("name", "")), None
            )
            if ep_port is None:
                continue
            for address in subset.get("addresses") or []:
                ref = address.get("targetRef") or {}
                pod = self.store.pod(namespace, ref.get("name", ""))
                if pod is not None:
                    choices.append((pod, int(ep_port["port"])))
        return random.choice(choices) if choices else None

    def stop(self) -> None:
        for task in list(self._connections):
            task.cancel()
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        self.local.clear()
