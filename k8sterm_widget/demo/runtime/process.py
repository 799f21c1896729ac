"""A running exec session: the process, its stdio (PTY or pipes), its exit status, and detaching from it.

Spawning uses plain ``subprocess.Popen`` with fds we made ourselves (see :mod:`.fdio` for why not
``asyncio.subprocess``). No ``preexec_fn`` — it is unsafe in a threaded server — instead:

* **tty**, namespace mode: the ``_enter.py`` helper makes the terminal inside the container's own devpts
  and sends us its master (:meth:`ExecProcess.spawn_in_container`); process mode: a host PTY whose slave is
  the child's stdio and controlling terminal, in a new session made by ``setsid --ctty``;
* **pipes**: ``start_new_session=True`` (done in C by ``_posixsubprocess``); stdin is a pipe only when
  the client asked for it, otherwise ``/dev/null``, and so are unrequested outputs.

Lifetime is containerd's (``execInternal`` in its CRI server): the exit status is the started process's,
but without a tty the output stream ends only when nothing holds the pipes any more — a background job
left running keeps it open (``sh -c 'sleep 3 & echo x'`` takes three seconds) and outlives the exec. With
a tty the stream ends when the process exits, once what it wrote has been read: containerd's shim shuts
the console down then (``execProcess.setExited`` → ``ShutdownConsole``) and closes it, so a job left on
the terminal outlives the exec on a hung-up terminal (its reads and writes fail with EIO; the kernel
signals only the foreground process group, when the exiting shell was the session leader). A client that
goes away *detaches* (:meth:`ExecProcess.kill`): without a tty its stdin reaches EOF and its output is
drained unread, so nothing is signalled; with a tty the terminal's master is closed, and the kernel hangs
up the terminal (SIGHUP to its session leader), as when containerd's shim closes the console.
Exit is observed through a **pidfd** registered with the event loop (no thread, no SIGCHLD handler).

Exit codes are reported like the runtime does: the exit status, or 128+N when killed by signal N.
"""

from __future__ import annotations

import abc
import asyncio
import fcntl
import os
import struct
import subprocess
import termios
from collections.abc import Callable, Sequence
from typing import Any

from .fdio import FdWriter, OutputMux, high_fd, pipe, set_pipe_size

__all__ = ["ExecProcess", "Process", "exit_code", "watch_exit"]

SETSID = "/usr/bin/setsid"
DEFAULT_SIZE = (80, 24)


_ENV_DEFAULT_SIGNALS = ["/usr/bin/env", "--default-signal", "--"]
_env_default_signals: list[bool] = []  # [works?] once probed successfully or found missing


def _default_signals(argv: Sequence[str]) -> list[str]:
    """``env --default-signal --`` (coreutils 8.31+) to put before ``argv``, or nothing.

    Without a helper of our own in between (process mode), the command is the server's own child and
    would inherit what the server ignores — SIGHUP under ``nohup``, SIGINT in a shell's background job —
    where a container's processes start with every signal at its default (see ``_ns.default_signals``).
    Not for a program whose path has a ``=``: ``env`` would take it for a variable and run nothing.
    """
    if "=" in argv[0]:
        return []
    if not _env_default_signals:
        try:
            done = subprocess.run([*_ENV_DEFAULT_SIGNALS, "/bin/true"], capture_output=True, timeout=10)
        except FileNotFoundError:
            _env_default_signals.append(False)
        except (OSError, subprocess.SubprocessError):
            return []  # a passing failure (no fork, a slow machine): probe again next time
        else:
            _env_default_signals.append(done.returncode == 0)
    return _ENV_DEFAULT_SIGNALS if _env_default_signals[0] else []


def exit_code(returncode: int) -> int:
    """``Popen.returncode`` (negative = signal) as a container runtime reports it (128+signal)."""
    return 128 - returncode if returncode < 0 else returncode


