"""The cluster DNS (what CoreDNS's ``kubernetes`` plugin answers), on the ``dnslib`` wire format.

Names: ``<svc>.<ns>.svc.cluster.local`` → the ClusterIP (a headless Service: its ready endpoints' IPs),
``<a-b-c-d>.<ns>.pod.cluster.local`` → ``a.b.c.d``, ``_<port>._<proto>.<svc>.<ns>.svc.cluster.local`` → SRV,
``<d>.<c>.<b>.<a>.in-addr.arpa`` of a ClusterIP → PTR ``<svc>.<ns>.svc.cluster.local`` (CoreDNS's reverse
zone).  A name that exists has NOERROR with no answer for other types (AAAA: the demo is IPv4 only), as
CoreDNS answers, so resolvers do not give up on the A record.  UDP and TCP (for truncated answers).
Short names (``web``, ``web.demo``) resolve through the pod's ``search`` list and ``ndots:5`` in its
``resolv.conf``, as on any cluster.  Anything else is NXDOMAIN: the demo cluster has no upstream.
Answers are read from the store at query time, so a Service is resolvable as soon as it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from dnslib import PTR, QTYPE, RCODE, RR, SOA, SRV, A, DNSHeader, DNSLabel, DNSRecord  # type: ignore[import-untyped]

log = logging.getLogger(__name__)
DOMAIN = "cluster.local"
TTL = 30


class ClusterDNS:
    def __init__(self, store: Any, domain: str = DOMAIN) -> None:
        self.store = store
        self.domain = domain
        self._transport: asyncio.DatagramTransport | None = None
        self._more: list[asyncio.DatagramTransport] = []  # listeners inside the cluster's network
        self._tcp: list[asyncio.Server] = []
        self.address: tuple[str, int] | None = None

    # --- answers -------------------------------------------------------------------------------

    def _service_ips(self, namespace: str, name: str) -> list[str] | None:
        svc = self.store.get("services", namespace, name)
        if svc is None:
            return None
        ip = svc["spec"].get("clusterIP")
        if ip and ip != "None":
            return [ip]
        endpoints = self.store.get("endpoints", namespace, name) or {}
        return [a["ip"] for s in endpoints.get("subsets") or [] for a in s.get("addresses") or []]

    def answer(self, query: DNSRecord) -> DNSRecord:
        reply = DNSRecord(DNSHeader(id=query.header.id, qr=1, aa=1, ra=1, rd=query.header.rd), q=query.q)
        qname, qtype = str(query.q.qname).rstrip(".").lower(), QTYPE[query.q.qtype]
        suffix = "." + self.domain
        if qname.endswith(".in-addr.arpa"):
            return self._ptr(reply, qname, qtype)
        if not qname.endswith(suffix):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        parts = qname[: -len(suffix)].split(".")
        found = False
        if len(parts) >= 3 and parts[-1] == "svc":
            if len(parts) == 5 and parts[0].startswith("_") and parts[1].startswith("_"):
                found = self._srv(reply, qname, parts, qtype)
            elif len(parts) == 3:
                ips = self._service_ips(parts[1], parts[0])
                if ips is not None:
                    found = True
                    if qtype in ("A", "ANY"):
                        for ip in ips:
                            reply.add_answer(RR(qname, QTYPE.A, rdata=A(ip), ttl=TTL))
        elif len(parts) == 3 and parts[-1] == "pod":
            ip = parts[0].replace("-", ".")
            if ip.count(".") == 3 and self.store.namespace(parts[1]) is not None:
                found = True
                if qtype in ("A", "ANY"):
                    reply.add_answer(RR(qname, QTYPE.A, rdata=A(ip), ttl=TTL))
        if not found:
            reply.header.rcode = RCODE.NXDOMAIN
        if not reply.rr:
            soa = SOA("ns.dns." + self.domain, "hostmaster." + self.domain, (1, 7200, 1800, 86400, 30))
            reply.add_auth(RR(self.domain, QTYPE.SOA, rdata=soa, ttl=TTL))
        return reply

    def _ptr(self, reply: DNSRecord, qname: str, qtype: str) -> DNSRecord:
        ip = ".".join(reversed(qname[: -len(".in-addr.arpa")].split(".")))
        names = [
            f"{s['metadata']['name']}.{s['metadata']['namespace']}.svc.{self.domain}"
            for s in self.store.list("services")
            if s["spec"].get("clusterIP") == ip
        ]
        if not names:
            reply.header.rcode = RCODE.NXDOMAIN
        elif qtype in ("PTR", "ANY"):
            for name in names:
                reply.add_answer(RR(qname, QTYPE.PTR, rdata=PTR(name), ttl=TTL))
        return reply

    def _srv(self, reply: DNSRecord, qname: str, parts: list[str], qtype: str) -> bool:
        port_name, proto, name, namespace = parts[0][1:], parts[1][1:].upper(), parts[2], parts[3]
        svc = self.store.get("services", namespace, name)
        if svc is None:
            return False
        target = f"{name}.{namespace}.svc.{self.domain}"
        matched = False
        for p in svc["spec"].get("ports") or []:
            if p.get("name") == port_name and p.get("protocol", "TCP") == proto:
                matched = True
                if qtype in ("SRV", "ANY"):
                    reply.add_answer(
                        RR(qname, QTYPE.SRV, rdata=SRV(0, 100, int(p["port"]), DNSLabel(target)), ttl=TTL)
                    )
        return matched

    # --- serving -------------------------------------------------------------------------------

    def handle(self, data: bytes) -> bytes | None:
        try:
            query = DNSRecord.parse(data)
        except Exception:  # dnslib raises its own DNSError and struct errors for garbage
            return None
        try:
            return self.answer(query).pack()
        except Exception:
            log.exception("DNS answer failed")
            failed = DNSRecord(DNSHeader(id=query.header.id, qr=1, rcode=RCODE.SERVFAIL), q=query.q)
            return failed.pack()

    async def start(self, host: str = "127.0.0.1", port: int = 0, sock: Any = None) -> tuple[str, int]:
        """Serve on ``host:port``, or on a bound UDP socket ``sock`` (the cluster DNS address inside the
        node's network namespace, made there by the runtime): each call adds a listener; :meth:`stop` ends
        all."""
        server = self

        class Protocol(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                answer = server.handle(data)
                if answer is not None:
                    self.transport.sendto(answer, addr)  # type: ignore[attr-defined]

        where = {"sock": sock} if sock is not None else {"local_addr": (host, port)}
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Protocol, **where)
        sockname = transport.get_extra_info("sockname")
        if self._transport is None:
            self._transport = transport
            self.address = (sockname[0], sockname[1])
        else:
            self._more.append(transport)
        return (sockname[0], sockname[1])

    async def start_tcp(self, sock: Any) -> None:
        """Serve DNS over TCP (two length bytes before each message) on a listening socket ``sock``."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, OSError):
                while True:
                    size = int.from_bytes(await reader.readexactly(2), "big")
                    answer = self.handle(await reader.readexactly(size))
                    if answer is None:
                        break
                    writer.write(len(answer).to_bytes(2, "big") + answer)
                    await writer.drain()
            writer.close()

        self._tcp.append(await asyncio.start_server(serve, sock=sock))

    def stop(self) -> None:
        for server in self._tcp:
            server.close()
        self._tcp.clear()
        for transport in self._more:
            transport.close()
        self._more.clear()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
