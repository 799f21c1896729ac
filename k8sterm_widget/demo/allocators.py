"""The Service allocators: ClusterIPs from 10.96.0.0/12 and node ports from 30000-32767.

kube-apiserver allocates a Service's ClusterIP and node ports before it stores the Service, hands them back
if the request fails, and releases them when the Service is deleted (``pkg/registry/core/service/storage/
alloc.go``); a requested address or port that is taken or out of range is a 422 whose text is the
allocator's error (``ipallocator``: ``provided IP is already allocated``, ``the provided network does not
match the current range``; ``portallocator``: ``provided port is already allocated``, ``provided port is not
in the valid range. The range of valid ports is 30000-32767``).  A :class:`Transaction` collects what one
request took so a refusal half-way (the second port of three is taken) gives every piece back, and a dry run
checks everything but keeps nothing.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import dataclass, field

SERVICE_CIDR = ipaddress.ip_network("10.96.0.0/12")
NODE_PORTS = range(30000, 32768)

IP_TAKEN = "provided IP is already allocated"
IP_OTHER_NETWORK = "the provided network does not match the current range"  # MetaAllocator.getAllocator
PORT_TAKEN = "provided port is already allocated"
PORT_OUT_OF_RANGE = (
    f"provided port is not in the valid range. The range of valid ports is {NODE_PORTS[0]}-{NODE_PORTS[-1]}"
)


class AllocationError(ValueError):
    """The allocator's refusal; the caller turns it into the field error of the Service."""


@dataclass
class Allocators:
    ips: set[str] = field(default_factory=set)
    ports: set[int] = field(default_factory=set)

    def check_ip(self, ip: str) -> None:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise AllocationError(IP_OTHER_NETWORK) from None
        # the range's first (network) and last (broadcast) address are never handed out
        if address not in SERVICE_CIDR or address in (
            SERVICE_CIDR.network_address,
            SERVICE_CIDR.broadcast_address,
        ):
            raise AllocationError(IP_OTHER_NETWORK)
        if str(address) in self.ips:
            raise AllocationError(IP_TAKEN)

    def free_ip(self) -> str:
        for _ in range(100000):
            candidate = str(SERVICE_CIDR[random.randint(1, SERVICE_CIDR.num_addresses - 2)])
            if candidate not in self.ips:
                return candidate
        raise AllocationError("range is full")

    def check_port(self, port: int) -> None:
        if port not in NODE_PORTS:
            raise AllocationError(PORT_OUT_OF_RANGE)
        if port in self.ports:
            raise AllocationError(PORT_TAKEN)

    def free_port(self) -> int:
        if len(self.ports) >= len(NODE_PORTS):
            raise AllocationError("range is full")
        while True:
            port = random.choice(NODE_PORTS)
            if port not in self.ports:
                return port

    def release(self, ips: list[str] | tuple[str, ...] = (), ports: list[int] | tuple[int, ...] = ()) -> None:
        for ip in ips:
            self.ips.discard(ip)
        for port in ports:
            self.ports.discard(port)

    def transaction(self, *, dry_run: bool = False) -> Transaction:
        return Transaction(self, dry_run)


@dataclass
class Transaction:
    """What one request allocates: kept by :meth:`commit`, given back by :meth:`revert` (or when the request
    is a dry run, which still sees every conflict)."""

    allocators: Allocators
    dry_run: bool
    ips: list[str] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def allocate_ip(self, ip: str = "") -> str:
        if ip:
            self.allocators.check_ip(ip)
        else:
            ip = self.allocators.free_ip()
        self.allocators.ips.add(ip)
        self.ips.append(ip)
        return ip

    def allocate_port(self, port: int = 0) -> int:
        if port:
            self.allocators.check_port(port)
        else:
            port = self.allocators.free_port()
        self.allocators.ports.add(port)
        self.ports.append(port)
        return port

    def revert(self) -> None:
        self.allocators.release(self.ips, self.ports)
        self.ips, self.ports = [], []

    def commit(self) -> None:
        if self.dry_run:
            self.revert()
        self.ips, self.ports = [], []
