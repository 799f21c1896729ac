"""What a terminal shows, rebuilt from its recent output by pyte (a VT100/xterm emulator in pure Python).

Why on demand, from a tail: pyte parses about a megabyte a second, so feeding it every byte would slow
every terminal down for a feature most never use. Timeouts and ``Terminal.screen()`` need the screen only
now and then; the terminal keeps the last :data:`TAIL` characters of decoded output (a cheap append) and a
throwaway pyte screen of the terminal's size is rebuilt from them when asked. For shells and line-oriented
programs the result is exact; a full-screen program that drew most of its screen before the tail began
comes out partial.
"""

from __future__ import annotations

from collections import deque

import pyte

TAIL = 32 * 1024


class ScreenTail:
    """The last ``limit`` characters of a terminal's output, and the screen they draw."""

    def __init__(self, limit: int = TAIL) -> None:
        self.limit = limit
        self._parts: deque[str] = deque()
        self._size = 0

    def add(self, text: str) -> None:
        if not text:
            return
        self._parts.append(text)
        self._size += len(text)
        while self._size - len(self._parts[0]) >= self.limit:
            self._size -= len(self._parts.popleft())

    def clear(self) -> None:
        self._parts.clear()
        self._size = 0

    def text(self) -> str:
        text = "".join(self._parts)
        if len(text) > self.limit:
            text = text[-self.limit :]
            newline = text.find("\n")
            if 0 <= newline < len(text) - 1:  # start on a line boundary, not in the middle of a sequence
                text = text[newline + 1 :]
        return text

    def lines(self, cols: int, rows: int) -> list[str]:
        """Every row of a ``cols`` x ``rows`` screen after this output, trailing spaces removed."""
        screen = pyte.Screen(cols, rows)
        pyte.Stream(screen).feed(self.text())
        return [line.rstrip() for line in screen.display]

    def last_lines(self, cols: int, rows: int, count: int = 12) -> list[str]:
        """The last ``count`` rows down to the last non-blank one (what an error message quotes)."""
        lines = self.lines(cols, rows)
        while lines and not lines[-1]:
            lines.pop()
        return lines[-count:]


__all__ = ["ScreenTail"]
