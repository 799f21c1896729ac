"""Open a path *inside* a directory tree as if that directory were ``/``: what runc's ``securejoin`` and
the kubelet's safe sub-path code do before they mount a volume.

A volume's contents belong to containers: a process in a pod can turn any directory of an ``emptyDir`` or
``hostPath`` volume into a symlink to ``/etc`` or ``../../..``.  Following such a link while resolving a
``subPath``, or a mount target below another volume, would let a container bind (or make) a host path:
CVE-2017-1002101.  :func:`open_in_root` walks the path one component at a time with ``openat``-family calls
on ``O_PATH`` descriptors, resolves every symlink itself relative to the root (an absolute link restarts
at the root, ``..`` never climbs above it), and returns a descriptor of what it found; the caller mounts
``/proc/self/fd/<fd>``, so nothing is resolved by name again after the check.

Stdlib only: it is imported by the container shim (``_init.py``, which runs with ``-I -S``) as well as by
the server.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["fd_path", "open_in_root"]

MAX_LINKS = 40  # Linux's MAXSYMLINKS
_O_PATH = getattr(os, "O_PATH", 0o10000000)


def open_in_root(
    root: str, path: str, *, create: str = "", mode: int = 0o755, owner: tuple[int, int] | None = None
) -> int:
    """An ``O_PATH`` descriptor (close-on-exec) of ``path`` resolved inside ``root``.

    ``create``: ``""`` (everything must exist), ``"dir"`` (make missing directories, the last one too) or
    ``"file"`` (make missing directories, and the last component as an empty file). Raises ``OSError``
    (``ENOENT``, ``ENOTDIR``, ``ELOOP``) like the kernel would. ``owner``: (uid, gid) for what it makes.
    """
    root_fd = os.open(root, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    stack = [root_fd]
    parts = [p for p in path.split("/") if p not in ("", ".")]
    parts.reverse()  # a stack: the next component is parts[-1]
    links = 0
    try:
        while parts:
            name = parts.pop()
            if name == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            here = stack[-1]
            last = not parts
            try:
                st = os.stat(name, dir_fd=here, follow_symlinks=False)
            except FileNotFoundError:
                if not create:
                    raise
                if last and create == "file":
                    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                    os.close(os.open(name, flags, 0o644, dir_fd=here))
                else:
                    os.mkdir(name, mode, dir_fd=here)
                if owner is not None:
                    os.chown(name, *owner, dir_fd=here, follow_symlinks=False)
                st = os.stat(name, dir_fd=here, follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                links += 1
                if links > MAX_LINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(name, dir_fd=here)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                parts.extend(reversed([p for p in target.split("/") if p not in ("", ".")]))
                continue
            if not last and not stat.S_ISDIR(st.st_mode):
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            fd = os.open(name, _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=here)
            now = os.fstat(fd)
            if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):  # swapped while we looked: refuse
                os.close(fd)
                raise OSError(errno.EAGAIN, "the path changed while it was resolved", path)
            stack.append(fd)
        result = os.dup(stack[-1])
        os.set_inheritable(result, False)
        return result
    finally:
        for fd in stack:
            os.close(fd)


def fd_path(fd: int) -> str:
    """The magic link through which the kernel reaches exactly what ``fd`` holds (for ``mount``)."""
    return f"/proc/self/fd/{fd}"
