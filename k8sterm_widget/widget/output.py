"""The output pipe: bytes from the exec session to the comm, with offsets, batching, replay and flow control.

It joins the three policies (:mod:`.coalesce`, :mod:`.replay`, :mod:`.flow`) to the transport. Threads:
``feed`` runs on the session's I/O thread and sends a lone echo right there; a small flusher thread sends
batches when they are due and runs the flow-control stall timer. The flusher exists only while it has a
deadline to keep (plus a few idle seconds), so an idle terminal costs no thread. Everything that sends
holds one lock, so messages leave in offset order (comm sends are thread-safe: ipykernel hands them to its
IOPub thread).

Output is only sent once a front end has asked for a replay (state ``on`` in :mod:`.flow`); before that
it only goes into the replay buffer, which is what a front end gets first anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from . import flow as fl
from .coalesce import Coalescer
from .protocol import b64
from .replay import ReplayBuffer

log = logging.getLogger("k8sterm_widget.widget")

Send = Callable[[dict, list], None]
IDLE_EXIT = 5.0  # seconds a flusher with nothing to do waits before its thread ends


class OutputPipe:
    def __init__(
        self,
        send: Send,
        *,
        pause: Callable[[], None] = lambda: None,
        resume: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.monotonic,
        coalescer: Coalescer | None = None,
        flow: fl.FlowControl | None = None,
        replay: ReplayBuffer | None = None,
        thread: bool = True,
    ) -> None:
        self._send = send
        self._pause, self._resume = pause, resume
        self.clock = clock
        self.coalescer = coalescer or Coalescer(clock=clock)
        self.flow = flow or fl.FlowControl(clock=clock)
        self.replay = replay or ReplayBuffer()
        self.b64 = False  # some front end cannot receive buffers: send base64 from now on
        self._cond = threading.Condition()
        self._stopped = False
        self._threaded = thread  # False: the caller drives tick() (tests with a fake clock)
        self._running = False  # a flusher thread is alive (changed only under the lock)

    # ------------------------------------------------------------------ producer side (I/O thread)

    def feed(self, data: bytes | memoryview) -> None:
        if not data:
            return
        with self._cond:
            if self._stopped:
                return
            if self.coalescer.add(data):
                self._flush_locked()
            else:
                self._kick()

    @property
    def end(self) -> int:
        """Offset after the last byte fed (pending bytes included)."""
        with self._cond:
            return self.replay.end + self.coalescer.pending

    @property
    def paused(self) -> bool:
        return self.flow.paused

    # ------------------------------------------------------------------ front-end events

    def ack(self, offset: int) -> None:
        with self._cond:
            self._act(self.flow.on_ack(offset))

    def checkpoint(self, offset: int, cols: int, rows: int, data: bytes) -> bool:
        with self._cond:
            return self.replay.set_checkpoint(offset, cols, rows, data)

    def replay_to(self, to: str, *, b64_only: bool = False, have: int | None = None) -> None:
        """Send checkpoint + tail to the front end ``to``; from then on output is live.

        ``have``: the front end still shows the output up to there. When the buffer holds every byte
        after it, the replay is just those bytes (``resume``), and the front end keeps its screen and
        scrollback; otherwise it gets the checkpoint and redraws.
        """
        with self._cond:
            if b64_only:
                self.b64 = True
            if self.coalescer.pending:
                self._flush_locked()  # the replay must cover every byte fed so far
            rest = self.replay.since(have) if have is not None else None
            content: dict
            if rest is not None:
                content = {"type": "replay", "to": to, "offset": have, "end": self.replay.end}
                content |= {"checkpoint": None, "lossy": False, "resume": True}
                payload = [b"", rest]
                end = self.replay.end
            else:
                snap = self.replay.snapshot()
                ckpt = snap.checkpoint
                where = {"offset": ckpt.offset, "cols": ckpt.cols, "rows": ckpt.rows} if ckpt else None
                content = {"type": "replay", "to": to, "offset": snap.start, "end": snap.end}
                content |= {"checkpoint": where, "lossy": snap.lossy}
                payload = [ckpt.data if ckpt else b"", snap.tail]
                end = snap.end
            if self.b64:
                content["b64"] = [b64(p) for p in payload]
                self._send(content, [])
            else:
                self._send(content, payload)
            self._act(self.flow.go_live(end))

    def inject(self, data: bytes) -> None:
        """Kernel-made bytes (a reconnect separator) into the same stream, flushed at once."""
        with self._cond:
            self.coalescer.add(data)
            self._flush_locked()

    def screen(self) -> bytes:
        """Checkpoint + the bytes after it: exactly what a new view would draw (pending bytes flushed)."""
        self.flush()
        with self._cond:
            shot = self.replay.snapshot()
        return (shot.checkpoint.data if shot.checkpoint else b"") + shot.tail

    def flush(self) -> None:
        """Send what is pending now (the session ended: its last bytes go before the status change)."""
        with self._cond:
            if self.coalescer.pending:
                self._flush_locked()

    def stop(self) -> None:
        with self._cond:
            if self.coalescer.pending:
                self._flush_locked()
            self._stopped = True
            self._cond.notify()

    # ------------------------------------------------------------------ internals (lock held)

    def _flush_locked(self) -> None:
        data = self.coalescer.take()
        if not data:
            return
        offset = self.replay.end
        self.replay.append(data)
        if not self.flow.sending:
            return
        if self.b64:
            self._send({"type": "output", "offset": offset, "b64": b64(data)}, [])
        else:
            self._send({"type": "output", "offset": offset}, [data])
        self._act(self.flow.on_sent(offset + len(data)))

    def _kick(self) -> None:
        """There is a deadline to keep: wake the flusher, or start one."""
        if not self._threaded or self._stopped:
            return
        if self._running:
            self._cond.notify()
        else:
            self._running = True
            threading.Thread(target=self._run, name="k8sterm-flusher", daemon=True).start()

    def _act(self, action: str | None) -> None:
        if action == fl.PAUSE:
            self._kick()  # the stall timer runs from now
            self._pause()
        elif action == fl.RESUME:
            self._resume()
        elif action == fl.DETACH:
            log.info("k8sterm: no acks for %.0f s; output goes to the replay buffer only", self.flow.stall)
            self._send({"type": "detached", "offset": self.replay.end}, [])
            self._resume()

    def tick(self) -> None:
        """Do whatever is due now (the flusher thread calls this; tests call it with a fake clock)."""
        with self._cond:
            self._tick_locked()

    def _tick_locked(self) -> None:
        if self.coalescer.due():
            self._flush_locked()
        self._act(self.flow.tick())

    def _next_deadline(self) -> float | None:
        deadlines = [d for d in (self.coalescer.deadline(), self.flow.deadline()) if d is not None]
        return min(deadlines) if deadlines else None

    def _run(self) -> None:
        with self._cond:
            try:
                while not self._stopped:
                    try:
                        self._tick_locked()
                    except Exception:  # never let the flusher die: output would stop silently
                        log.exception("k8sterm: output flush failed")
                    deadline = self._next_deadline()
                    if deadline is None:
                        self._cond.wait(IDLE_EXIT)
                        if self._next_deadline() is None:
                            return  # idle: the next deadline starts a new thread
                    elif deadline > self.clock():
                        self._cond.wait(deadline - self.clock())
            finally:
                self._running = False
