"""The node helper: owns a cluster's node network namespace and makes its pods' sandboxes.

Run as ``python -I -S _node.py CONTROL_FD`` by :class:`.network.NodeNetwork`, one per cluster, for the
cluster's lifetime. It plays the part of kind's node container plus the CNI plugin:

* without root it first enters a **user namespace** of its own (its uid mapped to 0), the cluster's "node
  user namespace": the one thing that lets an unprivileged user own network namespaces;
* it makes the **node network namespace**: ``lo``, the bridge ``cni0`` with the pod network's gateway
  address, and the cluster's virtual addresses (the ``kubernetes`` Service, the cluster DNS, the node's
  IP) on ``lo`` — nothing of it is visible among the host's interfaces, so clusters never collide;
* per pod, a **sandbox** (what a pause container holds on containerd): a forked child makes the pod's user
  namespace (a uid range of its own as root; uid 0 only without root), network, UTS (hostname = pod name)
  and IPC namespaces and hands their descriptors over; then a veth pair joins the pod to the bridge,
  ``eth0`` gets the pod IP and a default route via the gateway, and the pod may bind low ports and ping
  (containerd 2's ``enable_unprivileged_ports``/``enable_unprivileged_icmp``);
* it makes the **node's disk** (:func:`make_disk`): one bounded tmpfs, in a mount namespace of its own,
  for every container's writable layer;
* on request it makes **sockets** inside the node's or a pod's network namespace and passes them to the
  server (``SCM_RIGHTS``): a socket stays in the namespace it was made in, wherever it is used — that is how
  the API server listens on the ``kubernetes`` Service address and how port-forward dials into a pod.

The protocol is one JSON request per SEQPACKET message, answered by one JSON message with any file
descriptors attached. EOF on the control socket (the server ended, however) ends the helper; the
namespaces live on only while containers or the server still hold them.

Stdlib only, like ``_init.py``; ``netlink.py`` is loaded by path.
"""

from __future__ import annotations

import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import limits
from netlink import Netlink

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REC = 0x4000
MS_PRIVATE = 0x40000

_libc = ctypes.CDLL(None, use_errno=True)
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def unshare(flags: int, what: str) -> None:
    _check(_libc.unshare(flags), f"unshare({what})")


def setns(fd: int, flags: int, what: str) -> None:
    _check(_libc.setns(fd, flags), f"setns({what})")


def mount(src: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(src.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                    data.encode() if data else None),
        f"mount {target}",
    )  # fmt: skip


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def become_root_of_own_userns() -> None:
    """Unprivileged: a user namespace in which this user is root (``unshare --map-root-user``)."""
    uid, gid = os.getuid(), os.getgid()
    unshare(CLONE_NEWUSER, "user")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"0 {uid} 1\n")
    _write("/proc/self/gid_map", f"0 {gid} 1\n")


def _ns_fd(kind: str, pid: int | str = "self") -> int:
    return os.open(f"/proc/{pid}/ns/{kind}", os.O_RDONLY | os.O_CLOEXEC)


