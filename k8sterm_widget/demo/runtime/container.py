"""One running container: its shim and pid 1, the main process's stdio, exec and attach, and its end.

Start-up (see ``_init.py`` for the other side): the server creates the lifeline pipe, a status socket
and the main process's stdio (pipes; a tty container's terminal is made inside the container, and its
master comes back over the status socket), writes the configuration into a pipe, and spawns the shim,
which joins the pod sandbox's namespaces and forks the container's pid 1. The shim answers ``ready``
with pid 1's host pid, or an ``error`` worded like runc; later it reports the main process's ``exit``.

Exec runs ``_enter.py``, which joins pid 1's namespaces (process mode: the program itself), with the
command resolved beforehand against the container's ``PATH`` *as the container sees it*, through
``/proc/<pid1>/root`` — so a missing program is the runtime's error, not a shell's 127. The environment
is what containerd gives an exec: the container's (image env, ``HOSTNAME``, the pod's env, ``HOME``), and
``TERM=xterm`` for a tty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from . import caps, proctree
from .attach import MainIO
from .errors import ContainerNotRunning, ExecError, StartError
from .fdio import pipe
from .images import Image
from .isolation import Isolation, enter_argv, init_argv, write_config
from .lookpath import LookPathError, look_path
from .process import DEFAULT_SIZE, ExecProcess, Process, high_fd, set_winsize, watch_exit
from .proctree import MARKER
from .userland import Staged

if TYPE_CHECKING:
    from .attach import AttachProcess

__all__ = ["MARKER", "Container"]

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0


def _create_message(text: str) -> str:
    return (
        "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
        f"runc create failed: unable to start container process: {text}: unknown"
    )


class Container:
    """A running (or exited) container. Created by :meth:`Runtime.run_container`."""

    def __init__(
        self,
        *,
        namespace: str,
        pod: str,
        name: str,
        image: Image,
        isolation: Isolation,
        staged: Staged,
        env: dict[str, str],
        tty: bool,
        stdin: bool,
        on_exit: Callable[[int], None] | None,
        share_pid_with: Container | None = None,
        launch: dict[str, Any] | None = None,
        node_user: int | None = None,
    ) -> None:
        self.namespace = namespace
        self.pod = pod
        self.name = name
        self.image = image
        self.tty = tty
        self.stdin = stdin
        #: Host pid of the container's main process (pid 1 inside, unless it shares a target's PID ns).
        self.pid: int | None = None
        self.running = False
        self.started_at = datetime.now(timezone.utc)
        self.finished_at: datetime | None = None
        self.exit_code: int | None = None
        #: The container's working directory as pid 1 could enter it.
        self.working_dir = "/"
        self._isolation = isolation
        #: Host pid of the process whose PID namespace this container joins (namespace mode only).
        self._share_pid = share_pid_with.pid if share_pid_with is not None and self.namespaces else None
        self._staged = staged
        self._env = env
        self._on_exit = on_exit
        self._launch = launch or {}
        self._node_user = node_user
        self._marker = uuid.uuid4().hex
        self._popen: subprocess.Popen | None = None
        self._lifeline: int | None = None
        self._io: MainIO | None = None
        self._execs: set[ExecProcess] = set()
        self._stopping = False
        self._exited: asyncio.Future[int] | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._on_finished: Callable[[Container], None] | None = None  # the runtime forgets us

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited({self.exit_code})"
        return f"<Container {self.namespace}/{self.pod}/{self.name} {self.image.name} pid={self.pid} {state}>"

    # -- start ------------------------------------------------------------------------------------------

    @property
    def namespaces(self) -> bool:
        return self._isolation.mode == "namespaces"

    def _overlay(self) -> dict[str, str]:
        """Process mode: container paths that exist only as staged host files (distroless's app)."""
        return {} if self.namespaces else dict(self._staged.files)

    async def _start(self, argv: list[str], working_dir: str) -> None:
        loop = asyncio.get_running_loop()
        lifeline_r, lifeline_w = pipe()
        status, status_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        child_fds = [lifeline_r, status_child.fileno()]
        io_kwargs: dict[str, int | None] = {}
        share_fd = None
        console = self.tty and self.namespaces
        borrowed = {fd for _, fd in self._launch.get("namespaces", [])}
        try:
            stdio: list[int] = []
            if self.tty and not console:
                master, slave = os.openpty()
                master, slave = high_fd(master), high_fd(slave)
                set_winsize(master, *DEFAULT_SIZE)
                stdio = [slave, slave, slave]
                child_fds.append(slave)
                io_kwargs = {"master": master, "stdin_fd": master if self.stdin else None}
            elif not self.tty:
                if self.stdin:
                    in_r, in_w = pipe()
                else:
                    in_r, in_w = high_fd(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)), None
                out_r, out_w = pipe()
                err_r, err_w = pipe()
                stdio = [in_r, out_w, err_w]
                child_fds += stdio
                _give(stdio, self._launch.get("owner"))
                io_kwargs = {"stdin_fd": in_w, "stdout_fd": out_r, "stderr_fd": err_r}
            config: dict[str, Any] = {
                "isolation": self._isolation.mode,
                "argv": argv,
                "env": self._env_for(self.tty),
                "workdir": working_dir,
                "lifeline_fd": lifeline_r,
                "status_fd": status_child.fileno(),
                "stdio": stdio,
                "tty": self.tty,
                "console": console,
                "size": list(DEFAULT_SIZE),
                "marker": self._marker,
                "overlay": self._overlay(),
                "last_cap": caps.last_cap(),
            }
            if self.namespaces:
                config["pids"] = self._launch.get("pids")
                config["caps"] = self._launch.get("caps", caps.mask())
                config["user"] = self._launch.get("user")
                config["oom_score_adj"] = self._launch.get("oom_score_adj", 1000)
                config["namespaces"] = [list(entry) for entry in self._launch.get("namespaces", [])]
                config["mounts"] = self._launch["mounts"]
                config["root"] = self._launch["root"]
                child_fds += sorted(borrowed)
                if self._share_pid is not None:
                    share_fd = os.open(f"/proc/{self._share_pid}/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
                    config["share_pid"] = share_fd
                    child_fds.append(share_fd)
            config_fd = write_config(config)
            child_fds.append(config_fd)
            self._popen = subprocess.Popen(
                init_argv(config_fd),
                pass_fds=sorted(set(child_fds)),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            status.close()
            for fd in {lifeline_w, *[v for v in io_kwargs.values() if v is not None]}:
                os.close(fd)
            raise
        finally:
            keep = borrowed | {status_child.fileno()}
            for fd in set(child_fds) - keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
            status_child.close()
        self._lifeline = lifeline_w
        self._exited = loop.create_future()
        popen_exit = watch_exit(loop, self._popen)
        channel = StatusChannel(loop, status)
        try:
            event = await asyncio.wait_for(channel.next(), START_TIMEOUT)
            if event.get("event") == "console":
                (master,) = event["fds"]
                io_kwargs = {"master": master, "stdin_fd": master if self.stdin else None}
                event = await asyncio.wait_for(channel.next(), START_TIMEOUT)
        except asyncio.TimeoutError:
            event = {"event": "error", "kind": "init", "message": "container init did not start in time"}
        self._io = MainIO(loop, tty=self.tty, **io_kwargs) if io_kwargs else None
        if event.get("event") != "ready":
            await self._abort_start(popen_exit, channel)
            message = str(event.get("message") or "container init exited unexpectedly")
            if event.get("kind") == "lookpath":
                raise StartError.from_lookup(message)
            raise StartError(_create_message(message))
        self.pid = int(event["pid"])
        self.working_dir = _working_dir(self.pid, working_dir) if self.namespaces else working_dir
        self.running = True
        self.started_at = datetime.now(timezone.utc)
        self._monitor = loop.create_task(self._watch(channel, popen_exit))

    async def _abort_start(self, popen_exit: asyncio.Future[int], channel: StatusChannel) -> None:
        assert self._popen is not None
        self._close_lifeline()
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()
        await popen_exit
        channel.close()
        if self._io is not None:
            self._io.close()
            await self._io.ended.wait()
        self._exited_with(128)

    # -- running ----------------------------------------------------------------------------------------

    async def _watch(self, channel: StatusChannel, popen_exit: asyncio.Future[int]) -> None:
        """Wait for the shim to report the main process's exit (or just to die), then record it."""
        code: int | None = None
        while event := await channel.next():
            if event.get("event") == "exit":
                code = int(event["code"])
        channel.close()
        returncode = await popen_exit
        if code is None:  # the shim was killed, or the lifeline broke: the runtime says SIGKILL
            code = returncode if returncode >= 128 else 137
        self._close_lifeline()
        if self._marked:  # backstop: a SIGKILLed shim could not kill the marked processes
            await asyncio.get_running_loop().run_in_executor(None, proctree.kill_marked, self._marker)
        for process in list(self._execs):
            await process.kill()
        if self._io is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._io.ended.wait(), 2.0)
            self._io.close()
        self._exited_with(code)
        if self._on_finished is not None:
            self._on_finished(self)
        if self._on_exit is not None and not self._stopping:
            try:
                self._on_exit(code)
            except Exception:
                log.exception("on_exit callback of %r failed", self)

    def _exited_with(self, code: int) -> None:
        self.running = False
        self.exit_code = code
        self.finished_at = datetime.now(timezone.utc)
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(code)

    def _close_lifeline(self) -> None:
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None

    @property
    def _marked(self) -> bool:
        """Whether this container's processes carry the marker: no PID namespace of its own ends them."""
        return not self.namespaces or self._share_pid is not None

    def _env_for(self, tty: bool) -> dict[str, str]:
        env = dict(self._env)
        if tty:
            env.setdefault("TERM", "xterm")
        if self._marked:
            env[MARKER] = self._marker
        return env

    async def exec(self, argv: list[str], *, tty: bool, stdin: bool, stdout: bool, stderr: bool) -> Process:
        """Start ``argv`` in the container; raises :class:`ExecError` (runc's text) if it cannot run."""
        if not self.running or self.pid is None or self._stopping:
            raise ContainerNotRunning(self.name)
        if not argv:
            raise ExecError(
                "OCI runtime exec failed: exec failed: unable to start container process: "
                "args must not be empty: unknown"
            )
        env = self._env_for(tty)
        root = f"/proc/{self.pid}/root" if self.namespaces else ""
        try:
            path = look_path(argv[0], env.get("PATH", ""), root, self._overlay())
        except LookPathError as exc:
            raise ExecError.from_lookup(str(exc)) from None
        if not self.namespaces:
            process = ExecProcess.spawn(
                [path, *argv[1:]],
                env=env,
                cwd=self.working_dir,
                tty=tty,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
            )
        else:
            console, console_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            config: dict[str, Any] = {
                "pid1": self.pid,
                "node_user": self._node_user,
                "path": path,
                "argv": argv,
                "env": env,
                "workdir": self.working_dir,
                "tty": tty,
                "size": list(DEFAULT_SIZE),
                "console_fd": console_child.fileno() if tty else None,
                "last_cap": caps.last_cap(),
                "pids": self._launch.get("pids"),
                "oom_score_adj": self._launch.get("oom_score_adj", 1000),
                "caps": self._launch.get("caps", caps.mask()),
                "user": self._launch.get("user"),
            }
            config_fd = write_config(config)
            pass_fds = [config_fd] + ([self._node_user] if self._node_user is not None else [])
            if tty:
                pass_fds.append(console_child.fileno())
            try:
                process = await ExecProcess.spawn_in_container(
                    enter_argv(config_fd),
                    owner=self._launch.get("owner"),
                    tty=tty,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=pass_fds,
                    console=StatusChannel(asyncio.get_running_loop(), console) if tty else None,
                    before_wait=console_child.close,
                )
            finally:
                os.close(config_fd)
                console_child.close()
                console.close()
        self._execs.add(process)
        process.add_done_callback(lambda: self._execs.discard(process))
        return process

    async def attach(self, *, stdin: bool, stdout: bool, stderr: bool, tty: bool) -> AttachProcess:
        """Attach to the main process's stdio (``stdin`` only takes effect if the container has stdin)."""
        if not self.running or self._io is None or self._exited is None or self._stopping:
            raise ContainerNotRunning(self.name)
        return self._io.attach(
            stdin=stdin and self.stdin, stdout=stdout, stderr=stderr and not self.tty, exit_code=self._exited
        )

    def logs(self) -> bytes:
        """The last ~1 MiB the main process wrote (``kubectl logs``)."""
        return self._io.logs() if self._io is not None else b""

    def log_chunks(self) -> list[tuple[int, bytes]]:
        """:meth:`logs` as ``(ns since the epoch, bytes)`` chunks in the order they were written."""
        return self._io.log_chunks() if self._io is not None else []

    async def wait(self) -> int:
        """The main process's exit code, once the container has exited."""
        if self._exited is None:
            raise ContainerNotRunning(self.name)
        return await asyncio.shield(self._exited)

    async def _exits_within(self, seconds: float) -> bool:
        assert self._exited is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), seconds)
        except asyncio.TimeoutError:
            return False
        return True

    async def stop(self, grace: float = 1.0) -> None:
        """The image's stop signal to the main process, SIGKILL after ``grace`` seconds; ``on_exit`` is not
        called. In namespace mode the end of pid 1 ends every process of the container; exec sessions are
        detached."""
        self._stopping = True
        await asyncio.gather(*(p.kill() for p in list(self._execs)))
        if self._exited is None or self._popen is None:
            return
        if not self._exited.done():
            stop_signal = getattr(signal, self.image.stop_signal, signal.SIGTERM)
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid or self._popen.pid, stop_signal)
            if not await self._exits_within(grace):
                # The shim sees the lifeline end and SIGKILLs pid 1 (process mode: the marked processes).
                self._close_lifeline()
                if not await self._exits_within(2.0):
                    for pid in (self.pid, self._popen.pid):
                        if pid:
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(pid, signal.SIGKILL)
        await asyncio.shield(self._exited)
        if self._monitor is not None:
            await self._monitor


