"""The few rtnetlink requests the node network needs, in the standard library only.

The node helper (``_node.py``) and each pod's sandbox set up links, addresses and routes with these, the
way ``ip link add … type veth peer …``, ``ip addr add`` and ``ip route add default via`` would. Why not
``pyroute2`` (the well-kept netlink library): importing it costs 0.14 s and 33 MB in a helper that starts
with every cluster and otherwise runs ``python -I -S`` in 10 MB, and these five message kinds are all we
send (linux/rtnetlink.h, linux/if_link.h, linux/veth.h). Why not ``ip`` itself: one process per step,
several steps per pod, on the path that every pod start waits for.

Every request asks for an acknowledgement; a kernel error comes back as :class:`OSError` with its errno.
Stdlib only, no package imports: ``_node.py`` loads this file by path.
"""

from __future__ import annotations

import errno
import os
import socket
import struct

__all__ = ["Netlink"]

NETLINK_ROUTE = 0
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
RTM_NEWLINK, RTM_NEWADDR, RTM_NEWROUTE = 16, 20, 24
IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_GATEWAY = 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RT_SCOPE_HOST, RTN_UNICAST = 254, 3, 0, 254, 1
IFF_UP = 0x1

_IFINFO = struct.Struct("=BxHiII")  # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_HEADER = struct.Struct("=LHHLL")  # length, type, flags, sequence, port id


def _attr(kind: int, payload: bytes) -> bytes:
    """One rtattr, padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _name(name: str) -> bytes:
    return name.encode() + b"\0"


class Netlink:
    """A NETLINK_ROUTE socket of the network namespace the calling thread is in when it is made.

    The socket stays bound to that namespace: a process may ``setns`` elsewhere afterwards and still
    configure this one through it.
    """

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, kind: int, flags: int, body: bytes) -> None:
        self._seq += 1
        seq = self._seq
        message = _HEADER.pack(_HEADER.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0)
        self.sock.send(message + body)
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset + _HEADER.size <= len(data):
                length, mtype, _flags, rseq, _port = _HEADER.unpack_from(data, offset)
                if mtype == NLMSG_ERROR and rseq == seq:
                    (code,) = struct.unpack_from("=i", data, offset + _HEADER.size)
                    if code:
                        raise OSError(-code, f"netlink: {os.strerror(-code)}")
                    return
                offset += max(length, _HEADER.size) + (-length % 4)

    # -- links --------------------------------------------------------------------------------------------

    def add_bridge(self, name: str) -> None:
        info = _attr(IFLA_INFO_KIND, b"bridge")
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name))
        body += _attr(IFLA_LINKINFO, info)
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_veth(self, name: str, peer: str, peer_netns_fd: int) -> None:
        """A veth pair: ``name`` here, ``peer`` created directly in the namespace ``peer_netns_fd``."""
        peer_msg = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(peer))
        peer_msg += _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        info = _attr(IFLA_INFO_KIND, b"veth") + _attr(IFLA_INFO_DATA, _attr(VETH_INFO_PEER, peer_msg))
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name))
        body += _attr(IFLA_LINKINFO, info)
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_link(self, index: int, *, up: bool = True, master: int | None = None) -> None:
        body = _IFINFO.pack(socket.AF_UNSPEC, 0, index, IFF_UP if up else 0, IFF_UP)
        if master is not None:
            body += _attr(IFLA_MASTER, struct.pack("=I", master))
        self._request(RTM_NEWLINK, 0, body)

    # -- addresses and routes ---------------------------------------------------------------------------

    def add_address(self, index: int, address: str, prefix: int, *, host_scope: bool = False) -> None:
        packed = socket.inet_aton(address)
        scope = RT_SCOPE_HOST if host_scope else RT_SCOPE_UNIVERSE
        body = _IFADDR.pack(socket.AF_INET, prefix, 0, scope, index)
        body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
        try:
            self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise

    def add_default_route(self, gateway: str) -> None:
        body = _RTMSG.pack(
            socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0
        )
        body += _attr(RTA_GATEWAY, socket.inet_aton(gateway))
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
