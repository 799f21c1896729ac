"""Which isolation this machine allows, found out by doing it once, and what degrades without it.

Rather than guess from sysctls, the probe starts the real thing once per process and user: a node helper
(:mod:`.network`), a pod sandbox and a container pid 1 that builds a full root file system and pivots into
it. It tries, in order of what a real cluster gives:

1. root: pods in **user namespaces** with a uid range of their own (container root is an unprivileged uid
   on the host) and a **network namespace** per pod; then the same without user namespaces (container root
   is the host's root with containerd's default capabilities — what kind and containerd do by default);
2. without root: everything below one user namespace of the server's user (only uid 0 exists inside);
3. each of those without pod networks, if the kernel refuses network namespaces or veth pairs (pods share
   the host's network);
4. else **process mode**: containers are plain host processes (see the package docstring).

:attr:`Isolation.notice` is the one line the cluster prints at start when anything degrades.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import caps
from .fdio import pipe, set_pipe_size
from .layers import Layer
from .network import NetworkError, NodeNetwork

__all__ = ["ENTER_SCRIPT", "INIT_SCRIPT", "Isolation", "enter_argv", "init_argv", "probe", "uid_map"]

INIT_SCRIPT = str(Path(__file__).with_name("_init.py"))
ENTER_SCRIPT = str(Path(__file__).with_name("_enter.py"))
RANGE_SIZE = 65536


@dataclass(frozen=True)
class Isolation:
    """The probe's verdict."""

    mode: str  # "namespaces" or "process"
    #: "range": pods get user namespaces with a uid range (root); "own": everything lives in one user
    #: namespace of the unprivileged server user (uid 0 only); "none": no user namespaces (root).
    users: str = "none"
    #: Pods get network namespaces of their own (else they share the host's network).
    network: bool = False
    #: Why something is missing (empty when nothing is).
    reason: str = ""

    @property
    def userns(self) -> bool:
        """True when namespaces come from an unprivileged user namespace (the server is not root)."""
        return self.users == "own"

    @property
    def notice(self) -> str:
        """One line on what degrades here, or ``""`` when containers get everything."""
        if self.mode == "process":
            why = (
                "process isolation was asked for"
                if self.reason == "requested"
                else f"this system allows no namespaces: {self.reason}"
            )
            return (
                f"demo containers are NOT isolated ({why}): they run as your own processes on this machine "
                "and can read and change your files, see your processes and use your network"
            )
        missing = []
        if not self.network:
            missing.append("pods share the host's network (no network namespaces)")
        if self.users == "own":
            missing.append("containers have uid 0 only (no uid range without root)")
        elif self.users == "none":
            missing.append("container root is host root with containerd's default capabilities "
                           "(no user namespaces): no process limit per pod, and root's kernel keyrings "
                           "are the host's")  # fmt: skip
        return "demo containers: " + "; ".join(missing) if missing else ""


def uid_map(users: str, base: int) -> str | None:
    """A pod user namespace's uid/gid map for ``users`` (see :class:`Isolation`)."""
    if users == "range":
        return f"0 {base} {RANGE_SIZE}\n"
    if users == "own":
        return "0 0 1\n"
    return None


def random_base() -> int:
    """A uid range for one cluster's pods, far above any real user (kubelet: multiples of 65536)."""
    return RANGE_SIZE * (256 + secrets.randbelow(32000))


def init_argv(config_fd: int) -> list[str]:
    """The container shim: the interpreter in isolated mode without ``site`` (fast start, stdlib only)."""
    return [sys.executable, "-I", "-S", INIT_SCRIPT, str(config_fd)]


def enter_argv(config_fd: int) -> list[str]:
    """The exec helper that joins a container's namespaces (see ``_enter.py``)."""
    return [sys.executable, "-I", "-S", ENTER_SCRIPT, str(config_fd)]


def write_config(config: dict) -> int:
    """Put ``config`` into a pipe and return its read end (config on argv would show up in ``ps``)."""
    data = json.dumps(config).encode()
    r, w = pipe()
    set_pipe_size(w, max(1 << 16, len(data) + 4096))
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(w, view) :]
    finally:
        os.close(w)
    return r


