"""Which isolation this machine allows, and the util-linux command lines that enter it.

Namespace mode needs ``CAP_SYS_ADMIN`` for new PID/mount/UTS namespaces: real root, or an unprivileged
**user namespace** (``unshare --user --map-root-user``), which most desktop distributions allow and many
CI sandboxes and Docker's default seccomp profile do not. Rather than guess from sysctls, the probe does
the real thing once per process: it starts a container pid 1 in probe mode, which builds a full container
root (tmpfs, read-only binds, its own ``/proc``, ``pivot_root``) and exits. If that works, containers
will too; if not, the runtime falls back to plain processes (see the package docstring).

Entering namespaces: a container's pid 1 is started by util-linux's ``unshare`` (small, well kept).
Exec uses our own ``_enter.py`` rather than ``nsenter``: ``setns`` must happen in a fresh single-threaded
process anyway (never in the threaded server), and only a helper that forks *inside* the PID namespace
can make the exec's session leader a process of the container, which interactive shells need (details
in ``_enter.py``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from . import rootfs
from .fdio import pipe, set_pipe_size
from .userland import Staged

__all__ = [
    "ENTER_SCRIPT",
    "INIT_SCRIPT",
    "Isolation",
    "enter_argv",
    "init_argv",
    "probe",
    "share_pid_argv",
    "unshare_argv",
]

INIT_SCRIPT = str(Path(__file__).with_name("_init.py"))
ENTER_SCRIPT = str(Path(__file__).with_name("_enter.py"))
UNSHARE = shutil.which("unshare", path="/usr/bin:/bin") or "/usr/bin/unshare"
NSENTER = shutil.which("nsenter", path="/usr/bin:/bin") or "/usr/bin/nsenter"


@dataclass(frozen=True)
class Isolation:
    """The probe's verdict."""

    mode: str  # "namespaces" or "process"
    userns: bool = False  # namespaces through an unprivileged user namespace
    reason: str = ""  # why namespaces are not available (process mode)


def unshare_argv(userns: bool) -> list[str]:
    """``unshare`` for a container's pid 1.

    ``--fork``: the new PID namespace's first process is unshare's child; ``--kill-child``: should
    unshare itself die, that child gets SIGKILL (and takes the namespace with it). ``--mount`` implies
    private propagation, so nothing the container mounts is seen by the host.
    """
    argv = [UNSHARE]
    if userns:
        argv += ["--user", "--map-root-user"]
    return [*argv, "--pid", "--fork", "--mount", "--uts", "--kill-child", "--"]


def share_pid_argv(pid1: int, userns: bool) -> list[str]:
    """Like :func:`unshare_argv`, but the container joins the PID namespace whose pid 1 is ``pid1``.

    What an ephemeral container with a ``targetContainerName`` gets: its processes live in the target's
    PID namespace (``ps`` shows the target's processes) while it keeps its own root filesystem and
    hostname.  ``nsenter --pid`` forks, so its child is inside; that child's ``unshare`` makes the mount
    and UTS namespaces.  The container's pid 1 is then *not* the namespace's init, so its end does not
    kill its processes by itself: they carry the environment marker and are killed by it (see
    ``_init.py``); if the target's namespace ends first, the kernel takes them all.
    """
    argv = [NSENTER, f"--target={pid1}"]
    if userns:  # the namespace belongs to the target's user namespace: join that first
        argv += ["--user", "--preserve-credentials"]
    return [*argv, "--pid", "--", UNSHARE, "--mount", "--uts", "--"]


def init_argv(config_fd: int) -> list[str]:
    """The container pid 1: the interpreter in isolated mode without ``site`` (fast start, stdlib only)."""
    return [sys.executable, "-I", "-S", INIT_SCRIPT, str(config_fd)]


def enter_argv(config_fd: int) -> list[str]:
    """The exec helper that joins a container's namespaces (see ``_enter.py`` for why not nsenter)."""
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


def _try(state_dir: Path, userns: bool) -> str:
    """Start a probe container; return ``""`` on success or the reason it failed."""
    root = state_dir / "rootfs"
    root.mkdir(parents=True, exist_ok=True)
    status_r, status_w = pipe()
    config = {
        "isolation": "namespaces",
        "probe": True,
        "hostname": "probe",
        "root": str(root),
        "mounts": rootfs.plan(str(root), Staged()),
        "status_fd": status_w,
    }
    config_fd = write_config(config)
    try:
        proc = subprocess.run(
            [*unshare_argv(userns), *init_argv(config_fd)],
            pass_fds=(config_fd, status_w),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    finally:
        os.close(config_fd)
        os.close(status_w)
    with os.fdopen(status_r, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    if proc.returncode == 0 and any(e.get("event") == "ready" for e in events):
        return ""
    errors = [str(e.get("message")) for e in events if e.get("event") == "error"]
    return "; ".join(errors) or proc.stderr.decode(errors="replace").strip() or f"exit {proc.returncode}"


@functools.cache
def _probe(euid: int, state_dir: str) -> Isolation:
    reasons = []
    attempts = [False, True] if euid == 0 else [True]
    for userns in attempts:
        reason = _try(Path(state_dir), userns)
        if not reason:
            return Isolation("namespaces", userns=userns)
        reasons.append(("user namespace: " if userns else "") + reason)
    return Isolation("process", reason="; ".join(reasons))


_first_state_dir: dict[int, str] = {}


def probe(state_dir: Path) -> Isolation:
    """Find out (once per process and user) whether containers can get their own namespaces here.

    The answer does not depend on the state directory, so the first one asked is used for the probe.
    """
    euid = os.geteuid()
    return _probe(euid, _first_state_dir.setdefault(euid, str(state_dir)))
