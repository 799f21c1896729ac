"""Join a running container's namespaces and run a command there, the way ``runc exec`` does.

Run as ``python -I -S _enter.py CONFIG_FD`` by :meth:`Container.exec` in namespace mode. The config (JSON
in a pipe: container pid 1, namespaces, resolved path, argv, env, working directory, tty) is read, every
namespace file is opened *first* (after joining the mount namespace ``/proc`` is the container's), then
``setns`` joins user (if any), mount, UTS and PID namespaces, and a fork puts the child inside the PID
namespace. The child, now a process *of the container*, for a tty becomes a session leader with the PTY
slave on its stdin as controlling terminal (without a tty it stays in this process's session, which the
runtime's clean-up scans for leftovers), ``chdir``s and ``execve``s the command with the
exact argv (``argv[0]`` stays ``sh``, not ``/usr/bin/sh``) and environment. This process waits and exits
with the child's status (128+N if it was killed by signal N).

Why not ``setsid --ctty nsenter …``: then the terminal's session leader and foreground process group
are host processes, invisible inside the container's PID namespace. A shell saves the terminal's process
group at start-up and restores it on exit; dash then fails with "Cannot set tty process group (No such
process)" and exits 2 instead of the requested status. The session must be created *inside* the
namespace, which nsenter cannot do, and ``setsid`` from the host may not exist in the container's view
(busybox, distroless). Stdlib only, ``-I -S``: starts in ~15 ms; a fresh single-threaded process is also
what ``setns(CLONE_NEWNS)`` requires.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import signal
import sys
import termios

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000


def main() -> None:
    fd = int(sys.argv[1])
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    cfg = json.loads(b"".join(chunks))
    libc = ctypes.CDLL(None, use_errno=True)
    kinds = [("user", CLONE_NEWUSER)] if cfg["userns"] else []
    kinds += [("mnt", CLONE_NEWNS), ("uts", CLONE_NEWUTS), ("pid", CLONE_NEWPID)]
    try:
        handles = [
            (os.open(f"/proc/{cfg['pid1']}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag)
            for name, flag in kinds
        ]
    except OSError as exc:
        os.write(2, f"exec: container is gone: {exc}\n".encode())
        os._exit(126)
    for handle, flag in handles:
        if libc.setns(handle, flag) != 0:
            err = ctypes.get_errno()
            os.write(2, f"exec: setns: {os.strerror(err)}\n".encode())
            os._exit(126)
        os.close(handle)
    pid = os.fork()
    if pid == 0:
        try:
            for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            if cfg["tty"]:
                os.setsid()
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)
            try:
                os.chdir(cfg["workdir"])
            except OSError:
                os.chdir("/")
            os.execve(cfg["path"], cfg["argv"], cfg["env"])
        except BaseException as exc:
            try:
                os.write(2, f"exec: {cfg['argv'][0]}: {exc}\n".encode())
            finally:
                os._exit(127)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(128 - code if code < 0 else code)


if __name__ == "__main__":
    main()
