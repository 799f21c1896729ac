"""The text a script matches: UTF-8 and escape sequences cut anywhere between chunks, and line ends.

Pure and fast: every split point of a sample that has each kind of sequence must give the same text as
feeding it whole, and run()'s command line is checked against the machine's own bash and dash.
"""

from __future__ import annotations

import random
import shutil
import subprocess

import pytest

from k8sterm_widget.widget.runline import begin_mark, command_line, end_mark
from k8sterm_widget.widget.screen import ScreenTail
from k8sterm_widget.widget.textstream import HOLD_LIMIT, MatchBuffer, TextStream

MARK = "\x1b]133;D;0;k8s-ab12\x07"
SAMPLE = (
    "plain é 日本 🙂 "
    "\x1b[1;31mred\x1b[0m "  # CSI
    "\x1b]0;window title\x07"  # OSC ended by BEL
    "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ "  # OSC hyperlink ended by ST
    "\x1bP1$r0m\x1b\\"  # DCS
    "\x1b(B\x1b7\x1b8\x1b=\x07"  # ESC ( B, save/restore cursor, keypad mode, BEL
    f"{MARK}after\r\n"
    "\x1b[?2004hprompt$ "
)
EXPECTED = f"plain é 日本 🙂 red link {MARK}after\r\nprompt$ "


def feed(chunks: list[bytes]) -> str:
    stream = TextStream()
    return "".join(stream.clean(stream.decode(c)) for c in chunks)


def test_whole_sample_keeps_text_and_run_marks_only():
    assert feed([SAMPLE.encode()]) == EXPECTED


def test_every_two_way_split_gives_the_same_text():
    data = SAMPLE.encode()
    for i in range(len(data) + 1):
        assert feed([data[:i], data[i:]]) == EXPECTED, i


def test_byte_by_byte_and_random_splits_give_the_same_text():
    data = SAMPLE.encode()
    assert feed([data[i : i + 1] for i in range(len(data))]) == EXPECTED
    rng = random.Random(5)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(data)), rng.randint(1, 12)))
        chunks = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        assert feed(chunks) == EXPECTED, cuts


def test_an_unfinished_sequence_waits_and_a_garbage_one_does_not_stall():
    stream = TextStream()
    assert stream.clean("abc\x1b") == "abc"
    assert stream.clean("[32mgreen") == "green"
    assert stream.clean("x\x1b]0;never ended" + "y" * HOLD_LIMIT) != ""  # let through, not held forever
    assert stream.clean("z") == "z"
    assert stream.clean("a\x1b\x1b[0mb") == "ab"  # a stray ESC is dropped


def test_crlf_cut_between_chunks_is_one_newline_and_other_controls_stay():
    buf = MatchBuffer(100)
    for piece in ["one\r", "\ntwo\r\n", "50%\r", "100%\r", "\n", "a\tb\bc"]:
        buf.append(piece)
    assert buf.text == "one\ntwo\n50%\r100%\na\tb\bc"


def test_the_match_buffer_is_bounded_and_counts_what_it_dropped():
    buf = MatchBuffer(10)
    buf.append("0123456789abcdef")
    assert buf.text == "0123456789abcdef"  # a reader may still move it elsewhere (run's output)
    buf.trim()
    assert buf.text == "6789abcdef" and buf.dropped == 6
    assert buf.consume(4) == "6789" and buf.text == "abcdef"


def test_the_screen_tail_rebuilds_the_last_lines():
    tail = ScreenTail(limit=200)
    tail.add("first\r\n" * 100)  # scrolled out, and cut from the tail
    tail.add("\x1b[31mred\x1b[0m line\r\nprogress 10%\rprogress 99%\r\n$ ")
    assert tail.last_lines(40, 5, count=3) == ["red line", "progress 99%", "$"]
    assert len(tail.lines(40, 5)) == 5


SHELLS = [s for s in ("bash", "dash") if shutil.which(s)]


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize(
    ("command", "output", "code"),
    [
        ('echo "it\'s" $((1+2)) \\\\ back', "it's 3 \\ back\n", 0),
        ("printf 'no newline'", "no newline", 0),
        ("for i in 1 2; do\n  echo $i\ndone", "1\n2\n", 0),
        ("f() { return 7; }; f", "", 7),
        ("if", "", 2),  # a syntax error still ends with the mark (``command eval``)
    ],
)
def test_the_run_line_prints_both_marks_around_the_output(shell, command, output, code):
    line = command_line(command, "ab12")
    assert "\x1b" not in line  # so the echo of the typed line can never look like a mark
    proc = subprocess.run([shell, "-c", line], capture_output=True, timeout=10)
    text = proc.stdout.decode()
    begin = begin_mark("ab12").search(text)
    end = end_mark("ab12").search(text)
    assert begin and end, text
    assert text[begin.end() : end.start()] == output
    assert int(end.group(1)) == code
    assert begin_mark("ab12").search(line) is None and end_mark("ab12").search(line) is None


def test_control_characters_in_a_command_are_typed_literally():
    line = command_line("printf 'a\tb'", "ab12")
    assert "'a\x16\tb'" in line  # Ctrl-V before the tab: inserted, not completed
