"""What ``Terminal.run`` types, the marks it looks for, and what it returns.

**At a shell with its integration** (:mod:`k8sterm_widget.shell_integration`: the shell's own prompt
prints OSC 133 marks) ``run`` waits for the prompt, types the command itself and Enter — exactly what a
person would — and reads the output between the end of the typed line's echo (or the ``C`` mark, where the
shell prints one) and the ``D`` mark with the exit code. :func:`typable` says which commands go that way:
one line, no control characters. A line the shell answers with a continuation prompt (``if``, an open
quote) is cancelled with Ctrl-C and run the wrapper's way, whose ``eval`` turns it into a syntax error
with an exit code, as before. :func:`echo_end` finds where the echo of the typed line ends.

**The fallback: a wrapper line** (a shell whose integration could not load, or a command that is not
:func:`typable`). ``run`` does not know the prompt there, so it types Ctrl-U (clearing anything
half-typed at the prompt: readline, libedit and the tty driver's VKILL all take it), one line, and Enter
(``\\r``, as the keyboard sends it)::

     printf '\\33]133;C;k8s-TOKEN\\7';command eval 'COMMAND';printf '\\33]133;D;%s;k8s-TOKEN\\7' $?

The shell prints an OSC 133 "command output starts" mark, runs the command through ``eval`` (quoted, so
any command, several lines, even a syntax error, is one argument; ``command`` stops a POSIX shell from
abandoning the line on such an error), then a "command finished" mark with ``$?``. Both marks contain a
real ESC character, which the echo of the typed line never does (it shows ``\\33``), so the echo cannot be
mistaken for them; the token is random per call, so earlier output cannot either. OSC 133 is the
terminals' own semantic-prompt code: xterm.js shows nothing for it, so the person watching sees the
typed line and the command's output, not the marks. The output is exactly what the command printed,
with ``\\r\\n`` turned into ``\\n`` and escape sequences removed; the exit code comes from the mark.
``eval`` runs in the shell itself, so ``cd`` and variables persist from one ``run`` to the next.
Needs a POSIX shell at the prompt (bash, ash, dash, zsh): for anything else use ``send``/``expect``.
The person watching sees that whole line, on purpose: what ran is exactly what the terminal shows.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

KILL_LINE = "\x15"  # Ctrl-U
LNEXT = "\x16"  # Ctrl-V: "insert the next character literally", in readline, libedit and the tty driver
MARK_END = r"(?:\x07|\x1b\\)"  # OSC strings end with BEL or ST


def command_line(command: str, token: str) -> str:
    """The line ``run`` types for ``command`` (see the module docstring), without the final Enter.

    Control characters other than newline are prefixed with Ctrl-V, so that a tab in the command is
    inserted rather than triggering completion (readline) and a Ctrl-C is a character, not an interrupt.
    """
    quoted = shlex.quote(command)
    quoted = re.sub(r"[\x00-\x09\x0b-\x1f\x7f]", lambda m: LNEXT + m.group(0), quoted)
    return (
        f" printf '\\33]133;C;k8s-{token}\\7';command eval {quoted};printf '\\33]133;D;%s;k8s-{token}\\7' $?"
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def typable(command: str) -> bool:
    """A command ``run`` may type as it is at a marked prompt: one line, no control characters (a tab would
    complete, a newline would run a half)."""
    return not _CONTROL.search(command)


def echo_end(text: str, command: str) -> int | None:
    """The index just past the newline that ends the echo of ``command`` at the start of ``text``.

    The echo is the command's characters in order, with whatever the line editor adds between them (a
    carriage return where a long line wraps, a prompt it redraws); the first newline after the last of
    them ends the typed line. Only the ASCII characters are looked for: a line editor without Unicode
    support (BusyBox's, in the C locale) echoes each byte of ``é`` as ``?``, though the shell runs the
    command as typed. None while the echo is not complete.
    """
    ascii_chars = [ch for ch in command if ch.isascii()]
    want = 0
    for i, ch in enumerate(text):
        if want < len(ascii_chars):
            if ch == ascii_chars[want]:
                want += 1
        elif ch == "\n":
            return i + 1
    return None


def typed_line(command: str, token: str) -> str:
    """What ``run`` sends: Ctrl-U, :func:`command_line`, Enter."""
    return KILL_LINE + command_line(command, token) + "\r"


def begin_mark(token: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"\x1b]133;C;k8s-{token}") + MARK_END)


def end_mark(token: str) -> re.Pattern[str]:
    return re.compile(r"\x1b\]133;D;(\d+);" + re.escape(f"k8s-{token}") + MARK_END)


MARK_MAX = 64  # longer than any end mark: the part of the text kept back while looking for one


class RunResult(str):
    """What ``Terminal.run`` returns: the command's output **as a str**, plus ``exit_code``.

    A ``str`` subclass so that ``assert "nginx" in t.run("ls /etc")`` and string methods just work; the
    exit code travels with the output (``t.run(...).exit_code``), also in ``Terminal.last_exit_code``.
    """

    exit_code: int
    command: str

    def __new__(cls, output: str, exit_code: int = 0, command: str = "") -> RunResult:
        self = super().__new__(cls, output)
        self.exit_code = exit_code
        self.command = command
        return self

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def output(self) -> str:
        """The output as a plain ``str``."""
        return str(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        """In a notebook, the output as the terminal showed it (plus the exit code when not 0)."""
        p.text(str(self) + (f"\n[exit code {self.exit_code}]" if self.exit_code else ""))


def probe_line(token: str) -> str:
    """A line that only prints a mark (after Ctrl-C: is the shell reading the keyboard again?)."""
    return f"{KILL_LINE} printf '\\33]133;A;k8s-{token}\\7'\r"


def probe_mark(token: str) -> re.Pattern[str]:
    return re.compile(re.escape(f"\x1b]133;A;k8s-{token}") + MARK_END)


__all__ = [
    "RunResult",
    "begin_mark",
    "command_line",
    "echo_end",
    "end_mark",
    "probe_line",
    "probe_mark",
    "typable",
    "typed_line",
]
