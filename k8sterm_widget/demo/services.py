"""The service proxy (kube-proxy's part): a connection to a Service's ClusterIP and port reaches one of its
ready endpoints.

kube-proxy programs iptables; the demo splices TCP in user space: for every ``(ClusterIP, port)`` of every
Service with endpoints it opens a listener through ``listen`` and, per connection, picks a ready endpoint
at random (iptables mode's choice) and connects to it through the node (``Node.connect``).  Where the
listener lives is the network's business: in the node's network namespace, on the ClusterIP itself; without
per-pod networks there is no address a pod could dial, and ``listen`` maps each ClusterIP port to a port of
the host's loopback instead (:attr:`ServiceProxy.local`), which is what the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

from .store import Event, Store

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Listen = Callable[
    [str, int, Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]],
    Awaitable[asyncio.Server],
]


async def loopback_listen(ip: str, port: int, handler: Any) -> asyncio.Server:
    """Without a node network: a free port of 127.0.0.1 stands for ``ip:port``."""
    return await asyncio.start_server(handler, "127.0.0.1", 0)


class ServiceProxy:
    def __init__(self, store: Store, node: Any, listen: Listen = loopback_listen) -> None:
        self.store = store
        self.node = node
        self.listen = listen
        self._servers: dict[tuple[str, str, int], asyncio.Server] = {}  # (ns/name, ip, port)
        self.local: dict[tuple[str, int], tuple[str, int]] = {}  # (ClusterIP, port) -> where it listens
        self._pending: set[tuple[str, str]] = set()
        self._scheduled = False

    def start(self) -> None:
        self.store.listen(self._on_event)
        for svc in self.store.list("services"):
            self._queue(svc["metadata"]["namespace"], svc["metadata"]["name"])

    def _on_event(self, event: Event) -> None:
        if event.resource in ("services", "endpoints"):
            self._queue(event.obj["metadata"]["namespace"], event.obj["metadata"]["name"])

    def _queue(self, namespace: str, name: str) -> None:
        self._pending.add((namespace, name))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(self._sync()))

    async def _sync(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, set()
        for namespace, name in pending:
            svc = self.store.get("services", namespace, name)
            ip = (svc or {}).get("spec", {}).get("clusterIP")
            wanted = set()
            if svc is not None and ip and ip != "None" and svc["spec"].get("type") != "ExternalName":
                wanted = {
                    (ip, int(p["port"]))
                    for p in svc["spec"].get("ports") or []
                    if p.get("protocol", "TCP") == "TCP"
                }
            ident = f"{namespace}/{name}"
            for key in [k for k in self._servers if k[0] == ident and (k[1], k[2]) not in wanted]:
                server = self._servers.pop(key)
                server.close()
                self.local.pop((key[1], key[2]), None)
            for ip_port in wanted:
                if (ident, ip_port[0], ip_port[1]) in self._servers:
                    continue
                handler = self._handler(namespace, name, ip_port[1])
                try:
                    server = await self.listen(ip_port[0], ip_port[1], handler)
                except OSError as exc:
                    log.warning("cannot listen for %s %s:%d: %s", ident, ip_port[0], ip_port[1], exc)
                    continue
                self._servers[(ident, ip_port[0], ip_port[1])] = server
                sock = server.sockets[0].getsockname() if server.sockets else ("", 0)
                self.local[ip_port] = (sock[0], sock[1])

    def _handler(self, namespace: str, name: str, port: int) -> Any:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            target = self._pick(namespace, name, port)
            if target is None:  # no ready endpoint: the connection is refused (iptables REJECT)
                writer.close()
                return
            pod, target_port = target
            try:
                up_reader, up_writer = await self.node.connect(pod, target_port)
            except OSError:
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
        for server in self._servers.values():
            server.close()
        self._servers.clear()
        self.local.clear()
