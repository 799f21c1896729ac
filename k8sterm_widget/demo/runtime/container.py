"""One running container: its pid 1, the main process's stdio, exec and attach, and its end.

Start-up (see ``_init.py`` for the other side): the server creates the lifeline pipe, a status pipe and
the main process's stdio (a PTY for ``tty: true``, else pipes), writes the configuration into a pipe, and
spawns pid 1 — through ``unshare`` in namespace mode. pid 1 answers on the status pipe with ``ready``
(plus the working directory it could enter) or an ``error`` worded like runc; later it reports the main
process's ``exit`` code there just before it exits.

Exec runs ``_enter.py``, which joins pid 1's PID, mount and UTS namespaces (process mode: the program
itself), with the command resolved beforehand against the container's ``PATH`` *as the container sees
it*, through ``/proc/<pid1>/root`` — so a missing program is the runtime's error, not a shell's 127.
The environment is what containerd gives an exec: image env, ``HOSTNAME``, the container's env,
``HOME=/root``, and ``TERM=xterm`` for a tty.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from . import proctree, rootfs
from .attach import MainIO
from .errors import ContainerNotRunning, ExecError, StartError
from .fdio import pipe
from .images import Image
from .isolation import Isolation, enter_argv, init_argv, share_pid_argv, unshare_argv, write_config
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
    ) -> None:
        self.namespace = namespace
        self.pod = pod
        self.name = name
        self.image = image
        self.tty = tty
        self.stdin = stdin
        self.pid: int | None = None
        self.running = False
        self.started_at = datetime.now(timezone.utc)
        self.finished_at: datetime | None = None
        self.exit_code: int | None = None
        #: The container's working directory as pid 1 could enter it.
        self.working_dir = "/"
        self._isolation = isolation
        #: Host pid of the pid 1 whose PID namespace this container joins (namespace mode only).
        self._share_pid = share_pid_with.pid if share_pid_with is not None and self.namespaces else None
        self._staged = staged
        self._env = env
        self._on_exit = on_exit
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

    async def _start(self, argv: list[str], working_dir: str, state_dir: Path) -> None:
        loop = asyncio.get_running_loop()
        lifeline_r, lifeline_w = pipe()
        status_r, status_w = pipe()
        child_fds = [lifeline_r, status_w]
        io_kwargs: dict[str, int | None] = {}
        try:
            if self.tty:
                master, slave = os.openpty()
                master, slave = high_fd(master), high_fd(slave)
                set_winsize(master, *DEFAULT_SIZE)
                stdio = [slave, slave, slave]
                child_fds.append(slave)
                io_kwargs = {"master": master, "stdin_fd": master if self.stdin else None}
            else:
                if self.stdin:
                    in_r, in_w = pipe()
                else:
                    in_r, in_w = high_fd(os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)), None
                out_r, out_w = pipe()
                err_r, err_w = pipe()
                stdio = [in_r, out_w, err_w]
                child_fds += stdio
                io_kwargs = {"stdin_fd": in_w, "stdout_fd": out_r, "stderr_fd": err_r}
            config = {
                "isolation": self._isolation.mode,
                "hostname": self.pod,
                "argv": argv,
                "env": self._env_for(self.tty),
                "workdir": working_dir,
                "lifeline_fd": lifeline_r,
                "status_fd": status_w,
                "stdio": stdio,
                "tty": self.tty,
                "marker": self._marker,
                "overlay": self._overlay(),
                "shared_pid": self._share_pid is not None,
            }
            if self.namespaces:
                root = state_dir / "rootfs"
                root.mkdir(parents=True, exist_ok=True)
                config["root"] = str(root)
                config["mounts"] = rootfs.plan(str(root), self._staged)
            config_fd = write_config(config)
            child_fds.append(config_fd)
            prefix = []
            if self._share_pid is not None:
                prefix = share_pid_argv(self._share_pid, self._isolation.userns)
            elif self.namespaces:
                prefix = unshare_argv(self._isolation.userns)
            logs = state_dir / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            with open(logs / f"{self.namespace}_{self.pod}_{self.name}.log", "ab") as log_file:
                self._popen = subprocess.Popen(
                    [*prefix, *init_argv(config_fd)],
                    pass_fds=sorted(set(child_fds)),
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=log_file,
                    close_fds=True,
                    start_new_session=True,
                )
        except BaseException:
            for fd in {lifeline_w, status_r, *[v for v in io_kwargs.values() if v is not None]}:
                os.close(fd)
            raise
        finally:
            for fd in set(child_fds):
                os.close(fd)
        self._lifeline = lifeline_w
        self._exited = loop.create_future()
        self._io = MainIO(loop, tty=self.tty, **io_kwargs)
        popen_exit = watch_exit(loop, self._popen)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(status_r, "rb", 0)
        )
        try:
            event = await asyncio.wait_for(self._next_event(reader), START_TIMEOUT)
        except asyncio.TimeoutError:
            event = {"event": "error", "kind": "init", "message": "container init did not start in time"}
        if event.get("event") != "ready":
            await self._abort_start(popen_exit)
            message = str(event.get("message") or "container init exited unexpectedly")
            if event.get("kind") == "lookpath":
                raise StartError.from_lookup(message)
            raise StartError(_create_message(message))
        self.working_dir = str(event.get("workdir") or "/")
        self.pid = self._popen.pid
        if self.namespaces:
            # the only child of unshare --fork (or nsenter --pid) is the container's pid 1
            kids = proctree.children(self._popen.pid)
            self.pid = kids[0] if kids else None
        self.running = True
        self.started_at = datetime.now(timezone.utc)
        self._monitor = loop.create_task(self._watch(reader, popen_exit))

    @staticmethod
    async def _next_event(reader: asyncio.StreamReader) -> dict:
        while line := await reader.readline():
            with contextlib.suppress(ValueError):
                return json.loads(line)
        return {}

    async def _abort_start(self, popen_exit: asyncio.Future[int]) -> None:
        assert self._popen is not None
        self._close_lifeline()
        with contextlib.suppress(ProcessLookupError):
            self._popen.kill()
        await popen_exit
        if self._io is not None:
            self._io.close()
            await self._io.ended.wait()
        self._exited_with(128)

    # -- running ----------------------------------------------------------------------------------------

    async def _watch(self, reader: asyncio.StreamReader, popen_exit: asyncio.Future[int]) -> None:
        """Wait for pid 1 to report the main process's exit (or just to die), then record it."""
        code: int | None = None
        while event := await self._next_event(reader):
            if event.get("event") == "exit":
                code = int(event["code"])
        returncode = await popen_exit
        if code is None:  # pid 1 was killed, or the lifeline broke: the runtime says SIGKILL
            code = returncode if returncode >= 128 else 137
        self._close_lifeline()
        if self._marked:  # backstop: a SIGKILLed pid 1 could not kill the marked processes
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
            config = {
                "pid1": self.pid,
                "userns": self._isolation.userns,
                "path": path,
                "argv": argv,
                "env": env,
                "workdir": self.working_dir,
                "tty": tty,
            }
            config_fd = write_config(config)
            try:
                process = ExecProcess.spawn(
                    enter_argv(config_fd),
                    env={},
                    tty=tty,
                    stdin=stdin,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=(config_fd,),
                    helper=True,
                )
            finally:
                os.close(config_fd)
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
        """SIGTERM the main process, SIGKILL everything after ``grace`` seconds. ``on_exit`` is not called.

        Exec sessions are killed first; in namespace mode they would die with the PID namespace anyway.
        """
        self._stopping = True
        await asyncio.gather(*(p.kill() for p in list(self._execs)))
        if self._exited is None or self._popen is None:
            return
        if not self._exited.done():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid or self._popen.pid, signal.SIGTERM)
            if not await self._exits_within(grace):
                # pid 1 sees EOF and exits at once: the kernel kills its namespace (process mode: pid 1
                # kills the marked processes). SIGKILL only if even that does not happen.
                self._close_lifeline()
                if not await self._exits_within(2.0):
                    for pid in (self.pid, self._popen.pid):
                        if pid:
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(pid, signal.SIGKILL)
        await asyncio.shield(self._exited)
        if self._monitor is not None:
            await self._monitor
