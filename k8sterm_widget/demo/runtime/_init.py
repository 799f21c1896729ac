"""A container's shim and, in a forked child, its pid 1: what containerd-shim and runc do for a container.

Run as ``python -I -S _init.py CONFIG_FD`` by :class:`.container.Container`. Stdlib only and ``-S``: no
site-packages, no package imports (the siblings ``_ns.py``, ``caps.py``, ``limits.py``, ``lookpath.py``,
``proctree.py`` are loaded by path), so it starts in a few tens of milliseconds.

**The shim** (this process, outside the container's PID namespace, like ``containerd-shim``):

1. joins the pod sandbox's namespaces — the node user namespace (without root), the pod's user namespace,
   network, UTS and IPC namespaces — and becomes root there;
2. makes the container's mount namespace (private: nothing propagates to the host) and PID namespace
   (for an ephemeral container with a target, joins the target's instead);
3. forks the child below, reports ``ready`` with its pid (or the child's error, worded like runc) on the
   status socket, and supervises: when the main process exits it reports ``exit`` with its status (128+N
   for signal N) and exits; when the **lifeline** breaks — the server is gone, however it ended — it
   SIGKILLs the main process, which takes the whole PID namespace with it.

**The child** becomes the container's pid 1, as on containerd (no init of ours inside):

1. builds the root file system (:mod:`.rootfs`'s plan) and ``pivot_root``s into it;
2. for a tty container, opens a terminal of the container's own devpts and sends its master to the
   server over the status socket;
3. resolves the command with runc's rules (:mod:`.lookpath`), enters the working directory, drops to
   containerd's default capabilities with ``no_new_privs`` (:mod:`.caps`) and ``execve``s the main process
   on the stdio the server passed in. It dies with the shim (``PR_SET_PDEATHSIG``).

In process mode (no namespaces allowed) there is no container: the child is a plain host process whose
environment carries ``K8STERM_CONTAINER_ID=<id>``, and the shim kills every process with that marker when
the main process ends or the lifeline breaks. Best effort, and documented as such. The same marker kills
an ephemeral container's processes, which live in their target's PID namespace rather than one of their
own.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _ns
import caps
import limits
import lookpath
import proctree


def read_config(fd: int) -> dict:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks))


def prepare_workdir(path: str, namespaces: bool) -> None:
    """``chdir`` to the working directory, creating it like runc does (only ever inside the container).

    In process mode the "container" is the host, so nothing is created: a missing directory means ``/``.
    """
    if not namespaces:
        try:
            os.chdir(path)
        except OSError:
            os.chdir("/")
        return
    try:
        os.makedirs(path, exist_ok=True)
        os.chdir(path)
    except OSError as exc:
        reason = os.strerror(exc.errno or 0)
        reason = reason[:1].lower() + reason[1:]
        raise _ns.SetupError(
            f'error during container init: chdir to cwd ("{path}") set in config.json failed: {reason}'
        ) from None


def become(cfg: dict) -> None:
    """The container's user and capabilities (see :func:`caps.drop_privileges`), worded like runc."""
    user = cfg.get("user")
    try:
        caps.drop_privileges(cfg["last_cap"], cfg.get("caps", caps.mask()), tuple(user) if user else None)
    except OSError as exc:
        reason = os.strerror(exc.errno or 0).lower() if exc.errno else str(exc)
        detail = f"unable to set user {user[0]}:{user[1]}: {reason}" if user else str(exc)
        if user and exc.errno == 22:  # EINVAL: the id is not mapped into the pod's user namespace
            detail += " (without root, the demo cluster's containers have only uid 0)"
        raise _ns.SetupError(f"error during container init: {detail}") from None


