"""Scripting real shells on the demo cluster, headless: bash (nginx) and dash as busybox's ash (sidecar).

No view is open in any of these: the first scripting call must open the exec at once (``FIRST_SIZE_WAIT``
is raised to 60 s here, so a test that waited for it would time out). One test runs a plain Python
script with no kernel at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import time

import comm
import pytest
from helpers import Recorder

import k8sterm_widget as k8s
from k8sterm_widget import errors
from k8sterm_widget.widget import _widget

SHELLS = {"nginx": "bash", "sidecar": "ash"}


@pytest.fixture(autouse=True)
def no_grace(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", Recorder().create)
    monkeypatch.setattr(_widget, "FIRST_SIZE_WAIT", 60.0)


@pytest.fixture
def kc(demo_cluster):
    return {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin"}


@pytest.fixture(params=sorted(SHELLS))
def term(request, kc):
    t = k8s.shell("web-0", "demo", request.param, **kc)
    yield t
    t.close(keep_view=False)


def test_run_opens_at_once_and_returns_output_and_exit_codes(term):
    started = time.monotonic()
    assert term.run("hostname", timeout=20) == "web-0\n"
    assert time.monotonic() - started < 20 and term.size is None  # no view: it did not wait for one
    assert term.session.size == (80, 24)
    assert term.run("ls /nope").exit_code != 0
    assert term.run("exit_with() { return $1; }; exit_with 7").exit_code == 7 == term.last_exit_code
    with pytest.raises(errors.CommandFailed, match="exited with code 1"):
        term.run("false", check=True)
    assert term.run("if").exit_code == 2  # a syntax error is an exit code, not a hang


def test_the_shell_keeps_its_state_and_any_command_text_survives(term):
    term.run("cd /tmp && K8S_X='a b'")
    assert term.run('pwd; echo "$K8S_X"') == "/tmp\na b\n"
    assert term.run("printf '%s|' \"it's\" \\$HOME") == "it's|$HOME|"
    tab = term.run("printf '%s|' 'tab\there'")
    if term.session.container == "sidecar":
        # A typed TAB is busybox ash's completion key, on a real busybox as on the demo's (Debian's static
        # busybox): run() types commands into the line editor, so a literal tab cannot get through there.
        assert tab == "tabhere|"
    else:
        assert tab == "tab\there|"
    assert term.run("for i in 1 2 3; do\n  echo line $i\ndone") == "line 1\nline 2\nline 3\n"
    assert term.run("printf 'no newline'") == "no newline"


def test_utf8_and_colours_come_back_as_clean_text(term):
    out = term.run("i=0; while [ $i -lt 3000 ]; do printf 'é日本🙂'; i=$((i+1)); done; echo")
    assert out == "é日本🙂" * 3000 + "\n"  # ~33 KB: many chunks, characters cut between them
    assert term.run("printf '\\033[1;31mred\\033[0m plain\\n'") == "red plain\n"


def test_large_output_arrives_complete_while_the_script_waits(term):
    out = term.run("seq 1 50000", timeout=60)
    assert out.splitlines() == [str(i) for i in range(1, 50001)]


def test_send_and_expect_drive_an_interactive_program(term):
    # Wait for each program to ask before answering, as with pexpect: keys typed while bash's readline
    # still reads the command line stay in readline's type-ahead and never reach `read`.
    term.run("true")
    term.sendline("printf '%s? ' name; read answer; echo got-$answer-$((6*7))")
    term.expect_exact("name? ")  # the echo shows "'%s? ' name", so only the program's output matches
    term.sendline("yes")
    m = term.expect(r"got-(\w+)-42")
    assert m.group(1) == "yes"
    term.sendline("echo ready-$((1+1)); cat")
    term.expect("ready-2")
    term.sendline("héllo")
    assert term.expect_exact("héllo\n")  # echoed by the tty, then printed by cat
    assert term.expect_exact("héllo\n")
    term.send("\x04")  # Ctrl-D ends cat
    assert term.run("echo after") == "after\n"


def test_a_timeout_shows_the_screen_and_keeps_the_terminal_busy_until_interrupted(term):
    term.run("true")
    with pytest.raises(errors.RunTimeout) as info:
        term.run("echo started; sleep 30", timeout=2)
    e = info.value
    assert e.stage == "finish" and e.output == "started\n"
    assert e.screen[-1] == "started" and "sleep 30" in str(e)
    with pytest.raises(errors.TerminalBusy):
        term.run("echo hi")
    term.interrupt()
    assert term.run("echo hi") == "hi\n"


def test_a_program_in_the_foreground_is_reported_not_waited_for(term):
    term.run("true")
    term.sendline("cat")
    with pytest.raises(errors.RunTimeout) as info:
        term.run("echo hi", timeout=1)
    assert info.value.stage == "start" and "foreground" in str(info.value)
    term.interrupt()
    assert term.run("echo back") == "back\n"


def test_exit_ends_the_session_with_its_code(term):
    term.run("true")
    term.sendline("exit 5")
    assert term.wait_exit(20) == 5
    with pytest.raises(errors.TerminalEnded, match="exited with code 5"):
        term.run("true")
    term.reconnect()
    assert term.run("echo again", timeout=20) == "again\n"


def test_run_exit_raises_terminal_ended(term):
    with pytest.raises(errors.TerminalEnded) as info:
        term.run("exit 3", timeout=20)
    assert info.value.exit_code == 3


def test_a_terminal_that_cannot_connect_raises_its_typed_error(kc):
    cases = [
        (k8s.shell("distroless", "demo", **kc), errors.NoShellFound),
        (k8s.shell("web-9", "demo", **kc), errors.PodNotFound),
        (k8s.shell("web-0", "demo", kubeconfig=kc["kubeconfig"], context="demo-viewer"), errors.Forbidden),
    ]
    for t, kind in cases:
        with pytest.raises(kind):
            t.run("true", timeout=20)
        with pytest.raises(kind):
            t.send("x")
        t.close(keep_view=False)


def test_a_plain_python_script_with_no_kernel(kc):
    script = textwrap.dedent(
        f"""
        import sys, k8sterm_widget as k8s
        assert "ipykernel" not in sys.modules
        with k8s.shell("web-0", "demo", kubeconfig={kc["kubeconfig"]!r}) as t:
            out = t.run("echo from-a-script; hostname")
            print(repr(out), out.exit_code)
            t.sendline("exit 4")
            print(t.wait_exit())
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["'from-a-script\\nweb-0\\n' 0", "4"]


