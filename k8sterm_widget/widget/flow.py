"""Flow control: stop reading the pod's output while the browser is behind, so memory and Ctrl-C stay sane.

Why: ``xterm.write`` only queues; parsing runs at 5-35 MB/s, and a pod can produce output much faster.
Without back-pressure the browser queues megabytes (sluggish, and past 50 MB xterm silently drops data),
and Ctrl-C takes effect only after the whole backlog has been drawn (docs/field-survey.md, complaint 11).

The front end acks the offset that xterm has *parsed*; ``unacked = sent - acked``. Above ``high``
(1 MiB) the session stops reading the cluster socket (TCP back-pressure then blocks the process in the
pod); below ``low`` (256 KiB) it reads again. 1 MiB at xterm's speed is well under a second of drawing,
so an interrupt shows promptly.

States:

* ``off``: no front end has asked for output yet (headless run, or before the first ``replay``
  request). Nothing is sent, nothing is paused: the replay buffer (bounded) keeps what a later view needs.
* ``on``: output is sent, pause/resume as above.
* ``detached``: acks stopped for :attr:`FlowControl.stall` seconds while paused (page closed, tab
  frozen). Rather than stall the shell forever, reading resumes and output is no longer sent (the server
  would buffer it for a dead page); the replay buffer keeps the latest screen. A front end that comes back
  asks for a replay, which makes the state ``on`` again (a live one resumes from what it has: no byte
  lost while the buffer holds them).

How long is "stopped": at least ``stall`` (3 s), and longer on a path that has been slow, because a
living page on a loaded machine can take that long: under a load average of 10 on two cores, output
crossed the Jupyter Server to the browser in 2-3 s, a 3 s timer declared the page gone every other run,
and the page then had to fetch again what it was about to get. So the wait is twice the slowest of the
last ``TIMED`` delays measured between sending a batch and its ack, between ``stall`` and ``max_stall``
(30 s: a closed page stalls the shell at most that long). Twice the slowest rather than TCP's smoothed
estimate (RFC 6298): delays on a loaded machine swing between 0.5 and 3.5 s from one batch to the next,
and a page wrongly taken for gone costs a round trip, while waiting a little longer for one really gone
costs nothing but a shell held a few more seconds.

Pure policy: methods return what to do (:data:`PAUSE`, :data:`RESUME`, :data:`DETACH` or None) and the
caller (:mod:`.output`) does it; the clock is injected.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

HIGH = 1 << 20
LOW = 256 * 1024
STALL = 3.0
MAX_STALL = 30.0
TIMED = 64  # sends remembered to time their acks, and delays remembered

PAUSE, RESUME, DETACH = "pause", "resume", "detach"
OFF, ON, DETACHED = "off", "on", "detached"


class FlowControl:
    def __init__(
        self,
        *,
        high: int = HIGH,
        low: int = LOW,
        stall: float = STALL,
        max_stall: float = MAX_STALL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert low < high and stall <= max_stall
        self.high, self.low, self.min_stall, self.max_stall, self.clock = high, low, stall, max_stall, clock
        self.state = OFF
        self.sent = 0
        self.acked = 0
        self.paused = False
        self._waiting_since = 0.0  # last ack, or the moment we paused, whichever is later
        self._sends: deque[tuple[int, float]] = deque(maxlen=TIMED)  # (end offset, when sent)
        self._delays: deque[float] = deque(maxlen=TIMED)  # seconds from a send to its ack, latest last

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    @property
    def stall(self) -> float:
        """Seconds without an ack, while paused, after which the front end counts as gone."""
        slowest = max(self._delays, default=0.0)
        return min(self.max_stall, max(self.min_stall, 2 * slowest))

    @property
    def sending(self) -> bool:
        """Whether output should go to the front end at all."""
        return self.state == ON

    def go_live(self, end: int) -> str | None:
        """A front end asked for a replay ending at ``end``: everything up to there counts as delivered."""
        self.state = ON
        self.sent = max(self.sent, end)
        self.acked = max(self.acked, end)
        self._sends.clear()  # counted as delivered: no ack will time them
        self._waiting_since = self.clock()
        if self.paused:
            self.paused = False
            return RESUME
        return None

    def on_sent(self, end: int) -> str | None:
        self.sent = max(self.sent, end)
        if self.state == ON:
            self._sends.append((end, self.clock()))
        if self.state == ON and not self.paused and self.unacked > self.high:
            self.paused = True
            self._waiting_since = self.clock()
            return PAUSE
        return None

    def on_ack(self, offset: int) -> str | None:
        """Record an ack; offsets beyond what was sent are ignored (a confused or hostile front end)."""
        if offset > self.sent or offset <= self.acked:
            return None
        self.acked = offset
        now = self._waiting_since = self.clock()
        sent_at = None
        while self._sends and self._sends[0][0] <= offset:
            sent_at = self._sends.popleft()[1]
        if sent_at is not None:
            self._delays.append(now - sent_at)
        if self.paused and self.unacked < self.low:
            self.paused = False
            return RESUME
        return None

    def deadline(self) -> float | None:
        """When :meth:`tick` has something to decide (the stall timeout), or None."""
        if self.state == ON and self.paused:
            return self._waiting_since + self.stall
        return None

    def tick(self) -> str | None:
        deadline = self.deadline()
        if deadline is not None and self.clock() >= deadline:
            self.state = DETACHED
            self.paused = False
            return DETACH
        return None
