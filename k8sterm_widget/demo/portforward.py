"""``pods/portforward``: ``kubectl port-forward`` and the Python clients' ``portforward``.

Two wire protocols, both over a WebSocket:

* ``SPDY/3.1+portforward.k8s.io`` (kubectl 1.31+): the WebSocket carries a SPDY byte stream (see
  :mod:`.spdy`); per forwarded connection the client opens an ``error`` and a ``data`` stream with the same
  ``requestID`` and ``port``; the data stream is spliced to the pod's port, a failure is written on the
  error stream with the kubelet's words.
* ``v4.channel.k8s.io`` (and its base64 twin; the official client's ``portforward``): the ports are in the
  query (``?ports=80,8080``); port ``i`` has data channel ``2i`` and error channel ``2i+1``; each channel
  first carries its port number (2 bytes, little endian), then the bytes.

Where a pod's port is reached from is the node's business (:meth:`Node.connect`): on a per-pod network the
pod IP, else the host's loopback, where the demo's containers listen.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from typing import Any

from aiohttp import web

from . import auth, spdy
from . import status as st
from .context import CTX, INFO, USER, respond_status

log = logging.getLogger(__name__)

TUNNEL = "SPDY/3.1+portforward.k8s.io"
CHANNEL_PROTOCOLS = ("v4.channel.k8s.io", "v4.base64.channel.k8s.io", "portforward.k8s.io")
CHUNK = 32 * 1024


def _refused(pod: Any, port: int) -> str:
    """The kubelet's (containerd's) text for a port nothing listens on."""
    uid = pod["metadata"]["uid"]
    sandbox = uid.replace("-", "")
    return (
        f"error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward in network "
        "namespace "
        f'"/var/run/netns/cni-{uid}": failed to connect to localhost:{port} inside namespace "{sandbox}", '
        f"IPv4: dial tcp4 127.0.0.1:{port}: connect: connection refused "
        f"IPv6 dial tcp6 [::1]:{port}: connect: "
        "connection refused "
    )


async def serve(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CTX]
    info, user = request[INFO], request[USER]
    if info.verb != "create" and not auth.allowed(user, auth.with_verb(info, "create")):
        return respond_status(
            st.forbidden("pods", info.name, auth.forbidden_reason(user, auth.with_verb(info, "create")))
        )
    pod = ctx.store.pod(info.namespace, info.name)
    if pod is None:
        return respond_status(st.not_found("pods", info.name))
    if pod["status"].get("phase") != "Running":
        return respond_status(
            st.bad_request(
                "unable to forward port because pod is not running. "
                f"Current status={pod['status'].get('phase')}"
            )
        )
    offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
    if request.headers.get("Upgrade", "").lower() != "websocket":
        return respond_status(
            st.bad_request(
                "this demo cluster serves pods/portforward over WebSocket only (SPDY/3.1+portforward.k8s.io, "
                "v4.channel.k8s.io); kubectl 1.31+ uses it unless "
                "KUBECTL_PORT_FORWARD_WEBSOCKETS=false is set"
            )
        )
    protocol = next((p for p in offered if p == TUNNEL), None) or next(
        (p for p in offered if p in CHANNEL_PROTOCOLS), None
    )
    if protocol is None:
        return web.Response(status=400, text=f"unable to upgrade: no supported subprotocol in {offered}\n")
    ws = web.WebSocketResponse(protocols=[protocol], autoping=True, max_msg_size=0)
    await ws.prepare(request)
    node = ctx.node
    if protocol == TUNNEL:
        await _tunnel(ws, node, pod)
    else:
        await _channels(ws, node, pod, request.query.getall("ports", []), base64_mode="base64" in protocol)
    return ws


async def _pump(reader: asyncio.StreamReader, send: Any) -> None:
    while True:
        chunk = await reader.read(CHUNK)
        if not chunk:
            return
        await send(chunk)


# --- SPDY over WebSocket --------------------------------------------------------------------------


async def _tunnel(ws: web.WebSocketResponse, node: Any, pod: Any) -> None:
    reader, writer = spdy.Reader(), spdy.Writer()
    lock = asyncio.Lock()
    pairs: dict[str, dict[str, int]] = {}  # requestID -> {"error": id, "data": id}
    pod_writers: dict[int, asyncio.StreamWriter] = {}
    pending: dict[
        int, tuple[bytearray, bool]
    ] = {}  # what a data stream sent before its pod connection was up
    tasks: set[asyncio.Task[None]] = set()

    async def send(raw: bytes) -> None:
        async with lock:
            if not ws.closed:
                await ws.send_bytes(raw)

    async def forward(request_id: str, port: int) -> None:
        streams = pairs[request_id]
        data_id, error_id = streams["data"], streams["error"]
        try:
            pod_reader, pod_writer = await node.connect(pod, port)
        except OSError:
            await send(writer.data(error_id, _refused(pod, port).encode(), fin=True))
            await send(writer.data(data_id, b"", fin=True))
            return
        pod_writers[data_id] = pod_writer
        early, ended = pending.pop(data_id, (bytearray(), False))
        if early:
            pod_writer.write(bytes(early))
        if ended and pod_writer.can_write_eof():
            pod_writer.write_eof()
        try:
            await _pump(pod_reader, lambda chunk: send(writer.data(data_id, chunk)))
        except (ConnectionError, OSError):
            pass
        finally:
            pod_writers.pop(data_id, None)
            pod_writer.close()
        await send(writer.data(data_id, b"", fin=True))
        await send(writer.data(error_id, b"", fin=True))

    try:
        async for message in ws:
            if message.type != web.WSMsgType.BINARY:
                continue
            for frame in reader.feed(message.data):
                if frame.control and frame.type == spdy.SYN_STREAM:
                    await send(writer.syn_reply(frame.stream_id))
                    kind, request_id = frame.headers.get("streamtype", ""), frame.headers.get("requestid", "")
                    pair = pairs.setdefault(request_id, {})
                    pair[kind] = frame.stream_id
                    if "data" in pair and "error" in pair:
                        task = asyncio.get_running_loop().create_task(
                            forward(request_id, int(frame.headers.get("port", "0")))
                        )
                        tasks.add(task)
                        task.add_done_callback(tasks.discard)
                elif frame.control and frame.type == spdy.PING:
                    await send(writer.ping(frame.value))
                elif frame.control and frame.type == spdy.RST_STREAM:
                    w = pod_writers.pop(frame.stream_id, None)
                    if w is not None:
                        w.close()
                elif frame.control and frame.type == spdy.GOAWAY:
                    await ws.close()
                elif not frame.control:
                    w = pod_writers.get(frame.stream_id)
                    if w is None:
                        early, ended = pending.setdefault(frame.stream_id, (bytearray(), False))
                        early += frame.data
                        pending[frame.stream_id] = (early, ended or bool(frame.flags & spdy.FLAG_FIN))
                    else:
                        if frame.data:
                            w.write(frame.data)
                            await w.drain()
                        if frame.flags & spdy.FLAG_FIN and w.can_write_eof():
                            w.write_eof()
    except (spdy.ProtocolError, ConnectionError, ValueError) as exc:
        log.debug("port-forward tunnel ended: %s", exc)
    finally:
        for w in pod_writers.values():
            w.close()
        for task in list(tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await ws.close()


# --- channels (v4) --------------------------------------------------------------------------------


async def _channels(
    ws: web.WebSocketResponse, node: Any, pod: Any, ports_query: list[str], base64_mode: bool
) -> None:
    try:
        ports = [int(p) for q in ports_query for p in q.split(",") if p.strip()]
    except ValueError:
        ports = []
    if not ports:
        await ws.send_bytes(b"\x01" + b'query parameter "port" is required')
        await ws.close()
        return
    lock = asyncio.Lock()

    async def send(channel: int, data: bytes) -> None:
        async with lock:
            if ws.closed:
                return
            if base64_mode:
                await ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
            else:
                await ws.send_bytes(bytes([channel]) + data)

    writers: dict[int, asyncio.StreamWriter] = {}
    # what a client sends before its pod connection is up waits for it (the official client writes at once)
    connected: dict[int, asyncio.Future[asyncio.StreamWriter | None]] = {}
    loop = asyncio.get_running_loop()
    for i, port in enumerate(ports):
        connected[i] = loop.create_future()
        await send(2 * i, port.to_bytes(2, "little"))
        await send(2 * i + 1, port.to_bytes(2, "little"))

    async def forward(i: int, port: int) -> None:
        try:
            reader, w = await node.connect(pod, port)
        except OSError:
            connected[i].set_result(None)
            await send(2 * i + 1, _refused(pod, port).encode())
            return
        writers[i] = w
        connected[i].set_result(w)
        try:
            await _pump(reader, lambda chunk: send(2 * i, chunk))
        except (ConnectionError, OSError):
            pass
        finally:
            writers.pop(i, None)
            w.close()

    tasks = [asyncio.get_running_loop().create_task(forward(i, p)) for i, p in enumerate(ports)]
    done = asyncio.gather(*tasks)
    # every pod connection ended: the session ends (a v4 channel cannot be closed alone)
    done.add_done_callback(lambda _: asyncio.ensure_future(ws.close()))
    try:
        async for message in ws:
            if message.type == web.WSMsgType.BINARY:
                data = message.data
            elif message.type == web.WSMsgType.TEXT and base64_mode:
                data = bytes([ord(message.data[0]) - ord("0")]) + base64.b64decode(message.data[1:])
            else:
                continue
            if not data:
                continue
            channel, payload = data[0], data[1:]
            if channel % 2 or channel // 2 not in connected or not payload:
                continue
            pending: list[asyncio.Future[Any]] = [connected[channel // 2], done]
            await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            w = writers.get(channel // 2)
            if w is not None:
                w.write(payload)
                await w.drain()
            if done.done():
                break
    except ConnectionError:
        pass
    finally:
        for w in writers.values():
            w.close()
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await done
        with contextlib.suppress(Exception):
            await ws.close()