def test_a_run_looks_typed_in_the_screen_the_recording_and_the_snapshot(term, tmp_path):
    """run("echo hi") shows exactly `echo hi` at the shell's own prompt, once — not the wrapper line that
    prints the marks, and not twice (typed ahead of the prompt, echoed by the tty and again by readline)."""
    cast = tmp_path / "run.cast"
    term.record(cast)
    assert term.run("echo hi") == "hi\n"
    assert term.run("false").exit_code == 1
    assert term.run("cd /tmp && echo here") == "here\n"
    term.stop_recording()
    screen = [line for line in term.screen() if line]
    shown = "\n".join(screen)
    assert "printf" not in shown and "133" not in shown and "eval" not in shown, shown
    typed = [line for line in screen if line.endswith(("echo hi", "false", "cd /tmp && echo here"))]
    assert len(typed) == 3 and all(
        re.fullmatch(r"\S*.*[#$] (echo hi|false|cd /tmp && echo here)", t) for t in typed
    )
    assert screen[screen.index(typed[0]) + 1] == "hi"
    recorded = "".join(json.loads(line)[2] for line in cast.read_text().splitlines()[1:])
    assert recorded.count("echo hi") == 1 and "printf" not in recorded and "eval" not in recorded
    html = term.snapshot(timeout=0).html
    assert html.count("echo hi") == 1 and "printf" not in html