def _try_container(state_dir: Path, network: NodeNetwork, users: str, fds: dict[str, int]) -> str:
    """Start a probe container in a sandbox; ``""`` on success or why it failed."""
    from . import rootfs  # late: rootfs imports layers, which imports userland

    layer_root = state_dir / "probe-layer"
    (layer_root / "etc").mkdir(parents=True, exist_ok=True)
    (layer_root / "dev").mkdir(exist_ok=True)
    if users == "range":
        base = int(network.uid_map.split()[1]) if network.uid_map else 0
        for path in (layer_root, layer_root / "etc", layer_root / "dev"):
            os.chown(path, base, base)
    root = state_dir / "rootfs"
    scratch = state_dir / "disk" / "probe"  # on the node's disk, made by the probe container
    root.mkdir(parents=True, exist_ok=True)
    ops = rootfs.plan(
        str(root), str(scratch), Layer(root=layer_root), userns=users != "none", sysfs=network.network,
        tty_gid=users == "range" or users == "none",
    )  # fmt: skip
    status, status_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    namespaces: list[list[str | int]] = (
        [["node_user", network.userns_fd]] if network.userns_fd is not None else []
    )
    if network.mntns_fd is not None:
        namespaces.append(["node_mnt", network.mntns_fd])
    namespaces += [[kind, fd] for kind, fd in fds.items()]
    config = {
        "isolation": "namespaces",
        "probe": True,
        "namespaces": namespaces,
        "root": str(root),
        "mounts": ops,
        "status_fd": status_child.fileno(),
        "stdio": [],
        "argv": ["probe"],
        "env": {},
        "tty": False,
        "last_cap": caps.last_cap(),
    }
    config_fd = write_config(config)
    pass_fds: set[int] = {config_fd, status_child.fileno(), *[int(entry[1]) for entry in namespaces]}
    try:
        proc = subprocess.run(
            init_argv(config_fd),
            pass_fds=sorted(pass_fds),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    finally:
        os.close(config_fd)
        status_child.close()
    status.setblocking(False)
    events = []
    try:
        while data := status.recv(65536):
            events.append(json.loads(data))
    except (BlockingIOError, ValueError):
        pass
    status.close()
    if proc.returncode == 0 and any(e.get("event") == "ready" for e in events):
        return ""
    errors = [str(e.get("message")) for e in events if e.get("event") == "error"]
    return "; ".join(errors) or proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"


def _try(state_dir: Path, users: str, with_network: bool) -> str:
    mapping = uid_map(users, random_base())
    disk = state_dir / "disk"
    disk.mkdir(exist_ok=True)
    owner = int(mapping.split()[1]) if users == "range" and mapping else None
    network = NodeNetwork(
        own_userns=users == "own", uid_map=mapping, network=with_network, disk=(str(disk), 4 << 20, owner)
    )
    try:
        network.start_sync()
    except NetworkError as exc:
        return str(exc)
    try:
        fds = network.create_sandbox_sync("probe", "probe", "10.244.0.2").fds
        try:
            return _try_container(state_dir, network, users, fds)
        finally:
            for fd in fds.values():
                os.close(fd)
    except (NetworkError, OSError) as exc:
        return str(exc)
    finally:
        network.stop_sync()


@functools.cache
def _probe(euid: int) -> Isolation:
    attempts = [("range", True), ("none", True), ("range", False), ("none", False)]
    if euid != 0:
        attempts = [("own", True), ("own", False)]
    reasons: list[str] = []
    state = Path(tempfile.mkdtemp(prefix="k8sterm-probe-"))
    try:
        os.chmod(state, 0o755)  # a pod's root (another uid when mapped) must be able to enter it
        for users, with_network in attempts:
            reason = _try(state, users, with_network)
            if not reason:
                missing = "; ".join(dict.fromkeys(reasons))
                return Isolation("namespaces", users=users, network=with_network, reason=missing)
            reasons.append(reason)
    finally:
        shutil.rmtree(state, ignore_errors=True)
    return Isolation("process", reason="; ".join(dict.fromkeys(reasons)))


def probe(state_dir: Path | None = None) -> Isolation:
    """Find out (once per process and user) what isolation containers can get here.

    ``state_dir`` is accepted for compatibility and not used: the probe works in a directory of its own.
    """
    return _probe(os.geteuid())
