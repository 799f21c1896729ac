"""Find and kill every process that belongs to an exec session, through the host's ``/proc``.

An exec session owns more than the process we spawned: a shell's pipelines and background jobs, and —
once the shell has exited — those same processes re-parented to the container's pid 1 (namespace mode) or
to the host's init (process mode). "No orphans, ever" therefore needs several nets, all read from the
host's ``/proc`` (whose pid numbers are the host's even for processes inside a container's PID namespace):

* the **tree** below the spawned pid (``/proc/<pid>/task/*/children``);
* the **session**: a non-tty exec starts as a session leader, so everything it started that did not
  ``setsid`` itself carries its session id, even after re-parenting;
* the **terminal**: processes whose controlling tty is the session's PTY — while the session leader lives;
  when it exits the kernel detaches the terminal from the whole session (``tty_nr`` becomes 0), so also
* the **holders**: processes that still have the PTY slave or one of the session's pipes open — exactly
  the ones that would keep the output from ever reaching EOF.

Process-mode containers have no PID namespace to collapse; their processes carry an environment marker
and :func:`kill_marked` finds them (used by pid 1 on its way out and by the server as a backstop).

Stdlib only, no package imports: the container's pid 1 (``_init.py``) loads this file by path.

What escapes all nets — a process that closed its stdio *and* left the session (``nohup … >/dev/null &``
then ``exit``, or a daemon) — stays in the container, as it would in Kubernetes, and dies with it.

Killing a tree naively races with ``fork``: kill the parent first and its fresh child is re-parented out
of sight. So members are first SIGSTOPped (a stopped process cannot fork), the walk repeats until it finds
nobody new, and only then everything gets SIGKILL.
"""

from __future__ import annotations

import os
import signal
import stat
from collections.abc import Collection, Iterable

__all__ = ["MARKER", "children", "kill_all", "kill_marked", "session_members", "tree", "tty_nr"]

MARKER = "K8STERM_CONTAINER_ID"


def children(pid: int) -> list[int]:
    """Direct children of ``pid`` (all threads), empty when it is gone."""
    result: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return result
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                result.extend(int(p) for p in f.read().split())
        except OSError:
            continue
    return result


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that exist right now, parents first."""
    order = [pid]
    index = 0
    while index < len(order):
        order.extend(c for c in children(order[index]) if c not in order)
        index += 1
    return order


def _stat(pid: int) -> tuple[int, int] | None:
    """(session id, tty_nr) from ``/proc/<pid>/stat``; the command name may contain spaces or ')'."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2 :].split()
    # fields[0] is state (stat field 3); session is field 6, tty_nr field 7.
    try:
        return int(fields[3]), int(fields[4])
    except (IndexError, ValueError):
        return None


def tty_nr(rdev: int) -> int:
    """Encode a device number the way ``/proc/<pid>/stat`` shows ``tty_nr`` (the kernel's new_encode_dev)."""
    major, minor = os.major(rdev), os.minor(rdev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def _holds(pid: int, files: Collection[tuple[int, int]], devices: Collection[int]) -> bool:
    """Whether ``pid`` has one of ``files`` ((st_dev, st_ino) pairs) or character ``devices`` open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            st = os.stat(f"/proc/{pid}/fd/{fd}")  # follows the magic link, whatever namespace it is in
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in files or (stat.S_ISCHR(st.st_mode) and st.st_rdev in devices):
            return True
    return False


def session_members(
    session: int | None,
    tty: int | None = None,
    *,
    files: Collection[tuple[int, int]] = (),
    devices: Collection[int] = (),
) -> list[int]:
    """Pids in session ``session``, with controlling terminal ``tty`` (a ``tty_nr`` value), or holding
    one of ``files`` / ``devices`` open (see :func:`_holds`). This process is never included."""
    found = []
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        info = _stat(pid)
        if info is None:
            continue
        sid, ctty = info
        if (
            (session is not None and sid == session)
            or (tty and ctty == tty)
            or ((files or devices) and _holds(pid, files, devices))
        ):
            found.append(pid)
    return found


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:  # already gone (or never ours)
        pass


def kill_all(
    roots: Iterable[int],
    *,
    session: int | None = None,
    tty: int | None = None,
    files: Collection[tuple[int, int]] = (),
    devices: Collection[int] = (),
    spare: Collection[int] = (),
) -> list[int]:
    """SIGKILL ``roots``, their descendants and the session's members (see :func:`session_members`).

    ``spare``: pids whose descendants are killed but not they themselves (the exec helper, which must
    live to reap its child, see :meth:`.process.ExecProcess.kill`). Returns the pids signalled. Never
    signals this process or its parent.
    """
    protected = {os.getpid(), os.getppid(), *spare}
    stopped: list[int] = []
    seen: set[int] = set()
    for _round in range(50):
        found = []
        candidates = list(roots)
        if session is not None or tty or files or devices:
            candidates += session_members(session, tty, files=files, devices=devices)
        for root in candidates:
            found.extend(tree(root))
        new = [p for p in dict.fromkeys(found) if p not in seen and p not in protected]
        if not new:
            break
        for pid in new:
            _signal(pid, signal.SIGSTOP)
            seen.add(pid)
            stopped.append(pid)
    for pid in stopped:
        _signal(pid, signal.SIGKILL)
    return stopped


def marked(marker: str) -> list[int]:
    """Pids whose environment has ``K8STERM_CONTAINER_ID=<marker>`` (zombies have no environment)."""
    needle = f"{MARKER}={marker}".encode()
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def kill_marked(marker: str) -> None:
    """SIGKILL every process carrying ``marker`` until none is left (new forks inherit the marker)."""
    for _round in range(100):
        found = marked(marker)
        if not found:
            return
        for pid in found:
            _signal(pid, signal.SIGKILL)
