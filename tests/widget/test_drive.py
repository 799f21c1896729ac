"""Scripting a terminal (send/expect/run/wait_exit) against a fake shell: no cluster, no browser, fast.

The terminal is a real ``Terminal`` that never connects (``connect=False``); its output is fed the way
the engine's I/O thread feeds it (``_on_output`` from another thread, in small pieces), and what the
script types goes to a fake shell that answers ``run``'s line like a POSIX shell would.
"""

from __future__ import annotations

import pickle
import re
import shlex
import threading
import time

import pytest

from k8sterm_widget import errors
from k8sterm_widget.widget import drive
from k8sterm_widget.widget._widget import Terminal

PROBE = re.compile(r"133;A;k8s-([0-9a-f]+)")
RUN_LINE = re.compile(r"k8s-([0-9a-f]+)\\7';command eval (.*);printf '\\33\]133;D", re.S)


class FakeShell:
    """Answers ``run``'s line: echo, the start mark, the output, the end mark, a prompt; in tiny pieces.

    ``answers`` maps a command to (output, exit code), or to None for a command that never finishes.
    Pieces are fed from a thread of their own, like the engine's I/O thread.
    """

    def __init__(self, term: Terminal, answers: dict, piece: int = 3, prompt: str = "\x1b[1m$\x1b[0m "):
        self.term, self.answers, self.piece, self.prompt = term, answers, piece, prompt
        self.typed: list[str] = []
        self.probes_lost = 0
        term.write = self.write  # what send() and run() type ends up here
        # A shell whose integration did not load (run() learns that from a quiet prompt without marks;
        # told here, so that short timeouts test the wrapper, not that wait). See MarkedShell for the other.
        term._driver.integration = "off"
        self.output(prompt)

    def output(self, text: str) -> None:
        data = text.encode()
        pieces = [data[i : i + self.piece] for i in range(0, len(data), self.piece)]

        def feed():
            for p in pieces:
                self.term._on_output(self.term._gen, memoryview(p))

        thread = threading.Thread(target=feed)
        thread.start()
        thread.join()

    def write(self, data) -> None:
        text = data if isinstance(data, str) else bytes(data).decode()
        self.typed.append(text)
        m = RUN_LINE.search(text)
        probe = PROBE.search(text)
        if m is None:
            self.output(text.replace("\r", "\r\n"))  # plain typing: echo
            if probe is not None and self.probes_lost:
                self.probes_lost -= 1  # eaten by a program dying of Ctrl-C
            elif probe is not None:
                self.output(f"\x1b]133;A;k8s-{probe.group(1)}\x07{self.prompt}")
            return
        token, command = m.group(1), shlex.split(m.group(2).replace("\x16", ""))[0]
        self.output(text.replace("\x15", "").replace("\r", "\r\n"))  # the echo: never holds a mark
        self.output(f"\x1b[?2004l\r\x1b]133;C;k8s-{token}\x07")
        answer = self.answers[command]
        if answer is None:
            return
        out, code = answer
        self.output(out.replace("\n", "\r\n") + f"\x1b]133;D;{code};k8s-{token}\x07{self.prompt}")


@pytest.fixture
def term(rec):
    t = Terminal("web-0", "demo", connect=False)
    yield t
    t.close(keep_view=False)


def test_run_returns_exact_output_and_exit_code_from_byte_sized_pieces(term):
    shell = FakeShell(
        term,
        {
            "hostname": ("web-0\n", 0),
            "printf 'é日本🙂\\033[31mred\\033[0m'": ("é日本🙂\x1b[31mred\x1b[0m", 0),
            "false": ("", 1),
            "ls /nope": ("ls: /nope: No such file or directory\n", 2),
        },
        piece=1,
    )
    out = term.run("hostname")
    assert out == "web-0\n" and isinstance(out, str) and out.exit_code == 0 and out.ok
    assert term.run("printf 'é日本🙂\\033[31mred\\033[0m'") == "é日本🙂red"
    assert term.run("false").exit_code == 1 and term.last_exit_code == 1
    with pytest.raises(errors.CommandFailed) as info:
        term.run("ls /nope", check=True)
    assert info.value.exit_code == 2 and "No such file" in str(info.value)
    assert info.value.result == "ls: /nope: No such file or directory\n"
    assert shell.typed[0].startswith("\x15 printf")  # Ctrl-U first: a half-typed line is cleared


