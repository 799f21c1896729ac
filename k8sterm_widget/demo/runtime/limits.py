"""What one container may take from the machine: processes, core dumps, its place in the OOM killer's queue,
and — per pod — System V IPC memory.

A real node bounds these with cgroups (``pids.max``, ``memory.max``, which also charges tmpfs and IPC
pages) and protects itself with the kubelet's OOM scores. The demo cluster's node is the user's own
machine and has no cgroups of its own, so it uses what every kernel offers an unprivileged process, set
right before the container's program starts and impossible to undo from inside (raising a hard limit or
lowering ``oom_score_adj`` needs ``CAP_SYS_RESOURCE`` in the host's user namespace, which no container
has):

* ``RLIMIT_NPROC`` — the kubelet's ``podPidsLimit`` (kind leaves it unlimited, so a fork bomb takes the
  node down). Counted per user *and user namespace* (the kernel's ucounts), so with a uid range of its own
  every pod gets its own budget. The host's root is exempt from it: without user namespaces, container
  root is host root and this bound does not hold (the start notice says so);
* ``RLIMIT_CORE`` of 1 — a core dump of a container process never reaches the host. A ``core_pattern``
  that pipes to a host program (systemd-coredump, apport) ignores ``RLIMIT_CORE`` except for this one
  value (``fs/coredump.c``: a limit of 1 aborts a piped dump), and a file pattern needs more than 1 byte;
* ``oom_score_adj`` — the kubelet's value for the container's QoS class (``pkg/kubelet/qos/policy.go``:
  BestEffort 1000, Burstable 1000 - 1000·request/capacity), but never below 3 (the kubelet gives
  Guaranteed pods -997): when memory runs out, the OOM killer takes container processes before the
  notebook. A process inside may lower its own score back to the server's (0 here), never below it;
* per pod, in its IPC namespace (set by the node helper, ``_node.py``): System V shared memory at most
  64 MiB in all (what Docker gives ``/dev/shm``), 256 message queues and 32,000 semaphores — the kernel's
  defaults allow nearly all of memory, pinned where the OOM killer cannot free it.

Stdlib only: ``_init.py``, ``_enter.py`` and ``_node.py`` load this file by path.
"""

from __future__ import annotations

import os
import resource

__all__ = ["IPC_SYSCTLS", "MIN_OOM_SCORE_ADJ", "PIDS", "bound_ipc", "oom_score", "rlimits"]

#: Processes (and threads) per pod.
PIDS = 1024
MIN_OOM_SCORE_ADJ = 3
_SHM_BYTES = 64 << 20
#: ``/proc/sys/kernel/...`` of a pod's IPC namespace (``ipc_namespaces(7)``: each namespace has its own).
IPC_SYSCTLS = {
    "shmmax": str(_SHM_BYTES),
    "shmall": str(_SHM_BYTES // os.sysconf("SC_PAGE_SIZE")),
    "shmmni": "4096",
    "msgmni": "256",
    "sem": "250 32000 32 128",
}


def rlimits(pids: int = PIDS) -> None:
    """Bound this process (and what it starts) right before it ``execve``s a container's program."""
    resource.setrlimit(resource.RLIMIT_NPROC, (pids, pids))
    resource.setrlimit(resource.RLIMIT_CORE, (1, 1))


def oom_score(adj: int = 1000) -> None:
    """Put this process (and what it forks) at ``adj`` in the OOM killer's queue.

    Called by the shim and the exec helper *before* they enter the pod's user namespace: inside,
    ``/proc/self`` of a process whose ids changed belongs to the host's root, which a container's root may
    not write. Lowering it below what the server had needs ``CAP_SYS_RESOURCE`` (``fs/proc/base.c``).
    """
    score = max(MIN_OOM_SCORE_ADJ, min(1000, int(adj)))
    fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(score).encode())
    finally:
        os.close(fd)


def bound_ipc() -> list[str]:
    """Set :data:`IPC_SYSCTLS` in the caller's (new) IPC namespace; the names the kernel refused.

    Writable by the namespace's owner since Linux 5.19 (older kernels let only the host's root write them).
    """
    refused = []
    for name, value in IPC_SYSCTLS.items():
        try:
            fd = os.open(f"/proc/sys/kernel/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, value.encode())
            finally:
                os.close(fd)
        except OSError:
            refused.append(name)
    return refused
