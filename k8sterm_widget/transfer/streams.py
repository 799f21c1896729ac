"""File-like ends of an exec session, so ``tarfile`` and plain loops can stream through the cluster.

:class:`Conn` opens the sessions of one transfer: the first one runs the REST pre-flight (typed errors for
a missing pod, a stopped container, a forbidden exec) and fixes the container; later ones skip it, which
saves two API calls per step. :class:`SessionWriter` turns ``write()`` into stdin frames (blocking while a
megabyte is unsent: the session's own backpressure, so memory stays flat however large the file);
:class:`SessionReader` turns the session's stdout queue into ``read(n)``. Neither buffers more than one
frame, so nothing ever holds the whole archive. stderr is kept apart, bounded to its last 64 KiB, for
error messages.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass

from ..errors import SessionClosed
from ..session import ExecSession, OnOutput

STDERR_KEEP = 64 * 1024


class Tail:
    """The last ``limit`` bytes written to it (a failing ``tar`` can print a line per file)."""

    def __init__(self, limit: int = STDERR_KEEP) -> None:
        self.limit = limit
        self._parts: deque[bytes] = deque()
        self._size = 0

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        while self._size - len(self._parts[0]) >= self.limit:
            self._size -= len(self._parts.popleft())

    @property
    def text(self) -> str:
        return b"".join(self._parts)[-self.limit :].decode("utf-8", "replace")


class Collector:
    """An ``on_output`` callback keeping stdout (up to ``stdout_limit`` bytes) and stderr's tail.

    Used for uploads and small commands: their output is taken on the I/O thread, so a chatty failing
    ``tar`` can never fill the session's queue and stall the stdin we are writing (a queue nobody reads
    pauses the stream).
    """

    def __init__(self, stdout_limit: int | None = STDERR_KEEP) -> None:
        self.stdout = bytearray()
        self.stdout_limit = stdout_limit
        self.stderr = Tail()

    def __call__(self, stream: int, payload: memoryview) -> None:
        if stream == 1:
            if self.stdout_limit is None or len(self.stdout) < self.stdout_limit:
                self.stdout += payload
        else:
            self.stderr.add(bytes(payload))


@dataclass
class Conn:
    """Where a transfer goes: pod, namespace, container and kubeconfig, as given to ``exec``."""

    pod: str
    namespace: str | None = None
    container: str | None = None
    context: str | None = None
    kubeconfig: str | os.PathLike | None = None
    checked: bool = False

    def open(self, argv: list[str], *, stdin: bool, on_output: OnOutput | None = None) -> ExecSession:
        session = ExecSession.open(
            self.pod,
            argv,
            self.namespace,
            self.container,
            tty=False,
            stdin=stdin,
            on_output=on_output,
            context=self.context,
            kubeconfig=self.kubeconfig,
            check=not self.checked,
        )
        if not self.checked:
            self.namespace, self.container, self.checked = session.namespace, session.container, True
        return session

    def run(self, argv: list[str], input: bytes | None = None) -> tuple[int | None, bytes, str]:
        """Run a command to its end: (exit code, all of stdout, stderr's tail). Typed errors propagate.

        For the probe and the checksum step, whose output grows with the number of files, not their size.
        """
        out = Collector(stdout_limit=None)
        session = self.open(argv, stdin=input is not None, on_output=out)
        try:
            if input is not None:
                try:
                    session.write(input)
                    session.close_stdin()
                except SessionClosed:
                    pass  # it ended early: wait() says why
            code = session.wait()
        finally:
            if not session.ended:
                session.close()
        return code, bytes(out.stdout), out.stderr.text


class SessionWriter:
    """``write()`` into the process's stdin. Raises SessionClosed when the process has gone away."""

    def __init__(self, session: ExecSession) -> None:
        self.session = session
        self.written = 0

    def write(self, data: bytes | bytearray | memoryview) -> int:
        n = len(data)
        if n:
            self.session.write(bytes(data))
            self.written += n
        return n

    def flush(self) -> None:
        pass


class SessionReader:
    """``read(n)`` from the process's stdout (the session must have no ``on_output``); stderr kept apart."""

    def __init__(self, session: ExecSession) -> None:
        self.session = session
        self.stderr = Tail()
        self.received = 0
        self._frames: list[bytes] = []  # queued stdout frames not yet joined
        self._buffered = 0
        self._buf = b""  # the piece being handed out, from self._pos on
        self._pos = 0
        self._eof = False

    def _next(self, block: bool) -> bool:
        """Take one queued stdout frame (stderr aside); False when none is waiting, or at the end."""
        while not self._eof:
            try:
                item = self.session.read(None if block else 0)
            except TimeoutError:
                return False
            if item is None:
                self._eof = True
                return False
            stream, data = item
            if stream == 1:
                self._frames.append(data)
                self._buffered += len(data)
                self.received += len(data)
                return True
            self.stderr.add(data)
        return False

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all that is queued when ``n < 0``); ``b""`` only at the end.

        Waits for the first frame, then also takes frames already queued, so large reads return large
        pieces. That matters more than it seems: every call that writes or hashes releases the GIL and then
        waits for the I/O thread to hand it back, so a few big calls beat many frame-sized ones. Only the
        bytes returned are copied (a 512-byte tar header read does not copy the rest of a 4 MiB buffer).
        """
        if self._pos == len(self._buf):
            if not self._buffered and not self._next(block=True):
                return b""
            while (n < 0 or self._buffered < n) and self._next(block=False):
                pass
            frames, self._frames, self._buffered = self._frames, [], 0
            self._buf, self._pos = (frames[0] if len(frames) == 1 else b"".join(frames)), 0
        end = len(self._buf) if n < 0 else min(len(self._buf), self._pos + n)
        data = self._buf if (self._pos, end) == (0, len(self._buf)) else self._buf[self._pos : end]
        self._pos = end
        return data

    def drain(self) -> int:
        """Read to the end (a tar stream may be followed by padding); return the bytes thrown away."""
        dropped = 0
        while chunk := self.read(1 << 20):
            dropped += len(chunk)
        return dropped