def test_run_keeps_output_larger_than_the_match_buffer_even_when_it_arrives_at_once(term):
    big = "".join(f"line {i} é\n" for i in range(60000))  # ~700 K characters, > BUFFER_LIMIT
    FakeShell(term, {"big": (big, 0)}, piece=65536)
    assert len(big) > drive.BUFFER_LIMIT
    assert term.run("big") == big


def test_run_is_not_fooled_by_another_runs_marks_or_a_prompt_lookalike(term):
    stale = "\x1b]133;C;k8s-00000000\x07stale\x1b]133;D;9;k8s-00000000\x07"
    FakeShell(term, {"echo hi": ("$ hi\n" + stale, 0)})
    assert term.run("echo hi") == "$ hi\n" + stale


def test_the_result_is_a_plain_enough_str():
    r = drive.RunResult("out\n", 3, "cmd")
    assert pickle.loads(pickle.dumps(r)) == "out\n"
    assert type(r.output) is str and r.output == "out\n" and not r.ok


def test_expect_matches_across_pieces_and_keeps_pexpect_semantics(term):
    shell = FakeShell(term, {}, piece=2)
    shell.output("loading…\r\nREADY 42\r\nnext\r\n")
    m = term.expect(r"READY (\d+)")
    assert m.group(1) == "42" and term.after == "READY 42"
    assert term.before.endswith("loading…\n")
    m = term.expect([r"never", r"ne(x)t"])  # the earliest match of a list wins; .re tells which
    assert m.re.pattern == r"ne(x)t" and term.match is m
    shell.output("a+b?\r\n")
    assert term.expect_exact("a+b?").group(0) == "a+b?"


def test_expect_timeout_names_the_pattern_and_shows_the_screen(term):
    shell = FakeShell(term, {})
    shell.output("Password for admin: ")
    started = time.monotonic()
    with pytest.raises(errors.ExpectTimeout) as info:
        term.expect("\\$ $", timeout=0.2)
    assert time.monotonic() - started < 2
    e = info.value
    assert e.screen[-1] == "$ Password for admin:" and "\n    $ Password for admin:" in str(e)
    assert "'\\\\$ $' did not appear within 0.2 s" in str(e)
    assert e.before.endswith("Password for admin: ")


def test_a_command_that_does_not_finish_times_out_then_the_terminal_is_busy(term):
    shell = FakeShell(term, {"sleep 100": None, "echo ok": ("ok\n", 0)})
    with pytest.raises(errors.RunTimeout) as info:
        term.run("sleep 100", timeout=0.2)
    assert info.value.stage == "finish" and "may still be running" in str(info.value)
    with pytest.raises(errors.TerminalBusy, match="sleep 100"):
        term.run("echo ok", timeout=0.2)
    term.interrupt()
    assert shell.typed[-1] == "\x03"
    shell.probes_lost = 2  # the dying program reads what is typed next: probe until the shell answers
    assert term.run("echo ok") == "ok\n"
    assert [PROBE.search(t) is not None for t in shell.typed[-4:]] == [True, True, True, False]
    assert term.run("echo ok") == "ok\n"  # no probe when there was no Ctrl-C
    assert PROBE.search(shell.typed[-2]) is None


def test_the_busy_state_ends_by_itself_when_the_slow_command_finishes(term):
    shell = FakeShell(term, {"slow": None, "echo ok": ("ok\n", 0)})
    with pytest.raises(errors.RunTimeout):
        term.run("slow", timeout=0.1)
    token = RUN_LINE.search(shell.typed[-1]).group(1)
    shell.output(f"done\r\n\x1b]133;D;0;k8s-{token}\x07$ ")
    assert term.run("echo ok") == "ok\n"


def test_a_second_thread_waits_for_the_first_and_then_gets_terminal_busy(term):
    FakeShell(term, {})
    errors_seen = []

    def hold():
        with pytest.raises(errors.ExpectTimeout):
            term.expect("x", timeout=1)

    first = threading.Thread(target=hold)
    first.start()
    time.sleep(0.1)
    try:
        term.expect("y", timeout=0.2)
    except errors.TerminalBusy as e:
        errors_seen.append(e)
    first.join()
    assert errors_seen and "another thread" in str(errors_seen[0])


