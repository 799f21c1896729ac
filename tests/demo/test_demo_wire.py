"""The exec/attach wire protocol byte by byte: negotiation, framing, errors, hostile clients, volume."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor

import aiohttp
import psutil
import pytest
import websocket
from demo_helpers import V4, V5, api, read_all, stream_query, ws_connect

EXIT3 = ["sh", "-c", "echo out; echo err >&2; exit 3"]


def _session(cluster, command, *, protocols, pod="web-1", **kw):
    query = stream_query(command, **kw)
    return read_all(ws_connect(cluster, pod, query, protocols=protocols))


def _exec_count() -> int:
    """Processes of exec sessions started by this test process (the runtime's nsenter/_enter helpers)."""
    n = 0
    for p in psutil.Process().children(recursive=True):
        try:
            argv = p.cmdline()
        except psutil.Error:
            continue
        if argv and (
            os.path.basename(argv[0]) in ("nsenter", "setsid") or any(a.endswith("_enter.py") for a in argv)
        ):
            n += 1
    return n


def _wait_no_exec_processes(baseline: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while (n := _exec_count()) > baseline and time.monotonic() < deadline:
        time.sleep(0.1)
    return n


# --- negotiation and framing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offer", "chosen"),
    [
        ([V5], V5),
        ([V4, V5], V5),  # v5 anywhere in the offer: the apiserver's translator, v5 only
        ([V4], V4),
        (["v4.base64.channel.k8s.io", V4], "v4.base64.channel.k8s.io"),
        (["bogus", "base64.channel.k8s.io", "channel.k8s.io"], "base64.channel.k8s.io"),
        (["channel.k8s.io"], "channel.k8s.io"),
        ([], None),
    ],
)
def test_negotiation_echoes_first_supported(demo_cluster, offer, chosen):
    ws = ws_connect(demo_cluster, "web-1", stream_query(["true"]), protocols=offer)
    assert ws.subprotocol == chosen
    read_all(ws)


def test_unsupported_protocols_are_refused(demo_cluster):
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws_connect(demo_cluster, "web-1", stream_query(["true"]), protocols=["nope.k8s.io"])
    assert info.value.status_code == 403


def test_v5_session_transcript(demo_cluster):
    t = _session(demo_cluster, EXIT3, protocols=[V5])
    assert t.frames[0] == (websocket.ABNF.OPCODE_BINARY, b"\x01")  # the empty first frame on stdout
    assert all(op == websocket.ABNF.OPCODE_BINARY for op, _ in t.frames)
    assert t.channel(1) == b"out\n" and t.channel(2) == b"err\n"
    assert len(t.error_frames) == 1 and t.close_code == 1000
    assert t.channel(3) == (
        b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: command '
        b'terminated with exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode",'
        b'"message":"3"}]}}'
    )


def test_v4_session_transcript(demo_cluster):
    t = _session(demo_cluster, EXIT3, protocols=[V4])
    # Go's json.Marshal escapes <, > and & (here in ">&2") as \u003e and \u0026.
    assert t.channel(3) == (
        b'{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: '
        b'error executing command [sh -c echo out; echo err \\u003e\\u00262; exit 3], exit code 3",'
        b'"reason":"NonZeroExitCode",'
        b'"details":{"causes":[{"reason":"ExitCode","message":"3"}]}}'
    )
    ok = _session(demo_cluster, ["true"], protocols=[V4])
    assert ok.channel(3) == b'{"metadata":{},"status":"Success"}' and ok.close_code == 1000


def test_base64_protocol_frames_are_text(demo_cluster):
    query = stream_query(["cat"], stdin=True)
    ws = ws_connect(demo_cluster, "web-1", query, protocols=["v4.base64.channel.k8s.io"])
    first = ws.recv_data_frame()
    assert (first[0], first[1].data) == (websocket.ABNF.OPCODE_TEXT, b"1")  # '1' + base64("")
    ws.send("0!!not base64!!")  # undecodable: dropped, like wsstream
    ws.send("0" + base64.b64encode(b"hello\n").decode())
    echo = ws.recv_data_frame()
    assert (echo[0], echo[1].data) == (websocket.ABNF.OPCODE_TEXT, b"1" + base64.b64encode(b"hello\n"))
    ws.close(timeout=1)  # pre-v5 clients can only end stdin by closing the socket


def test_base64_status_and_output(demo_cluster):
    t = _session(demo_cluster, EXIT3, protocols=["v4.base64.channel.k8s.io"])
    assert t.channel(1, b64=True) == b"out\n" and t.channel(2, b64=True) == b"err\n"
    assert json.loads(t.channel(3, b64=True))["reason"] == "NonZeroExitCode"


def test_pre_v4_protocols_send_plain_text_only_on_failure(demo_cluster):
    failed = _session(demo_cluster, EXIT3, protocols=["channel.k8s.io"])
    assert failed.channel(3) == (
        b"command terminated with non-zero exit code: error executing command [sh -c echo out; echo err >&2; "
        b"exit 3], exit code 3"
    )
    ok = _session(demo_cluster, ["true"], protocols=["channel.k8s.io"])
    assert ok.channel(3) == b"" and ok.close_code == 1000
    none = _session(demo_cluster, ["true"], protocols=[])
    assert none.channel(3) == b""


def test_first_frame_follows_lowest_output_channel(demo_cluster):
    only_err = _session(demo_cluster, ["true"], protocols=[V5], stdout=False, stderr=True)
    assert only_err.frames[0][1] == b"\x02"
    none = _session(demo_cluster, ["true"], protocols=[V5], stdin=True, stdout=False, stderr=False)
    assert none.frames[0][1] == b"\x03"


def test_booleans_parse_like_apimachinery(demo_cluster):
    # stdout=False (any case) and stdout=0 are false; an empty value is true.
    for raw, expect_out in (({"stdout": "False"}, b""), ({"stdout": "0"}, b""), ({"stdout": ""}, b"x\n")):
        query = stream_query(["echo", "x"], stdout=False, stderr=False, raw={**raw, "stderr": "1"})
        t = read_all(ws_connect(demo_cluster, "web-1", query))
        assert t.channel(1) == expect_out, raw


# --- errors after the upgrade, per path -----------------------------------------------------------


def test_command_not_found_per_path(demo_cluster):
    v5 = _session(demo_cluster, ["nosuch"], protocols=[V5]).status()
    v4 = _session(demo_cluster, ["nosuch"], protocols=[V4]).status()
    tail = ('OCI runtime exec failed: exec failed: unable to start container process: exec: "nosuch": '
            "executable file not found in $PATH: unknown")  # fmt: skip
    assert v5["reason"] == v4["reason"] == "InternalError" and v5["code"] == v4["code"] == 500
    assert v5["message"].startswith(
        "Internal error occurred: Internal error occurred: error executing command in container: "
        'failed to exec in container: failed to start exec "'
    ) and v5["message"].endswith(tail)
    assert v4["message"].startswith("Internal error occurred: error executing command in container: ")
    assert v4["details"]["causes"][0]["message"] == v4["message"].removeprefix("Internal error occurred: ")
    assert "kind" not in v5 and list(v5) == ["metadata", "status", "message", "reason", "details", "code"]


def test_container_not_running_per_path(demo_cluster):
    t = _session(demo_cluster, ["true"], protocols=[V5], pod="crashloop")
    assert t.status() == {
        "metadata": {},
        "status": "Failure",
        "message": 'Internal error occurred: unable to upgrade connection: container not found ("app")',
        "reason": "InternalError",
        "details": {"causes": [{"message": 'unable to upgrade connection: container not found ("app")'}]},
        "code": 500,
    }
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws_connect(demo_cluster, "crashloop", stream_query(["true"]), protocols=[V4])
    assert info.value.status_code == 500
    assert info.value.resp_body == b'container not found ("app")'


def test_no_streams_requested(demo_cluster):
    query = stream_query(["true"], stdout=False, stderr=False)
    t = read_all(ws_connect(demo_cluster, "web-1", query, protocols=[V5]))
    assert t.status()["message"] == (
        "Internal error occurred: unable to upgrade connection: "
        "you must specify at least 1 of stdin, stdout, stderr"
    )
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        ws_connect(demo_cluster, "web-1", query, protocols=[V4])
    assert info.value.status_code == 400


# --- errors before the upgrade (Status JSON with kind) ------------------------------------------------


@pytest.mark.parametrize(
    ("path", "user", "code", "body"),
    [
        (
            "/api/v1/namespaces/demo/pods/nope/exec?command=true&stdout=1",
            "admin",
            404,
            {
                "message": 'pods "nope" not found',
                "reason": "NotFound",
                "details": {"name": "nope", "kind": "pods"},
            },
        ),
        (
            "/api/v1/namespaces/demo/pods/web-0/exec?command=true&stdout=1",
            "admin",
            400,
            {
                "message": "a container name must be specified for pod web-0, choose one of: [nginx sidecar]",
                "reason": "BadRequest",
            },
        ),
        (
            "/api/v1/namespaces/jobs/pods/worker/exec?command=true&stdout=1&container=x",
            "admin",
            400,
            {"message": "container x is not valid for pod worker", "reason": "BadRequest"},
        ),
        (
            "/api/v1/namespaces/demo/pods/pending/exec?command=true&stdout=1",
            "admin",
            400,
            {"message": "pod pending does not have a host assigned", "reason": "BadRequest"},
        ),
        (
            "/api/v1/namespaces/demo/pods/web-1/exec?command=true&stdout=1",
            "viewer",
            403,
            {
                "message": 'pods "web-1" is forbidden: User "viewer" cannot get resource "pods/exec" '
                'in API group "" in '
                'the namespace "demo"',
                "reason": "Forbidden",
                "details": {"name": "web-1", "kind": "pods"},
            },
        ),
        (
            "/api/v1/namespaces/demo/pods/web-1/exec?command=true&stdout=1",
            "admin",
            400,
            {"message": "Upgrade request required", "reason": "BadRequest"},
        ),
    ],
    ids=["404", "container-required", "wrong-container", "unscheduled", "403", "no-upgrade"],
)
def test_pre_upgrade_errors(demo_cluster, path, user, code, body):
    r = api(demo_cluster, "GET", path, user=user)
    assert r.status_code == code
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        **body,
        "code": code,
    }


