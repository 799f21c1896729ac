"""Plan a container's root filesystem: a list of mount operations that the container's pid 1 carries out.

Why a fresh root instead of remounting the host's ``/`` read-only in place: the container must not see
(let alone change) the project checkout, the host's ``/root``, ``/home`` or ``/mnt``; distroless needs an
``/app`` directory the host does not have; and a tutorial's ``rm -rf /`` should behave like it does in a
real container (it wrecks the container, nothing else). So the root is a small tmpfs — the container's
writable layer, thrown away with its mount namespace — into which only what a Debian image would contain
is bind-mounted from the host:

* ``/usr``, ``/etc``, ``/bin``, ``/sbin``, ``/lib*``: recursive binds of the host's, **read-only**
  (symlinks such as merged-usr's ``/bin -> usr/bin`` are recreated as symlinks);
* ``/tmp``, ``/root``, ``/run``, ``/var``, ``/dev/shm``: empty tmpfs of the container's own;
* ``/dev``: a tmpfs with bind mounts of the harmless device nodes only (``null``, ``zero``, ``full``,
  ``random``, ``urandom``, ``tty``, ``ptmx``) and the host's ``/dev/pts`` (so ``tty`` names the exec's
  terminal). The host's disks are not there: a read-only mount does not stop writes *to a device node*;
* ``/proc``: a new procfs for the container's PID namespace, with ``/proc/sys``, ``/proc/sysrq-trigger``,
  ``/proc/irq``, ``/proc/bus`` and ``/proc/fs`` bound read-only over themselves, as Docker does;
* ``/sys``: the host's, recursively bound and read-only (otherwise ``rm -rf /`` would ``rmdir`` the host's
  empty cgroups and write sysfs knobs);
* restricted images (busybox, distroless): their staged directory is bound over every real bin dir
  (``realpath`` of ``/usr/bin`` and ``/bin``: one on merged-usr, two otherwise) and empty tmpfs cover
  ``sbin`` and ``/usr/local/{bin,sbin}``.

Finally every mount below the new root except the writable tmpfs and ``/proc`` is remounted read-only as
a bind mount: the read-only flag then belongs to *that mount in the container's namespace*, never to the
host's filesystem. The plan is plain data (lists of strings) so it is built and unit-tested here and
executed by the stdlib-only ``_init.py`` after the namespaces exist.
"""

from __future__ import annotations

import os

from .userland import Staged

__all__ = ["plan"]

#: Top-level host entries the container sees (a Debian image has them too).
EXPOSED = ("bin", "sbin", "lib", "lib32", "lib64", "libx32", "usr", "etc")
#: Top-level directories that exist but are empty in an image.
EMPTY_DIRS = ("home", "mnt", "media", "opt", "srv", "boot")
DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty", "ptmx")
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
)
PROC_READONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")

Op = list[str]


def _real_dirs(paths: tuple[str, ...], host_root: str = "/") -> list[str]:
    """Container paths of the real directories behind ``paths``, deduplicated, in order.

    Merged-usr folds ``/bin`` into ``/usr/bin`` (one result); a classic layout keeps both.
    """
    base = os.path.realpath(host_root)
    seen: list[str] = []
    for path in paths:
        full = os.path.join(base, path.lstrip("/"))
        if not os.path.isdir(full):
            continue
        real = os.path.realpath(full)
        inside = "/" + os.path.relpath(real, base) if base != "/" else real
        if inside not in seen:
            seen.append(inside)
    return seen