def test_an_ended_terminal_raises_typed_errors_after_what_it_printed(term):
    shell = FakeShell(term, {})
    shell.output("bye\r\n")
    term._update(status="exited", exit_code=3)
    assert term.expect("bye")  # output that came before the end still matches
    with pytest.raises(errors.TerminalEnded) as info:
        term.expect("more")
    assert info.value.exit_code == 3 and "exited with code 3" in str(info.value)
    assert isinstance(info.value, errors.SessionClosed)
    with pytest.raises(errors.TerminalEnded):
        term.run("true")
    with pytest.raises(errors.TerminalEnded):
        term.send("x")
    assert term.wait_exit(0) == 3


def test_a_terminal_that_failed_to_connect_raises_its_own_error(term):
    term.error = errors.PodNotFound("web-9", "demo")
    term._update(status="error", status_detail=str(term.error))
    for call in (
        lambda: term.run("true"),
        lambda: term.expect("x"),
        lambda: term.wait_exit(),
        lambda: term.send("x"),
    ):
        with pytest.raises(errors.PodNotFound):
            call()


def test_waiting_wakes_on_the_end_not_on_the_timeout(term):
    FakeShell(term, {})
    threading.Timer(0.2, lambda: term._update(status="exited", exit_code=0)).start()
    started = time.monotonic()
    with pytest.raises(errors.TerminalEnded):
        term.expect("never", timeout=20)
    assert time.monotonic() - started < 5


def test_wait_exit_times_out_with_the_screen(term):
    shell = FakeShell(term, {})
    shell.output("still here")
    with pytest.raises(errors.ExpectTimeout, match=r"did not exit within 0\.1 s") as info:
        term.wait_exit(0.1)
    assert info.value.screen == ["$ still here"]


def test_a_run_that_never_connects_says_so(term):
    with pytest.raises(errors.RunTimeout, match="did not connect") as info:
        term.run("true", timeout=0.1)  # connect=False: it never will
    assert info.value.stage == "connect"


def test_a_reconnect_starts_a_fresh_buffer(term):
    shell = FakeShell(term, {})
    shell.output("old shell said MARKER\r\n")
    term._update(status="connected")
    term._update(status="connecting")  # what reconnect() does
    shell.output("new shell\r\n")
    with pytest.raises(errors.ExpectTimeout):
        term.expect("MARKER", timeout=0.1)
    assert term.expect("new shell")


def test_output_nobody_reads_is_bounded_and_the_tail_still_matches(term, monkeypatch):
    monkeypatch.setattr(term._driver.tap, "limit", 1000)
    shell = FakeShell(term, {}, piece=100)
    shell.output("é" * 5000 + "\r\nTHE END\r\n")
    assert term.expect("THE END")
    assert len(term.before) < 1000


def test_send_only_types_and_protocol_messages_take_their_own_path(term, rec):
    shell = FakeShell(term, {})
    term.send("ab")
    term.send(b"\x03")
    term.sendline("ls")
    assert shell.typed == ["ab", b"\x03".decode(), "ls\r"]
    term._post({"type": "hello", "to": "x"}, [b"\x01"])  # the one path to the front ends
    assert rec.custom("hello", term)
    with pytest.raises(TypeError):
        term.send({"type": "hello", "to": "x"})  # not ipywidgets' Widget.send: a message is no keystroke
    with pytest.raises(TypeError):
        term.send(42)
    assert shell.typed == ["ab", b"\x03".decode(), "ls\r"]


def test_bad_arguments_are_plain_python_errors(term):
    with pytest.raises(TypeError):
        term.run(["ls"])
    with pytest.raises(ValueError):
        term.run("  ")
    with pytest.raises(ValueError, match="longer than"):
        term.run("echo " + "x" * 5000)
    with pytest.raises(TypeError):
        term.expect(re.compile(b"x"))
    with pytest.raises(ValueError):
        term.expect("x", timeout=-1)


def test_the_screen_is_what_a_terminal_would_show(term):
    shell = FakeShell(term, {})
    shell.output("\x1b[2J\x1b[Hline one\r\nline two\r\nprogress 10%\rprogress 100%\r\n")
    rows = term.screen()
    assert rows[:4] == ["line one", "line two", "progress 100%", ""]
    assert len(rows) == 24  # 80x24 without a view