def watch_exit(loop: asyncio.AbstractEventLoop, popen: subprocess.Popen) -> asyncio.Future[int]:
    """A future resolved with ``popen``'s runtime exit code when it exits.

    A pidfd becomes readable when the process exits; ``Popen.poll()`` then reaps it and records the
    status, so the ``Popen`` object stays consistent. Kernels without pidfd (< 5.3) get a waiter thread.
    """
    future: asyncio.Future[int] = loop.create_future()

    def resolve(code: int) -> None:
        if not future.done():
            future.set_result(exit_code(code))

    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):

        def wait_in_thread() -> None:
            code = popen.wait()
            loop.call_soon_threadsafe(resolve, code)

        loop.run_in_executor(None, wait_in_thread)
        return future

    def on_readable() -> None:
        code = popen.poll()
        if code is None:
            return
        loop.remove_reader(pidfd)
        os.close(pidfd)
        resolve(code)

    loop.add_reader(pidfd, on_readable)
    return future


def set_winsize(fd: int, cols: int, rows: int) -> None:
    """TIOCSWINSZ on a PTY master; the kernel sends SIGWINCH to the terminal's foreground process group."""
    cols = max(1, min(int(cols), 0xFFFF))
    rows = max(1, min(int(rows), 0xFFFF))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Process(abc.ABC):
    """What the API layer drives for one exec or attach session.

    One consumer calls :meth:`read` until it returns ``None``; writers may run concurrently.
    """

    @abc.abstractmethod
    async def read(self) -> tuple[int, bytes] | None:
        """``(1, stdout bytes)`` or ``(2, stderr bytes)``; ``None`` once all output has ended."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Send to stdin; returns when the kernel has the data (waits while the process does not read)."""

    @abc.abstractmethod
    def close_stdin(self) -> None:
        """Signal end of input (see the implementations for what that means on a terminal)."""

    @abc.abstractmethod
    def resize(self, cols: int, rows: int) -> None:
        """Set the terminal size; a no-op without a tty."""

    @abc.abstractmethod
    async def wait(self) -> int:
        """The exit code (128+N when killed by signal N).

        Returns when the process has exited, which may be before its last output has been read: read
        until ``None`` first when the output matters (as the API layer does before sending the status).
        """

    @abc.abstractmethod
    async def kill(self) -> None:
        """Stop serving this session (the client went away); idempotent and safe after exit."""


