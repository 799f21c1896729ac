"""The container main process's stdio, shared by any number of attachers (``pods/attach``).

The main process's output is read all the time, attached or not — a real kubelet writes it to the
container log, so the main process never blocks on an unread stdout. Each chunk goes into a bounded log
(the last :data:`LOG_LIMIT` bytes, for ``pods/log``) and into a small queue per attacher, bounded in bytes
as a pipe is. When an attacher's queue is full the pump waits: a slow attacher slows the container down
instead of making us buffer without bound (the same backpressure an exec has). An attacher that goes
away must detach (:meth:`AttachProcess.kill`), which drains its queue and lets the pump go on.

Stdin is shared too: every attacher that asked for stdin writes into the same pipe or PTY master, in the
order the writes arrive. ``tty: true, stdin: true`` containers run their main process on a PTY, so
attachers get a terminal (and may resize it); the PTY merges stderr into stdout.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import deque

from .fdio import FdWriter, OutputMux
from .process import Process, set_winsize

__all__ = ["LOG_LIMIT", "AttachProcess", "MainIO"]

LOG_LIMIT = 1 << 20
_QUEUE_BYTES = 64 * 1024  # a pipe's default capacity (pipe(7))


class MainIO:
    """Server-side ends of the main process's stdio (see the module doc)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        tty: bool,
        master: int | None = None,
        stdin_fd: int | None = None,
        stdout_fd: int | None = None,
        stderr_fd: int | None = None,
    ) -> None:
        self._loop = loop
        self.tty = tty
        self._master = master
        if tty:
            assert master is not None
            sources = [(1, master)]
        else:
            sources = [(ch, fd) for ch, fd in ((1, stdout_fd), (2, stderr_fd)) if fd is not None]
        self._mux = OutputMux(loop, sources)
        self._fds = [fd for fd in {master, stdout_fd, stderr_fd} if fd is not None]
        self._writer = FdWriter(loop, stdin_fd, owns_fd=stdin_fd != master) if stdin_fd is not None else None
        self._attachers: set[AttachProcess] = set()
        self._log: deque[tuple[int, bytes]] = deque()  # (time read in ns since the epoch, chunk)
        self._log_size = 0
        self.ended = asyncio.Event()
        self._pump = loop.create_task(self._run())

    @property
    def has_stdin(self) -> bool:
        return self._writer is not None and not self._writer.closed

    async def _run(self) -> None:
        try:
            while (item := await self._mux.read()) is not None:
                self._remember(item[1])
                for attacher in list(self._attachers):
                    await attacher._deliver(item)
        finally:
            self.ended.set()
            for attacher in list(self._attachers):
                attacher._end()
            self._release()

    def _remember(self, data: bytes) -> None:
        self._log.append((time.time_ns(), data))
        self._log_size += len(data)
        while self._log_size - len(self._log[0][1]) >= LOG_LIMIT:
            self._log_size -= len(self._log.popleft()[1])

    def logs(self) -> bytes:
        """The last ~1 MiB of the main process's output (stdout and stderr interleaved)."""
        return b"".join(chunk for _, chunk in self._log)[-LOG_LIMIT:]

    def log_chunks(self) -> list[tuple[int, bytes]]:
        """The chunks behind :meth:`logs`, each with the time it was read (ns since the epoch), as a
        runtime's log file keeps them for ``kubectl logs --timestamps``/``--since``."""
        return list(self._log)

    def _release(self) -> None:
        self._mux.close()
        if self._writer is not None:
            self._writer.close()
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def attach(
        self, *, stdin: bool, stdout: bool, stderr: bool, exit_code: asyncio.Future[int]
    ) -> AttachProcess:
        attacher = AttachProcess(self, stdin=stdin, stdout=stdout, stderr=stderr, exit_code=exit_code)
        if self.ended.is_set():
            attacher._end()
        else:
            self._attachers.add(attacher)
        return attacher

    def _detach(self, attacher: AttachProcess) -> None:
        self._attachers.discard(attacher)

    async def write(self, data: bytes) -> None:
        if self._writer is not None:
            await self._writer.write(data)

    def resize(self, cols: int, rows: int) -> None:
        if self._master is not None and not self.ended.is_set():
            try:
                set_winsize(self._master, cols, rows)
            except OSError:
                pass

    def close(self) -> None:
        """Stop pumping (the container is gone): attachers see the end of output."""
        self._mux.close()


class AttachProcess(Process):
    """One attacher's view of the main process.

    :meth:`kill` *detaches* — it never kills the container, just as ``kubectl attach`` ending does not.
    :meth:`close_stdin` only stops this attacher's input (``stdinOnce`` is not modelled); :meth:`wait`
    returns the container's exit code once it has exited.

    What has not been read yet is bounded in bytes (:data:`_QUEUE_BYTES`, a pipe's default buffer), not
    in chunks: a line editor echoes key by key, and a chunk count would stop every attacher after a
    dozen keystrokes while one of them looked away.
    """

    def __init__(
        self, io: MainIO, *, stdin: bool, stdout: bool, stderr: bool, exit_code: asyncio.Future[int]
    ) -> None:
        self._io = io
        self._stdin = stdin
        self._channels = {ch for ch, on in ((1, stdout), (2, stderr)) if on}
        self._pending: deque[tuple[int, bytes]] = deque()
        self._pending_bytes = 0
        self._readable = asyncio.Event()
        self._space = asyncio.Event()
        self._space.set()
        self._ended = False
        self._exit_code = exit_code

    async def _deliver(self, item: tuple[int, bytes]) -> None:
        if item[0] not in self._channels:
            return
        while self._pending_bytes >= _QUEUE_BYTES and not self._ended:
            self._space.clear()
            await self._space.wait()
        if self._ended:
            return
        self._pending.append(item)
        self._pending_bytes += len(item[1])
        self._readable.set()

    def _end(self) -> None:
        self._ended = True
        self._readable.set()  # wake a reader blocked on nothing to read
        self._space.set()  # and a pump blocked on us

    async def read(self) -> tuple[int, bytes] | None:
        while not self._pending:
            if self._ended:
                return None
            self._readable.clear()
            await self._readable.wait()
        item = self._pending.popleft()
        self._pending_bytes -= len(item[1])
        if self._pending_bytes < _QUEUE_BYTES:
            self._space.set()
        return item

    async def write(self, data: bytes) -> None:
        if self._stdin and data and not self._ended:
            await self._io.write(data)

    def close_stdin(self) -> None:
        self._stdin = False

    def resize(self, cols: int, rows: int) -> None:
        self._io.resize(cols, rows)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit_code)

    async def kill(self) -> None:
        """Detach: stop receiving, and let the pump continue past anything held for us."""
        self._io._detach(self)
        self._stdin = False
        self._pending.clear()
        self._pending_bytes = 0
        self._end()
