"""The demo cluster's container runtime: containers are real processes.

What a terminal user of the demo cluster gets is what they would get from containerd + runc, as far as
they can tell from inside: ``exec`` starts a *new process* that shares the container's namespaces (a shell
sees the other shells' processes and ``/tmp``, but not another container's), ``hostname`` is the pod's
name, a PTY when asked for a tty, the real runc error texts for a missing command, exit codes with
128+signal, ``bash`` in nginx but not in busybox, nothing at all in distroless.

Two isolation modes, chosen once by a probe (``Runtime(isolation="auto")``):

``namespaces`` (root, or unprivileged user namespaces)
    Each container is a long-lived pid 1 (``_init.py``) in its own PID, mount and UTS namespaces, with a
    private root filesystem built from read-only binds of the host's ``/usr``, ``/etc``, ``/lib*`` plus
    tmpfs ``/``, ``/tmp``, ``/root``, ``/run``, ``/var`` (:mod:`.rootfs`). ``rm -rf /`` inside cannot
    touch the host. Restricted images see only their staged programs in ``/usr/bin``. Exec joins the
    namespaces with a small ``setns`` helper (``_enter.py``). The network is the host's (no network
    namespace).

``process`` (fallback: no namespaces allowed, e.g. an unprivileged CI sandbox)
    Plain host processes with ``HOSTNAME`` set, the working directory on the host, and restricted images
    reduced to ``PATH`` pointing at their staged programs (an absolute ``/bin/bash`` still works). There
    is **no filesystem protection**: the processes run with the server's own permissions on the host's
    files, ``hostname`` prints the host's name, ``ps`` shows every host process and ``/tmp`` is shared.
    Clean-up relies on an environment marker (``K8STERM_CONTAINER_ID``) instead of a PID namespace.

A debug (ephemeral) container can join another container's PID namespace
(``run_container(share_pid_with=target)``): it keeps its own root filesystem but sees, and is seen by, the
target's processes, as ``kubectl debug --target`` gives on containerd.

In both modes nothing outlives its owner: an exec session is killed with its whole process tree when it
is killed or its process exits; a container's pid 1 holds the read end of a *lifeline* pipe whose only
write end is in the server, so even a SIGKILLed server takes every container down (the kernel closes the
pipe, pid 1 sees EOF and exits, and the kernel kills its PID namespace). The write ends are
close-on-exec, so only a ``fork`` *without* ``exec`` of the server (``multiprocessing``'s fork start
method) could keep containers alive after the server is gone.

All I/O runs in the caller's asyncio event loop (any thread) with backpressure both ways; see
:mod:`.fdio` and :mod:`.process`. Public surface: :class:`Runtime`, :class:`Container`,
:class:`Process`, :class:`ExecError` (and its subclasses), :mod:`.images`.
"""

from __future__ import annotations

from . import images
from .attach import AttachProcess
from .container import Container
from .errors import ContainerNotRunning, ExecError, StartError
from .images import Image
from .process import ExecProcess, Process
from .runtime import Runtime

__all__ = [
    "AttachProcess",
    "Container",
    "ContainerNotRunning",
    "ExecError",
    "ExecProcess",
    "Image",
    "Process",
    "Runtime",
    "StartError",
    "images",
]
