"""asciicast v2: the file format of asciinema, written line by line and read back for the player.

Why this format: asciinema's tools, its web player and many converters (agg for GIFs, svg-term) read it,
and it is a text file of JSON lines that diffs and greps well. The spec
(docs.asciinema.org/manual/asciicast/v2): a header object on the first line (``version`` 2, ``width``,
``height``, optional ``timestamp``, ``env``, ``title``, ``idle_time_limit``), then one event per line,
``[time, code, data]``: ``time`` in seconds since the start (a float, never decreasing), ``code`` ``"o"``
(output), ``"i"`` (input), ``"r"`` (resize, data ``"COLSxROWS"``) or ``"m"`` (marker), ``data`` a string.

The writer knows nothing about terminals: it gets text and times (decoding and redaction happen in
:mod:`.recorder`), keeps times monotonic and flushes every line, so a recording that is still running can
be read (``tail -f``, ``asciinema play``) and one cut short by a dying kernel is still a valid file.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

CODES = ("o", "i", "r", "m")
MAX_SIZE = 10_000  # columns or rows, in the header and in resize events: a player allocates that much
_RESIZE = re.compile(r"([0-9]{1,5})x([0-9]{1,5})")


class CastWriter:
    """Writes one asciicast v2 file: the header at once, then :meth:`event` lines as they come.

    ``file`` is a path (created or truncated) or a text file object opened for writing. ``clock`` is the
    monotonic clock event times are measured with (injectable for tests). Not thread-safe on its own:
    :class:`~.recorder.Recording` serializes calls.
    """

    def __init__(
        self,
        file: str | os.PathLike | IO[str],
        width: int,
        height: int,
        *,
        timestamp: float | None = None,
        env: dict[str, str] | None = None,
        title: str | None = None,
        idle_time_limit: float | None = None,
        clock: Any = time.monotonic,
    ) -> None:
        if isinstance(file, (str, os.PathLike)):
            self._file: IO[str] = open(file, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
            self._owned = True
        else:
            self._file, self._owned = file, False
        self.clock = clock
        self.start = clock()
        self.last = 0.0
        self.events = 0
        self.closed = False
        self.header: dict[str, Any] = {
            "version": 2,
            "width": int(width),
            "height": int(height),
            "timestamp": int(time.time() if timestamp is None else timestamp),
        }
        if idle_time_limit is not None:
            self.header["idle_time_limit"] = idle_time_limit
        if env:
            self.header["env"] = dict(env)
        if title:
            self.header["title"] = title
        self._write(json.dumps(self.header, ensure_ascii=False))

    def elapsed(self) -> float:
        """Seconds since the start, by the writer's clock."""
        return self.clock() - self.start

    def event(self, code: str, data: str, at: float | None = None) -> None:
        """Append ``[time, code, data]``; ``at`` (seconds since the start) defaults to now.

        Times are kept monotonic: an event stamped earlier than the previous one (two threads racing to
        the lock) is written at the previous one's time.
        """
        if self.closed:
            return
        if code not in CODES:
            raise ValueError(f"unknown asciicast event code {code!r}")
        t = max(self.last, self.elapsed() if at is None else at, 0.0)
        self.last = t
        self.events += 1
        self._write(json.dumps([round(t, 6), code, data], ensure_ascii=False))

    def _write(self, line: str) -> None:
        self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._owned:
            self._file.close()
        else:
            self._file.flush()


# ------------------------------------------------------------------------------------------- reading


@dataclass
class Cast:
    """A cast read for playing: its header, its events, and what was left out (``note`` says so)."""

    header: dict[str, Any]
    events: list[list[Any]] = field(default_factory=list)
    skipped: int = 0  # lines that were not valid events
    truncated: bool = False  # the file was larger than the limit: only its beginning is here
    size: int = 0  # bytes of the file

    @property
    def duration(self) -> float:
        return float(self.events[-1][0]) if self.events else 0.0

    @property
    def note(self) -> str:
        parts = []
        if self.truncated:
            parts.append(
                f"this cast is {_mib(self.size)}; only its first {self.duration:.1f} s "
                f"({len(self.events)} events) are shown"
            )
        if self.skipped:
            parts.append(f"{self.skipped} unreadable line{'s' if self.skipped != 1 else ''} skipped")
        return "; ".join(parts)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB" if size >= 1 << 20 else f"{size / 1024:.0f} KiB"


class CastError(ValueError):
    """The file is not an asciicast v2 recording (the message says why, with the line number)."""


def parse_header(line: str) -> dict[str, Any]:
    try:
        header = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        raise CastError("line 1 is not JSON: an asciicast v2 file starts with a header object") from None
    if not isinstance(header, dict) or header.get("version") != 2:
        raise CastError("line 1 is not an asciicast v2 header (version 2 is the only one supported)")
    for key in ("width", "height"):
        value = header.get(key)
        if type(value) is not int or not 1 <= value <= MAX_SIZE:
            raise CastError(f"the header's {key!r} must be an integer from 1 to {MAX_SIZE}, got {value!r}")
    limit = header.get("idle_time_limit")
    if limit is not None and not (_is_time(limit) and limit >= 0):
        raise CastError(f"the header's 'idle_time_limit' must be a finite number of seconds, got {limit!r}")
    return header


def _is_time(value: Any) -> bool:
    """A number of seconds: an int or float (not a bool), finite."""
    return type(value) in (int, float) and math.isfinite(value)


def _is_size(data: str) -> bool:
    """A resize event's ``COLSxROWS`` (ASCII digits), each within the header's bounds."""
    m = _RESIZE.fullmatch(data)
    return m is not None and all(1 <= int(n) <= MAX_SIZE for n in m.groups())


def parse_event(line: str) -> list[Any] | None:
    """One event line as ``[time, code, data]``, or None when it is not a valid event.

    Python's json reads ``NaN`` and ``Infinity`` (and ``1e400`` as infinity): not times. A resize must
    be ``COLSxROWS`` within the bounds the header has.
    """
    try:
        event = json.loads(line)
    except (json.JSONDecodeError, RecursionError):
        return None
    if (
        not isinstance(event, list)
        or len(event) != 3
        or not _is_time(event[0])
        or not isinstance(event[1], str)
        or not isinstance(event[2], str)
        or (event[1] == "r" and not _is_size(event[2]))
    ):
        return None
    return [float(event[0]), event[1], event[2]]


def iter_lines(path: str | os.PathLike) -> Iterator[str]:
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        for line in f:
            yield line.rstrip("\r\n")


def read_cast(path: str | os.PathLike, *, max_bytes: int = 8 << 20) -> Cast:
    """Read a cast for playing, keeping at most ``max_bytes`` of event data (the rest is cut, and said so).

    Invalid event lines are skipped and counted; times that go backwards are clamped (some tools write
    them). Raises :class:`CastError` when the header is not asciicast v2.
    """
    size = os.path.getsize(path)
    lines = iter_lines(path)
    first = next(lines, None)
    if first is None:
        raise CastError("the file is empty")
    cast = Cast(parse_header(first), size=size)
    used, last = 0, 0.0
    for line in lines:
        if not line.strip():
            continue
        event = parse_event(line)
        if event is None:
            cast.skipped += 1
            continue
        used += len(line) + 1
        if used > max_bytes:
            cast.truncated = True
            break
        event[0] = last = max(last, event[0])
        cast.events.append(event)
    return cast


__all__ = ["CODES", "Cast", "CastError", "CastWriter", "parse_event", "parse_header", "read_cast"]
