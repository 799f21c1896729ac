"""Interactive sessions against the demo cluster: shells, typed-ahead keys, sizes, EOF, UTF-8, cleanup."""

import codecs
import re
import threading
import time

import psutil
import pytest

from k8sterm_widget.demo.external import ExternalCluster
from k8sterm_widget.errors import NoShellFound, SessionClosed
from k8sterm_widget.session import ExecSession


@pytest.fixture
def kc(demo_cluster):
    return {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin"}


class Screen:
    """Collects a tty session's output and waits for a pattern (no fixed sleeps)."""

    def __init__(self):
        self.data = bytearray()
        self.cond = threading.Condition()

    def __call__(self, stream, payload):
        with self.cond:
            self.data += payload
            self.cond.notify_all()

    def wait_for(self, pattern, timeout=10.0):
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        with self.cond:
            while not (m := rx.search(self.data)):
                left = deadline - time.monotonic()
                assert left > 0, f"{pattern!r} not seen; screen: {bytes(self.data[-400:])!r}"
                self.cond.wait(left)
            return m


@pytest.mark.parametrize(
    ("pod", "container", "shell"), [("web-0", "nginx", "bash"), ("web-0", "sidecar", "ash")]
)
def test_shell_autodetection_picks_the_best_shell(kc, pod, container, shell):
    screen = Screen()
    with ExecSession.open(pod, None, "demo", container, size=(80, 24), on_output=screen, **kc) as s:
        s.write('echo "shell=$0 term=$TERM"\n')
        screen.wait_for(rf"shell={shell} term=xterm-256color")
        s.write("exit 0\n")
        assert s.wait(10) == 0


def test_no_shell_in_the_image_suggests_a_debug_container(kc):
    with pytest.raises(NoShellFound) as info:
        s = ExecSession.open("distroless", None, "demo", **kc)
        s.wait(10)
    assert "kubectl debug" in str(info.value) and "busybox" in str(info.value)


def test_keys_typed_while_the_shell_is_being_detected_are_not_lost(kc):
    screen = Screen()
    s = ExecSession.open("web-1", None, "demo", size=(80, 24), on_output=screen, **kc)
    s.write("echo typed-$((40+2))\n")  # before any prompt exists
    screen.wait_for(r"typed-42\r?\n")
    s.close()


def test_first_size_and_resize_are_seen_by_stty(kc):
    screen = Screen()
    with ExecSession.open("web-0", None, "demo", size=(101, 33), on_output=screen, **kc) as s:
        s.write("stty size\n")
        screen.wait_for(r"\b33 101\b")
        s.resize(120, 40)
        s.write("stty size\n")
        screen.wait_for(r"\b40 120\b")


def test_exit_status_of_an_interactive_shell(kc):
    screen = Screen()
    s = ExecSession.open("web-0", None, "demo", on_output=screen, **kc)
    s.write("exit 3\n")
    assert s.wait(10) == 3 and s.end_reason == "exited with code 3"
    with pytest.raises(SessionClosed):
        s.write("echo too late\n")


def test_stdin_close_ends_cat_and_streams_stay_apart(kc):
    s = ExecSession.open("web-0", ["sh", "-c", "cat; echo bye >&2"], "demo", tty=False, **kc)
    s.write(b"hello ")
    s.write(b"world")
    s.close_stdin()
    assert s.wait(10) == 0
    items = list(s)
    assert b"".join(p for ch, p in items if ch == 1) == b"hello world"
    assert b"".join(p for ch, p in items if ch == 2) == b"bye\n"


@pytest.mark.parametrize("char", ["é", "中", "😀"])
def test_multibyte_character_split_at_every_offset_arrives_intact(kc, char):
    raw = char.encode()
    for cut in range(1, len(raw)):
        head = "".join(f"\\{b:03o}" for b in raw[:cut])
        tail = "".join(f"\\{b:03o}" for b in raw[cut:])
        frames = []
        s = ExecSession.open(
            "web-0",
            ["sh", "-c", f"printf '{head}'; sleep 0.2; printf '{tail}'"],
            "demo",
            tty=False,
            stdin=False,
            on_output=lambda ch, p, frames=frames: frames.append(p),
            **kc,
        )
        assert s.wait(10) == 0
        assert frames[0] == raw[:cut], "the character must really be split across frames"
        assert b"".join(frames) == raw
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        assert "".join(decoder.decode(f) for f in frames) + decoder.decode(b"", final=True) == char


def test_close_is_prompt_and_leaves_no_threads_or_sockets(tmp_path):
    # The cluster runs in a child process here: in-process, its own threads and descriptors would blur
    # what this process holds on the client side.
    with ExternalCluster(state_dir=tmp_path / "state") as cluster:
        kc = {"kubeconfig": cluster.kubeconfig, "context": "demo-admin"}
        # Warm up once so lazily created pools and caches are not counted as leaks.
        ExecSession.open("web-0", ["true"], "demo", tty=False, stdin=False, **kc).wait(10)
        proc = psutil.Process()
        threads_before = {t.ident for t in threading.enumerate()}
        fds_before = proc.num_fds()
        sessions = [ExecSession.open("web-0", None, "demo", **kc) for _ in range(5)]
        assert proc.num_fds() > fds_before
        started = time.monotonic()
        for s in sessions:
            s.close()
        assert time.monotonic() - started < 5
        assert all(s.ended and s.end_reason == "closed" for s in sessions)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            leaked = {t.ident for t in threading.enumerate()} - threads_before
            if not leaked and proc.num_fds() <= fds_before:
                break
            time.sleep(0.05)
        assert not [t.name for t in threading.enumerate() if t.ident not in threads_before]
        assert proc.num_fds() <= fds_before
