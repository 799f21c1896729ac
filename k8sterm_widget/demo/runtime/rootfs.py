"""Plan a container's root file system: the mount operations its pid 1 carries out before ``pivot_root``.

What runc builds from containerd's default spec, made from an image :class:`~.layers.Layer`:

* ``/``: an **overlay** whose lower layer is the image's own files and whose upper layer is the
  container's directory on the node's disk (``userxattr`` inside a user namespace) — edits anywhere in it
  succeed and vanish with the container; where the kernel refuses an overlay, a copy of the image's files
  there. The node's disk is one bounded tmpfs for all containers of the cluster (``_node.make_disk``):
  everything a container can write — ``/``, ``/usr/local``, ``/dev``, ``/dev/shm`` — lives on it, so a
  container that fills it gets "No space left on device", as on a full node, and the machine keeps its
  memory;
* the host programs and libraries the image needs, bound **read-only** (the host's ``/usr`` for
  Debian-based images, with a writable ``/usr/local`` of the container's own); nothing else of the host;
* ``/etc/hostname``, ``/etc/hosts`` and ``/etc/resolv.conf`` as the kubelet writes them, and the projected
  service-account volume at ``/var/run/secrets/kubernetes.io/serviceaccount`` (a read-only tmpfs, the
  kubelet's ``..data`` symlink layout);
* ``/dev``: a directory of the container's with ``null``, ``zero``, ``full``, ``random``, ``urandom``,
  ``tty`` (bound from the host), a **private devpts** instance (``ptmx`` links to its ``pts/ptmx``: no host
  terminal is visible), ``shm`` and ``mqueue`` of the pod's IPC namespace;
* ``/proc`` of the container's PID namespace, with containerd's masked paths (``/proc/kcore``,
  ``/proc/keys`` … covered by ``/dev/null`` or an empty read-only tmpfs) and read-only paths
  (``/proc/sys``, ``/proc/sysrq-trigger``, ``/proc/bus``, ``/proc/fs``, ``/proc/irq``);
* ``/sys``: a read-only sysfs of the pod's network namespace (the host's, read-only, without one);
* the pod's **volumes** (:class:`VolumeMount`): each a bind of a host directory the kubelet prepared (or a
  ``subPath`` in it) onto its ``mountPath``, read-only where asked, in containerd's order (fewest path
  components first). Both ends are resolved inside their own trees (:mod:`.securejoin`), because
  ``emptyDir`` and ``hostPath`` volumes hold whatever symlinks a container put there.

The plan is plain data (lists of strings) built and unit-tested here and executed by the stdlib-only
``_init.py`` inside the container's new mount namespace.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .layers import Layer

__all__ = ["VolumeMount", "plan"]


@dataclass(frozen=True)
class VolumeMount:
    """One ``volumeMounts`` entry as the runtime sees it (CRI's ``Mount``)."""

    #: The volume's directory on the host (the kubelet's ``pods/<uid>/volumes/<plugin>/<name>``).
    source: str
    #: Where it appears in the container (absolute).
    target: str
    #: A path inside the volume to mount instead of all of it (resolved inside ``source``).
    sub_path: str = ""
    read_only: bool = False
    #: Make a missing ``sub_path`` as a directory (the kubelet does for emptyDir and hostPath).
    create: bool = False


DEV_NODES = ("null", "zero", "full", "random", "urandom", "tty")
DEV_SYMLINKS = (
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("core", "/proc/kcore"),
    ("ptmx", "pts/ptmx"),
)
# containerd's default spec (pkg/oci/spec.go: MaskedPaths, ReadonlyPaths)
MASKED = (
    "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
)  # fmt: skip
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
SERVICE_ACCOUNT_DIR = "/run/secrets/kubernetes.io/serviceaccount"  # /var/run links to /run

Op = list[str]


def plan(
    root: str,
    scratch: str,
    layer: Layer,
    *,
    files: dict[str, str] | None = None,
    service_account: dict[str, str] | None = None,
    userns: bool = False,
    sysfs: bool = True,
    tty_gid: bool = True,
    read_only_root: bool = False,
    host_root: str = "/",
    volumes: list[VolumeMount] | tuple[VolumeMount, ...] = (),
) -> list[Op]:
    """The operations that turn the empty directory ``root`` into the container's root file system.

    ``scratch``: the container's directory on the node's disk, made here (it holds the overlay's upper and
    work directories, ``/usr/local``, ``/dev`` and ``/dev/shm``; it disappears from view with
    ``pivot_root``, and the node helper removes it when the container has ended). ``files``: container path
    -> content written into the writable layer (hostname, hosts, resolv.conf). ``service_account``: file
    name -> content for the projected token volume (``None``: not mounted). ``userns``: the container
    lives in a user namespace (overlay's ``userxattr``). ``sysfs``: a sysfs of its own can be mounted (it
    has its own network namespace). ``tty_gid``: gid 5 exists in the container (devpts ``gid=5``).
    ``read_only_root``: ``readOnlyRootFilesystem`` (``/`` and ``/usr/local`` stay read-only; ``/dev``,
    ``/dev/shm`` and ``/proc`` do not, as with runc). ``host_root`` is only changed by tests.

    Op kinds (run by ``_init.py``): ``tmpfs target options``, ``overlay target lower upper work userns``
    (falls back to a copy of ``lower`` into ``upper``, bound on ``target``), ``copy src target`` (copy a
    tree into a writable mount), ``rbind src target``, ``bind src target``, ``bind? target`` (bind over
    itself if it exists), ``mask target`` (``/dev/null`` over a file, an empty read-only tmpfs over a
    directory, if it exists), ``mkdir path [mode]``, ``touch path``, ``symlink text path``, ``write path
    mode content``, ``proc target``, ``sysfs target``, ``devpts target options``, ``mqueue target``,
    ``volume root target source sub_path ro|rw create|-`` (bind ``source/sub_path`` onto ``root/target``,
    both resolved inside their trees; a ``rw`` one is kept writable by ``readonly``), ``readonly root
    keep...`` (remount every mount below root read-only except those kept), ``remount-ro target``.
    """
    r = root.rstrip("/")
    h = host_root.rstrip("/")
    ops: list[Op] = [
        ["mkdir", scratch, "711"],
        ["mkdir", f"{scratch}/upper"],
        ["mkdir", f"{scratch}/work"],
        ["overlay", r, str(layer.root), f"{scratch}/upper", f"{scratch}/work", "1" if userns else "0"],
    ]
    writable = [r]
    if layer.host_usr:
        ops += [["mkdir", f"{r}/usr"], ["rbind", f"{h}/usr", f"{r}/usr"]]
        ops += [
            ["mkdir", f"{scratch}/usr-local"],
            ["copy", f"{layer.root}/usr/local", f"{scratch}/usr-local"],
            ["bind", f"{scratch}/usr-local", f"{r}/usr/local"],
        ]
        writable.append(f"{r}/usr/local")
    for host, container in layer.binds:
        target = r + container
        if os.path.isdir(host):
            ops += [["mkdir", target], ["rbind", host, target]]
        else:
            ops += [["mkdir", os.path.dirname(target)], ["touch", target], ["bind", host, target]]

    for path, content in (files or {}).items():
        ops.append(["write", r + path, "644", content])

    if service_account is not None:
        sa = r + SERVICE_ACCOUNT_DIR
        data = f"{sa}/..data_tmp"
        stamp = "..2026_01_01_00_00_00.000000001"
        ops += [["mkdir", sa], ["tmpfs", sa, "mode=1777,size=4m"], ["mkdir", f"{sa}/{stamp}"]]
        for name, content in service_account.items():
            ops.append(["write", f"{sa}/{stamp}/{name}", "644", content])
        ops += [["symlink", stamp, data], ["rename", data, f"{sa}/..data"]]
        for name in service_account:
            ops.append(["symlink", f"..data/{name}", f"{sa}/{name}"])
        ops.append(["remount-ro", sa])

    ops += [["mkdir", f"{r}/dev"], ["mkdir", f"{scratch}/dev"], ["bind", f"{scratch}/dev", f"{r}/dev"]]
    writable.append(f"{r}/dev")
    for node in DEV_NODES:
        if os.path.exists(f"{h}/dev/{node}"):
            ops += [["touch", f"{r}/dev/{node}"], ["bind", f"{h}/dev/{node}", f"{r}/dev/{node}"]]
    devpts = "newinstance,ptmxmode=0666,mode=0620" + (",gid=5" if tty_gid else "")
    ops += [["mkdir", f"{r}/dev/pts"], ["devpts", f"{r}/dev/pts", devpts]]
    ops += [["mkdir", f"{r}/dev/shm"], ["mkdir", f"{scratch}/shm", "1777"]]
    ops += [["bind", f"{scratch}/shm", f"{r}/dev/shm"]]
    ops += [["mkdir", f"{r}/dev/mqueue"], ["mqueue", f"{r}/dev/mqueue"]]
    writable += [f"{r}/dev/pts", f"{r}/dev/shm", f"{r}/dev/mqueue"]
    for name, target in DEV_SYMLINKS:
        ops.append(["symlink", target, f"{r}/dev/{name}"])

    ops += [["mkdir", f"{r}/proc"], ["proc", f"{r}/proc"]]
    writable.append(f"{r}/proc")
    ops += [
        ["mkdir", f"{r}/sys"],
        ["sysfs" if sysfs else "rbind", *([] if sysfs else [f"{h}/sys"]), f"{r}/sys"],
    ]
    for path in MASKED:
        ops.append(["mask", r + path])
    for path in READONLY:
        ops.append(["bind?", r + path])

    if read_only_root:
        writable = [w for w in writable if w not in (r, f"{r}/usr/local")]

    # containerd's WithMounts: sorted by the number of path components, so /data is there before /data/x
    for v in sorted(volumes, key=lambda v: len([p for p in v.target.split("/") if p])):
        ops.append(["volume", r, v.target, v.source, v.sub_path, "ro" if v.read_only else "rw",
                    "create" if v.create else "-"])  # fmt: skip

    ops.append(["readonly", r, *writable])
    return ops