def test_websocket_get_needs_create_permission(demo_cluster, tmp_path):
    """A user with ``get`` but not ``create`` on pods/exec is refused since 1.35 (empty RBAC reason)."""
    from k8sterm_widget.demo import auth
    from k8sterm_widget.demo.scenario import Rule

    user = auth.User("getter", ("system:authenticated",), (Rule(verbs=["get"], resources=["pods/exec"]),))
    info = auth.request_info("GET", "/api/v1/namespaces/demo/pods/web-1/exec", {})
    assert auth.allowed(user, info) and not auth.allowed(user, auth.with_verb(info, "create"))


def test_spdy_request_gets_the_same_checks_then_a_clear_status(demo_cluster):
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "SPDY/3.1",
        "X-Stream-Protocol-Version": "v4.channel.k8s.io",
    }
    path = "/api/v1/namespaces/demo/pods/web-1/exec?command=true&stdout=true"
    viewer = api(demo_cluster, "POST", path, user="viewer", headers=headers)
    assert viewer.status_code == 403 and "cannot create resource" in viewer.json()["message"]
    admin = api(demo_cluster, "POST", path, headers=headers)
    assert admin.status_code == 400 and "WebSocket only" in admin.json()["message"]


# --- stdin, resize, close ---------------------------------------------------------------------------