class Helper:
    def __init__(self, control: socket.socket, cfg: dict) -> None:
        self.control = control
        self.cfg = cfg
        self.network = bool(cfg.get("network", True))
        self.node_net = -1
        self.bridge_index = 0
        self.pods: dict[str, int] = {}  # sandbox key -> its network namespace fd
        self.disk: dict | None = None

    # -- the node ----------------------------------------------------------------------------------------

    def setup(self) -> list[int]:
        fds = []
        if self.cfg.get("own_userns"):
            become_root_of_own_userns()
            fds.append(_ns_fd("user"))
        disk = self.cfg.get("disk")
        if disk:
            self.disk = disk
            make_disk(disk["path"], int(disk["size"]), disk.get("owner"))
            fds.append(_ns_fd("mnt"))
        if self.network:
            unshare(CLONE_NEWNET, "net")
            self.node_net = _ns_fd("net")
            fds.append(self.node_net)
            with Netlink() as nl:
                nl.set_link(socket.if_nametoindex("lo"))
                for address in self.cfg.get("local_addresses", []):
                    nl.add_address(socket.if_nametoindex("lo"), address, 32)
                nl.add_bridge(self.cfg["bridge"])
                self.bridge_index = socket.if_nametoindex(self.cfg["bridge"])
                nl.add_address(self.bridge_index, self.cfg["gateway"], int(self.cfg["prefix"]))
                nl.set_link(self.bridge_index)
        return fds

    def add_address(self, address: str) -> None:
        with Netlink() as nl:
            nl.add_address(socket.if_nametoindex("lo"), address, 32)

    # -- sandboxes ---------------------------------------------------------------------------------------

    def sandbox(self, req: dict) -> list[int]:
        """Make a pod's namespaces in a child, then wire its network from here. Returns their fds."""
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # the sandbox child: never returns
            parent_end.close()
            code = 0
            try:
                _sandbox_child(child_end, req, self.network)
            except BaseException as exc:
                try:
                    child_end.send(json.dumps({"error": str(exc)}).encode())
                except OSError:
                    pass
                code = 1
            os._exit(code)
        child_end.close()
        try:
            with parent_end:
                if req.get("uid_map"):
                    msg = parent_end.recv(4096)
                    if msg != b"userns":
                        raise OSError(_child_error(msg) or "sandbox child failed before its user namespace")
                    _write(f"/proc/{pid}/uid_map", req["uid_map"])
                    _write(f"/proc/{pid}/gid_map", req["gid_map"])
                    parent_end.send(b"mapped")
                data, fds, _flags, _addr = socket.recv_fds(parent_end, 4096, 8)
                if not fds:
                    raise OSError(_child_error(data) or "sandbox child failed")
        finally:
            os.waitpid(pid, 0)
        names = ["user", "net", "uts", "ipc"] if req.get("uid_map") else ["net", "uts", "ipc"]
        if not self.network:
            names.remove("net")
        got = dict(zip(names, fds, strict=True))
        if self.network:
            try:
                self._wire(req, got["net"])
            except BaseException:
                for fd in fds:
                    os.close(fd)
                raise
            self.pods[req["key"]] = os.dup(got["net"])
        return fds

    def _wire(self, req: dict, pod_net: int) -> None:
        veth = "veth" + secrets.token_hex(4)
        with Netlink() as nl:
            nl.add_veth(veth, "eth0", pod_net)
            index = socket.if_nametoindex(veth)
            nl.set_link(index, master=self.bridge_index)
        setns(pod_net, CLONE_NEWNET, "pod net")
        try:
            with Netlink() as nl:
                nl.set_link(socket.if_nametoindex("lo"))
                eth0 = socket.if_nametoindex("eth0")
                nl.add_address(eth0, req["ip"], int(self.cfg["prefix"]))
                nl.set_link(eth0)
                nl.add_default_route(self.cfg["gateway"])
            # containerd 2.0's enable_unprivileged_ports and enable_unprivileged_icmp, on by default
            _write("/proc/sys/net/ipv4/ip_unprivileged_port_start", "0")
            try:
                _write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647")
            except OSError:  # a user namespace with only uid/gid 0: the range must be mapped
                _write("/proc/sys/net/ipv4/ping_group_range", "0 0")
        finally:
            setns(self.node_net, CLONE_NEWNET, "node net")

    def release(self, key: str) -> None:
        fd = self.pods.pop(key, None)
        if fd is not None:
            os.close(fd)

    def forget(self, name: str) -> None:
        """Free a container's writable layer on the node disk once the container is gone."""
        if self.disk is None or not name or "/" in name or name.startswith("."):
            raise OSError(f"no container directory {name!r}")
        shutil.rmtree(os.path.join(self.disk["path"], name), ignore_errors=True)

    # -- sockets -----------------------------------------------------------------------------------------

    def make_socket(self, req: dict) -> list[int]:
        where = req.get("netns", "node")
        target = self.node_net if where == "node" else self.pods.get(where)
        if target is None:
            raise OSError(f"no network namespace {where!r}")
        if target != self.node_net:
            setns(target, CLONE_NEWNET, "pod net")
        try:
            sock = socket.socket(int(req["family"]), int(req["type"]) | socket.SOCK_CLOEXEC)
            try:
                if req.get("bind"):
                    host, port = req["bind"]
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    sock.bind((host, int(port)))
                return [sock.detach()]
            except BaseException:
                sock.close()
                raise
        finally:
            if target != self.node_net:
                setns(self.node_net, CLONE_NEWNET, "node net")

    # -- the loop ----------------------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            try:
                data = self.control.recv(65536)
            except OSError:
                return
            if not data:
                return
            fds: list[int] = []
            try:
                req = json.loads(data)
                op = req.get("op")
                if op == "sandbox":
                    fds = self.sandbox(req)
                elif op == "socket":
                    fds = self.make_socket(req)
                elif op == "address":
                    self.add_address(req["address"])
                elif op == "release":
                    self.release(req["key"])
                elif op == "forget":
                    self.forget(req["name"])
                else:
                    raise OSError(f"unknown request {op!r}")
                reply: dict[str, object] = {"ok": True}
            except Exception as exc:
                reply = {"ok": False, "error": str(exc)}
            try:
                socket.send_fds(self.control, [json.dumps(reply).encode()], fds)
            except OSError:
                return
            finally:
                for fd in fds:
                    os.close(fd)


