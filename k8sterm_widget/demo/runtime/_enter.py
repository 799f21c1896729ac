"""Join a running container's namespaces and run a command there, the way ``runc exec`` does.

Run as ``python -I -S _enter.py CONFIG_FD`` by :meth:`Container.exec` in namespace mode. The config (JSON
in a pipe: container pid 1, the node user namespace without root, resolved path, argv, env, working
directory, tty) is read; every namespace file of pid 1 is opened *first* (after joining the mount
namespace, ``/proc`` is the container's), then ``setns`` joins the user namespaces, then mount, UTS, IPC,
network and PID, and a fork puts the child inside the PID namespace. The child, now a process *of the
container*, starts a session of its own; for a tty it opens a terminal of the container's devpts, sends
the master to the server over the console socket (runc's ``--console-socket``), and makes the slave its
controlling terminal and stdio. It takes on the container's limits (:mod:`.limits`: a runc exec gets its
container's rlimits and OOM score), drops to containerd's default capabilities with ``no_new_privs``,
``chdir``s and ``execve``s the command with the exact argv (``argv[0]`` stays ``sh``) and environment.
This process waits and exits with the child's status (128+N if it was killed by signal N).

What the child leaves behind when it exits stays in the container, as with runc: a background job keeps
running (re-parented to the container's pid 1), and keeps the exec's output pipes open while it holds
them (a terminal's output ends with the child, as containerd's shim shuts the console down then).

Why a helper that forks *inside* the PID namespace instead of ``nsenter``: the terminal's session leader
and foreground process group must be processes of the container; a shell saves the terminal's process
group at start-up and restores it on exit (dash fails with "Cannot set tty process group" otherwise).
Stdlib only, ``-I -S``: starts in ~15 ms; a fresh single-threaded process is also what ``setns`` of a
user or mount namespace requires.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _ns
import caps
import limits

NAMESPACES = ("user", "mnt", "uts", "ipc", "net", "pid")


def main() -> None:
    fd = int(sys.argv[1])
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    cfg = json.loads(b"".join(chunks))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        handles = [("node_user", cfg["node_user"])] if cfg.get("node_user") is not None else []
        for kind in NAMESPACES:
            path = f"/proc/{cfg['pid1']}/ns/{kind}"
            if kind == "user" and os.readlink(path) == os.readlink("/proc/self/ns/user"):
                continue  # no user namespace of the pod (root without one)
            if kind in ("net", "ipc", "uts") and os.readlink(path) == os.readlink(f"/proc/self/ns/{kind}"):
                continue
            handles.append((kind, os.open(path, os.O_RDONLY | os.O_CLOEXEC)))
    except OSError as exc:
        os.write(2, f"exec: container is gone: {exc}\n".encode())
        os._exit(126)
    try:
        limits.oom_score(cfg.get("oom_score_adj", 1000))
        _ns.enter(handles)
    except (_ns.SetupError, OSError) as exc:
        os.write(2, f"exec: {exc}\n".encode())
        os._exit(126)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if cfg["tty"]:
                master, slave = _ns.open_console(tuple(cfg["size"]))
                _ns.send(cfg["console_fd"], {"event": "console"}, [master])
                os.close(master)
                for target in (0, 1, 2):
                    os.dup2(slave, target)
                os.close(slave)
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            if cfg.get("console_fd") is not None:
                os.close(cfg["console_fd"])
            try:
                os.chdir(cfg["workdir"])
            except OSError:
                os.chdir("/")
            limits.rlimits(cfg.get("pids") or limits.PIDS)
            user = cfg.get("user")
            caps.drop_privileges(cfg["last_cap"], cfg.get("caps", caps.mask()), tuple(user) if user else None)
            _ns.default_signals()  # last: until here a closed console socket must not kill us (SIGPIPE)
            os.execve(cfg["path"], cfg["argv"], cfg["env"])
        except BaseException as exc:
            try:
                os.write(2, f"exec: {cfg['argv'][0]}: {exc}\n".encode())
            finally:
                os._exit(127)
    if cfg.get("console_fd") is not None:
        os.close(cfg["console_fd"])
    if cfg["tty"]:  # the terminal is the child's now; ours must not keep the exec's output open
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.close(devnull)
    else:  # the pipes belong to the child (and whatever it leaves running), not to us
        devnull = os.open(os.devnull, os.O_RDWR)
        for target in (0, 1, 2):
            os.dup2(devnull, target)
        os.close(devnull)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