def test_every_front_end_message_type_has_exactly_one_handler(term):
    """One path in: the dispatch table, not method names found by ``getattr``."""
    from k8sterm_widget.widget import protocol

    assert sorted(term._handlers) == sorted(protocol.CLIENT_TYPES)


# ---------------------------------------------------------------- a shell with its integration


class MarkedShell:
    """A shell whose integration loaded (k8sterm_widget/shell_integration.py): its prompt prints OSC 133
    marks, like bash (``c=True``: C marks from PS0) or dash/ash (no C). It answers plain typed lines; the
    prompt is printed only when ``prompt()`` is called the first time (a shell still starting up)."""

    def __init__(
        self, term: Terminal, answers: dict, *, wrapped: dict | None = None, c: bool = True, piece: int = 2
    ) -> None:
        self.term, self.answers, self.c, self.piece = term, answers, c, piece
        self.wrapped = answers if wrapped is None else wrapped  # what the wrapper line's eval answers
        self.typed: list[str] = []
        self.before_prompt: list[str] = []  # what was typed while no prompt was shown
        self.shown = False
        self.continued = False
        term.write = self.write

    def feed(self, text: str) -> None:
        data = text.encode()
        for i in range(0, len(data), self.piece):
            self.term._on_output(self.term._gen, memoryview(data[i : i + self.piece]))

    def prompt(self, status: int = 0) -> None:
        flag = ";c" if self.c else ""
        self.feed(f"\x1b]133;D;{status};k8s\x07\x1b]133;A;k8s{flag}\x07root@web-0:/# \x1b]133;B;k8s\x07")
        self.shown = True

    def write(self, data) -> None:
        text = data if isinstance(data, str) else bytes(data).decode()
        self.typed.append(text)
        if not self.shown:
            self.before_prompt.append(text)
            return
        if text == "\x03":
            self.continued = False
            self.feed("^C\r\n")
            self.prompt(130)
            return
        m = RUN_LINE.search(text)
        if m is not None:  # the wrapper
            token, command = m.group(1), shlex.split(m.group(2).replace("\x16", ""))[0]
            self.feed(text.replace("\x15", "").replace("\r", "\r\n"))
            self.feed(f"\x1b]133;C;k8s-{token}\x07")
            out, code = self.wrapped[command]
            self.feed(out.replace("\n", "\r\n") + f"\x1b]133;D;{code};k8s-{token}\x07")
            self.prompt(code)
            return
        line = text.replace("\x15", "").rstrip("\r")
        self.feed(line + "\r\n")  # the echo
        self.shown = False
        if self.answers.get(line) == "more":  # not a whole command: a continuation prompt
            self.feed("\x1b]133;A;k8s;k=s\x07> ")
            self.shown = self.continued = True
            return
        if self.c:
            self.feed("\x1b]133;C;k8s\x07")
        out, code = self.answers[line]
        self.feed(out.replace("\n", "\r\n"))
        self.prompt(code)


@pytest.mark.parametrize("c", [True, False], ids=["bash-like", "dash-like"])
def test_at_a_marked_prompt_run_types_the_command_itself_once_the_prompt_is_there(term, c):
    shell = MarkedShell(term, {"echo hi": ("hi\n", 0), "ls /nope": ("no such file\n", 2)}, c=c)
    result: list = []
    runner = threading.Thread(target=lambda: result.append(term.run("echo hi", timeout=10)))
    runner.start()
    time.sleep(0.3)  # the shell is still starting: nothing may be typed ahead of its prompt
    assert shell.typed == []
    shell.feed("Welcome to web-0\r\n")
    shell.prompt()
    runner.join(10)
    assert result == ["hi\n"] and shell.typed == ["echo hi\r"] and shell.before_prompt == []
    out = term.run("ls /nope")
    assert (out, out.exit_code) == ("no such file\n", 2)
    assert shell.typed[-1] == "ls /nope\r"  # no Ctrl-U on an empty line (readline would beep)