def make_disk(path: str, size: int, owner: int | None) -> None:
    """The node's disk: a tmpfs of ``size`` bytes in a mount namespace of the helper's own.

    Every container's writable layer (its overlay's upper directory, ``/usr/local``, ``/dev``, ``/dev/shm``)
    is a directory on it, so all containers of the cluster together can fill ``size`` and no more — what a
    real node's disk is, where a tmpfs per container would let each take half of the machine's memory.
    Only the helper and the containers' shims (before ``pivot_root``) ever see it; it goes away with the
    last of them, however the server ends.
    """
    unshare(CLONE_NEWNS, "mnt")
    mount("none", "/", None, MS_REC | MS_PRIVATE)
    options = f"size={size},nr_inodes={max(1024, size // 4096)},mode=0711"
    if owner is not None:  # the pods' root (a uid range of their own) makes the containers' directories
        options += f",uid={owner},gid={owner}"
    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, options)


def _child_error(data: bytes) -> str:
    try:
        return str(json.loads(data).get("error", ""))
    except (ValueError, AttributeError):
        return ""


def _sandbox_child(sock: socket.socket, req: dict, network: bool) -> None:
    """In the forked child: the pod's namespaces, handed to the parent as descriptors."""
    if req.get("uid_map"):
        unshare(CLONE_NEWUSER, "user")
        sock.send(b"userns")
        if sock.recv(64) != b"mapped":
            raise OSError("no uid map")
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
    flags = CLONE_NEWUTS | CLONE_NEWIPC | (CLONE_NEWNET if network else 0)
    unshare(flags, "net, uts, ipc")
    limits.bound_ipc()  # best effort: kernels before 5.19 let only the host's root set them
    name = req["hostname"].encode()
    _check(_libc.sethostname(name, len(name)), "sethostname")
    kinds = (["user"] if req.get("uid_map") else []) + (["net"] if network else []) + ["uts", "ipc"]
    fds = [_ns_fd(kind) for kind in kinds]
    socket.send_fds(sock, [b"namespaces"], fds)


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is for the server, not us
    try:
        cfg = json.loads(control.recv(65536))
        helper = Helper(control, cfg)
        fds = helper.setup()
    except Exception as exc:
        socket.send_fds(control, [json.dumps({"ok": False, "error": str(exc)}).encode()], [])
        os._exit(1)
    socket.send_fds(control, [json.dumps({"ok": True}).encode()], fds)
    for fd in fds:
        if fd != helper.node_net:
            os.close(fd)
    helper.serve()
    os._exit(0)


if __name__ == "__main__":
    main()
