"""Replay buffer: what a new view needs to show the current screen — a checkpoint plus the bytes after it.

Why not a log of raw output (terminado's ``read_buffer``): a bounded log starts somewhere in the middle
of the session, so a full-screen app (htop, vim) comes back garbled after a reload (jupyterlab#12073).
Here the front end periodically sends a **checkpoint**: xterm's serialize-addon output (an ANSI string
that rebuilds buffer, scrollback, cursor and modes) and the output offset it corresponds to. The kernel
keeps the latest checkpoint and only the raw bytes after it, bounded by ``limit``: when the pod prints
more than that between two checkpoints (nobody is watching, so nobody checkpoints), the head is dropped
and the replay is marked lossy (the front end then says so in the terminal).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

LIMIT = 8 << 20


@dataclass(frozen=True)
class Checkpoint:
    offset: int
    cols: int
    rows: int
    data: bytes  # UTF-8 of the serialized screen


@dataclass(frozen=True)
class Snapshot:
    checkpoint: Checkpoint | None
    start: int  # offset of the first tail byte
    tail: bytes
    lossy: bool

    @property
    def end(self) -> int:
        return self.start + len(self.tail)


class ReplayBuffer:
    def __init__(self, limit: int = LIMIT) -> None:
        self.limit = limit
        self.checkpoint: Checkpoint | None = None
        self.start = 0
        self.end = 0
        self._chunks: deque[bytes] = deque()
        self._size = 0

    @property
    def base(self) -> int:
        """Where the replay should start: the checkpoint's offset, or 0 without one."""
        return self.checkpoint.offset if self.checkpoint else 0

    @property
    def lossy(self) -> bool:
        return self.start > self.base

    @property
    def size(self) -> int:
        return self._size

    def append(self, data: bytes) -> None:
        if not data:
            return
        self._chunks.append(data)
        self._size += len(data)
        self.end += len(data)
        self._trim(self.limit)

    def set_checkpoint(self, offset: int, cols: int, rows: int, data: bytes) -> bool:
        """Keep a checkpoint taken at ``offset`` if it is newer than the current one and not in the future."""
        if offset > self.end or offset < self.base:
            return False
        self.checkpoint = Checkpoint(offset, cols, rows, bytes(data))
        self._drop_before(offset)
        return True

    def snapshot(self) -> Snapshot:
        return Snapshot(self.checkpoint, self.start, b"".join(self._chunks), self.lossy)

    def since(self, offset: int) -> bytes | None:
        """The bytes from ``offset`` to the end, or None when they are no longer (or not yet) all here.

        Why: a front end that still shows everything up to ``offset`` (it was detached, its lane broke)
        needs only what follows; redrawing it from the checkpoint would cut its scrollback to the
        checkpoint's few thousand lines.
        """
        if not self.start <= offset <= self.end:
            return None
        data = b"".join(self._chunks)
        return data[offset - self.start :]

    def _drop_before(self, offset: int) -> None:
        while self._chunks and self.start < offset:
            head = self._chunks[0]
            cut = min(len(head), offset - self.start)
            if cut == len(head):
                self._chunks.popleft()
            else:
                self._chunks[0] = head[cut:]
            self._size -= cut
            self.start += cut
        if not self._chunks:
            self.start = max(self.start, min(offset, self.end))

    def _trim(self, limit: int) -> None:
        if self._size > limit:
            self._drop_before(self.start + (self._size - limit))
