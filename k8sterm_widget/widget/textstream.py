"""Terminal output as text a script can match: incremental UTF-8, no escape sequences, ``\\n`` line ends.

Why a stream and not per-chunk decoding: the pod's output arrives in arbitrary pieces, so a multibyte
character or an escape sequence can be split between two chunks. :class:`TextStream` keeps the unfinished
tail of each (an incremental UTF-8 decoder; an escape sequence that has not reached its final byte yet)
and finishes it with the next chunk, so a match never depends on where the chunks were cut.

What is removed: CSI sequences (colours, cursor moves, modes), OSC strings (window titles, hyperlinks),
DCS/SOS/PM/APC strings, two- and three-byte escapes (``ESC 7``, ``ESC ( B``) and the control characters
that print nothing (NUL, BEL, SO, SI, DEL). One kind is **kept**: OSC 133 "semantic prompt" marks
(``ESC ] 133 ; … BEL``), the marks ``Terminal.run`` has the shell print around a command's output — the
terminal view shows nothing for them, and they cannot appear in the echo of the typed command line.
Other control characters (``\\b``, a lone ``\\r``, ``\\t``) stay: they are part of what programs print.

:class:`MatchBuffer` is pexpect's buffer: the text not yet consumed by a match, bounded, with ``\\r\\n``
turned into ``\\n`` even when the two characters arrive in different chunks.
"""

from __future__ import annotations

import codecs
import re

ESC = "\x1b"
MARK_PREFIX = "\x1b]133;"  # OSC 133: kept in the text (see the module docstring)

# One complete escape sequence (or a control character that prints nothing). Verbose mode keeps the
# spaces inside character classes: [ -/] is the intermediate-byte range 0x20-0x2F.
_SEQUENCE = re.compile(
    r"""
      \x1b \[ [0-?]* [ -/]* [@-~]            # CSI: colours, cursor moves, modes
    | \x1b \] [^\x07\x1b]* (?: \x07 | \x1b\\ ) # OSC string, ended by BEL or ST
    | \x1b [PX^_] [^\x1b]* \x1b\\            # DCS, SOS, PM, APC strings, ended by ST
    | \x1b [ -/]* [0-~]                      # ESC 7, ESC =, ESC ( B …
    | [\x00\x07\x0e\x0f\x7f]                 # NUL, BEL, SO, SI, DEL
    """,
    re.VERBOSE,
)
# A sequence that has started but not ended at the end of the text: held back for the next chunk.
_INCOMPLETE = re.compile(
    r"""
    \x1b (?: \[ [0-?]* [ -/]*
           | \] [^\x07\x1b]* \x1b?
           | [PX^_] [^\x1b]* \x1b?
           | [ -/]*
         ) \Z
    """,
    re.VERBOSE,
)
_MARK = re.compile(r"\x1b\]133;[^\x07\x1b]*(?:\x07|\x1b\\)")
HOLD_LIMIT = 4096  # an "unfinished" sequence longer than this is garbage: let it through as text


def _keep_marks(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if text.startswith(MARK_PREFIX) else ""


class TextStream:
    """Bytes in, text out: :meth:`decode` (UTF-8, for the screen model) then :meth:`clean` (for matching)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget any unfinished character or sequence (a new session, or bytes were lost in between)."""
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._held = ""

    def decode(self, data: bytes) -> str:
        """The text of ``data``; a character cut at the end is completed by the next call."""
        return self._decoder.decode(data)

    def clean(self, text: str) -> str:
        """``text`` without escape sequences (OSC 133 marks kept); an unfinished one waits for more text."""
        if self._held:
            text = self._held + text
            self._held = ""
        start = text.rfind(ESC)
        if start >= 0:
            # The unfinished sequence starts at the *first* ESC from which the rest of the text is one
            # (an OSC cut inside its ST has a second ESC at the very end).
            tail = _INCOMPLETE.search(text, max(0, start - HOLD_LIMIT))
            if tail is not None and len(text) - tail.start() <= HOLD_LIMIT:
                self._held = text[tail.start() :]
                text = text[: tail.start()]
        text = _SEQUENCE.sub(_keep_marks, text)
        if ESC in text:  # a malformed sequence: drop the ESC, keep what followed as text
            text = _drop_stray_escapes(text)
        return text


def _drop_stray_escapes(text: str) -> str:
    out, pos = [], 0
    for mark in _MARK.finditer(text):
        out.append(text[pos : mark.start()].replace(ESC, ""))
        out.append(mark.group(0))
        pos = mark.end()
    out.append(text[pos:].replace(ESC, ""))
    return "".join(out)


class MatchBuffer:
    """The text not yet consumed by a match, at most ``limit`` characters (older text is dropped)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.text = ""
        self.dropped = 0  # characters dropped from the head because nobody matched them in time
        self.base = 0  # the position of text[0] in everything ever appended (marks are kept by position)

    @property
    def end(self) -> int:
        """The position just past the last character appended."""
        return self.base + len(self.text)

    def append(self, text: str) -> None:
        if not text:
            return
        if text[0] == "\n" and self.text.endswith("\r"):  # a \r\n cut between two chunks
            self.text = self.text[:-1]
        self.text += text.replace("\r\n", "\n")

    def trim(self) -> None:
        """Drop the oldest text beyond ``limit`` (separate from :meth:`append`, so that a reader that
        moves everything it has seen elsewhere — ``run`` collecting output — never loses any)."""
        if len(self.text) > self.limit:
            cut = len(self.text) - self.limit
            self.dropped += cut
            self.base += cut
            self.text = self.text[cut:]

    def consume(self, end: int) -> str:
        """Remove and return the first ``end`` characters."""
        head, self.text = self.text[:end], self.text[end:]
        self.base += len(head)
        return head

    def clear(self) -> None:
        self.base += len(self.text)
        self.text = ""


__all__ = ["MARK_PREFIX", "MatchBuffer", "TextStream"]
