"""Raw HTTP and WebSocket access to the demo cluster, for tests that look at bytes rather than clients."""

from __future__ import annotations

import json
import ssl
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import requests
import websocket

from k8sterm_widget.demo import DemoCluster

#: A scenario's head: namespace ``demo`` and an ``admin`` who may do everything; manifests follow.
ADMIN_SCENARIO = """
namespace: demo
users:
  - name: admin
    rules: [{verbs: ["*"], resources: ["*"]}, {verbs: ["*"], nonResourceURLs: ["*"]}]
manifests:
  - {apiVersion: v1, kind: Namespace, metadata: {name: demo}}
"""

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"


def api(
    cluster: DemoCluster,
    method: str,
    path: str,
    *,
    user: str | None = "admin",
    token: str | None = None,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> requests.Response:
    """An HTTPS request to the cluster as ``user`` (None: no credentials) or with an explicit token."""
    hdrs = dict(headers or {})
    bearer = token if token is not None else (cluster.token(user) if user else None)
    if bearer is not None:
        hdrs["Authorization"] = f"Bearer {bearer}"
    return requests.request(
        method, cluster.server + path, headers=hdrs, verify=cluster.ca_file, timeout=30, **kw
    )


def stream_query(
    command: list[str] | None = None,
    *,
    container: str | None = None,
    stdin: bool = False,
    stdout: bool = True,
    stderr: bool = True,
    tty: bool = False,
    raw: dict[str, str] | None = None,
) -> str:
    params: list[tuple[str, str]] = [("command", c) for c in command or []]
    if container:
        params.append(("container", container))
    for name, value in (("stdin", stdin), ("stdout", stdout), ("stderr", stderr), ("tty", tty)):
        if value:
            params.append((name, "true"))
    params += list((raw or {}).items())
    return urllib.parse.urlencode(params)


def ws_connect(
    cluster: DemoCluster,
    pod: str,
    query: str,
    *,
    namespace: str = "demo",
    verb: str = "exec",
    protocols: list[str] | None = None,
    user: str = "admin",
    token: str | None = None,
    timeout: float = 20,
) -> websocket.WebSocket:
    url = f"wss://127.0.0.1:{cluster.port}/api/v1/namespaces/{namespace}/pods/{pod}/{verb}?{query}"
    header = [f"Authorization: Bearer {token if token is not None else cluster.token(user)}"]
    ws = websocket.WebSocket(sslopt={"ca_certs": cluster.ca_file, "cert_reqs": ssl.CERT_REQUIRED})
    ws.settimeout(timeout)
    ws.connect(url, header=header, subprotocols=protocols if protocols is not None else [V5])
    return ws


@dataclass
class Transcript:
    """Everything the server sent on one session, by channel, plus how it ended."""

    frames: list[tuple[int, bytes]] = field(default_factory=list)  # (opcode, payload)
    close_code: int | None = None

    def channel(self, ch: int, *, b64: bool = False) -> bytes:
        out = bytearray()
        for _, payload in self.frames:
            if not payload:
                continue
            if b64:
                import base64

                if payload[0] - ord("0") == ch:
                    out += base64.b64decode(payload[1:])
            elif payload[0] == ch:
                out += payload[1:]
        return bytes(out)

    def status(self) -> dict[str, Any]:
        raw = self.channel(3)
        return json.loads(raw) if raw else {}

    @property
    def error_frames(self) -> list[bytes]:
        return [p for _, p in self.frames if p and p[0] == 3]


def read_all(ws: websocket.WebSocket) -> Transcript:
    """Read until the server closes; answers the close frame like any client."""
    t = Transcript()
    while True:
        try:
            opcode, frame = ws.recv_data_frame(control_frame=True)
        except (OSError, websocket.WebSocketException):
            break  # closed without (or after) a close frame
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            data = frame.data
            t.close_code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            break
        if opcode in (websocket.ABNF.OPCODE_BINARY, websocket.ABNF.OPCODE_TEXT):
            t.frames.append((opcode, frame.data if isinstance(frame.data, bytes) else frame.data.encode()))
    ws.close()
    return t
