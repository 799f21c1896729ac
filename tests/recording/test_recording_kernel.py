"""Recording, snapshots and the kept transcript of real sessions on the demo cluster, in the kernel."""

from __future__ import annotations

import pytest
from castcheck import output_of, validate_cast
from helpers import wait_until

from k8sterm_widget.recording.redact import REDACTED
from k8sterm_widget.widget import Terminal


@pytest.fixture
def term(demo_cluster):
    t = Terminal("web-0", "demo", kubeconfig=demo_cluster.kubeconfig, context="demo-admin")
    yield t
    t.close(keep_view=False)


def resize(t: Terminal, cols: int, rows: int, seq: int) -> None:
    t._on_custom_msg(t, {"type": "resize", "id": "fe", "seq": seq, "cols": cols, "rows": rows}, [])


def test_record_a_real_session_with_redaction_input_and_resize(term, tmp_path):
    term.run("echo before-recording")
    path = tmp_path / "session.cast"
    recording = term.record(path, input=True, redact=[r"s3cr3t-\w+"])
    assert recording.active and term.recording is recording
    term.run("echo hello-$((6*7)); echo password=s3cr3t-$((1000+1))x")
    resize(term, 120, 40, 0)
    term.run("stty size")
    with pytest.raises(RuntimeError):
        term.record(tmp_path / "other.cast")  # one recording at a time
    assert term.stop_recording() == path
    assert not recording.active

    header, events = validate_cast(path)
    assert header["env"]["TERM"] == "xterm-256color" and header["title"] == "demo/web-0 [nginx]"
    out = output_of(events)
    assert "before-recording" in out  # it starts with the screen as it was
    assert "hello-42" in out and "120" in out
    assert "s3cr3t-1001x" not in out and f"password={REDACTED}" in out
    typed = "".join(e[2] for e in events if e[1] == "i")
    assert "echo hello-$((6*7))" in typed  # run() types through the same path as the keyboard
    assert ["r", "120x40"] in [e[1:] for e in events]


def test_recording_survives_a_reconnect_and_the_end(term, tmp_path):
    path = tmp_path / "r.cast"
    with term.record(path):
        term.run("echo one")
        term.reconnect()
        term.run("echo two")
        term.sendline("exit 4")
        assert term.wait_exit(20) == 4
    out = output_of(validate_cast(path)[1])
    assert "one" in out and "two" in out


def test_snapshot_without_a_front_end_is_escaped_text(term):
    term.run("echo '<script>alert(1)</script>' && hostname")
    snap = term.snapshot()
    assert snap.source == "kernel"
    assert "web-0" in snap.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in snap.html
    assert "<script" not in snap.html.lower()
    assert "demo/web-0 · nginx · connected" in snap.html


def test_the_kernel_keeps_the_transcript_when_no_front_end_shows_the_terminal(term):
    term.run("echo kept-$((40+2))")
    assert term.transcript == {}
    term.sendline("exit")
    term.wait_exit(20)
    wait_until(lambda: term.transcript, 5, "the transcript")
    assert "kept-42" in term.transcript["data"] and term.transcript["source"] == "kernel"
    assert (term.transcript["cols"], term.transcript["rows"]) == (80, 24)


def test_front_end_transcripts_are_validated_and_capped(term):
    term.transcript = {"data": "x\r\n" * 400_000, "cols": 80, "rows": 24}
    assert len(term.transcript["data"]) <= 512 * 1024 and term.transcript["data"].startswith("\x1b[0m")
    term.transcript = {"data": 5, "cols": 80, "rows": 24}
    assert term.transcript == {}
    term.transcript = {"data": "ok", "cols": 1, "rows": 24}
    assert term.transcript == {}


def test_a_recording_started_before_any_view_takes_the_views_size_and_names_the_real_shell(
    demo_cluster, tmp_path
):
    kc = {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin"}
    term = Terminal("web-0", "demo", **kc)
    side = Terminal("web-0", "demo", container="sidecar", **kc)
    try:
        path, side_path = tmp_path / "before.cast", tmp_path / "side.cast"
        term.record(path)  # the cell that creates it has not even been displayed yet
        side.record(side_path)
        resize(term, 100, 30, 0)  # the view appears and reports its size: the stream opens at it
        resize(side, 90, 20, 0)
        assert term.run("stty size") == "30 100\n"
        side.run("true")
        term.stop_recording()
        side.stop_recording()
        header, events = validate_cast(path)
        assert header["env"]["SHELL"].endswith("/bash")  # nginx has bash: that is what runs, not "sh"
        assert ["r", "100x30"] in [e[1:] for e in events]
        resized_at = next(i for i, e in enumerate(events) if e[1] == "r")
        assert "30 100" not in output_of(events[:resized_at])  # the size came before the output
        # busybox: no bash. Debian's static busybox runs applets standalone, so `command -v ash` says "ash"
        assert validate_cast(side_path)[0]["env"]["SHELL"] in ("ash", "/bin/ash")
    finally:
        term.close(keep_view=False)
        side.close(keep_view=False)


def test_a_recording_of_a_given_command_names_its_program(demo_cluster, tmp_path):
    term = Terminal(
        "web-0", "demo", command=["/bin/sh"], kubeconfig=demo_cluster.kubeconfig, context="demo-admin"
    )
    try:
        term.record(tmp_path / "sh.cast")
        term.stop_recording()
        assert validate_cast(tmp_path / "sh.cast")[0]["env"]["SHELL"] == "/bin/sh"
    finally:
        term.close(keep_view=False)
