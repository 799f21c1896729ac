"""A demo container's pid 1: build the root, start the main process, reap, and die with the server.

Run as ``python -I -S _init.py CONFIG_FD`` (the JSON configuration arrives in a pipe, so it does not show
in ``ps``), in namespace mode through ``unshare --pid --fork --mount --uts --kill-child`` (so this process
is pid 1 of a new PID namespace, with its own mount and UTS namespaces), in process mode directly. It is a
script, not a package module: ``-I -S`` and importing only the stdlib (plus the stdlib-only siblings
``lookpath.py`` and ``proctree.py``, loaded before the root changes) keep its startup at a few tens of
milliseconds, and after ``pivot_root`` the package's files are not even visible any more. It retitles
itself ``/sbin/tini -- <main command>`` so that ``ps`` inside the container looks like a container with
an init (``docker run --init``), not like a Python process with host paths.

What it does, in order:

1. namespace mode: set the hostname (= pod name), carry out the mount plan from :mod:`.rootfs`
   (tmpfs root, read-only binds, own ``/proc``, ``/tmp`` …) and ``pivot_root`` into it;
2. resolve the main command against the container's ``PATH`` with runc's rules (:mod:`.lookpath`) and
   ``chdir`` to the working directory; failures are reported with runc's wording;
3. start the main process on the stdio the server passed in (a PTY slave becomes its controlling
   terminal), report ``ready`` on the status pipe;
4. supervise: reap every child (orphans of ``exec`` sessions are re-parented to pid 1 and would
   otherwise stay zombies), forward SIGTERM/SIGINT/SIGHUP/SIGQUIT to the main process, and exit with the
   main process's exit code (128+N when it was killed by signal N). When pid 1 of a PID namespace exits,
   the kernel SIGKILLs everything else in it — the whole container goes with it.

The **lifeline**: the server holds the only write end of a pipe whose read end is here. Nobody ever
writes to it; when the server process ends for any reason, SIGKILL included, the kernel closes the write
end, this process sees EOF and exits at once, and the container's PID namespace dies with it. No orphans
survive a crashed server.

In process mode (no namespaces available), and for a container that joined another one's PID namespace
(``shared_pid``: then this process is not that namespace's init), there is no PID namespace of its own to
collapse, so every process of the container carries ``K8STERM_CONTAINER_ID=<id>`` in its environment,
and on lifeline EOF or main exit this process SIGKILLs every process whose environment has that marker.
Best effort: a process that rewrites its environment escapes; process mode is a fallback and documented as
such, and a debug container's processes also die with its target's namespace.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import select
import signal
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lookpath  # stdlib-only siblings, see their docstrings
import proctree

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2
# Flags the kernel locks on mounts inherited into a user namespace; a remount must repeat them.
_LOCKABLE = {
    "nosuid": MS_NOSUID,
    "nodev": MS_NODEV,
    "noexec": MS_NOEXEC,
    "noatime": MS_NOATIME,
    "nodiratime": MS_NODIRATIME,
    "relatime": MS_RELATIME,
    "strictatime": MS_STRICTATIME,
}
# glibc has no pivot_root() wrapper; syscall numbers per architecture.
_SYS_PIVOT_ROOT = {
    **dict.fromkeys(("aarch64", "riscv64", "loongarch64"), 41),
    "x86_64": 155,
    **dict.fromkeys(("ppc64", "ppc64le"), 203),
    **dict.fromkeys(("s390x", "i386", "i686"), 217),
    **dict.fromkeys(("armv7l", "armv8l"), 218),
}
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]


class SetupError(Exception):
    """A step before the main process could not be done; ``kind`` tells the server how to word it."""

    def __init__(self, message: str, kind: str = "init") -> None:
        super().__init__(message)
        self.kind = kind


def _enc(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_enc(src), _enc(target), _enc(fstype), flags, _enc(data)), f"mount {target}")


def _mountinfo() -> list[tuple[str, int]]:
    """(mount point, lockable flags) of every mount in this namespace, in mount order."""
    result = []
    with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            fields = line.split()
            point = fields[4]
            for escaped, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
                point = point.replace(escaped, char)
            flags = 0
            for option in fields[5].split(","):
                flags |= _LOCKABLE.get(option, 0)
            result.append((point, flags))
    return result


def _readonly(root: str, keep: list[str]) -> None:
    keep_set = set(keep)
    for point, flags in _mountinfo():
        if point in keep_set or not (point == root or point.startswith(root + "/")):
            continue
        mount(None, point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def run_plan(ops: list[list[str]]) -> None:
    """Carry out :func:`rootfs.plan`'s operations (see there for their meaning)."""
    for op in ops:
        kind, args = op[0], op[1:]
        if kind == "tmpfs":
            mount("tmpfs", args[0], "tmpfs", MS_NOSUID | MS_NODEV, args[1])
        elif kind == "rbind":
            mount(args[0], args[1], None, MS_BIND | MS_REC)
        elif kind == "bind":
            mount(args[0], args[1], None, MS_BIND)
        elif kind == "bind?":
            if os.path.exists(args[0]):
                mount(args[0], args[0], None, MS_BIND)
        elif kind == "mkdir":
            os.makedirs(args[0], mode=0o755, exist_ok=True)
        elif kind == "touch":
            os.close(os.open(args[0], os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        elif kind == "symlink":
            os.symlink(args[0], args[1])
        elif kind == "proc":
            mount("proc", args[0], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "readonly":
            _readonly(args[0], list(args[1:]))
        else:
            raise SetupError(f"unknown mount op {kind}")


def pivot_into(root: str) -> None:
    """Make ``root`` this mount namespace's ``/`` and drop the host's tree from it entirely.

    ``pivot_root(".", ".")`` stacks the old root on top of the new one; detaching it leaves only the
    container's tree, so joining this mount namespace (``setns``) lands in the container root as well.
    """
    os.chdir(root)
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is not None:
        _check(_libc.syscall(number, b".", b"."), "pivot_root")
    else:  # unknown architecture: util-linux's pivot_root(8) pivots every process of the namespace
        pid = os.fork()
        if pid == 0:
            try:
                os.execv("/usr/sbin/pivot_root", ["pivot_root", ".", "."])
            finally:
                os._exit(127)
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SetupError("pivot_root failed")
    _check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def setup_namespaces(cfg: dict) -> None:
    name = cfg["hostname"].encode()
    _check(_libc.sethostname(name, len(name)), "sethostname")
    run_plan(cfg["mounts"])
    pivot_into(cfg["root"])


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
        raise SetupError(
            f'error during container init: chdir to cwd ("{path}") set in config.json failed: {reason}'
        ) from None


def report(fd: int, **event: object) -> None:
    try:
        os.write(fd, (json.dumps(event) + "\n").encode())
    except OSError:  # the server is gone; the lifeline will end us
        pass


def _high_fd(fd: int) -> int:
    return fcntl.fcntl(fd, fcntl.F_DUPFD, 10)


def _exec_main(path: str, argv: list[str], env: dict[str, str], stdio: list[int], tty: bool) -> None:
    """In the forked child: become the main process. Never returns."""
    try:
        signal.set_wakeup_fd(-1)
        for sig in (*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        os.setsid()
        high = [_high_fd(fd) for fd in stdio]
        for target, fd in enumerate(high):
            os.dup2(fd, target)
        if tty:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        os.closerange(3, 1 << 16)
        os.execve(path, argv, env)
    except BaseException as exc:  # the race after lookup: say why, exit like a shell would
        try:
            os.write(2, f"init: cannot start {argv[0]}: {exc}\n".encode())
        finally:
            os._exit(127)


class Supervisor:
    """pid 1's loop: reap, forward signals, watch the lifeline; returns the main process's exit code."""

    def __init__(self, lifeline: int) -> None:
        self.lifeline = lifeline
        self.main_pid = 0
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        for sig in FORWARDED:
            signal.signal(sig, self._forward)

    def start_main(
        self, path: str, argv: list[str], env: dict[str, str], stdio: list[int], tty: bool
    ) -> None:
        """Fork and exec the main process with the signals to forward blocked across the fork.

        Unblocked only once ``main_pid`` is known (parent) or the handlers are back to default (child):
        a SIGTERM arriving in between is then delivered late instead of being lost.
        """
        signal.pthread_sigmask(signal.SIG_BLOCK, {*FORWARDED, signal.SIGCHLD})
        pid = os.fork()
        if pid == 0:
            _exec_main(path, argv, env, stdio, tty)
        self.main_pid = pid
        signal.pthread_sigmask(signal.SIG_SETMASK, set())

    def _forward(self, signum: int, _frame: object) -> None:
        if self.main_pid:
            try:
                os.kill(self.main_pid, signum)
            except OSError:
                pass

    def _reap(self) -> int | None:
        code = None
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return code
            if pid == 0:
                return code
            if pid == self.main_pid:
                code = os.waitstatus_to_exitcode(status)
                code = 128 - code if code < 0 else code

    def run(self) -> int | None:
        """The main process's exit code, or ``None`` when the lifeline broke."""
        while True:
            code = self._reap()
            if code is not None:
                return code
            readable, _, _ = select.select([self.lifeline, self.wake_r], [], [])
            if self.lifeline in readable:
                try:
                    data = os.read(self.lifeline, 4096)
                except OSError:
                    data = b""
                if not data:
                    return None
            if self.wake_r in readable:
                try:
                    while os.read(self.wake_r, 4096):
                        pass
                except BlockingIOError:
                    pass


def read_config(fd: int) -> dict:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return json.loads(b"".join(chunks))


def retitle(title: str) -> None:
    """Show as ``title`` in ``ps`` (inside the container this is pid 1) instead of python + host paths.

    Like setproctitle: overwrite the original argv area whose bounds the kernel publishes in
    ``/proc/self/stat`` (Python keeps its own copy of the arguments). Cosmetic, so any failure is ignored.
    """
    try:
        _libc.prctl(15, title.split()[0].rsplit("/", 1)[-1].encode()[:15], 0, 0, 0)  # PR_SET_NAME
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        start, end = int(fields[45]), int(fields[46])  # arg_start, arg_end (stat fields 48, 49)
        data = title.encode()[: end - start - 1]
        ctypes.memset(start, 0, end - start)
        ctypes.memmove(start, data, len(data))
    except Exception:
        pass


def main() -> None:
    cfg = read_config(int(sys.argv[1]))
    retitle("/sbin/tini -- " + " ".join(cfg.get("argv") or ["probe"]))
    status = cfg["status_fd"]
    namespaces = cfg["isolation"] == "namespaces"
    try:
        if namespaces:
            setup_namespaces(cfg)
        if cfg.get("probe"):
            report(status, event="ready")
            os._exit(0)
        prepare_workdir(cfg["workdir"], namespaces)
        argv = cfg["argv"]
        if not argv:
            raise SetupError("error during container init: args must not be empty")
        try:
            path = lookpath.look_path(argv[0], cfg["env"].get("PATH", ""), "", cfg.get("overlay") or {})
        except lookpath.LookPathError as exc:
            raise SetupError(str(exc), kind="lookpath") from None
        supervisor = Supervisor(cfg["lifeline_fd"])
        supervisor.start_main(path, argv, cfg["env"], cfg["stdio"], cfg["tty"])
    except SetupError as exc:
        report(status, event="error", kind=exc.kind, message=str(exc))
        os._exit(128)
    except Exception as exc:
        report(status, event="error", kind="init", message=f"error during container init: {exc}")
        os._exit(128)
    for fd in set(cfg["stdio"]):  # the main process holds them now; EOF must follow its exit
        os.close(fd)
    report(status, event="ready", workdir=os.getcwd())
    code = supervisor.run()
    if not namespaces or cfg.get("shared_pid"):  # no PID namespace of our own dies with us
        proctree.kill_marked(cfg["marker"])
    if code is None:  # lifeline EOF: the server is gone; exiting kills the namespace
        os._exit(137)
    report(status, event="exit", code=code)
    os._exit(code)


if __name__ == "__main__":
    main()
