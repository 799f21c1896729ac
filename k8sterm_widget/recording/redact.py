"""Redaction for recordings: drop secrets before they reach the file.

A rule is either a callable ``str -> str`` (it gets text and returns what to keep) or a list of regular
expressions (str or compiled) whose matches become ``[redacted]``.

**Why whole lines.** A pod's output reaches the kernel in arbitrary chunks, so a token can arrive as
``"eyJhbGci"`` + ``"OiJIUzI1…"`` and no pattern would see it whole. With redaction on, text is held back
until its line is complete (a ``\\n`` or ``\\r``, which also ends progress-bar redraws) or until
:data:`HOLD_LIMIT` characters pile up without one, and the rule runs on complete lines. Events keep the
time their first character arrived, and events of other kinds (input, resize) that came meanwhile queue
behind the held line, so times stay monotonic. A cost: while redacting, a recording shows a prompt and
what is typed after it at once, when Enter is pressed, instead of key by key. Without a rule nothing is
held.

The rule sees the text as the program printed it, escape sequences included (a secret printed in colour
can contain ``\\x1b[…m`` in the middle). Typed input is redacted the same way when it is recorded at all
(``input=True``; off by default because passwords are typed without an echo and would otherwise only ever
appear in input events).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

REDACTED = "[redacted]"
HOLD_LIMIT = 64 * 1024

Rule = Callable[[str], str] | Iterable["str | re.Pattern[str]"]


def compile_rule(rule: Rule | None) -> Callable[[str], str] | None:
    """Turn a user's ``redact=`` argument into one function (None: no redaction)."""
    if rule is None:
        return None
    if callable(rule):
        user = rule

        def call(text: str) -> str:
            out = user(text)
            if not isinstance(out, str):
                raise TypeError(f"the redact callable must return a str, got {type(out).__name__}")
            return out

        return call
    if isinstance(rule, (str, re.Pattern)):
        rule = [rule]
    patterns = [p if isinstance(p, re.Pattern) else re.compile(p) for p in rule]
    if not patterns:
        return None
    for p in patterns:
        if not isinstance(p.pattern, str):
            raise TypeError("redact patterns must be str patterns, not bytes")
        if p.search(""):
            raise ValueError(f"redact pattern {p.pattern!r} matches the empty string")

    def substitute(text: str) -> str:
        for p in patterns:
            text = p.sub(REDACTED, text)
        return text

    return substitute


@dataclass
class _Slot:
    at: float
    code: str
    data: str
    open: bool


class EventQueue:
    """Orders events and holds incomplete lines of ``o``/``i`` text until the rule can see them whole.

    ``add`` and ``flush`` return the events that are ready to be written, in order, as
    ``(time, code, data)`` with the rule applied. With no rule every event is ready at once.
    """

    def __init__(self, rule: Callable[[str], str] | None, hold_limit: int = HOLD_LIMIT) -> None:
        self.rule = rule
        self.hold_limit = hold_limit
        self._queue: list[_Slot] = []
        self._open: dict[str, _Slot] = {}

    @property
    def holding(self) -> int:
        """Characters held back (for tests and the recording's repr)."""
        return sum(len(s.data) for s in self._open.values())

    def add(self, at: float, code: str, data: str) -> list[tuple[float, str, str]]:
        if self.rule is None:
            return [(at, code, data)] if data or code not in ("o", "i") else []
        if code not in ("o", "i"):
            self._queue.append(_Slot(at, code, data, open=False))
            return self._ready()
        if not data:
            return self._ready()
        slot = self._open.get(code)
        if slot is None:
            slot = _Slot(at, code, data, open=True)
            self._queue.append(slot)
            self._open[code] = slot
        else:
            slot.data += data
        last = max(slot.data.rfind("\n"), slot.data.rfind("\r"))
        if last >= 0 and last < len(slot.data) - 1:
            rest = slot.data[last + 1 :]
            slot.data = slot.data[: last + 1]
            self._close(slot)
            new = _Slot(at, code, rest, open=True)  # the rest arrived in this chunk
            self._queue.append(new)
            self._open[code] = new
        elif last >= 0 or len(slot.data) >= self.hold_limit:
            self._close(slot)
        return self._ready()

    def flush(self) -> list[tuple[float, str, str]]:
        """Everything held, ready or not (the recording stops)."""
        for slot in list(self._open.values()):
            self._close(slot)
        return self._ready()

    def _close(self, slot: _Slot) -> None:
        slot.open = False
        if self._open.get(slot.code) is slot:
            del self._open[slot.code]

    def _ready(self) -> list[tuple[float, str, str]]:
        out = []
        while self._queue and not self._queue[0].open:
            slot = self._queue.pop(0)
            data = slot.data
            if slot.code in ("o", "i") and self.rule is not None:
                data = self.rule(data)
            if data or slot.code not in ("o", "i"):
                out.append((slot.at, slot.code, data))
        return out


__all__ = ["HOLD_LIMIT", "REDACTED", "EventQueue", "Rule", "compile_rule"]