def _give(fds: list[int], owner: tuple[int, int] | None) -> None:
    """Hand the container's stdio pipes to its root, so ``/dev/stdout`` (``/proc/self/fd/1``) can be
    opened again inside, as nginx's log links do; without a uid range they are the container root's."""
    if owner is not None:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.fchown(fd, *owner)


def _working_dir(pid: int, requested: str) -> str:
    """The directory pid 1 runs in (``requested``, created by runc's rules), read through ``/proc``."""
    try:
        path = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return requested
    return path if path.startswith("/") else requested


class StatusChannel:
    """The shim's status socket: JSON messages, each with any file descriptors it carries (``fds``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self._loop = loop
        self._sock = sock
        sock.setblocking(False)
        self._closed = False

    async def next(self) -> dict:
        """The next message, or ``{}`` once the shim has closed its end."""
        while not self._closed:
            try:
                data, fds, _flags, _addr = socket.recv_fds(self._sock, 65536, 4)
            except BlockingIOError:
                await self.readable()
                continue
            except OSError:
                return {}
            if not data:
                return {}
            try:
                event = json.loads(data)
            except ValueError:
                for fd in fds:
                    os.close(fd)
                continue
            event["fds"] = [high_fd(fd) for fd in fds]
            return event
        return {}

    async def readable(self) -> None:
        waiter: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        self._loop.add_reader(self._sock.fileno(), wake)
        try:
            await waiter
        finally:
            self._loop.remove_reader(self._sock.fileno())

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._sock.close()
