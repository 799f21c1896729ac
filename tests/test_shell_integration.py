"""The shell integration (k8sterm_widget/shell_integration.py) in real shells on a local pty.

The session's auto-detect script runs here exactly as ``sh -c`` runs it in a container, with ``PATH`` holding
only the shells of one kind of image: bash (Debian, Ubuntu, nginx: ``sh`` is dash), dash alone (Debian
slim's ``sh``; the demo's busybox image), and BusyBox's own ash (Alpine, busybox: ``sh`` and ``ash`` are
busybox). What the person at the terminal must see is the shell's own prompt and nothing else; what the
kernel must see is a mark at each prompt, the exit status, and a continuation mark.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import time
from pathlib import Path

import pytest

from k8sterm_widget.shell_integration import MARK, shell_command

TOOLS = ("cat", "env", "grep", "true", "false", "printf", "id")


def userland(tmp_path: Path, kind: str) -> Path:
    """A bin directory with the shells of one kind of image (plus a few tools), from the host's programs."""
    shells = {
        "bash": {"bash": "bash", "sh": "dash"},
        "dash": {"sh": "dash"},
        "busybox": {"sh": "busybox", "ash": "busybox"},
    }[kind]
    bin_dir = tmp_path / kind
    bin_dir.mkdir()
    for name, program in {**shells, **{t: t for t in TOOLS}}.items():
        found = shutil.which(program)
        if found is None:
            pytest.fail(f"{program} is needed on this machine (apt-get install {program})")
        (bin_dir / name).symlink_to(found)
    return bin_dir


class Pty:
    """The detect script on a pty, as a container's exec with a tty runs it."""

    def __init__(self, bin_dir: Path, home: Path) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: exec at once, nothing else
            os.execve(str(bin_dir / "sh"), shell_command(), {"PATH": str(bin_dir), "HOME": str(home)})
        self.out = b""

    def read_until(self, pattern: bytes, timeout: float = 10.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.out):
            left = deadline - time.monotonic()
            assert left > 0, f"{pattern!r} not seen in {self.out[-600:]!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self.out += os.read(self.fd, 65536)
        return self.out

    def type(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def command(self, text: str, *, again: bool = False) -> str:
        """Type ``text`` and wait for the next prompt; what the terminal showed meanwhile (marks as text).

        ``again``: type it again every second meanwhile (bash notices a Ctrl-C that lands between two reads
        of its line editor only at the next key)."""
        before = len(self.out)
        count = prompts(self.out)
        self.type(text)
        deadline = time.monotonic() + 10
        retype = time.monotonic() + 1
        while prompts(self.out) <= count:
            assert time.monotonic() < deadline, f"no prompt after {text!r}: {self.out[before:]!r}"
            if again and time.monotonic() > retype:
                self.type(text)
                retype = time.monotonic() + 1
            self.read_until(rb"\x1b\]133;B;k8s\x07", deadline - time.monotonic())
            if prompts(self.out) <= count:
                ready, _, _ = select.select([self.fd], [], [], 0.1)
                if ready:
                    self.out += os.read(self.fd, 65536)
        return self.out[before:].decode(errors="replace")

    def close(self) -> None:
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        os.close(self.fd)


def prompts(raw: bytes) -> int:
    return raw.count(b"\x1b]133;B;k8s\x07")


def visible(raw: bytes) -> str:
    """What a terminal shows of it: no OSC strings, no other escape sequences."""
    text = raw.decode(errors="replace")
    text = re.sub(r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)", "", text)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


@pytest.mark.parametrize(
    ("kind", "prompt"),
    [
        ("bash", r"me@box:\S* [#$] "),  # the ~/.bashrc's PS1 (bash's startup files run first)
        ("dash", r"(?m)^[#$] "),  # dash's own default
        ("busybox", r"/\S* [#$] "),  # ash's own default, '\w \$ '
    ],
)
def test_each_shell_marks_its_own_prompt_with_the_exit_status(tmp_path, kind, prompt):
    bin_dir = userland(tmp_path, kind)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text("PS1='me@box:\\w \\$ '\n")
    shell = Pty(bin_dir, home)
    try:
        shell.read_until(rb"\x1b\]133;B;k8s\x07")
        assert "133;D;1;k8s\x07" in shell.command("false\r")
        assert "133;D;0;k8s\x07" in shell.command("true\r")
        shell.type("if\r")  # not a whole command: the shell asks for more, with a continuation mark
        shell.read_until(rb"133;A;k8s;k=s\x07")
        shell.command("\x03", again=True)
        raw = shell.out
        codes = [m["code"] for m in MARK.finditer(raw.decode(errors="replace")) if m["kind"] == "D"]
        assert codes[0] == "0" and {"1", "130"} <= set(codes), codes  # false, and Ctrl-C at the continuation
        # bash's init leaves nothing in the environment of what the shell runs (a POSIX sh has no hook to
        # un-export PS1: a sh started inside marks its prompts too, which a terminal does not show)
        leaked = shell.command("env | grep -c '^K8S[T]ERM\\|^PROMPT_[C]OMMAND=' || true\r")
        assert re.search(r"\n\r?0\r?\n", visible(leaked.encode())), leaked
        # bash announces C marks (PS0); a command's output then follows one
        if kind == "bash":
            assert b"133;A;k8s;c\x07" in raw and b"133;C;k8s\x07" in raw
        else:
            assert b"133;C;k8s" not in raw
        shown = visible(raw)
        assert re.search(prompt + "false", shown) and re.search(prompt + "true", shown), shown
        assert "\\[" not in shown and "\\]" not in shown and "133" not in shown and "K8STERM" not in shown
        assert "eval" not in shown and "printf" not in shown
    finally:
        shell.close()
