"""Keeping a session: asciicast recordings, redaction, HTML snapshots, the saved transcript, and a player.

``asciicast`` writes and reads the file format, ``redact`` holds lines back until a rule can see them
whole, ``recorder`` joins both for one terminal, ``snapshot`` renders a screen as safe static HTML,
``terminal`` is the part of ``Terminal`` that uses them, and ``player`` is ``replay()``: a cast played in a
cell.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .asciicast import Cast, CastError, CastWriter, read_cast
from .recorder import Recording
from .snapshot import Snapshot

if TYPE_CHECKING:
    from .player import Player, replay


def __getattr__(name: str) -> Any:
    # The player imports anywidget; recording alone must not.
    if name in ("Player", "replay"):
        from . import player

        return getattr(player, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["Cast", "CastError", "CastWriter", "Player", "Recording", "Snapshot", "read_cast", "replay"]