class ExecProcess(Process):
    """A process started by ``exec`` (in namespace mode: the ``_enter.py`` helper), see the module doc."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        popen: subprocess.Popen,
        *,
        tty: bool,
        master: int | None,
        outputs: list[tuple[int, int]],
        stdin_fd: int | None,
        want_stdout: bool,
    ) -> None:
        self._loop = loop
        self.popen = popen
        #: Host pid of the spawned process (namespace mode: the helper; the command is its child).
        self.pid = popen.pid
        self.tty = tty
        self._master = master
        # Closed by _maybe_release; a pipe stdin belongs to its FdWriter (close_stdin closes it).
        self._fds = [fd for _, fd in outputs if fd != master] + ([master] if master is not None else [])
        self._mux = OutputMux(loop, outputs)
        self._want_stdout = want_stdout
        self._writer: FdWriter | None = None
        if stdin_fd is not None:
            self._writer = FdWriter(loop, stdin_fd, owns_fd=stdin_fd != master)
        self._stdin_closed = False
        self._eof_writes: set[asyncio.Task[None]] = set()
        self._exited = watch_exit(loop, popen)
        self._done: asyncio.Task[int] = loop.create_task(self._after_exit())
        self._killed = False
        self._released = False
        self._drain: asyncio.Task[None] | None = None
        if tty and not want_stdout:  # nobody will read the terminal: keep it flowing
            self._drain = loop.create_task(self._discard_output())
        self._detached: asyncio.Task[None] | None = None

    # -- construction -----------------------------------------------------------------------------------

    @classmethod
    def spawn(
        cls,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        cwd: str | None = None,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        size: tuple[int, int] = DEFAULT_SIZE,
        pass_fds: Sequence[int] = (),
        helper: bool = False,
        owner: tuple[int, int] | None = None,
    ) -> ExecProcess:
        """Start ``argv`` (already resolved: a path, no PATH search) with the requested stdio.

        ``helper``: ``argv`` is ``_enter.py``, which forks the command inside the container, makes the
        PTY its controlling terminal there and reaps it; otherwise ``setsid --ctty`` sets up the terminal.
        """
        if not helper:
            argv = [*_default_signals(argv), *argv]
        loop = asyncio.get_running_loop()
        if tty:
            master, slave = os.openpty()
            master, slave = high_fd(master), high_fd(slave)
            try:
                set_winsize(master, *size)
                popen = subprocess.Popen(
                    list(argv) if helper else [SETSID, "--ctty", "--", *argv],
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    env=env,
                    cwd=cwd,
                    close_fds=True,
                    pass_fds=pass_fds,
                    start_new_session=helper,
                )
            except BaseException:
                os.close(master)
                raise
            finally:
                os.close(slave)  # only the child holds the slave: its exit then gives EIO on the master
            return cls(
                loop,
                popen,
                tty=True,
                master=master,
                outputs=[(1, master)],
                stdin_fd=master if stdin else None,
                want_stdout=stdout,
            )
        child_fds: list[int] = []
        ours: list[int] = []
        try:
            stdin_r = stdin_w = None
            if stdin:
                stdin_r, stdin_w = pipe()
                child_fds.append(stdin_r)
                ours.append(stdin_w)
            outputs = []
            out_w = err_w = None
            if stdout:
                out_r, out_w = pipe()
                set_pipe_size(out_w)
                outputs.append((1, out_r))
                ours.append(out_r)
                child_fds.append(out_w)
            if stderr:
                err_r, err_w = pipe()
                outputs.append((2, err_r))
                ours.append(err_r)
                child_fds.append(err_w)
            if stdin_w is not None:
                set_pipe_size(stdin_w)
            if owner is not None:  # the container's root may open /dev/stdout again (see container.py)
                for fd in child_fds:
                    os.fchown(fd, *owner)
            popen = subprocess.Popen(
                list(argv),
                stdin=stdin_r if stdin_r is not None else subprocess.DEVNULL,
                stdout=out_w if out_w is not None else subprocess.DEVNULL,
                stderr=err_w if err_w is not None else subprocess.DEVNULL,
                env=env,
                cwd=cwd,
                close_fds=True,
                pass_fds=pass_fds,
                start_new_session=True,
            )
        except BaseException:
            for fd in ours:
                os.close(fd)
            raise
        finally:
            for fd in child_fds:
                os.close(fd)
        return cls(
            loop,
            popen,
            tty=False,
            master=None,
            outputs=outputs,
            stdin_fd=stdin_w,
            want_stdout=stdout,
        )

    @classmethod
    async def spawn_in_container(
        cls,
        argv: Sequence[str],
        *,
        tty: bool,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        pass_fds: Sequence[int],
        console: Any = None,
        before_wait: Callable[[], None] | None = None,
        owner: tuple[int, int] | None = None,
    ) -> ExecProcess:
        """Start the ``_enter.py`` helper ``argv``; for a tty, wait for the terminal it makes inside.

        ``console`` is the server's end of the console socket (a :class:`.container.StatusChannel`);
        ``before_wait`` closes the helper's end here once it has it, so a helper that dies is noticed.
        """
        if not tty:
            process = cls.spawn(
                argv,
                env={},
                tty=False,
                stdin=stdin,
                stdout=stdout,
                stderr=stderr,
                pass_fds=pass_fds,
                helper=True,
                owner=owner,
            )
            if before_wait is not None:
                before_wait()
            return process
        loop = asyncio.get_running_loop()
        popen = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={},
            close_fds=True,
            pass_fds=pass_fds,
            start_new_session=True,
        )
        if before_wait is not None:
            before_wait()
        event = await console.next()
        fds = event.get("fds") or []
        master = fds[0] if fds else None
        return cls(
            loop,
            popen,
            tty=True,
            master=master,
            outputs=[(1, master)] if master is not None else [],
            stdin_fd=master if stdin and master is not None else None,
            want_stdout=stdout,
        )

    # -- lifecycle --------------------------------------------------------------------------------------

    async def _after_exit(self) -> int:
        """The started process's exit; what it left running keeps pipes open, not a terminal (see the
        module doc)."""
        code = await self._exited
        if self.tty:
            self._mux.finish()
        self._maybe_release()
        return code

    def _maybe_release(self) -> None:
        """Close our fds once the process is gone and its output has been read to the end (or abandoned)."""
        if self._released:
            return
        hung_up = self._killed and self.tty  # detached from a terminal: its master closes now
        drained = self._detached is None or self._detached.done()
        if not hung_up and not (self._exited.done() and self._mux.ended and drained):
            return
        self._released = True
        self._mux.close()
        if self._writer is not None:
            self._writer.close()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass

    async def _discard_output(self) -> None:
        while await self._mux.read() is not None:
            pass
        self._maybe_release()

    # -- Process API ------------------------------------------------------------------------------------

    async def read(self) -> tuple[int, bytes] | None:
        if self._killed:
            return None
        if self._drain is not None or self._released:
            if self._drain is not None:
                await asyncio.shield(self._drain)
            return None
        item = await self._mux.read()
        if item is None:
            self._maybe_release()
        return item

    async def write(self, data: bytes) -> None:
        if self._writer is not None and data and not self._stdin_closed:
            await self._writer.write(data)

    def close_stdin(self) -> None:
        """Pipes: close the pipe (the process reads EOF). TTY: type the terminal's EOF character.

        A terminal has no end of input; what ``cat`` or a shell see as EOF is the line discipline's VEOF
        character (Ctrl-D) at the start of a line, so that is what is sent — exactly what happens when a
        user presses Ctrl-D. After pending input it only ends that line, as on a real terminal.
        Idempotent; later writes are dropped either way.
        """
        if self._writer is None or self._writer.closed or self._stdin_closed:
            return
        self._stdin_closed = True
        if not self.tty:
            self._writer.close()
            return
        assert self._master is not None  # a tty process has its terminal's master end
        try:
            veof = termios.tcgetattr(self._master)[6][termios.VEOF]
        except (termios.error, OSError):
            veof = b"\x04"
        if isinstance(veof, int):
            veof = bytes([veof])
        task = self._loop.create_task(self._writer.write(veof))  # after writes already waiting
        self._eof_writes.add(task)
        task.add_done_callback(self._eof_writes.discard)

    def resize(self, cols: int, rows: int) -> None:
        if self._master is None or self._released:
            return
        try:
            set_winsize(self._master, cols, rows)
        except OSError:
            pass

    async def wait(self) -> int:
        return await asyncio.shield(self._done)

    async def kill(self) -> None:
        """Detach, as containerd does when the client goes away; idempotent and safe after exit.

        Nothing is signalled by us: without a tty, stdin is closed and the output is drained unread until
        whatever holds it lets go; with a tty, the terminal's master is closed and the kernel's hangup
        sends SIGHUP to the terminal's session. After ``kill()`` :meth:`read` returns ``None``.
        """
        if self._killed:
            return
        self._killed = True
        if self._writer is not None and not self.tty:
            self._writer.close()
        if self.tty or self._released:
            self._maybe_release()
            return
        remaining = [] if self._mux.ended else list(self._mux._open)
        self._mux.close()  # a pending read() returns None
        if remaining:
            self._detached = self._loop.create_task(self._drain_detached(OutputMux(self._loop, remaining)))
        self._maybe_release()

    async def _drain_detached(self, mux: OutputMux) -> None:
        """Read a detached session's output to its end, unread, so nothing blocks or gets SIGPIPE."""
        try:
            while await mux.read() is not None:
                pass
        finally:
            mux.close()
            self._loop.call_soon(self._maybe_release)

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the process has exited and its session has been cleaned up."""
        self._done.add_done_callback(lambda _: callback())

    @property
    def returncode(self) -> int | None:
        """The exit code if the process has exited, else ``None``."""
        return self._done.result() if self._done.done() else None
