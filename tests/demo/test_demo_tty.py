"""``kubectl exec -it`` through a real pseudo-terminal: echo, the size kubectl sends, resize, exit."""

from __future__ import annotations

import pexpect


def _spawn(kubectl, *args: str, rows: int = 30, cols: int = 100) -> pexpect.spawn:
    argv = kubectl.argv(*args)
    child = pexpect.spawn(argv[0], argv[1:], env=kubectl.env, dimensions=(rows, cols), timeout=15)
    return child


def test_exec_it_shell(kubectl):
    child = _spawn(kubectl, "exec", "-it", "web-0", "--", "bash", "--norc", "--noprofile")
    try:
        child.expect(r"[#$] ")
        child.sendline("echo hi-$((40+2))")
        child.expect_exact("hi-42")
        child.sendline("stty size")
        child.expect(r"(\d+) (\d+)\r\n")
        assert (int(child.match.group(1)), int(child.match.group(2))) == (30, 100)
        child.setwinsize(40, 120)  # kubectl forwards SIGWINCH as a resize on channel 4
        child.sendline("sleep 0.3; stty size")
        child.expect(r"40 120\r\n")
        child.sendline("exit 7")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 7


def test_exec_it_ctrl_d_ends_the_shell(kubectl):
    child = _spawn(kubectl, "exec", "-it", "web-1", "--", "bash", "--norc", "--noprofile")
    try:
        child.expect(r"[#$] ")
        child.sendline("tty")
        child.expect(r"/dev/pts/\d+")
        child.expect(r"[#$] ")  # back at the prompt: readline owns the terminal again
        child.sendeof()  # ^D on an empty line: bash exits 0
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0


def test_exec_i_without_tty_sees_eof(kubectl):
    # Without -t, kubectl's local EOF is sent as [255, 0]; cat then exits and kubectl returns 0.
    r = kubectl("exec", "-i", "web-0", "--", "cat", input=b"line one\nline two\n")
    assert r.returncode == 0
    assert r.stdout == "line one\nline two\n"


def test_exec_it_dash_exit_code(kubectl):
    """dash restores the terminal's process group on exit: the exec must lead a session in the container."""
    child = _spawn(kubectl, "exec", "-it", "web-0", "-c", "sidecar", "--", "sh")
    try:
        child.expect_exact("# ")
        child.sendline("exit 7")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 7, child.before
