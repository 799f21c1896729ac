"""Asyncio I/O on raw file descriptors (pipes and PTY masters) with backpressure in both directions.

Why not ``asyncio.subprocess``: it reads output eagerly into an unbounded buffer, cannot drive a PTY, and
needs a child watcher that behaves differently in a non-main-thread loop. Here:

* :class:`OutputMux` reads **only when its consumer asks** (pull): ``read()`` first tries a non-blocking
  ``os.read``; only if that would block does it register ``loop.add_reader`` and wait. A consumer that
  stops reading therefore stops the process at its pipe/PTY buffer instead of growing our memory, and no
  callback runs while nobody waits. In the fast path (data already there) there are no epoll calls at all,
  which is what makes > 100 MB/s possible.
* :class:`FdWriter` writes until the kernel took every byte, waiting with ``add_writer`` when the buffer
  is full: ``await write()`` returns when the data is in the kernel, not sooner.

A PTY master reports the end of output as ``EIO`` once no process holds the slave; that counts as EOF.
All fds are non-blocking. Nothing here spins.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os

__all__ = ["CHUNK", "FdWriter", "OutputMux", "high_fd", "pipe", "set_pipe_size"]

CHUNK = 256 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


def set_pipe_size(fd: int, size: int = 1 << 20) -> None:
    """Grow a pipe's kernel buffer (fewer wake-ups per megabyte); silently keeps the default if refused."""
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except OSError:
        pass


def high_fd(fd: int) -> int:
    """Move ``fd`` above 2 (close-on-exec), so it can never collide with a child's stdio numbers.

    A server started with a closed stdin would otherwise get fd 0 from ``os.pipe()``.
    """
    if fd > 2:
        return fd
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.close(fd)
    return new


def pipe() -> tuple[int, int]:
    """``os.pipe()`` (both ends close-on-exec) with both fds above 2."""
    r, w = os.pipe()
    return high_fd(r), high_fd(w)


class OutputMux:
    """Several output fds, each tagged with a channel number, read as one ``(channel, bytes)`` stream.

    The fds are borrowed: :meth:`close` unregisters them but the owner closes them.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, sources: list[tuple[int, int]]) -> None:
        self._loop = loop
        self._open = [(channel, fd) for channel, fd in sources]
        for _, fd in self._open:
            os.set_blocking(fd, False)
        self._waiter: asyncio.Future[None] | None = None
        self._registered: list[int] = []
        self._turn = 0
        self._closed = False
        self._reading = False
        self._finishing = False

    @property
    def ended(self) -> bool:
        return self._closed or not self._open

    def _try_read(self, fd: int) -> bytes | None:
        """Bytes, ``b""`` at EOF (EIO on a PTY master whose slave is closed), ``None`` when it would block."""
        try:
            return os.read(fd, CHUNK)
        except BlockingIOError:
            return None
        except OSError as exc:
            if exc.errno in (errno.EIO, errno.EBADF):
                return b""
            raise

    async def read(self) -> tuple[int, bytes] | None:
        """The next chunk from whichever fd has data, or ``None`` once every fd reached EOF."""
        if self._reading:
            raise RuntimeError("read() called while another read() is pending")
        self._reading = True
        try:
            while not self.ended:
                count = len(self._open)
                for i in range(count):  # round robin, so a chatty stdout cannot starve stderr
                    channel, fd = self._open[(self._turn + i) % count]
                    data = self._try_read(fd)
                    if data is None:
                        continue
                    if not data:
                        self._open.remove((channel, fd))
                        break
                    self._turn = (self._turn + i + 1) % count
                    return channel, data
                else:
                    if self._finishing:  # all that was written has been read
                        self._open.clear()
                        break
                    await self._wait_readable()
            return None
        finally:
            self._reading = False

    async def _wait_readable(self) -> None:
        waiter = self._loop.create_future()
        self._waiter = waiter

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        for _, fd in self._open:
            self._loop.add_reader(fd, wake)
            self._registered.append(fd)
        try:
            await waiter
        finally:
            self._unregister()
            self._waiter = None

    def _unregister(self) -> None:
        for fd in self._registered:
            self._loop.remove_reader(fd)
        self._registered.clear()

    def finish(self) -> None:
        """The writer is gone but others may hold its end: read what is there, then end instead of
        waiting. A PTY master's read flushes the terminal's pending input first (``n_tty_read``), so
        nothing written before this call is lost."""
        self._finishing = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        """Stop reading: a pending :meth:`read` returns ``None``. Call before closing the fds."""
        self._closed = True
        self._unregister()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class FdWriter:
    """Awaitable, ordered writes to a non-blocking fd; data is dropped once the reader is gone.

    Dropping (rather than raising) after ``EPIPE``/``EIO`` matches what a terminal user expects from a
    process that has exited: keystrokes go nowhere, the session ends with its exit status.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int, *, owns_fd: bool) -> None:
        self._loop = loop
        self.fd = fd
        self._owns_fd = owns_fd
        os.set_blocking(fd, False)
        self._lock = asyncio.Lock()
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    async def write(self, data: bytes) -> None:
        async with self._lock:
            view = memoryview(data)
            while view and not self.closed:
                try:
                    written = os.write(self.fd, view)
                except BlockingIOError:
                    await self._wait_writable()
                    continue
                except OSError as exc:
                    if exc.errno in (errno.EPIPE, errno.EIO, errno.EBADF):
                        self.close()
                        return
                    raise
                view = view[written:]

    async def _wait_writable(self) -> None:
        waiter = self._loop.create_future()
        self._waiter = waiter

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        self._loop.add_writer(self.fd, wake)
        try:
            await waiter
        finally:
            if not self.closed:
                self._loop.remove_writer(self.fd)
            self._waiter = None

    def close(self) -> None:
        """Stop writing (pending writes return, later ones are dropped); closes the fd if it owns it."""
        if self.closed:
            return
        self.closed = True
        self._loop.remove_writer(self.fd)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        if self._owns_fd:
            os.close(self.fd)