def test_tty_resize_stream(demo_cluster):
    query = stream_query(
        ["sh", "-c", "read x; stty size; read y; stty size"], stdin=True, tty=True, stderr=False
    )
    ws = ws_connect(demo_cluster, "web-1", query)
    ws.send_binary(b'\x04{"Width":100,"Height":30}\n')
    ws.send_binary(b"\x00go\r")
    time.sleep(0.3)
    ws.send_binary(b'\x04{"width":120,')  # split across frames, lower-case keys
    ws.send_binary(b'\x04"HEIGHT":40}{"Width":90,"Height":20}\n')
    time.sleep(0.3)
    ws.send_binary(b"\x00go\r")
    t = read_all(ws)
    text = t.channel(1).decode()
    assert "30 100" in text and "20 90" in text, text
    assert t.status()["status"] == "Success"


def test_bad_resize_json_stops_resizing_only(demo_cluster):
    query = stream_query(["sh", "-c", "read x; stty size"], stdin=True, tty=True, stderr=False)
    ws = ws_connect(demo_cluster, "web-1", query)
    ws.send_binary(b'\x04{"Width":100,"Height":30}')
    ws.send_binary(b'\x04{"Width":"wide"}')  # malformed: resize handling ends for the session
    ws.send_binary(b'\x04{"Width":50,"Height":10}')
    time.sleep(0.3)
    ws.send_binary(b"\x00go\r")
    t = read_all(ws)
    assert "30 100" in t.channel(1).decode()
    assert t.status()["status"] == "Success"


