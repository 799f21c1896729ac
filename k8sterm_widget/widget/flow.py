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
* ``detached``: acks stopped for ``stall`` seconds while paused (page closed, tab frozen). Rather than
  stall the shell forever, reading resumes and output is no longer sent (the server would buffer it for
  a dead page); the replay buffer keeps the latest screen. A front end that comes back asks for a replay,
  which makes the state ``on`` again.

Pure policy: methods return what to do (:data:`PAUSE`, :data:`RESUME`, :data:`DETACH` or None) and the
caller (:mod:`.output`) does it; the clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable

HIGH = 1 << 20
LOW = 256 * 1024
STALL = 3.0

PAUSE, RESUME, DETACH = "pause", "resume", "detach"
OFF, ON, DETACHED = "off", "on", "detached"


class FlowControl:
    def __init__(
        self,
        *,
        high: int = HIGH,
        low: int = LOW,
        stall: float = STALL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert low < high
        self.high, self.low, self.stall, self.clock = high, low, stall, clock
        self.state = OFF
        self.sent = 0
        self.acked = 0
        self.paused = False
        self._waiting_since = 0.0  # last ack, or the moment we paused, whichever is later

    @property
    def unacked(self) -> int:
        return self.sent - self.acked

    @property
    def sending(self) -> bool:
        """Whether output should go to the front end at all."""
        return self.state == ON

    def go_live(self, end: int) -> str | None:
        """A front end asked for a replay ending at ``end``: everything up to there counts as delivered."""
        self.state = ON
        self.sent = max(self.sent, end)
        self.acked = max(self.acked, end)
        self._waiting_since = self.clock()
        if self.paused:
            self.paused = False
            return RESUME
        return None

    def on_sent(self, end: int) -> str | None:
        self.sent = max(self.sent, end)
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
        self._waiting_since = self.clock()
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
