"""The lane relay in a real Jupyter Server (k8sterm_widget/lane/server.py) with the kernel's end
(k8sterm_widget/lane/kernel.py) in this process and a WebSocket client as the browser.

The server is a subprocess started like the tests' JupyterLab (our extension enabled by the venv's config),
with a token, so that authentication is real.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import websocket as wsclient

from k8sterm_widget.lane import decode, encode
from k8sterm_widget.lane.kernel import Lane

TOKEN = "lane-test-token"
START_TIMEOUT = 60.0


class Server:
    def __init__(self, home: Path) -> None:
        with socket_port() as port:
            self.port = port
        self.log_path = home / "server.log"
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        }
        env.pop("K8STERM_LANE", None)
        cmd = [
            sys.executable, "-m", "jupyter_server", "--no-browser", "--ip=127.0.0.1", f"--port={self.port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={home}",
        ]  # fmt: skip
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=home)
        self.path = self._wait_ready()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_ready(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log()
            try:
                url = f"http://127.0.0.1:{self.port}/api/status?token={TOKEN}"
                with urllib.request.urlopen(url, timeout=2):
                    pass
            except OSError:
                time.sleep(0.2)
                continue
            found = re.search(r"terminal lanes relayed through (\S+)", self.log())
            assert found, self.log()
            return found.group(1)
        raise AssertionError(f"server not ready:\n{self.log()}")

    def ws(self, lane: str, *, token: bool = True) -> wsclient.WebSocket:
        query = f"?token={TOKEN}" if token else ""
        return wsclient.create_connection(f"ws://127.0.0.1:{self.port}/k8sterm/lane/{lane}{query}", timeout=5)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.s = socket.socket()
        self.s.bind(("127.0.0.1", 0))
        return self.s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.s.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("lane-server"))
    yield srv
    srv.stop()
    assert not Path(srv.path).exists(), "the relay's socket directory outlives the server"


class KernelEnd:
    """A kernel-side lane whose events land in queues."""

    def __init__(self, path: str) -> None:
        self.messages: queue.Queue = queue.Queue()
        self.events: queue.Queue = queue.Queue()
        self.lane = Lane(
            path,
            on_message=lambda _lane, content, buffers: self.messages.put((content, buffers)),
            on_open=lambda _lane: self.events.put("open"),
            on_close=lambda _lane: self.events.put("closed"),
        )


def test_relay_socket_is_private(server):
    assert oct(os.stat(os.path.dirname(server.path)).st_mode & 0o777) == "0o700"


def test_messages_go_both_ways_byte_exact(server):
    kernel = KernelEnd(server.path)
    ws = server.ws(kernel.lane.id)
    assert kernel.events.get(timeout=5) == "open" and kernel.lane.is_open
    payload = bytes(range(256)) * 100
    ws.send_binary(encode({"type": "input", "id": "fe", "seq": 0}, [payload]))
    assert kernel.messages.get(timeout=5) == ({"type": "input", "id": "fe", "seq": 0}, [payload])
    assert kernel.lane.send({"type": "output", "offset": 7}, [b"\x1b[1mhi\xe2\x82"])
    assert decode(ws.recv()) == ({"type": "output", "offset": 7}, [b"\x1b[1mhi\xe2\x82"])
    ws.close()
    assert kernel.events.get(timeout=5) == "closed"  # the browser left: the kernel's end closes too


def test_kernel_closing_closes_the_browser_end(server):
    kernel = KernelEnd(server.path)
    ws = server.ws(kernel.lane.id)
    assert kernel.events.get(timeout=5) == "open"
    kernel.lane.close()
    try:
        data = ws.recv()  # the close frame: websocket-client answers it and returns nothing
    except wsclient.WebSocketConnectionClosedException:
        data = ""
    assert not data and not ws.connected


def test_an_id_is_claimed_once_and_unknown_ids_are_404(server):
    kernel = KernelEnd(server.path)
    ws = server.ws(kernel.lane.id)
    with pytest.raises(wsclient.WebSocketBadStatusException) as second:
        server.ws(kernel.lane.id)
    assert second.value.status_code == 404
    with pytest.raises(wsclient.WebSocketBadStatusException) as unknown:
        server.ws("0" * 32)
    assert unknown.value.status_code == 404
    ws.close()


def test_without_a_login_the_lane_is_refused_and_stays_claimable(server):
    kernel = KernelEnd(server.path)
    with pytest.raises(wsclient.WebSocketBadStatusException) as refused:
        server.ws(kernel.lane.id, token=False)
    assert refused.value.status_code == 403
    ws = server.ws(kernel.lane.id)  # the owner still gets it
    assert kernel.events.get(timeout=5) == "open"
    ws.close()


def test_a_refused_handshake_does_not_use_up_the_lane(server):
    """A logged-in request whose upgrade tornado refuses (after the claim) leaves the lane to its owner."""
    kernel = KernelEnd(server.path)
    url = f"ws://127.0.0.1:{server.port}/k8sterm/lane/{kernel.lane.id}?token={TOKEN}"
    with pytest.raises(wsclient.WebSocketBadStatusException) as version:
        wsclient.create_connection(url, timeout=5, header={"Sec-WebSocket-Version": "99"})
    assert version.value.status_code == 426  # a WebSocket version tornado does not speak
    with pytest.raises(urllib.error.HTTPError) as plain:  # a plain GET, no Upgrade
        urllib.request.urlopen(url.replace("ws://", "http://"), timeout=5)
    assert plain.value.code == 400
    ws = server.ws(kernel.lane.id)  # the owner still gets it
    assert kernel.events.get(timeout=5) == "open" and kernel.lane.is_open
    ws.close()


def test_text_and_oversized_messages_from_the_browser_are_dropped(server):
    kernel = KernelEnd(server.path)
    ws = server.ws(kernel.lane.id)
    assert kernel.events.get(timeout=5) == "open"
    ws.send("not binary")
    ws.send_binary(b"\x00\x00\x00\x05{}")  # a bad frame: relayed, the kernel end drops the lane
    assert kernel.events.get(timeout=5) == "closed"
    assert kernel.messages.empty()


def test_a_kernel_that_registers_junk_is_disconnected(server):
    import socket
    import struct

    for first in (b"\x00\x00\x00\x02[]", struct.pack(">I", 1 << 30)):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(server.path)
            s.sendall(first)
            assert s.recv(10) == b""  # closed by the server