def test_stdin_close_on_v5(demo_cluster):
    query = stream_query(["sh", "-c", "wc -c; echo after"], stdin=True)
    ws = ws_connect(demo_cluster, "web-1", query)
    ws.send_binary(b"\x00" + b"x" * 1000)
    ws.send_binary(b"\xff\x00")
    t = read_all(ws)
    assert t.channel(1).split() == [b"1000", b"after"]
    assert t.status() == {"metadata": {}, "status": "Success"}


def test_pings_are_answered(demo_cluster):
    ws = ws_connect(demo_cluster, "web-1", stream_query(["sleep", "1"]))
    ws.ping(b"k8s")
    seen_pong = False
    while True:
        opcode, frame = ws.recv_data_frame(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_PONG:
            seen_pong = frame.data == b"k8s"
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
    assert seen_pong


def test_attach_streams_the_main_process(demo_cluster):
    ws = ws_connect(demo_cluster, "web-1", stream_query(stdout=True, stderr=True), verb="attach")
    _, frame = ws.recv_data_frame(control_frame=True)
    assert frame.data == b"\x01"
    ws.close()


# --- hostile clients ---------------------------------------------------------------------------------


def test_hostile_clients_do_not_hurt_the_server(demo_cluster, kubectl):
    baseline = _exec_count()
    # 1. a malformed CLOSE signal ends the session without a Status; the process is left to end by itself
    ws = ws_connect(demo_cluster, "web-1", stream_query(["sleep", "2"], stdin=True))
    ws.send_binary(b"\xff\x00\x01")
    t = read_all(ws)
    assert t.error_frames == [] and t.close_code == 1002
    # 2. unknown channels, frames on output channels, empty frames and text frames are ignored / accepted
    ws = ws_connect(demo_cluster, "web-1", stream_query(["head", "-c", "5"], stdin=True))
    for frame in (b"\x07junk", b"\xc8junk", b"\x01fake-stdout", b"\x03fake-status", b""):
        ws.send_binary(frame)
    ws.send("\x00hello")  # a text frame on a binary protocol carries raw bytes
    t = read_all(ws)
    assert t.channel(1) == b"hello" and t.status()["status"] == "Success"
    # 3. an oversize frame (> 32 MiB) is refused with 1009, the server keeps going
    ws = ws_connect(demo_cluster, "web-1", stream_query(["sleep", "2"], stdin=True))
    try:
        ws.send_binary(b"\x00" + b"\0" * (33 << 20))
    except (OSError, websocket.WebSocketException):
        pass
    t = read_all(ws)
    assert t.close_code in (1009, None)
    # 4. garbage instead of TLS, and a TLS connection that sends garbage HTTP
    with socket.create_connection(("127.0.0.1", demo_cluster.port), timeout=5) as raw:
        raw.sendall(b"\x00\xff garbage \r\n\r\n")
        raw.settimeout(2)
        try:
            raw.recv(100)
        except OSError:
            pass
    ctx = ssl.create_default_context(cafile=demo_cluster.ca_file)
    with (
        socket.create_connection(("127.0.0.1", demo_cluster.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            b"GET /api/v1/namespaces/demo/pods?%%%=\xff\xfe&labelSelector=((( HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        tls.recv(1000)
    # 5. bad tokens and garbage query strings become Statuses
    assert api(demo_cluster, "GET", "/api/v1/pods", token="garbage").status_code == 401
    assert (
        api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods?labelSelector=a%20in%20(b&limit=x").status_code
        == 400
    )
    r = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods/web-1/exec?stdout=1&command=true", headers={
        "Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
    })  # fmt: skip
    assert r.status_code == 400  # no Sec-WebSocket-Key: refused, not crashed
    # the server still serves, and no exec process is left behind once the detached ones ended
    assert kubectl("exec", "web-1", "--", "echo", "alive").stdout == "alive\n"
    assert _wait_no_exec_processes(baseline, timeout=10) <= baseline


def test_client_disconnect_leaves_a_non_tty_exec_running(demo_cluster):
    """A client that vanishes detaches: containerd's exec ends only when its process does (execInternal
    in its CRI server; kubernetes/kubernetes#89031), so the remote processes run on, unsignalled."""
    baseline = _exec_count()
    query = stream_query(["sh", "-c", "sleep 3 & sleep 3.1"], stdin=True)
    ws = ws_connect(demo_cluster, "web-1", query)
    ws.recv_data_frame(control_frame=True)
    ws.sock.close()  # vanish without a close frame
    time.sleep(0.5)
    out = read_all(ws_connect(demo_cluster, "web-1", stream_query(["ps", "-e", "-o", "args="]))).channel(1)
    assert out.split(b"\n").count(b"sleep 3") == 1 and out.split(b"\n").count(b"sleep 3.1") == 1, out
    assert _exec_count() > baseline  # the exec's helper still waits for its process
    assert _wait_no_exec_processes(baseline, timeout=10) <= baseline  # and goes once it has exited


# --- volume and concurrency ------------------------------------------------------------------------


@pytest.mark.slow
def test_100mb_round_trip_through_cat(demo_cluster):
    """Sending and receiving at once, from one event loop: an ``SSLSocket`` (websocket-client's) written by
    one thread while another reads it corrupts the TLS stream now and then, and the test then failed
    for the client's sake, not the server's."""
    payload = os.urandom(100 << 20)

    async def round_trip() -> tuple[bytes, bytes, int | None]:
        url = f"wss://127.0.0.1:{demo_cluster.port}/api/v1/namespaces/demo/pods/web-1/exec?"
        url += stream_query(["cat"], stdin=True, stderr=False)
        headers = {"Authorization": f"Bearer {demo_cluster.token('admin')}"}
        tls = ssl.create_default_context(cafile=demo_cluster.ca_file)
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, protocols=[V5], ssl=tls, headers=headers, max_msg_size=0) as ws,
        ):
            assert (await ws.receive_bytes(timeout=30)) == b"\x01"

            async def send() -> None:
                step = 1 << 18
                for i in range(0, len(payload), step):
                    await ws.send_bytes(b"\x00" + payload[i : i + step])
                await ws.send_bytes(b"\xff\x00")

            sender = asyncio.ensure_future(send())
            out, status = bytearray(), bytearray()
            async for msg in ws:
                assert msg.type == aiohttp.WSMsgType.BINARY, msg
                (out if msg.data[0] == 1 else status).extend(msg.data[1:])
            await sender
            return bytes(out), bytes(status), ws.close_code

    received, status, close_code = asyncio.run(asyncio.wait_for(round_trip(), 120))
    assert len(received) == len(payload)
    assert hashlib.sha256(received).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert json.loads(status)["status"] == "Success" and close_code == 1000


def test_50_concurrent_sessions(demo_cluster):
    def one(i: int) -> tuple[bytes, dict]:
        t = read_all(
            ws_connect(
                demo_cluster, "web-1", stream_query(["sh", "-c", f"sleep 0.5; echo {i}; exit {i % 5}"])
            )
        )
        return t.channel(1), t.status()

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one, range(50)))
    for i, (out, status) in enumerate(results):
        assert out == f"{i}\n".encode()
        if i % 5:
            assert status["details"]["causes"][0]["message"] == str(i % 5)
        else:
            assert status["status"] == "Success"
