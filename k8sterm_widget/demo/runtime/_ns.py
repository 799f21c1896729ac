"""Namespaces, mounts and consoles for the container's pid 1 (``_init.py``) and execs (``_enter.py``).

What runc's ``nsexec`` and ``rootfs_linux.go`` do, in ctypes: join a pod's namespaces in the order the
kernel requires (user namespaces first: ``setns`` into the others needs ``CAP_SYS_ADMIN`` over them),
carry out :func:`rootfs.plan`'s mount operations, ``pivot_root``, and make a terminal in the container's
own devpts whose master goes back to the server over a Unix socket (runc's ``--console-socket``).

Stdlib only, no package imports: loaded by path in fresh ``python -I -S`` processes.
"""

from __future__ import annotations

import array
import ctypes
import errno
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import termios

# A sibling (found through the sys.path entry _init.py/_enter.py put first), imported now and not when a
# volume is mounted: by then /tmp, /root, /run and /var are the container's own, and a package installed
# under one of them (a clone in /tmp, a venv in root's home) is out of sight.
import securejoin

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACE_FLAGS = {
    "node_user": CLONE_NEWUSER,
    "node_mnt": CLONE_NEWNS,
    "user": CLONE_NEWUSER,
    "net": CLONE_NEWNET,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "mnt": CLONE_NEWNS,
    "pid": CLONE_NEWPID,
}

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MS_RELATIME = 0x200000
MS_STRICTATIME = 0x1000000
MNT_DETACH = 0x2
PR_SET_PDEATHSIG = 1
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
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]


class SetupError(Exception):
    """A step before the process could start; ``kind`` tells the server how to word it."""

    def __init__(self, message: str, kind: str = "init") -> None:
        super().__init__(message)
        self.kind = kind


def _enc(value: str | None) -> bytes | None:
    return value.encode() if value is not None else None


def check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)}")


def setns(fd: int, kind: str) -> None:
    check(_libc.setns(fd, NAMESPACE_FLAGS[kind]), f"setns {kind}")


def unshare(flags: int) -> None:
    check(_libc.unshare(flags), "unshare")


def default_signals() -> None:
    """Every signal back to its default action and none blocked, just before ``execve``.

    A container's processes start as a fresh daemon's children would (containerd runs under an init
    that ignores nothing): the server may have been started with SIGHUP ignored (``nohup make demo``) or
    SIGINT ignored (a shell's background job), and ``execve`` keeps an ignored signal ignored — a shell's
    jobs would then survive the hangup a real terminal sends them.
    """
    for sig in signal.valid_signals():
        if sig not in (signal.SIGKILL, signal.SIGSTOP):
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):  # the C library's own real-time signals
                pass
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def die_with_parent() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)


def enter(fds: list[tuple[str, int]]) -> None:
    """``setns`` into each ``(kind, fd)`` in order, closing the fds; become root of a joined user namespace.

    After entering a user namespace this process has every capability there but keeps its uids, which may
    not even be mapped (host root in a pod's range): it switches to the namespace's root, as runc does.
    """
    joined_user = False
    for kind, fd in fds:
        setns(fd, kind)
        os.close(fd)
        joined_user |= kind in ("user", "node_user")
    if joined_user:
        os.setresgid(0, 0, 0)
        os.setresuid(0, 0, 0)
        try:
            os.setgroups([])
        except OSError:  # setgroups is denied in a user namespace an unprivileged user made
            pass


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    check(_libc.mount(_enc(src), _enc(target), _enc(fstype), flags, _enc(data)), f"mount {target}")


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


def _remount_ro(target: str) -> None:
    flags = next((f for point, f in reversed(_mountinfo()) if point == target), 0)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)


def copy_tree(src: str, dst: str) -> None:
    """Copy a directory tree into an existing directory: files, directories, symlinks, modes."""
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = dst if rel == "." else os.path.join(dst, rel)
        if rel != ".":
            os.makedirs(target_dir, exist_ok=True)
            os.chmod(target_dir, os.stat(dirpath).st_mode & 0o7777)
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            source = os.path.join(dirpath, name)
            target = os.path.join(target_dir, name)
            if os.path.islink(source):
                os.symlink(os.readlink(source), target)
            else:
                shutil.copyfile(source, target)
                os.chmod(target, os.stat(source).st_mode & 0o7777)


def _overlay(target: str, lower: str, upper: str, work: str, userns: bool) -> None:
    options = f"lowerdir={lower},upperdir={upper},workdir={work}" + (",userxattr" if userns else "")
    try:
        mount("overlay", target, "overlay", MS_NODEV, options)
    except SetupError:  # no overlay here (old kernel, odd file system): a copy does the same
        copy_tree(lower, upper)
        mount(upper, target, None, MS_BIND)


def _mask(target: str) -> None:
    if not os.path.lexists(target):
        return
    if os.path.isdir(target):
        mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=0")
    else:
        mount("/dev/null", target, None, MS_BIND)


