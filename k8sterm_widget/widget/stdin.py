"""Keystrokes and pastes to the session's stdin, from a thread of their own.

Why a thread: ``ExecSession.write`` blocks while a megabyte is queued towards the pod. Blocking the comm
handler there would also hold up the acks that arrive on the same thread — with a pty echoing a big
paste that is a deadlock until the flow-control stall timer breaks it. The queue is bounded (keys typed
into a dead or stuck session are dropped with a log line, never pile up) and holds keys typed while the
session is still connecting, so nothing typed early is lost (the first prompt may simply come later).

A keystroke does not wait for that thread, though: when nothing is queued, ``put`` hands small writes to
the session directly with a zero timeout (which never blocks, and a write of one frame is all or nothing),
so typing costs no thread hop; pastes, and anything while the session is not there yet or is full, go
through the queue. Order is kept either way.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import SessionClosed
from .protocol import DropLog

if TYPE_CHECKING:
    from ..session import ExecSession

log = logging.getLogger("k8sterm_widget.widget")

LIMIT = 16 << 20
IDLE_EXIT = 5.0  # seconds the writer thread waits for work before it ends (a new one starts on demand)
DIRECT = 4096  # at most this much is written from the caller's thread (well under one 32 KiB frame)


class InputQueue:
    def __init__(self, limit: int = LIMIT, *, drop: Callable[[str], None] | None = None) -> None:
        self.limit = limit
        self._drop = drop or DropLog()  # rate-limited, like every other front-end drop
        self._cond = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._size = 0
        self._session: ExecSession | None = None
        self._writing = False  # the thread holds bytes taken from the queue
        self._stopped = False
        self._running = False  # a writer thread is alive (changed only under the lock)

    def put(self, data: bytes) -> bool:
        with self._cond:
            if self._stopped or self._size + len(data) > self.limit:
                why = "the session has ended" if self._stopped else f"{self._size} bytes already queued"
                self._drop(f"input of {len(data)} bytes ({why})")
                return False
            if len(data) <= DIRECT and not self._queue and not self._writing and self._session is not None:
                try:
                    self._session.write(data, timeout=0)
                    return True
                except TimeoutError:
                    pass  # the session's send queue is full: the thread waits for room
                except SessionClosed:
                    return False
            self._queue.append(data)
            self._size += len(data)
            self._kick()
            return True

    def attach(self, session: ExecSession | None) -> None:
        """Start writing to ``session`` (None: hold the input until one is attached)."""
        with self._cond:
            self._session = session
            if self._queue:
                self._kick()

    def clear(self) -> None:
        with self._cond:
            self._queue.clear()
            self._size = 0

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._queue.clear()
            self._cond.notify()

    def _kick(self) -> None:
        if self._running:
            self._cond.notify()
        elif not self._stopped:
            self._running = True
            threading.Thread(target=self._run, name="k8sterm-stdin", daemon=True).start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not (self._queue and self._session is not None):
                    if not self._cond.wait(IDLE_EXIT) and not (self._queue and self._session is not None):
                        self._running = False  # idle: put() or attach() start a new thread
                        return
                if self._stopped:
                    self._running = False
                    return
                session = self._session
                if session is None:  # not after the wait above; says so to the type checker
                    continue
                data = self._queue.popleft()
                self._size -= len(data)
                self._writing = True
            try:
                while True:
                    try:
                        session.write(data, timeout=1.0)
                        break
                    except TimeoutError:
                        with self._cond:
                            if self._stopped or self._session is not session:
                                break
            except SessionClosed:
                with self._cond:
                    if self._session is session:
                        self._queue.clear()
                        self._size = 0
            except Exception:
                log.exception("k8sterm: writing to the session failed")
            finally:
                with self._cond:
                    self._writing = False
