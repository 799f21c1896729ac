"""A running exec session: the process, its stdio (PTY or pipes), its exit status and its clean-up.

Spawning uses plain ``subprocess.Popen`` with fds we made ourselves (see :mod:`.fdio` for why not
``asyncio.subprocess``). No ``preexec_fn`` — it is unsafe in a threaded server — instead:

* **tty**: the PTY slave is the child's stdin/stdout/stderr (it merges stderr into the output, as on a
  real terminal) and its controlling terminal, in a new session: made by ``setsid --ctty`` in process
  mode, and inside the container by the ``_enter.py`` helper in namespace mode;
* **pipes**: ``start_new_session=True`` (done in C by ``_posixsubprocess``); stdin is a pipe only when
  the client asked for it, otherwise ``/dev/null``, and so are unrequested outputs.

The spawned pid is a session leader, and the session's PTY and pipes are known, which is what lets
:mod:`.proctree` find every process of the session later. Exit is observed through a **pidfd** registered
with the event loop (no thread, no SIGCHLD handler, works in any thread's loop). When the spawned process
exits, whatever is still left of its session or still holds its PTY or pipes is killed at once — an
exec session leaves no orphans, and the output then reaches EOF so :meth:`read` can return ``None``.

Exit codes are reported like the runtime does: the exit status, or 128+N when killed by signal N.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import fcntl
import functools
import os
import struct
import subprocess
import termios
from collections.abc import Callable, Sequence

from . import proctree
from .fdio import FdWriter, OutputMux, high_fd, pipe, set_pipe_size

__all__ = ["ExecProcess", "Process", "exit_code", "watch_exit"]

SETSID = "/usr/bin/setsid"
DEFAULT_SIZE = (80, 24)


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
        """End the session for good; idempotent and safe after exit."""


class ExecProcess(Process):
    """A process started by ``exec`` (in namespace mode: the ``_enter.py`` helper), see the module doc."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        popen: subprocess.Popen,
        *,
        tty: bool,
        master: int | None,
        slave_rdev: int | None = None,
        outputs: list[tuple[int, int]],
        stdin_fd: int | None,
        want_stdout: bool,
        reaps_child: bool = False,
    ) -> None:
        self._loop = loop
        #: The spawned process is a helper that forks the real command and waits for it (``_enter.py``).
        self.reaps_child = reaps_child
        self.popen = popen
        #: Host pid of the spawned process (namespace mode: the helper; the command is its child).
        self.pid = popen.pid
        self.tty = tty
        self._master = master
        # The terminal's device number as /proc/<pid>/stat shows it (the slave's; the master is /dev/ptmx).
        self._tty_nr = proctree.tty_nr(slave_rdev) if slave_rdev is not None else None
        pipes = [fd for _, fd in outputs if fd != master]
        if stdin_fd is not None and stdin_fd != master:
            pipes.append(stdin_fd)
        # What the session's processes hold: the slave, or the other ends of our pipes (same inode).
        self._devices = (slave_rdev,) if slave_rdev is not None else ()
        self._files = {(st.st_dev, st.st_ino) for st in map(os.fstat, pipes)}
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
    ) -> ExecProcess:
        """Start ``argv`` (already resolved: a path, no PATH search) with the requested stdio.

        ``helper``: ``argv`` is ``_enter.py``, which forks the command inside the container, makes the
        PTY its controlling terminal there and reaps it; otherwise ``setsid --ctty`` sets up the terminal.
        """
        loop = asyncio.get_running_loop()
        if tty:
            master, slave = os.openpty()
            master, slave = high_fd(master), high_fd(slave)
            slave_rdev = os.fstat(slave).st_rdev
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
                slave_rdev=slave_rdev,
                outputs=[(1, master)],
                stdin_fd=master if stdin else None,
                want_stdout=stdout,
                reaps_child=helper,
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
            reaps_child=helper,
        )

    # -- lifecycle --------------------------------------------------------------------------------------

    async def _after_exit(self) -> int:
        """Once the spawned process exited: kill what is left of its session, so output can end."""
        code = await self._exited
        await self._kill_session([])
        if self._writer is not None:
            self._writer.close()
        self._maybe_release()
        return code

    async def _kill_session(self, roots: list[int], spare: tuple[int, ...] = ()) -> None:
        """:func:`proctree.kill_all` for this session, in a worker thread: scanning every process's open
        files takes milliseconds per hundred processes, too long to block the event loop."""
        kill = functools.partial(
            proctree.kill_all,
            roots,
            session=self.pid,
            tty=self._tty_nr,
            files=self._files,
            devices=self._devices,
            spare=spare,
        )
        await self._loop.run_in_executor(None, kill)

    def _maybe_release(self) -> None:
        """Close our fds once the process is gone and its output has been read to the end (or abandoned)."""
        if self._released or not self._exited.done() or not (self._mux.ended or self._killed):
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
        """SIGKILL the whole session (tree, session members, terminal holders), then release the fds.

        After ``kill()`` :meth:`read` returns ``None``: the caller gave up on the session.
        """
        self._killed = True
        if not self._exited.done() and self.reaps_child:
            # Kill everything but the helper: it reaps its child and exits 137 by itself. Killed first,
            # its child would be re-parented to the *host's* pid 1 (the reaper of the dying parent's
            # namespace), which may reap it only seconds later — and until then the container's PID
            # namespace cannot be torn down.
            await self._kill_session([self.pid], spare=(self.pid,))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), 1.0)
        if not self._exited.done():
            await self._kill_session([self.pid])
        await asyncio.shield(self._done)
        self._maybe_release()

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once the process has exited and its session has been cleaned up."""
        self._done.add_done_callback(lambda _: callback())

    @property
    def returncode(self) -> int | None:
        """The exit code if the process has exited, else ``None``."""
        return self._done.result() if self._done.done() else None
