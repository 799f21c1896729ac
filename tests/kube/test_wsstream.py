"""The exec transport: protocol negotiation, keepalive, flow control, idle cost, and dead servers."""

import signal
import threading
import time

import psutil
import pytest

from k8sterm_widget.demo.external import ExternalCluster
from k8sterm_widget.errors import ConnectionLost, ProtocolError
from k8sterm_widget.kube import config as kconfig
from k8sterm_widget.kube.wsstream import STDIN, V4, V5, ExecStream
from k8sterm_widget.session import ExecSession


@pytest.fixture
def cluster(demo_cluster):
    return kconfig.resolve(kubeconfig=demo_cluster.kubeconfig, context="demo-admin")


def open_stream(cluster, command, *, subprotocols=(V5, V4), stdin=False, ping_interval=30.0):
    out, ended = bytearray(), threading.Event()
    ends = []

    def on_end(end):
        ends.append(end)
        ended.set()

    s = ExecStream.connect(
        cluster,
        namespace="demo",
        pod="web-0",
        container="nginx",
        command=command,
        stdin=stdin,
        subprotocols=subprotocols,
        on_message=lambda ch, p: out.extend(p),
        on_end=on_end,
        ping_interval=ping_interval,
    )
    return s, out, ended, ends


def test_v5_is_preferred_and_v4_still_works(cluster):
    s, out, ended, ends = open_stream(cluster, ["sh", "-c", "cat; echo done"], stdin=True)
    assert s.protocol == V5
    s.send(STDIN, b"x")
    s.close_channel(STDIN)
    assert ended.wait(10) and out == bytearray(b"xdone\n") and ends[0].clean

    s, out, ended, ends = open_stream(cluster, ["echo", "v4"], subprotocols=(V4,))
    assert s.protocol == V4
    assert ended.wait(10) and out == bytearray(b"v4\n")
    assert b'"Success"' in ends[0].status
    with pytest.raises(ProtocolError, match="cannot close stdin"):
        s.close_channel(STDIN)


def test_pings_keep_an_idle_stream_alive(cluster):
    screen = bytearray()
    s = ExecSession.open(
        "web-0",
        ["cat"],
        "demo",
        tty=False,
        on_output=lambda ch, p: screen.extend(p),
        ping_interval=0.2,
        kubeconfig=cluster.source,
        context="demo-admin",
    )
    time.sleep(1.5)  # several ping/pong rounds with no data at all
    assert not s.ended
    s.write(b"still here")
    deadline = time.monotonic() + 5
    while screen != bytearray(b"still here") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert screen == bytearray(b"still here")
    s.close()


def test_paused_reading_applies_backpressure_and_resume_delivers_everything(cluster):
    size = 20 * 1024 * 1024
    s, out, ended, ends = open_stream(cluster, ["head", "-c", str(size), "/dev/zero"])
    s.pause_reading()
    time.sleep(1.0)
    stalled = len(out)
    time.sleep(0.5)
    assert not ended.is_set(), ends  # the server must still be waiting for us to read
    assert len(out) == stalled < size  # nothing more arrives while paused
    s.resume_reading()
    assert ended.wait(30)
    assert ends[0].clean and b'"Success"' in (ends[0].status or b""), ends
    assert len(out) == size


def test_ten_idle_shells_cost_no_cpu(cluster):
    sessions = [
        ExecSession.open("web-1", None, "demo", kubeconfig=cluster.source, context="demo-admin")
        for _ in range(10)
    ]
    time.sleep(0.5)
    me = psutil.Process()
    before = sum(me.cpu_times()[:2])
    time.sleep(3)
    used = sum(me.cpu_times()[:2]) - before
    for s in sessions:
        s.close()
    assert used < 0.1, f"10 idle shells used {used:.3f} s of CPU in 3 s"


# --- servers that die or hang ----------------------------------------------------------------------------


@pytest.fixture
def own_cluster(tmp_path):
    """A demo cluster in a child process, so the test can SIGKILL or SIGSTOP it."""
    with ExternalCluster(state_dir=tmp_path / "state") as c:
        yield c


def test_killed_server_ends_the_session_with_a_reason(own_cluster):
    s = ExecSession.open("web-0", None, "demo", kubeconfig=own_cluster.kubeconfig, ping_interval=1.0)
    started = time.monotonic()
    own_cluster.kill()
    with pytest.raises(ConnectionLost) as info:
        s.wait(5)
    elapsed = time.monotonic() - started
    s.close()
    assert elapsed < 4  # the socket's end, not the 5 s wait (no tighter bound: machines are noisy)
    assert "connection" in str(info.value)


def test_frozen_server_is_detected_by_keepalive(own_cluster):
    s = ExecSession.open("web-0", None, "demo", kubeconfig=own_cluster.kubeconfig, ping_interval=0.5)
    own_cluster.signal(signal.SIGSTOP)
    started = time.monotonic()
    with pytest.raises(ConnectionLost, match="keepalive"):
        s.wait(5)
    elapsed = time.monotonic() - started
    s.close()  # a client that gave up closes its socket: the thawed server's stop need not wait on it
    assert elapsed < 4  # the keepalive, not the 5 s wait (two 0.5 s intervals on an idle machine)
