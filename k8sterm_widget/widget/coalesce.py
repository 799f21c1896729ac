"""Output batching policy: a lone echo goes out at once, a flood goes out in batches.

Why: jupyter_server drops iopub messages beyond 1000/s (``iopub_msg_rate_limit``, comm messages
included, silently), so one comm message per read of a chatty pod (``yes``, ``kubectl logs -f``) corrupts
the screen; but batching everything with a timer would add its delay to every keystroke echo.

The rule, on each chunk from the pod:

1. Nothing pending and nothing sent for ``quiet`` (16 ms): send it now. A person types far slower than
   60 keys/s, so every echo takes this path and coalescing adds no latency to typing.
2. Otherwise the chunk joins the pending batch, which goes out when the quiet period after the previous
   send is over (at most ``delay``, 16 ms, after its first byte), or as soon as it holds ``max_bytes``
   (64 KiB), but never sooner than ``min_gap`` (8 ms) after the previous send; a faster pod just makes the
   batches bigger. Counting from the previous send rather than from the chunk matters for typing: a key
   whose echo lands 10 ms after the last output waits 6 ms, not 16.

So consecutive sends are at least ``min_gap`` apart: at most 125 messages/s per terminal whatever the
pod does, which leaves room for several busy terminals under the server's limit. Pure policy: the clock
is injected and the caller does the sending (:mod:`.output`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

QUIET = 0.016
DELAY = 0.016
MAX_BYTES = 64 * 1024
MIN_GAP = 0.008


class Coalescer:
    def __init__(
        self,
        *,
        quiet: float = QUIET,
        delay: float = DELAY,
        max_bytes: int = MAX_BYTES,
        min_gap: float = MIN_GAP,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quiet, self.delay, self.max_bytes, self.min_gap = quiet, delay, max_bytes, min_gap
        self.clock = clock
        self._pending = bytearray()
        self._first_at: float | None = None
        self._last_send = -1e9

    @property
    def pending(self) -> int:
        return len(self._pending)

    def add(self, data: bytes | memoryview) -> bool:
        """Queue ``data``; True means "take() and send now" (the caller then must)."""
        now = self.clock()
        idle = not self._pending and now - self._last_send >= self.quiet
        self._pending += data
        if self._first_at is None:
            self._first_at = now
        if idle:
            return True
        return len(self._pending) >= self.max_bytes and now - self._last_send >= self.min_gap

    def deadline(self) -> float | None:
        """When the pending batch is due (monotonic seconds), or None when nothing is pending."""
        if not self._pending or self._first_at is None:
            return None
        due = min(self._first_at + self.delay, self._last_send + self.quiet)
        if len(self._pending) >= self.max_bytes:
            due = min(due, self._last_send + self.min_gap)
        return max(due, self._last_send + self.min_gap)

    def due(self) -> bool:
        deadline = self.deadline()
        return deadline is not None and self.clock() >= deadline

    def take(self) -> bytes:
        """Hand over the pending batch and count it as sent now."""
        data = bytes(self._pending)
        self._pending.clear()
        self._first_at = None
        self._last_send = self.clock()
        return data
