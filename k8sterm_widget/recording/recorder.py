"""A recording in progress: terminal bytes in, asciicast events out.

One :class:`Recording` per ``Terminal.record()``. The terminal hands it raw bytes as they arrive (output on
the session's I/O thread, typed input on comm threads, resizes when a view reports a size); it decodes each
stream with its own incremental UTF-8 decoder (a character split across two chunks stays whole; invalid
bytes become U+FFFD, as asciinema does), passes the text through the redaction queue
(:mod:`.redact`) and writes the events (:mod:`.asciicast`). One lock orders the three sources.

A write error (disk full, the file's directory removed) ends the recording instead of the session:
``error`` holds the exception and the terminal keeps working.
"""

from __future__ import annotations

import codecs
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from .asciicast import CastWriter
from .redact import EventQueue, Rule, compile_rule

log = logging.getLogger("k8sterm_widget.recording")


class Recording:
    """Writes one terminal's session to an asciicast v2 file while it runs; see ``Terminal.record``.

    ``path``, ``input`` (whether typed input is recorded), ``events`` (written so far), ``error`` (a write
    failure that ended it) and ``active`` are public. Use :meth:`stop` (or the terminal's
    ``stop_recording()``, or a ``with`` block) to finish it.
    """

    def __init__(
        self,
        path: str | Path,
        width: int,
        height: int,
        *,
        input: bool = False,
        redact: Rule | None = None,
        title: str | None = None,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_stop: Callable[[Recording], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.input = input
        self.error: Exception | None = None
        self.size = (int(width), int(height))
        self._rule = compile_rule(redact)
        self._queue = EventQueue(self._rule)
        self._decoders = {code: codecs.getincrementaldecoder("utf-8")("replace") for code in ("o", "i")}
        self._lock = threading.Lock()
        self._on_stop = on_stop
        self._writer: CastWriter | None = CastWriter(
            self.path, width, height, env=env, title=title, clock=clock
        )

    # ------------------------------------------------------------------ sources (any thread)

    def output(self, data: bytes | bytearray | memoryview | str) -> None:
        self._add("o", data)

    def input_data(self, data: bytes | bytearray | memoryview | str) -> None:
        """Typed input; ignored unless the recording was started with ``input=True``."""
        if self.input:
            self._add("i", data)

    def resize(self, cols: int, rows: int) -> None:
        with self._lock:
            if self._writer is None or (cols, rows) == self.size:
                return
            self.size = (cols, rows)
            at = self._writer.elapsed()
            self._step(lambda: self._queue.add(at, "r", f"{cols}x{rows}"))

    def _add(self, code: str, data: Any) -> None:
        with self._lock:
            if self._writer is None:
                return
            text = data if isinstance(data, str) else self._decoders[code].decode(bytes(data))
            if text:
                at = self._writer.elapsed()
                self._step(lambda: self._queue.add(at, code, text))

    def _step(self, produce: Callable[[], list[tuple[float, str, str]]]) -> None:
        """Queue an event and write what is ready (lock held); any failure ends the recording only."""
        writer = self._writer
        if writer is None:
            return
        try:
            for at, code, data in produce():
                writer.event(code, data, at)
        except Exception as e:  # OSError, or a redact callable that raised
            self.error = e
            log.warning("k8sterm: recording to %s stopped: %s: %s", self.path, type(e).__name__, e)
            self._close_locked()

    # ------------------------------------------------------------------ end

    @property
    def active(self) -> bool:
        return self._writer is not None

    @property
    def events(self) -> int:
        """Event lines written so far (held lines not counted)."""
        writer = self._writer
        return writer.events if writer is not None else self._final_events

    _final_events = 0

    def stop(self) -> Path:
        """Write what is still held (a last partial line, a half character), close the file; idempotent."""
        with self._lock:
            if self._writer is None:
                return self.path
            writer = self._writer
            at = writer.elapsed()
            for code, decoder in self._decoders.items():
                if code == "o" or self.input:
                    tail = decoder.decode(b"", final=True)
                    if tail:
                        self._step(partial(self._queue.add, at, code, tail))
            self._step(self._queue.flush)
            self._close_locked()
        return self.path

    def _close_locked(self) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        self._final_events = writer.events
        try:
            writer.close()
        except OSError as e:
            self.error = self.error or e
        if self._on_stop is not None:
            callback, self._on_stop = self._on_stop, None
            try:
                callback(self)
            except Exception:
                log.exception("k8sterm: recording stop callback failed")

    def __enter__(self) -> Recording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "recording" if self.active else ("failed: " + str(self.error) if self.error else "stopped")
        return f"<k8sterm Recording {str(self.path)!r} {state}, {self.events} events>"


__all__ = ["Recording"]
