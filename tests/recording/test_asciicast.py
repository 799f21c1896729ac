"""asciicast v2 files: the writer, UTF-8 split across chunks, redaction, reading back, and asciinema's own
reader (``asciinema cat``) accepting what we write."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from castcheck import output_of, validate_cast

from k8sterm_widget.recording import CastError, CastWriter, Recording, read_cast
from k8sterm_widget.recording.redact import REDACTED, EventQueue, compile_rule


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(tmp_path, chunks, **kw):
    """A Recording fed ``chunks`` of (seconds later, code, bytes) with a fake clock."""
    clock = Clock()
    path = tmp_path / "t.cast"
    r = Recording(path, 80, 24, clock=clock, **kw)
    for delay, code, data in chunks:
        clock.now += delay
        if code == "o":
            r.output(data)
        elif code == "i":
            r.input_data(data)
        else:
            r.resize(*data)
    r.stop()
    return path


def test_header_and_events_follow_the_spec(tmp_path):
    path = record(
        tmp_path,
        [(0.1, "o", b"$ "), (0.5, "i", b"ls\r"), (0.01, "o", b"ls\r\nfile\r\n$ "), (1, "r", (100, 30))],
        input=True,
        title="demo/web-0 [nginx]",
        env={"TERM": "xterm-256color", "SHELL": "/bin/sh"},
    )
    header, events = validate_cast(path)
    assert header["width"] == 80 and header["height"] == 24
    assert header["env"] == {"TERM": "xterm-256color", "SHELL": "/bin/sh"}
    assert [e[1] for e in events] == ["o", "i", "o", "r"]
    assert events[-1][2] == "100x30"
    assert [e[0] for e in events] == pytest.approx([0.1, 0.6, 0.61, 1.61])


def test_input_is_not_recorded_by_default(tmp_path):
    _, events = validate_cast(record(tmp_path, [(0.1, "i", b"secret\r"), (0.1, "o", b"ok\r\n")]))
    assert [e[1] for e in events] == ["o"]


def test_a_character_split_across_chunks_stays_whole(tmp_path):
    text = "héllo wörld 日本語 🎉\r\n".encode()
    chunks = [(0.01, "o", text[i : i + 1]) for i in range(len(text))]  # every byte its own chunk
    _, events = validate_cast(record(tmp_path, chunks))
    out = output_of(events)
    assert out == "héllo wörld 日本語 🎉\r\n"
    assert "\ufffd" not in out


def test_invalid_utf8_becomes_replacement_characters(tmp_path):
    _, events = validate_cast(record(tmp_path, [(0.1, "o", b"a\xffb\xe6")]))  # \xe6 left unfinished
    assert output_of(events) == "a\ufffdb\ufffd"


def test_times_never_go_back(tmp_path):
    clock = Clock()
    w = CastWriter(tmp_path / "t.cast", 80, 24, clock=clock)
    w.event("o", "a", at=2.0)
    w.event("o", "b", at=1.0)  # a racing thread stamped it earlier
    w.close()
    _, events = validate_cast(tmp_path / "t.cast")
    assert [e[0] for e in events] == [2.0, 2.0]


def test_asciinema_reads_our_file(tmp_path):
    pytest.importorskip("asciinema")
    text = "colours \x1b[1;31mred\x1b[0m, tabs\t, quotes \"' and 日本語\r\n"
    path = record(tmp_path, [(0.05, "o", text.encode()[i : i + 7]) for i in range(0, len(text.encode()), 7)])
    out = subprocess.run(
        [sys.executable, "-m", "asciinema", "cat", str(path)], capture_output=True, timeout=30, check=True
    )
    assert out.stdout.decode() == text


# ---- redaction ------------------------------------------------------------------------------------------


def test_regex_redaction_catches_a_secret_split_across_chunks(tmp_path):
    chunks = [(0.1, "o", b"token=eyJh"), (0.1, "o", b"bGciOi.x\r\nnext line\r\n")]
    _, events = validate_cast(record(tmp_path, chunks, redact=[r"eyJ[\w.]+"]))
    out = output_of(events)
    assert "eyJ" not in out and "bGciOi" not in out
    assert out == f"token={REDACTED}\r\nnext line\r\n"


def test_callable_redaction_and_input(tmp_path):
    chunks = [(0.1, "i", b"p"), (0.1, "i", b"w"), (0.1, "i", b"123\r"), (0.1, "o", b"welcome\r\n")]
    path = record(tmp_path, chunks, input=True, redact=lambda s: s.replace("pw123", "*****"))
    _, events = validate_cast(path)
    assert [e[2] for e in events if e[1] == "i"] == ["*****\r"]
    assert events[0][0] == pytest.approx(0.1)  # the held line keeps the time its first key came


def test_held_lines_keep_order_and_monotonic_times(tmp_path):
    chunks = [
        (0.1, "o", b"$ "),
        (0.2, "i", b"l"),
        (0.1, "r", (90, 20)),
        (0.1, "o", b"l"),
        (0.1, "o", b"s\r\n"),
    ]
    _, events = validate_cast(record(tmp_path, chunks, input=True, redact=[r"secret"]))
    assert [(e[1], e[2]) for e in events] == [("o", "$ ls\r\n"), ("i", "l"), ("r", "90x20")]


def test_a_long_line_without_newline_is_not_held_forever():
    q = EventQueue(compile_rule([r"x"]), hold_limit=10)
    assert q.add(0.0, "o", "abc") == []
    assert q.add(0.1, "o", "defghijkl") == [(0.0, "o", "abcdefghijkl")]


def test_bad_rules_are_refused():
    with pytest.raises(ValueError):
        compile_rule([r"a*"])  # matches the empty string
    with pytest.raises(TypeError):
        compile_rule([re.compile(rb"bytes")])


def test_a_failing_redact_callable_stops_the_recording_not_the_session(tmp_path):
    def broken(text: str) -> str:
        raise RuntimeError("boom")

    r = Recording(tmp_path / "t.cast", 80, 24, redact=broken)
    r.output(b"line\r\n")  # must not raise
    assert not r.active and isinstance(r.error, RuntimeError)
    validate_cast(tmp_path / "t.cast")  # still a valid (header-only) cast


# ---- reading --------------------------------------------------------------------------------------------


def test_read_cast_skips_bad_lines_clamps_times_and_caps(tmp_path):
    path = tmp_path / "x.cast"
    lines = [json.dumps({"version": 2, "width": 10, "height": 5})]
    lines += [
        json.dumps([1.0, "o", "a"]),
        "not json",
        json.dumps([0.5, "o", "b"]),
        json.dumps([2, "o", "c" * 100]),
    ]
    path.write_text("\n".join(lines) + "\n")
    cast = read_cast(path)
    assert [e[0] for e in cast.events] == [1.0, 1.0, 2.0]
    assert cast.skipped == 1 and "1 unreadable line skipped" in cast.note
    capped = read_cast(path, max_bytes=60)
    assert capped.truncated and len(capped.events) == 2 and "only its first" in capped.note


@pytest.mark.parametrize("first", ["", "[]", '{"version": 1, "width": 80, "height": 24}', '{"version": 2}'])
def test_read_cast_refuses_what_is_not_v2(tmp_path, first):
    path = tmp_path / "x.cast"
    path.write_text(first + "\n")
    with pytest.raises(CastError):
        read_cast(path)


def test_read_cast_refuses_times_that_are_not_finite_and_resizes_out_of_bounds(tmp_path):
    """Python's json reads NaN and Infinity; a resize to 50,000 columns would make the player allocate a
    terminal that wide. Both are invalid events (skipped and counted), bounded as the header's size is."""
    path = tmp_path / "x.cast"
    lines = [json.dumps({"version": 2, "width": 10, "height": 5})]
    lines += [
        '[NaN, "o", "nan"]',
        '[Infinity, "o", "inf"]',
        '[-Infinity, "o", "-inf"]',
        '[1e400, "o", "overflow"]',
        json.dumps([1.0, "o", "a"]),
        json.dumps([1.5, "r", "50000x50"]),
        json.dumps([1.6, "r", "80x0"]),
        json.dumps([1.7, "r", "80x24x1"]),
        json.dumps([1.8, "r", "\u0668\u0660x24"]),  # Arabic-Indic digits: not what asciinema writes
        json.dumps([2.0, "r", "120x40"]),
        json.dumps([3.0, "o", "b"]),
        "[" * 100_000,  # deeper than Python's recursion limit: RecursionError, not a JSON error
    ]
    path.write_text("\n".join(lines) + "\n")
    cast = read_cast(path)
    assert cast.events == [[1.0, "o", "a"], [2.0, "r", "120x40"], [3.0, "o", "b"]]
    assert cast.skipped == 9 and cast.duration == 3.0


@pytest.mark.parametrize("limit", ["NaN", "Infinity", "-1", '"2"'])
def test_read_cast_refuses_an_idle_time_limit_that_is_not_a_finite_time(tmp_path, limit):
    path = tmp_path / "x.cast"
    path.write_text('{"version": 2, "width": 80, "height": 24, "idle_time_limit": ' + limit + "}\n")
    with pytest.raises(CastError, match="idle_time_limit"):
        read_cast(path)
