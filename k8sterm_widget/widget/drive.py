"""Scripting a live terminal, pexpect-style, while the person watching it sees every keystroke and byte.

``Terminal``'s ``send``/``sendline``, ``expect``/``expect_exact``, ``run``, ``wait_exit``, ``interrupt``
and ``screen`` forward to its :class:`Driver`. The keys go through the same stdin path as typing in
the view, and the output is the same stream the view shows: a script drives *that* shell, not a second one.

**Threads.** The engine's I/O thread only appends the raw bytes to an :class:`OutputTap` (a bounded
queue: a terminal nobody scripts keeps just its last :data:`RAW_LIMIT` bytes, and the I/O thread never
waits for a script). Everything else — UTF-8 decoding, removing escape sequences, matching, the screen
model — runs in the thread that calls ``expect``/``run``, when it calls. One such call runs at a time per
terminal; a second thread waits for it until its own timeout, then gets :class:`TerminalBusy`.

**No browser needed.** A terminal opens its exec when the first view reports its size, or after a grace
period when none does. The first scripting call skips that wait, so headless runs (nbclient, a plain
Python script with no kernel) start at once, at 80x24.

**How ``run`` finds the output**: at a shell whose integration loaded (its prompts print OSC 133 marks,
:mod:`k8sterm_widget.shell_integration`) it waits for the prompt and types the command as it is; elsewhere
it types a wrapper line that prints its own marks. See :mod:`.runline`. The integration's marks are taken
out of the text ``expect`` matches (a pattern for a prompt still matches the prompt) and kept, by position,
in :attr:`Driver.marks`; whether a session has them is learnt from its first prompt.

**Busy and interrupted.** A ``run`` that times out leaves its command running; until its end mark comes,
the next ``run`` raises :class:`~k8sterm_widget.errors.TerminalBusy` instead of typing into it.
``interrupt()`` sends Ctrl-C, after which the next ``run`` first types a probe (a line that only prints a
mark) until the shell answers it: a program dying of Ctrl-C can still swallow a line typed right after.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, TypeVar

from .. import errors
from ..shell_integration import MARK
from .runline import (
    KILL_LINE,
    MARK_MAX,
    RunResult,
    begin_mark,
    echo_end,
    end_mark,
    probe_line,
    probe_mark,
    typable,
    typed_line,
)
from .screen import ScreenTail
from .textstream import MatchBuffer, TextStream

if TYPE_CHECKING:
    from ._widget import Terminal

RAW_LIMIT = 1 << 20  # bytes kept for a script that has not read them yet
BUFFER_LIMIT = 256 * 1024  # characters expect() searches (pexpect's buffer, bounded)
DEFAULT_TIMEOUT = 30.0
LINE_LIMIT = 4000  # a tty in canonical mode drops input past 4095 bytes per line
PROBE_INTERVAL = 0.5  # seconds between probes while waiting for the shell after Ctrl-C
SCREEN_LINES = 12  # lines of the screen an error quotes
LIVE = ("connecting", "connected")
CTRL_C = "\x03"
MARKS_KEPT = 256  # integration marks remembered (only the last few after the current prompt matter)
# A shell that was asked to load its integration but printed output and then fell quiet for this long
# without a marked prompt is taken not to have it (startup files replaced PROMPT_COMMAND …): run() falls back.
PROMPT_QUIET = 2.0
FIRST_PROMPT_WAIT = 15.0  # …and one that printed nothing at all for this long after connecting


class Mark(NamedTuple):
    """One integration mark: where it was in the text, and what it says."""

    seq: int  # how many marks came before it in this terminal
    pos: int  # position in the driver's text (MatchBuffer.base coordinates)
    kind: str  # A (prompt), B (end of prompt), C (output starts), D (finished), S (continuation prompt)
    code: int | None = None  # D: the exit status


Pattern = str | re.Pattern[str]
T = TypeVar("T")


# ------------------------------------------------------------------------------------- I/O thread side


class OutputTap:
    """Raw output from the I/O thread to whichever thread scripts the terminal. Never blocks the producer.

    ``None`` in the queue marks the start of a new session (a reconnect): the consumer resets its decoder.
    ``seq`` counts every change (bytes, a new session, a status change) so that a waiting consumer can
    tell whether anything happened since it last looked.
    """

    def __init__(self, limit: int = RAW_LIMIT) -> None:
        self.limit = limit
        self._cond = threading.Condition()
        self._items: deque[bytes | None] = deque()
        self._size = 0
        self._lost = 0
        self.seq = 0

    def feed(self, data: bytes | memoryview) -> None:
        chunk = bytes(data)  # the session hands us a view of its receive buffer
        with self._cond:
            self._items.append(chunk)
            self._size += len(chunk)
            while self._size > self.limit and len(self._items) > 1:
                dropped = self._items.popleft()
                if dropped is not None:
                    self._size -= len(dropped)
                    self._lost += len(dropped)
            self.seq += 1
            self._cond.notify_all()

    def new_session(self) -> None:
        with self._cond:
            self._items.append(None)
            self.seq += 1
            self._cond.notify_all()

    def poke(self) -> None:
        """Something else changed (the terminal's status): wake a waiting consumer."""
        with self._cond:
            self.seq += 1
            self._cond.notify_all()

    def take(self) -> tuple[list[bytes | None], int]:
        """Everything queued, and how many bytes were dropped before it (0: nothing was lost)."""
        with self._cond:
            items, self._items = list(self._items), deque()
            lost, self._lost, self._size = self._lost, 0, 0
            return items, lost

    def wait(self, seen: int, timeout: float | None) -> None:
        """Return once ``seq`` differs from ``seen``, or after ``timeout`` seconds."""
        with self._cond:
            self._cond.wait_for(lambda: self.seq != seen, timeout)


# ------------------------------------------------------------------------------------- script side


class Driver:
    """The scripting state of one terminal: the text stream, pexpect's buffer, the screen tail."""

    def __init__(self, terminal: Terminal) -> None:
        self._terminal_ref = weakref.ref(terminal)
        self.tap = OutputTap()
        self.stream = TextStream()
        self.buffer = MatchBuffer(BUFFER_LIMIT)
        self.screen_tail = ScreenTail()
        self.before = ""
        self.after = ""
        self.match: re.Match[str] | None = None
        self.last_exit_code: int | None = None
        # (token, command) of a wrapped run that timed out; ("", command, position) of a typed one
        self.pending: tuple[str, str] | tuple[str, str, int] | None = None
        self.interrupted = False  # Ctrl-C was sent: the next run() first checks that the shell is back
        self.collecting = False  # run() is moving output out of the buffer: do not trim it
        # Shell integration (per session): "unknown" until the first prompt says, then "on" or "off".
        self.integration = "unknown"
        self.output_starts = False  # the shell prints C marks (bash with PS0): the output starts there
        self.marks: deque[Mark] = deque(maxlen=MARKS_KEPT)
        self.mark_count = 0
        # How many marks had come when the script last typed: a prompt that began before is stale (its
        # end, B, may still arrive after the keys: the shell printed it before them).
        self.input_seq = 0
        self.last_output = 0.0  # monotonic time of the last output pumped (0: none yet this session)
        self._lock = threading.Lock()  # the state above; held briefly, never while waiting
        self._busy = threading.Lock()  # one expect/run at a time
        terminal.observe(self._status_changed, names="status")

    @property
    def terminal(self) -> Terminal:
        terminal = self._terminal_ref()
        if terminal is None:  # pragma: no cover - the terminal owns the driver
            raise errors.SessionClosed("the terminal no longer exists")
        return terminal

    def _status_changed(self, change: dict) -> None:
        if change["new"] == "connecting" and change["old"] != "connecting":
            self.tap.new_session()  # reconnect(): what follows is another shell
        else:
            self.tap.poke()

    # ------------------------------------------------------------------ consuming output

    def pump(self) -> None:
        """Move what the I/O thread queued into the text buffer and the screen tail (in order)."""
        with self._lock:
            items, lost = self.tap.take()
            if not items:
                return
            if lost:
                self.stream.reset()  # the next chunk may start mid-character or mid-sequence
            marks = [i for i, item in enumerate(items) if item is None]
            if marks:  # a new session began: only what follows its mark belongs to the current shell
                items = items[marks[-1] + 1 :]
                self.stream.reset()
                self.buffer.clear()
                self.screen_tail.clear()
                self.pending = None
                self.integration, self.output_starts = "unknown", False
                self.marks.clear()
                self.input_seq, self.last_output = self.mark_count, 0.0
            data = b"".join(item for item in items if item is not None)
            if data:
                text = self.stream.decode(data)
                self.screen_tail.add(text)
                self._append(self.stream.clean(text))
                self.last_output = time.monotonic()
            if not self.collecting:
                self.buffer.trim()

    def _append(self, text: str) -> None:
        """(lock held) Text into the buffer, the integration's marks into :attr:`marks`."""
        pos = 0
        for m in MARK.finditer(text):
            self.buffer.append(text[pos : m.start()])
            kind, flags = m["kind"], m["flags"]
            code = int(m["code"]) if kind == "D" and (m["code"] or "").isdigit() else None
            if kind == "A" and "k=s" in flags:
                kind = "S"
            elif kind == "A" and ";c" in flags:
                self.output_starts = True
            self.marks.append(Mark(self.mark_count, self.buffer.end, kind, code))
            self.mark_count += 1
            self.integration = "on"
            pos = m.end()
        self.buffer.append(text[pos:])

    def screen(self) -> list[str]:
        self.pump()
        with self._lock:
            return self.screen_tail.lines(*self.terminal._pty_size())

    def _screen_lines(self) -> list[str]:
        self.pump()
        with self._lock:
            return self.screen_tail.last_lines(*self.terminal._pty_size(), count=SCREEN_LINES)

    # ------------------------------------------------------------------ waiting

    def start_now(self) -> None:
        """Open the exec now rather than after the first-size grace period (headless scripts)."""
        self.terminal._size_known.set()

    def _ended_error(self, status: str) -> errors.K8stermError:
        terminal = self.terminal
        if status in ("error", "disconnected") and terminal.error is not None:
            return terminal.error
        return errors.TerminalEnded(status, terminal.exit_code, self._screen_lines())

    def _await(self, find: Callable[[], T | None], deadline: float | None, poll: float | None = None) -> T:
        """Pump output until ``find()`` returns something; raise ``TimeoutError`` or the end's typed error.

        ``poll``: also look again after that many seconds without output (``find`` depends on time)."""
        while True:
            seen = self.tap.seq
            status = self.terminal.status  # read before pumping: bytes always arrive before the end
            self.pump()
            with self._lock:
                found = find()
            if found is not None:
                return found
            if status not in LIVE:
                raise self._ended_error(status)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError
            if poll is not None:
                remaining = poll if remaining is None else min(poll, remaining)
            self.tap.wait(seen, remaining)

    def _hold(self, deadline: float | None) -> None:
        timeout = -1 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._busy.acquire(timeout=timeout):
            raise errors.TerminalBusy("another thread is scripting this terminal")

    # ------------------------------------------------------------------ expect

    def send(self, data: str | bytes) -> None:
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(f"send() takes str or bytes, not {type(data).__name__}")
        self.ready_for_input()
        self._typed()
        self.terminal.write(data if isinstance(data, str) else bytes(data))

    def _typed(self) -> None:
        """The script is about to type: a prompt seen so far no longer means the shell waits for a command."""
        self.pump()
        with self._lock:
            self._mark_input()

    def _mark_input(self) -> None:
        """(lock held) Keys go out now: only a prompt that begins after them counts.

        A prompt that has begun is older than the keys even if its A has not arrived: bash prints D (from
        ``PROMPT_COMMAND``) and the prompt (``PS1``, A … B) in two writes, and run() returns at D. So
        after a D, the A that follows belongs to the prompt the keys were typed at.
        """
        ended = bool(self.marks) and self.marks[-1].kind == "D"
        self.input_seq = self.mark_count + (1 if ended else 0)

    def expect(self, pattern: Pattern | Sequence[Pattern], timeout: float | None) -> re.Match[str]:
        patterns: Sequence[object] = pattern if isinstance(pattern, (list, tuple)) else [pattern]
        compiled = [_compile(p) for p in patterns]
        return self._expect(compiled, timeout, " or ".join(repr(p.pattern) for p in compiled))

    def expect_exact(self, text: str | Sequence[str], timeout: float | None) -> re.Match[str]:
        texts = [text] if isinstance(text, str) else list(text)
        compiled = [re.compile(re.escape(t)) for t in texts]
        return self._expect(compiled, timeout, " or ".join(repr(t) for t in texts))

    def _expect(self, patterns: Sequence[re.Pattern[str]], timeout: float | None, what: str) -> re.Match[str]:
        deadline = _deadline(timeout)
        self._hold(deadline)
        try:
            self._start_if_waiting()

            def find() -> re.Match[str] | None:
                best = None
                for pattern in patterns:
                    m = pattern.search(self.buffer.text)
                    if m is not None and (best is None or m.start() < best.start()):
                        best = m
                if best is not None:
                    self.before = self.buffer.consume(best.end())[: best.start()]
                    self.after, self.match = best.group(0), best
                return best

            try:
                return self._await(find, deadline)
            except TimeoutError:
                with self._lock:
                    before = self.buffer.text
                raise errors.ExpectTimeout(what, timeout, self._screen_lines(), before=before) from None
        finally:
            self._busy.release()

    def ready_for_input(self) -> None:
        """Raise the typed error of a terminal that is over; start one that waits for a view."""
        status = self.terminal.status
        if status not in LIVE:
            self.pump()
            raise self._ended_error(status)
        self._start_if_waiting()

    def _start_if_waiting(self) -> None:
        """A script is waiting: open the exec now if it only waits for a view's size."""
        if self.terminal.status == "connecting":
            self.start_now()

    # ------------------------------------------------------------------ run

    def run(self, command: str, timeout: float | None, check: bool) -> RunResult:
        if not isinstance(command, str):
            raise TypeError("run() takes the command as one string (it is typed into the shell)")
        if not command.strip():
            raise ValueError("run() needs a command")
        token = secrets.token_hex(4)
        line = typed_line(command, token)
        if any(len(part.encode()) > LINE_LIMIT for part in line.split("\n")):
            raise ValueError(
                f"a line of this command is longer than {LINE_LIMIT} bytes, more than a terminal takes; "
                "use k8sterm_widget.exec() or %%k8sexec for long scripts"
            )
        deadline = _deadline(timeout)
        self._hold(deadline)
        try:
            self.ready_for_input()
            self._settle_pending()
            if self._integrated(command, timeout, deadline):
                output, code = self._run_at_prompt(command, token, timeout, deadline)
            else:
                output, code = self._run_wrapped(command, token, timeout, deadline)
        finally:
            self._busy.release()
        result = RunResult(output, code, command)
        self.last_exit_code = code
        if check and code != 0:
            raise errors.CommandFailed([command], code, _tail(output), result=result)
        return result

    def _run_wrapped(
        self, command: str, token: str, timeout: float | None, deadline: float | None
    ) -> tuple[str, int]:
        """The fallback: type the wrapper line (:func:`.runline.typed_line`), read between its marks."""
        if self.interrupted and self.integration != "on":
            self._probe(command, timeout, deadline)
        self._typed()
        with self._lock:
            self.pending = (token, command)
        self.terminal.write(typed_line(command, token))
        return self._collect(token, command, timeout, deadline)

    # ------------------------------------------------------------------ run, with shell integration

    def _integrated(self, command: str, timeout: float | None, deadline: float | None) -> bool:
        """Whether this session's shell marks its prompts; learnt from the first prompt (see the constants).

        A session started with a command of the user's (or attached to a debug container) never has them.
        """
        if self.integration == "unknown":
            session = self.terminal.session
            if session is not None and not session.auto_shell:
                self.integration = "off"
        if self.integration != "unknown":
            return self.integration == "on"
        started = time.monotonic()

        def decided() -> str | None:
            if self.integration != "unknown":
                return self.integration
            now = time.monotonic()
            session = self.terminal.session
            if session is not None and not session.auto_shell:
                self.integration = "off"
            elif self.last_output and now - self.last_output >= PROMPT_QUIET:
                self.integration = "off"  # a prompt came (and output stopped), but without marks
            elif session is not None and not self.last_output and now - started >= FIRST_PROMPT_WAIT:
                self.integration = "off"
            return None if self.integration == "unknown" else self.integration

        try:
            return self._await(decided, deadline, poll=0.25) == "on"
        except TimeoutError:
            stage = "connect" if self.terminal.status == "connecting" else "start"
            raise errors.RunTimeout(command, timeout, self._screen_lines(), stage=stage) from None

    def _wait_prompt(self, command: str, timeout: float | None, deadline: float | None) -> Mark:
        """Wait until the shell shows a prompt after the script's last keys (B, the end of a prompt)."""

        def at_prompt() -> Mark | None:
            last = self.marks[-1] if self.marks else None
            if last is None or last.kind != "B":
                return None
            began = next((m for m in reversed(self.marks) if m.kind == "A"), last)  # the prompt's start
            return last if began.seq >= self.input_seq else None

        try:
            return self._await(at_prompt, deadline)
        except TimeoutError:
            stage = "connect" if self.terminal.status == "connecting" else "start"
            raise errors.RunTimeout(command, timeout, self._screen_lines(), stage=stage) from None

    def _run_at_prompt(
        self, command: str, token: str, timeout: float | None, deadline: float | None
    ) -> tuple[str, int]:
        """Type ``command`` as it is at the next prompt; the output lies between its echo (or C) and D."""
        prompt = self._wait_prompt(command, timeout, deadline)
        self.interrupted = False  # the shell is back at its prompt
        if not typable(command):
            return self._run_wrapped(command, token, timeout, deadline)
        with self._lock:
            typed_from = self.buffer.end
            # Ctrl-U only if something was typed at this prompt by hand (on an empty line readline beeps)
            dirty = typed_from > prompt.pos
            self._mark_input()
            self.pending = ("", command, typed_from)
        self.terminal.write((KILL_LINE if dirty else "") + command + "\r")
        result = self._collect_at_prompt(command, typed_from, timeout, deadline)
        if result is not None:
            return result
        # A continuation prompt: the line is not a whole command (``if``, an open quote). Cancel it, and let
        # the wrapper's eval report it as the shell does a syntax error: with an exit code, not a hang.
        with self._lock:
            self.pending = None
        self._cancel_line(command, timeout, deadline)
        return self._run_wrapped(command, token, timeout, deadline)

    def _cancel_line(self, command: str, timeout: float | None, deadline: float | None) -> None:
        """Ctrl-C at a continuation prompt, until the shell shows its prompt again.

        Again, because bash only notices a SIGINT that lands between two reads of its line editor at the
        next key: one Ctrl-C can leave it waiting at the continuation prompt.
        """
        while True:
            self._typed()
            self.terminal.write(CTRL_C)
            step = time.monotonic() + PROBE_INTERVAL
            try:
                self._wait_prompt(command, timeout, step if deadline is None else min(step, deadline))
                return
            except errors.RunTimeout:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    def _collect_at_prompt(
        self, command: str, typed_from: int, timeout: float | None, deadline: float | None
    ) -> tuple[str, int] | None:
        """Output and exit code of the command typed at ``typed_from``; None on a continuation prompt."""
        parts: list[str] = []
        buffer = self.buffer

        def after(pos: int) -> list[Mark]:
            return [m for m in self.marks if m.pos >= pos]

        def started() -> int | bool | None:
            ended = None
            for m in after(typed_from):
                if m.kind == "S":
                    return False
                if m.kind == "C":
                    return m.pos
                if m.kind == "D":
                    ended = m.pos  # no C before it: a command that printed nothing, or a shell without C
                    break
            if self.output_starts and ended is not None:
                return ended
            if self.output_starts:
                return None
            text = buffer.text[max(0, typed_from - buffer.base) :]
            if ended is not None:
                text = text[: max(0, ended - typed_from)]
            end = echo_end(text, command)
            if end is not None:
                return typed_from + end
            return ended  # the shell echoed nothing we recognise (stty -echo): all before D is output

        def finished() -> int | bool | None:
            done = next((m for m in after(start) if m.kind in "DS"), None)
            if done is not None and done.kind == "S":
                return False  # a shell without C marks: its continuation prompt came after the echo
            if done is None:
                parts.append(buffer.consume(len(buffer.text)))
                return None
            parts.append(buffer.consume(max(0, done.pos - buffer.base)))
            self.pending = None
            return done.code if done.code is not None else -1

        self.collecting = True
        try:
            try:
                start = self._await(started, deadline)
            except TimeoutError:
                raise errors.RunTimeout(command, timeout, self._screen_lines(), stage="start") from None
            if start is False:
                return None
            with self._lock:
                buffer.consume(max(0, int(start) - buffer.base))  # the echo of the typed line
            try:
                code = self._await(finished, deadline)
            except TimeoutError:
                with self._lock:
                    partial = "".join(parts) + buffer.text
                raise errors.RunTimeout(command, timeout, self._screen_lines(), partial) from None
            if code is False:
                return None
        finally:
            self.collecting = False
        return "".join(parts), int(code)

    def _settle_pending(self) -> None:
        """A run that timed out earlier: fine if its end mark has come since, busy otherwise."""
        self.pump()
        with self._lock:
            if self.pending is None:
                return
            token, command, *typed = self.pending
            if typed:  # typed at a marked prompt: ended by the first D after it
                done = next((m for m in self.marks if m.kind == "D" and m.pos >= typed[0]), None)
                if done is not None:
                    self.buffer.consume(max(0, done.pos - self.buffer.base))
                    self.pending = None
                    return
                raise errors.TerminalBusy(
                    f"the command {command!r} of an earlier run() is still running", command=command
                )
            m = end_mark(token).search(self.buffer.text)
            if m is not None:
                self.buffer.consume(m.end())
                self.pending = None
                return
        raise errors.TerminalBusy(
            f"the command {command!r} of an earlier run() is still running", command=command
        )

    def _collect(
        self, token: str, command: str, timeout: float | None, deadline: float | None
    ) -> tuple[str, int]:
        begin, end = begin_mark(token), end_mark(token)
        parts: list[str] = []

        def started() -> bool | None:
            m = begin.search(self.buffer.text)
            if m is None:
                return None
            self.buffer.consume(m.end())
            return True

        def finished() -> int | None:
            m = end.search(self.buffer.text)
            if m is not None:
                parts.append(self.buffer.text[: m.start()])
                self.buffer.consume(m.end())
                self.pending = None
                return int(m.group(1))
            keep = len(self.buffer.text) - MARK_MAX  # the rest could be the start of the end mark
            if keep > 0:
                parts.append(self.buffer.consume(keep))
            return None

        self.collecting = True
        try:
            try:
                self._await(started, deadline)
            except TimeoutError:
                stage = "connect" if self.terminal.status == "connecting" else "start"
                raise errors.RunTimeout(command, timeout, self._screen_lines(), stage=stage) from None
            try:
                code = self._await(finished, deadline)
            except TimeoutError:
                with self._lock:
                    partial = "".join(parts) + self.buffer.text
                raise errors.RunTimeout(command, timeout, self._screen_lines(), partial) from None
        finally:
            self.collecting = False
        return "".join(parts), code

    # ------------------------------------------------------------------ wait_exit

    def wait_exit(self, timeout: float | None) -> int | None:
        deadline = _deadline(timeout)
        terminal = self.terminal
        self._start_if_waiting()
        while True:
            seen = self.tap.seq
            status = terminal.status
            if status == "exited":
                return terminal.exit_code
            if status == "closed":
                return None
            if status not in LIVE:
                raise self._ended_error(status)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise errors.ExpectTimeout(
                    "the end of the process",
                    timeout,
                    self._screen_lines(),
                    message=f"the process did not exit within {timeout:g} s",
                )
            self.tap.wait(seen, remaining)

    def interrupt(self) -> None:
        self.pump()
        with self._lock:
            self.pending = None
            self.interrupted = True
            self._mark_input()  # the next run waits for a prompt after this Ctrl-C
        self.terminal.write(CTRL_C)

    def _probe(self, command: str, timeout: float | None, deadline: float | None) -> None:
        """After Ctrl-C, wait until the shell itself reads the keyboard again before typing a command.

        Why: a program dying of Ctrl-C can still read what is typed right after it (its read returns the
        line, then the signal kills it), and that line would be lost. A probe only prints a mark, so
        typing it again until one comes back is harmless; the command goes after.
        """
        token = secrets.token_hex(4)
        mark = probe_mark(token)

        def seen() -> bool | None:
            m = mark.search(self.buffer.text)
            if m is None:
                return None
            self.buffer.consume(m.end())
            return True

        while True:
            self.terminal.write(probe_line(token))
            step = time.monotonic() + PROBE_INTERVAL
            try:
                self._await(seen, step if deadline is None else min(step, deadline))
                break
            except TimeoutError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise errors.RunTimeout(command, timeout, self._screen_lines(), stage="start") from None
        with self._lock:
            self.interrupted = False


def _deadline(timeout: float | None) -> float | None:
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be >= 0 (or None to wait forever)")
    return None if timeout is None else time.monotonic() + timeout


def _tail(text: str, lines: int = 5, chars: int = 500) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])[-chars:]


def _compile(pattern: object) -> re.Pattern[str]:
    """A compiled str pattern, or a TypeError for anything else (scripts pass anything)."""
    if isinstance(pattern, re.Pattern):
        if not isinstance(pattern.pattern, str):
            raise TypeError("expect() matches text: use a str pattern, not bytes")
        return pattern
    if isinstance(pattern, str):
        return re.compile(pattern)
    raise TypeError(f"expect() takes a str or compiled regular expression, not {type(pattern).__name__}")


__all__ = ["DEFAULT_TIMEOUT", "Driver", "OutputTap", "Pattern", "RunResult"]