def plan(root: str, staged: Staged, host_root: str = "/") -> list[Op]:
    """The operations that turn the empty directory ``root`` into the container's root filesystem.

    Op kinds (interpreted by ``_init.py``): ``tmpfs target options``, ``rbind src target``,
    ``bind src target``, ``bind? target`` (bind over itself when it exists), ``mkdir path``,
    ``touch path``, ``symlink text path``, ``proc target``, ``readonly root keep...`` (remount all mounts
    below root read-only except those listed in keep). ``host_root`` is only ever changed by tests, to
    plan for a fake host tree (e.g. one without merged ``/usr``).
    """
    r = root.rstrip("/")
    h = host_root.rstrip("/")
    ops: list[Op] = [["tmpfs", r, "mode=755,size=64m"]]
    for entry in sorted(os.listdir(host_root)):
        host = f"{h}/{entry}"
        if entry in EXPOSED:
            if os.path.islink(host):
                ops.append(["symlink", os.readlink(host), f"{r}/{entry}"])
            elif os.path.isdir(host):
                ops += [["mkdir", f"{r}/{entry}"], ["rbind", host, f"{r}/{entry}"]]
    for entry in EMPTY_DIRS:
        ops.append(["mkdir", f"{r}/{entry}"])

    writable = [r]
    for entry, options in (
        ("tmp", "mode=1777,size=512m"),
        ("root", "mode=700,size=64m"),
        ("run", "mode=755"),
    ):
        ops += [["mkdir", f"{r}/{entry}"], ["tmpfs", f"{r}/{entry}", options]]
        writable.append(f"{r}/{entry}")
    ops += [["mkdir", f"{r}/var"], ["tmpfs", f"{r}/var", "mode=755,size=64m"]]
    writable.append(f"{r}/var")
    for sub in ("tmp", "log", "cache", "lib", "spool", "empty"):
        ops.append(["mkdir", f"{r}/var/{sub}"])
    ops += [["symlink", "../run", f"{r}/var/run"], ["symlink", "../run/lock", f"{r}/var/lock"]]

    ops += [["mkdir", f"{r}/dev"], ["tmpfs", f"{r}/dev", "mode=755,size=64k"]]
    for node in DEV_NODES:
        if os.path.exists(f"{h}/dev/{node}"):
            ops += [["touch", f"{r}/dev/{node}"], ["bind", f"{h}/dev/{node}", f"{r}/dev/{node}"]]
    ops += [["mkdir", f"{r}/dev/pts"], ["rbind", f"{h}/dev/pts", f"{r}/dev/pts"]]
    ops += [["mkdir", f"{r}/dev/shm"], ["tmpfs", f"{r}/dev/shm", "mode=1777,size=64m"]]
    writable.append(f"{r}/dev/shm")
    ops.append(["mkdir", f"{r}/dev/mqueue"])
    for name, target in DEV_SYMLINKS:
        ops.append(["symlink", target, f"{r}/dev/{name}"])

    ops += [["mkdir", f"{r}/proc"], ["proc", f"{r}/proc"]]
    writable.append(f"{r}/proc")
    for name in PROC_READONLY:
        ops.append(["bind?", f"{r}/proc/{name}"])
    if os.path.isdir(f"{h}/sys"):
        ops += [["mkdir", f"{r}/sys"], ["rbind", f"{h}/sys", f"{r}/sys"]]

    if staged.bin_dir is not None:
        bin_dirs = _real_dirs(("/usr/bin", "/bin"), host_root)
        for real in bin_dirs:
            ops.append(["bind", str(staged.bin_dir), r + real])
        for real in _real_dirs(("/usr/sbin", "/sbin", "/usr/local/bin", "/usr/local/sbin"), host_root):
            if real not in bin_dirs:
                ops.append(["tmpfs", r + real, "mode=755,size=4k"])
    for container_path, host_path in staged.files.items():
        parent = os.path.dirname(container_path)
        # Directories are created in the root tmpfs only: a mkdir below a host bind (still writable at
        # this point) would change the host.
        if container_path.strip("/").split("/")[0] in EXPOSED:
            raise ValueError(f"image file {container_path} would be created inside a host directory")
        ops += [["mkdir", r + parent], ["touch", r + container_path], ["bind", host_path, r + container_path]]

    ops.append(["readonly", r, *writable])
    return ops