def run_plan(ops: list[list[str]]) -> None:
    """Carry out :func:`rootfs.plan`'s operations (see there for their meaning)."""
    kept: list[str] = []  # writable volumes, where they ended up
    for op in ops:
        kind, args = op[0], op[1:]
        if kind == "tmpfs":
            mount("tmpfs", args[0], "tmpfs", MS_NOSUID | MS_NODEV, args[1])
        elif kind == "overlay":
            _overlay(args[0], args[1], args[2], args[3], args[4] == "1")
        elif kind == "copy":
            if os.path.isdir(args[0]):
                copy_tree(args[0], args[1])
        elif kind == "rbind":
            mount(args[0], args[1], None, MS_BIND | MS_REC)
        elif kind == "bind":
            mount(args[0], args[1], None, MS_BIND)
        elif kind == "bind?":
            if os.path.exists(args[0]):
                mount(args[0], args[0], None, MS_BIND)
        elif kind == "mask":
            _mask(args[0])
        elif kind == "mkdir":
            os.makedirs(args[0], mode=0o755, exist_ok=True)
            if len(args) > 1:
                os.chmod(args[0], int(args[1], 8))
        elif kind == "touch":
            os.close(os.open(args[0], os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        elif kind == "symlink":
            if not os.path.lexists(args[1]):
                os.symlink(args[0], args[1])
        elif kind == "rename":
            os.rename(args[0], args[1])
        elif kind == "write":
            path, mode, content = args[0], int(args[1], 8), args[2]
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if os.path.islink(path):
                os.unlink(path)
            fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
            try:
                os.write(fd, content.encode())
                os.fchmod(fd, mode)
            finally:
                os.close(fd)
        elif kind == "proc":
            mount("proc", args[0], "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "sysfs":
            mount("sysfs", args[0], "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "devpts":
            mount("devpts", args[0], "devpts", MS_NOSUID | MS_NOEXEC, args[1])
        elif kind == "mqueue":
            mount("mqueue", args[0], "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "volume":
            point = _volume(args[0], args[1], args[2], args[3], args[4] == "ro", args[5] == "create")
            if args[4] == "rw":
                kept.append(point)
        elif kind == "readonly":
            _readonly(args[0], list(args[1:]) + kept)
        elif kind == "remount-ro":
            _remount_ro(args[0])
        else:
            raise SetupError(f"unknown mount op {kind}")


def _volume(root: str, target: str, source: str, sub_path: str, read_only: bool, create: bool) -> str:
    """Bind ``source/sub_path`` onto ``root/target``; return the mount point as mountinfo names it.

    Both paths are resolved by :func:`securejoin.open_in_root` inside their own trees and mounted through
    ``/proc/self/fd``, so a symlink a container left in a volume cannot point the bind at the host.
    """
    import stat

    def resolve(tree: str, path: str, create: str) -> int:
        try:
            return int(securejoin.open_in_root(tree, path, create=create))
        except OSError as exc:
            raise SetupError(f"error mounting volume at {target}: {path or tree}: {exc.strerror}") from None

    src = resolve(source, sub_path, "dir" if create else "")
    try:
        dst = resolve(root, target, "dir" if stat.S_ISDIR(os.fstat(src).st_mode) else "file")
        try:
            point = os.readlink(securejoin.fd_path(dst))
            mount(securejoin.fd_path(src), securejoin.fd_path(dst), None, MS_BIND)
        finally:
            os.close(dst)
    finally:
        os.close(src)
    if read_only:
        _remount_ro(point)
    return point


def make_private() -> None:
    """No mount of ours may propagate back to the host (util-linux ``unshare --mount`` does the same)."""
    mount("none", "/", None, MS_REC | MS_PRIVATE)


def pivot_into(root: str) -> None:
    """Make ``root`` this mount namespace's ``/`` and drop the host's tree from it entirely.

    ``pivot_root(".", ".")`` stacks the old root on top of the new one; detaching it leaves only the
    container's tree, so joining this mount namespace (``setns``) lands in the container root as well.
    """
    os.chdir(root)
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise SetupError(f"pivot_root: unsupported architecture {os.uname().machine}")
    check(_libc.syscall(number, b".", b"."), "pivot_root")
    check(_libc.umount2(b".", MNT_DETACH), "umount old root")
    os.chdir("/")


def open_console(size: tuple[int, int] | None) -> tuple[int, int]:
    """A new terminal of the container's devpts (``/dev/ptmx``): (master, slave), both close-on-exec."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
    number = struct.unpack("i", fcntl.ioctl(master, TIOCGPTN, struct.pack("i", 0)))[0]
    slave = os.open(f"/dev/pts/{number}", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    if size is not None:
        cols, rows = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    return master, slave


def send(sock_fd: int, message: dict, fds: list[int] = ()) -> None:  # type: ignore[assignment]
    """One JSON message (with descriptors) on a SEQPACKET socket; silent if the server is gone."""
    data = json.dumps(message).encode()
    try:
        if fds:
            ancillary = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
            os_sendmsg(sock_fd, data, ancillary)
        else:
            os.write(sock_fd, data)
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
            raise


def os_sendmsg(fd: int, data: bytes, ancillary: list) -> None:
    sock = socket.socket(fileno=os.dup(fd))
    try:
        sock.sendmsg([data], ancillary)
    finally:
        sock.close()