def test_a_line_the_shell_continues_is_cancelled_and_run_the_wrappers_way(term):
    syntax_error = ("sh: syntax error: unexpected end of file\n", 2)
    shell = MarkedShell(term, {"if": "more"}, wrapped={"if": syntax_error})
    shell.prompt()
    out = term.run("if", timeout=10)
    assert out.exit_code == 2 and "syntax error" in out
    assert shell.typed[:2] == ["if\r", "\x03"] and RUN_LINE.search(shell.typed[2])


def test_multi_line_commands_and_control_characters_take_the_wrapper(term):
    shell = MarkedShell(term, {"for i in 1 2; do\n echo $i\ndone": ("1\n2\n", 0), "a\tb": ("a\tb\n", 0)})
    shell.prompt()
    assert term.run("for i in 1 2; do\n echo $i\ndone", timeout=10) == "1\n2\n"
    assert RUN_LINE.search(shell.typed[-1])
    assert term.run("a\tb", timeout=10) == "a\tb\n"  # a tab typed at readline would complete
    assert RUN_LINE.search(shell.typed[-1])


def test_expect_sees_the_prompt_without_the_integrations_marks(term):
    shell = MarkedShell(term, {"read x": ("", 0)})
    shell.prompt()
    m = term.expect(r"root@web-0:/# $", timeout=5)
    assert m.group(0) == "root@web-0:/# " and "\x1b" not in term._driver.before


def test_a_prompt_without_marks_falls_back_to_the_wrapper_once_the_shell_is_quiet(term, monkeypatch):
    monkeypatch.setattr(drive, "PROMPT_QUIET", 0.2)
    shell = FakeShell(term, {"hostname": ("web-0\n", 0)})
    term._driver.integration = "unknown"  # as a real shell: it has to be learnt
    assert term.run("hostname", timeout=10) == "web-0\n"
    assert term._driver.integration == "off" and RUN_LINE.search(shell.typed[-1])


def test_the_echo_of_a_typed_line_is_found_through_wraps_redraws_and_a_line_editor_without_unicode():
    from k8sterm_widget.widget.runline import echo_end

    command = "printf 'é日本'; echo done"
    assert echo_end(command + "\nout\n", command) == len(command) + 1
    # BusyBox's line editor in the C locale echoes every byte of a non-ASCII character as '?'
    shown = "printf '??????????'; echo done\n"
    assert echo_end(shown + "é日本done\n", command) == len(shown)
    # a long line wrapped by the line editor (a carriage return, a space), and the prompt redrawn
    assert echo_end("printf 'é日本'; ec \rho done\nx", command) == len("printf 'é日本'; ec \rho done\n")
    assert echo_end("printf 'é日本'; echo do", command) is None  # not all of it yet


def test_a_prompt_still_arriving_when_a_line_is_typed_is_not_taken_for_a_later_one(term):
    """bash prints a prompt in two writes, D from PROMPT_COMMAND, then PS1 (A … B): run() returns at D, and
    a line typed at once can go out before the A … B of the prompt it was typed at arrives. That prompt
    is no sign that the typed program (here ``cat``) is done: the next run() must not type into it."""
    typed: list[str] = []
    term.write = lambda data: typed.append(data if isinstance(data, str) else bytes(data).decode())

    def feed(text: str) -> None:
        term._on_output(term._gen, memoryview(text.encode()))

    prompt = "\x1b]133;A;k8s;c\x07root@web-0:/# \x1b]133;B;k8s\x07"
    feed("\x1b]133;D;0;k8s\x07" + prompt)
    result: list = []
    runner = threading.Thread(target=lambda: result.append(term.run("true", timeout=10)))
    runner.start()
    drive_wait = time.monotonic() + 10
    while typed != ["true\r"] and time.monotonic() < drive_wait:
        time.sleep(0.01)
    feed("true\r\n\x1b]133;C;k8s\x07\x1b]133;D;0;k8s\x07")  # the command's end; its next prompt not yet
    runner.join(10)
    assert result == [""]
    term.sendline("cat")
    feed(prompt + "cat\r\n")  # the prompt printed before "cat" was typed, then cat's echo
    with pytest.raises(
        errors.RunTimeout
    ):  # waiting for a prompt after "cat" (tests/widget/test_drive_kernel.py)
        term.run("echo hi", timeout=1)
    assert typed == ["true\r", "cat\r"]  # nothing typed into cat
