"""``replay(path)``: play an asciicast in a cell, with play/pause, speed and a seek bar.

The kernel reads and checks the file (:func:`.asciicast.read_cast`: a v2 header, valid event lines, times
that never go back) and hands the front end the cast itself as a bytes trait, so the recording is part of
the widget's state: a notebook saved with widget state replays it without a kernel or the file. Casts
larger than ``max_bytes`` are cut to their beginning, and the player says so (``note``), rather than
pushing tens of megabytes into the notebook.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import traitlets as t

from ..face import Face, display_with_face, frame
from ..frontend import SharedFrontEnd
from .asciicast import Cast, read_cast
from .snapshot import screen_face, screen_frame

MAX_BYTES = 8 << 20
IDLE_TIME_LIMIT = 2.0


class Player(SharedFrontEnd):
    """An asciicast v2 player (xterm.js). Make it the last expression of a cell; see :func:`replay`."""

    part = "player"

    cast = t.Bytes(b"").tag(sync=True)
    title = t.Unicode("").tag(sync=True)
    note = t.Unicode("").tag(sync=True)
    speed = t.Float(1.0, min=0.1, max=16.0).tag(sync=True)
    autoplay = t.Bool(True).tag(sync=True)
    idle_time_limit = t.Float(IDLE_TIME_LIMIT, min=0.0).tag(sync=True)
    font_size = t.Int(13, min=6, max=72).tag(sync=True)
    _uid = t.Unicode("").tag(sync=True)  # names this player's static face, which its live view hides

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(_uid=uuid.uuid4().hex, **kwargs)
        self._face = Face(self._draw_face)
        self._last_screen: tuple[str, str] = ("", "")

    def _ipython_display_(self) -> None:
        """The player, then its static face: the recording's last screen, for readers without the widget.

        On this project's documentation site a small script puts the same player back over the face
        (``docs/conf.py``): offline, from the package's own bundle.
        """
        display_with_face(self, f"k8sterm recording {self.title}", self._face)

    def _draw_face(self) -> tuple[str, str]:
        inner, text = self._last_screen
        minutes, seconds = divmod(round(self._duration), 60)
        caption = " · ".join(x for x in ("recording", self.title, f"{minutes}:{seconds:02d}", self.note) if x)
        return frame("player", self._uid, screen_frame(inner, caption)), f"{caption}\n{text}"

    @property
    def duration(self) -> float:
        """Seconds of the cast as recorded (before idle time is shortened)."""
        return self._duration

    _duration = 0.0
    events = 0


def replay(
    path: str | os.PathLike,
    *,
    speed: float = 1.0,
    idle_time_limit: float | None = IDLE_TIME_LIMIT,
    autoplay: bool = True,
    max_bytes: int = MAX_BYTES,
    title: str | None = None,
) -> Player:
    """Play the asciicast v2 file ``path`` in the cell (make this the last expression of a cell).

    ``speed`` starts at that rate (the player offers 0.5x to 8x); pauses longer than
    ``idle_time_limit`` seconds are shortened to it (None: the cast's own ``idle_time_limit``, else real
    time); ``autoplay`` starts playing when shown. A cast over ``max_bytes`` is cut to its beginning, with
    a note saying how much is shown. Raises :class:`~.asciicast.CastError` when the file is not
    asciicast v2.
    """
    cast = read_cast(path, max_bytes=max_bytes)
    header = dict(cast.header)
    own = float(header.get("idle_time_limit") or 0.0)
    limit = own if idle_time_limit is None else float(idle_time_limit)
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps([round(e[0], 6), e[1], e[2]], ensure_ascii=False) for e in cast.events]
    player = Player(
        cast=("\n".join(lines) + "\n").encode("utf-8"),
        title=title or str(header.get("title") or Path(path).name),
        note=cast.note,
        speed=speed,
        autoplay=autoplay,
        idle_time_limit=limit,
    )
    player._duration = cast.duration
    player.events = len(cast.events)
    player._last_screen = last_screen(cast)
    return player


def last_screen(cast: Cast) -> tuple[str, str]:
    """The screen at the end of the recording (``(html, text)``, see :func:`.snapshot.screen_face`)."""
    cols, rows = int(cast.header.get("width") or 80), int(cast.header.get("height") or 24)
    output = []
    for _at, code, data in cast.events:
        if code == "o":
            output.append(data)
        elif code == "r":
            width, _, height = str(data).partition("x")
            if width.isdigit() and height.isdigit():
                cols, rows = max(2, min(int(width), 1000)), max(2, min(int(height), 1000))
    return screen_face("".join(output), cols, rows)


__all__ = ["Player", "last_screen", "replay"]
