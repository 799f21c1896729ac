"""Review findings in the demo apiserver: each test failed before its fix.

What a real apiserver answers to odd but possible requests (a token with bytes that are not UTF-8, a body
nested too deep or too large), what it does not send (a ``Server`` header), and resources that must not
outlive a client (a watch whose client left) or leak (a private file written over a leftover).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import ssl
import time

import pytest
import requests
from aiohttp import web
from demo_helpers import api, read_all, stream_query, ws_connect

from k8sterm_widget.demo import cluster, exec_ws, pki

FROZEN = """
users:
  - name: admin
    rules: [{verbs: ["*"], resources: ["*"]}, {verbs: ["*"], nonResourceURLs: ["*"]}]
namespaces:
  - name: lab
    pods:
      - name: p
        containers:
          - {name: c, image: "busybox:1.36", status: {state: waiting, reason: ContainerCreating}}
"""


def _raw(c, request: bytes) -> bytes:
    """Send raw bytes over TLS; return what comes back until the server closes or goes quiet."""
    ctx = ssl.create_default_context(cafile=c.ca_file)
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", c.port)), server_hostname="127.0.0.1") as s:
        s.sendall(request)
        s.settimeout(3)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
                if b"\r\n\r\n" in out and b"101 Switching" in out:
                    break
        except TimeoutError:
            pass
    return out


def test_no_server_header(demo_cluster):
    for response in (
        api(demo_cluster, "GET", "/version", user=None),
        api(demo_cluster, "GET", "/nonsense"),
        api(demo_cluster, "GET", "/api/v1/pods", params={"watch": "1", "timeoutSeconds": "1"}),
    ):
        assert "Server" not in response.headers, response.headers
    ws = ws_connect(demo_cluster, "web-1", stream_query(["true"]))
    assert "server" not in {k.lower() for k in ws.getheaders()}
    read_all(ws)


def test_token_that_is_not_utf8_is_401_not_500(demo_cluster):
    head = _raw(
        demo_cluster,
        b"GET /api HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\r\nConnection: close\r\n\r\n",
    )
    assert head.startswith(b"HTTP/1.1 401 "), head[:200]


def test_deeply_nested_body_is_400_not_500(demo_cluster):
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    r = api(demo_cluster, "POST", path, data="[" * 100_000, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["reason"]) == (400, "BadRequest")


def test_oversized_body_is_a_status(demo_cluster):
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    r = api(demo_cluster, "POST", path, data=b" " * (4 << 20), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert r.json()["reason"] == "RequestEntityTooLarge"
    assert r.json()["message"] == "Request entity too large: limit is 3145728"


def test_watch_ends_when_its_client_leaves(tmp_path):
    """Without handler cancellation the watch (its task, queue and socket) lived until the next event."""
    path = tmp_path / "scenario.yaml"
    path.write_text(FROZEN)
    with cluster(scenario=path) as c:
        store = c._ctx.store
        r = api(c, "GET", "/api/v1/namespaces/lab/pods", params={"watch": "1"}, stream=True)
        lines = r.iter_lines()  # kept: a dropped iterator closes the connection
        assert json.loads(next(lines))["type"] == "ADDED"
        assert len(store._watchers) == 1
        r.close()
        deadline = time.monotonic() + 5
        while store._watchers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not store._watchers


def test_watch_with_timeout_zero_stays_open(tmp_path):
    """``timeoutSeconds=0`` means no client timeout; ending at once made such clients re-watch in a loop."""
    path = tmp_path / "scenario.yaml"
    path.write_text(FROZEN)
    with cluster(scenario=path) as c:
        params = {"watch": "1", "timeoutSeconds": "0"}
        r = requests.get(
            c.server + "/api/v1/namespaces/lab/pods",
            params=params,
            headers={"Authorization": f"Bearer {c.token('admin')}"},
            verify=c.ca_file,
            stream=True,
            timeout=(5, 1.0),
        )
        lines = r.iter_lines()
        assert json.loads(next(lines))["type"] == "ADDED"
        with pytest.raises(requests.exceptions.ConnectionError):  # a read timeout: still open, idle
            next(lines)
        r.close()


def test_watch_starts_from_the_state_it_registered_at(tmp_path, monkeypatch):
    """A change while the response is prepared comes once, as MODIFIED after the ADDED of the old state."""
    path = tmp_path / "scenario.yaml"
    path.write_text(FROZEN)
    with cluster(scenario=path) as c:
        store = c._ctx.store
        original = web.StreamResponse.prepare

        async def prepare(self, request):
            if request.query.get("watch"):
                store.update_pod("lab", "p", lambda o: o["metadata"].update(labels={"changed": "yes"}))
            return await original(self, request)

        monkeypatch.setattr(web.StreamResponse, "prepare", prepare)
        r = api(c, "GET", "/api/v1/namespaces/lab/pods", params={"watch": "1", "timeoutSeconds": "1"})
        events = [json.loads(line) for line in r.text.splitlines()]
    assert [(e["type"], e["object"]["metadata"].get("labels")) for e in events] == [
        ("ADDED", None),
        ("MODIFIED", {"changed": "yes"}),
    ]


class _SilentSocket:
    """A WebSocket whose client never sends anything."""

    closed = False

    async def send_bytes(self, data: bytes) -> None:
        pass

    def __aiter__(self):
        return self

    async def __anext__(self):
        await asyncio.Event().wait()


class _QuietProcess:
    """A process that never prints nor exits until killed."""

    killed = False

    async def read(self):
        await asyncio.Event().wait()

    async def kill(self) -> None:
        self.killed = True


def test_a_cancelled_session_leaves_no_task_behind():
    """Cancelled handler (the client vanished): the output pump and the client reader went on running."""
    spec = exec_ws.SessionSpec(
        kind="exec",
        options=exec_ws.StreamOptions(True, True, False, False, "c", ("cat",)),
        negotiation=exec_ws.negotiate(exec_ws.V5),
        container="c",
    )

    async def main() -> list[asyncio.Task]:
        process = _QuietProcess()

        async def start() -> _QuietProcess:
            return process

        handler = asyncio.ensure_future(exec_ws.Session(_SilentSocket(), spec).run(start, lambda code: {}))
        await asyncio.sleep(0.05)
        handler.cancel()
        with pytest.raises(asyncio.CancelledError):
            await handler
        assert process.killed
        await asyncio.sleep(0)
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(main()) == []


def test_private_file_replaces_a_leftover_readable_temp_file(tmp_path):
    target = tmp_path / "kubeconfig"
    leftover = tmp_path / "kubeconfig.tmp"
    leftover.write_text("old")
    os.chmod(leftover, 0o644)
    pki._write_private(target, b"token: secret\n")
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert target.read_bytes() == b"token: secret\n" and not leftover.exists()


def test_private_file_does_not_follow_a_planted_link(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("untouched")
    (tmp_path / "tokens.json.tmp").symlink_to(elsewhere)
    pki._write_private(tmp_path / "tokens.json", b"{}")
    assert elsewhere.read_text() == "untouched"
    assert os.stat(tmp_path / "tokens.json").st_mode & 0o777 == 0o600


def test_requests_still_served_after_all_that(demo_cluster):
    assert (
        requests.get(demo_cluster.server + "/healthz", verify=demo_cluster.ca_file, timeout=10).text == "ok"
    )
