"""Front-end messages back in the order they were sent, although two kernel threads may handle them.

Why: JupyterLab sends a comm's messages to the kernel's *main* shell until the comm's subshell exists, and
to the subshell from then on (``@jupyterlab/services`` ``comm.ts``: ``subshellId: this._subshellId ||
this._kernel.subshellId``). Around that switch, and whenever the main thread is busy with a cell, two
threads handle consecutive messages at once, so "echo" typed quickly can reach the shell as "ech(o".
Every input, resize and views message therefore carries its front end's ``id`` and a per-type ``seq``:

* :class:`InputOrder` delivers input strictly in ``seq`` order, holding early arrivals until the gap
  closes. A gap that stays open ``gap_wait`` seconds (a message the validator or rate limiter dropped)
  is skipped, so the terminal never hangs on a lost keystroke.
* :class:`Latest` tells whether a resize or views notice is newer than the last one applied, so a stale
  one arriving late cannot undo a newer one.

A page reload is a new front end with a new ``id``: its sequences start at 0. Only the most recent
``max_frontends`` front ends are remembered.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

GAP_WAIT = 0.5
MAX_FRONTENDS = 64


class InputOrder:
    def __init__(
        self,
        deliver: Callable[[bytes], object],
        *,
        gap_wait: float = GAP_WAIT,
        max_frontends: int = MAX_FRONTENDS,
        clock: Callable[[], float] = time.monotonic,
        timers: bool = True,
    ) -> None:
        self.deliver = deliver
        self.gap_wait = gap_wait
        self.max_frontends = max_frontends
        self.clock = clock
        self._timers = timers
        self._lock = threading.Lock()
        # per front end: [next expected seq, {seq: data} held back, time the oldest gap opened or None]
        self._fronts: OrderedDict[str, list] = OrderedDict()

    def push(self, front: str, seq: int, data: bytes) -> None:
        with self._lock:
            state = self._fronts.get(front)
            if state is None:
                state = self._fronts[front] = [0, {}, None]
                while len(self._fronts) > self.max_frontends:
                    self._fronts.popitem(last=False)
            self._fronts.move_to_end(front)
            expected, held, _ = state
            if seq < expected or seq in held:
                return  # a duplicate
            held[seq] = data
            self._release(state)

    def skip_gaps(self) -> None:
        """Give up on gaps open longer than ``gap_wait``: deliver what is held, in order."""
        with self._lock:
            now = self.clock()
            for state in self._fronts.values():
                if state[2] is not None and state[1] and now - state[2] >= self.gap_wait - 1e-6:
                    state[0] = min(state[1])
                    state[2] = None
                    self._release(state)

    def _release(self, state: list) -> None:
        """Deliver what follows in sequence; time a gap that remains (one timer per gap)."""
        held = state[1]
        while state[0] in held:
            self.deliver(held.pop(state[0]))
            state[0] += 1
        if not held:
            state[2] = None
        elif state[2] is None:
            state[2] = self.clock()
            if self._timers:
                timer = threading.Timer(self.gap_wait, self.skip_gaps)
                timer.daemon = True
                timer.start()


class Latest:
    """Whether a numbered notice is newer than the last one applied (per front end and kind)."""

    def __init__(self, max_frontends: int = MAX_FRONTENDS) -> None:
        self.max_frontends = max_frontends
        self._lock = threading.Lock()
        self._last: OrderedDict[tuple[str, str], int] = OrderedDict()

    def newer(self, front: str, kind: str, seq: int) -> bool:
        with self._lock:
            key = (front, kind)
            if key in self._last and seq <= self._last[key]:
                return False
            self._last[key] = seq
            self._last.move_to_end(key)
            while len(self._last) > 2 * self.max_frontends:
                self._last.popitem(last=False)
            return True