def child(cfg: dict, error_w: int) -> None:
    """In the forked child: become the container's main process. Never returns."""
    try:
        namespaces = cfg["isolation"] == "namespaces"
        _ns.die_with_parent()
        stdio = list(cfg["stdio"])
        if namespaces:
            _ns.run_plan(cfg["mounts"])
            _ns.pivot_into(cfg["root"])
        if cfg.get("probe"):
            os._exit(0)
        if cfg["tty"] and cfg.get("console"):
            master, slave = _ns.open_console(tuple(cfg["size"]))
            _ns.send(cfg["status_fd"], {"event": "console"}, [master])
            os.close(master)
            stdio = [slave, slave, slave]
        prepare_workdir(cfg["workdir"], namespaces)
        argv = cfg["argv"]
        if not argv:
            raise _ns.SetupError("error during container init: args must not be empty")
        try:
            path = lookpath.look_path(argv[0], cfg["env"].get("PATH", ""), "", cfg.get("overlay") or {})
        except lookpath.LookPathError as exc:
            raise _ns.SetupError(str(exc), kind="lookpath") from None
        os.setsid()
        high = [os.dup(fd) for fd in stdio]
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        if cfg["tty"]:
            import fcntl
            import termios

            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if namespaces:
            limits.rlimits(cfg.get("pids") or limits.PIDS)
            become(cfg)
        _ns.default_signals()
        os.closerange(3, error_w)
        os.closerange(error_w + 1, 1 << 16)
        os.execve(path, argv, cfg["env"])
    except _ns.SetupError as exc:
        message = {"kind": exc.kind, "message": str(exc)}
    except BaseException as exc:
        message = {"kind": "init", "message": f"error during container init: {exc}"}
    try:
        os.write(error_w, json.dumps(message).encode())
    finally:
        os._exit(128)


def wait_started(error_r: int) -> dict | None:
    """The child's error, or None once its ``execve`` closed the close-on-exec pipe."""
    chunks = []
    while chunk := os.read(error_r, 65536):
        chunks.append(chunk)
    os.close(error_r)
    if not chunks:
        return None
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        return {"kind": "init", "message": "error during container init"}


def supervise(pid: int, lifeline: int) -> int | None:
    """Wait for the main process (its runtime exit code) or the lifeline's end (None)."""
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return 137
        if done:
            code = os.waitstatus_to_exitcode(status)
            return 128 - code if code < 0 else code
        readable, _, _ = select.select([lifeline, wake_r], [], [])
        if lifeline in readable:
            try:
                data = os.read(lifeline, 4096)
            except OSError:
                data = b""
            if not data:
                return None
        if wake_r in readable:
            try:
                while os.read(wake_r, 4096):
                    pass
            except BlockingIOError:
                pass


def main() -> None:
    cfg = read_config(int(sys.argv[1]))
    status = cfg["status_fd"]
    namespaces = cfg["isolation"] == "namespaces"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the server's terminal is not for containers
    try:
        if namespaces:
            limits.oom_score(cfg.get("oom_score_adj", 1000))
            _ns.enter([(kind, fd) for kind, fd in cfg["namespaces"]])
            flags = _ns.CLONE_NEWNS
            if cfg.get("share_pid") is not None:
                _ns.setns(cfg["share_pid"], "pid")
                os.close(cfg["share_pid"])
            else:
                flags |= _ns.CLONE_NEWPID
            _ns.unshare(flags)
            _ns.make_private()
        error_r, error_w = os.pipe2(os.O_CLOEXEC)
        pid = os.fork()
        if pid == 0:
            os.close(error_r)
            child(cfg, error_w)
        os.close(error_w)
        for fd in set(cfg["stdio"]):  # the main process holds them now; EOF must follow its exit
            os.close(fd)
        failure = wait_started(error_r)
    except _ns.SetupError as exc:
        _ns.send(status, {"event": "error", "kind": exc.kind, "message": str(exc)})
        os._exit(128)
    except Exception as exc:
        _ns.send(status, {"event": "error", "kind": "init", "message": f"error during container init: {exc}"})
        os._exit(128)
    if cfg.get("probe"):
        _, wstatus = os.waitpid(pid, 0)
        ok = failure is None and os.waitstatus_to_exitcode(wstatus) == 0
        _ns.send(
            status, {"event": "ready"} if ok else {"event": "error", **(failure or {"message": "probe"})}
        )
        os._exit(0 if ok else 1)
    if failure is not None:
        os.waitpid(pid, 0)
        _ns.send(status, {"event": "error", **failure})
        os._exit(128)
    _ns.send(status, {"event": "ready", "pid": pid})
    code = supervise(pid, cfg["lifeline_fd"])
    if code is None:  # lifeline EOF: the server is gone; pid 1's end takes its PID namespace along
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
    if not namespaces or cfg.get("share_pid") is not None:  # no PID namespace of our own dies with us
        proctree.kill_marked(cfg["marker"])
    if code is None:
        os._exit(137)
    _ns.send(status, {"event": "exit", "code": code})
    os._exit(code)


if __name__ == "__main__":
    main()
