"""``pods/exec`` and ``pods/attach`` over WebSocket, as the apiserver and the kubelet speak them.

A real cluster has two server paths, and clients can tell them apart, so both are reproduced:

* **stream translator** (the apiserver itself; taken when ``v5.channel.k8s.io`` is anywhere in the offer):
  always upgrades to v5 first, then reports every node-side failure as a channel-3 ``InternalError`` with the
  translator's extra ``Internal error occurred:`` prefix;
* **kubelet/CRI path** (any other offer, proxied to the node): protocols ``channel.k8s.io``,
  ``base64.channel.k8s.io``, ``v4.channel.k8s.io``, ``v4.base64.channel.k8s.io`` or none, first match in the
  client's order; node-side refusals before the upgrade are plain-text HTTP errors (400, 500), later ones a
  v4 JSON Status or, before v4, plain text sent only on failure.

Framing follows ``wsstream/conn.go``: one channel byte (``'0'+ch`` and base64 on the base64 protocols) per
message, the empty first message on the lowest requested output channel, client frames on write-only or
unknown channels ignored, ``[255, ch]`` closes a stream on v5 (a malformed one ends the session), the resize
channel is a JSON stream.  A session ends with exactly one channel-3 message and a close frame (1000);
whichever way it ends, the process tree is killed.
"""

from __future__ import annotations

import asyncio
import base64
import codecs
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from . import status as st

log = logging.getLogger(__name__)

V5 = "v5.channel.k8s.io"
KUBELET_PROTOCOLS = {
    "channel.k8s.io": False,
    "base64.channel.k8s.io": True,
    "v4.channel.k8s.io": False,
    "v4.base64.channel.k8s.io": True,
}  # protocol -> base64 framing
MAX_FRAME = 32 << 20  # golang.org/x/net/websocket's DefaultMaxPayloadBytes
CLOSE_WAIT = 10.0  # how long to wait for the client's close reply after the final Status
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255


def parse_bool(values: list[str]) -> bool:
    """apimachinery's ``Convert_Slice_string_To_bool``: absent → False; ``0``/``false`` (any case) → False."""
    if not values:
        return False
    return not (values[0] == "0" or values[0].lower() == "false")


@dataclass(frozen=True)
class StreamOptions:
    stdin: bool
    stdout: bool
    stderr: bool
    tty: bool
    container: str
    command: tuple[str, ...]

    @classmethod
    def from_query(cls, query: Any) -> StreamOptions:
        container = query.getall("container", [])
        return cls(
            stdin=parse_bool(query.getall("stdin", [])),
            stdout=parse_bool(query.getall("stdout", [])),
            stderr=parse_bool(query.getall("stderr", [])),
            tty=parse_bool(query.getall("tty", [])),
            container=container[0] if container else "",
            command=tuple(query.getall("command", [])),
        )

    @property
    def node_stderr(self) -> bool:
        """The kubelet drops stderr when a tty is requested: the terminal merges it into stdout."""
        return self.stderr and not self.tty


# --- protocol negotiation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Negotiation:
    translator: bool  # True: apiserver stream translator (v5); False: proxied to the kubelet
    protocol: str | None  # the subprotocol to echo, None for "no subprotocol"
    base64: bool = False
    refused: bool = False  # no offered protocol is supported: the kubelet's websocket server answers 403


def offered_protocols(header: str | None) -> list[str]:
    header = (header or "").strip()
    return [p.strip() for p in header.split(",")] if header else []


def negotiate(header: str | None) -> Negotiation:
    offered = offered_protocols(header)
    if V5 in offered:
        return Negotiation(translator=True, protocol=V5)
    if not offered:
        return Negotiation(translator=False, protocol=None)
    for proto in offered:
        if proto in KUBELET_PROTOCOLS:
            return Negotiation(translator=False, protocol=proto, base64=KUBELET_PROTOCOLS[proto])
    return Negotiation(translator=False, protocol=None, refused=True)


# --- the resize channel -----------------------------------------------------------------------------


class ResizeStream:
    """Channel 4 as Go's ``json.Decoder`` reads it into ``TerminalSize{Width, Height uint16}``.

    Objects may be split across frames or concatenated; keys match case-insensitively; the first value
    that does not decode ends resize handling for the session (``broken``).
    """

    LIMIT = 64 << 10

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = ""
        self.broken = False

    def feed(self, data: bytes) -> list[tuple[int, int]]:
        if self.broken:
            return []
        self._buf += self._decoder.decode(data)
        sizes: list[tuple[int, int]] = []
        dec = json.JSONDecoder(parse_constant=_reject_constant)
        while True:
            text = self._buf.lstrip(" \t\r\n")
            if not text:
                self._buf = ""
                return sizes
            try:
                value, end = dec.raw_decode(text)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):
                    if len(text) > self.LIMIT:
                        self.broken = True
                    self._buf = text
                    return sizes  # incomplete: wait for more bytes
                self.broken = True
                return sizes
            except ValueError:
                self.broken = True
                return sizes
            if end == len(text) and isinstance(value, (int, float)) and not isinstance(value, bool):
                self._buf = text  # a number at the end of the buffer may continue in the next frame
                return sizes
            self._buf = text[end:]
            size = _terminal_size(value)
            if size is None:
                self.broken = True
                return sizes
            sizes.append(size)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _terminal_size(value: Any) -> tuple[int, int] | None:
    if value is None:
        return (0, 0)
    if not isinstance(value, dict):
        return None
    width = height = 0
    for key, v in value.items():
        k = key.lower()
        if k not in ("width", "height"):
            continue
        if v is None:
            continue
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFF:
            return None
        if k == "width":
            width = v
        else:
            height = v
    return (width, height)


# --- the session --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionSpec:
    kind: str  # "exec" | "attach"
    options: StreamOptions
    negotiation: Negotiation
    container: str


class ProtocolViolation(Exception):
    """The client broke the framing badly enough that the server ends the session (no Status)."""


class Session:
    """One upgraded WebSocket bound to one runtime process."""

    def __init__(self, ws: web.WebSocketResponse, spec: SessionSpec) -> None:
        self.ws = ws
        self.spec = spec
        self.v5 = spec.negotiation.protocol == V5
        self.b64 = spec.negotiation.base64
        self.v4_status = spec.negotiation.translator or (spec.negotiation.protocol or "").startswith("v4.")
        self.resize = ResizeStream()
        self.process: Any = None
        self.tasks: list[asyncio.Future[Any]] = []  # output pump and client reader, while streaming

    # -- framing --

    async def send(self, channel: int, data: bytes) -> None:
        if self.b64:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(data).decode())
        else:
            await self.ws.send_bytes(bytes((channel,)) + data)

    async def send_status(self, status: st.Status) -> None:
        """The one channel-3 message: JSON on v4/v5, the bare message (failures only) before v4."""
        if self.v4_status:
            await self.send(ERROR, st.compact(status))
        elif status.get("status") != "Success":
            await self.send(ERROR, status.get("message", "").encode())

    async def first_frame(self) -> None:
        o = self.spec.options
        stderr = o.stderr if self.spec.negotiation.translator else o.node_stderr
        await self.send(STDOUT if o.stdout else STDERR if stderr else ERROR, b"")

    # -- client input --

    async def read_client(self) -> None:
        """Dispatch client frames until the client closes, breaks the protocol or goes away."""
        o = self.spec.options
        async for msg in self.ws:
            if msg.type in (WSMsgType.BINARY, WSMsgType.TEXT):
                data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            else:  # ERROR (oversize frame, bad framing): the session cannot continue
                raise ProtocolViolation(str(msg.data))
            if not data:
                continue
            if self.v5 and data[0] == CLOSE:
                if len(data) != 2 or data[1] > RESIZE:
                    raise ProtocolViolation("malformed stream close signal")
                if data[1] == STDIN and o.stdin and self.process is not None:
                    self.process.close_stdin()
                elif data[1] == RESIZE:
                    self.resize.broken = True
                continue
            channel = data[0]
            payload = data[1:]
            if self.b64:
                channel = (channel - ord("0")) & 0xFF
                try:
                    payload = base64.b64decode(payload, validate=True)
                except ValueError:
                    continue  # wsstream logs and drops an undecodable frame
            if channel == STDIN and o.stdin and self.process is not None:
                await self.process.write(payload)
            elif channel == RESIZE:
                for cols, rows in self.resize.feed(payload):
                    if o.tty and cols >= 1 and rows >= 1 and self.process is not None:
                        self.process.resize(cols, rows)
            # output channels, the error channel and unknown channels: ignored

    # -- process output --

    async def pump_output(self) -> int:
        """Forward output until EOF, then return the exit code."""
        o = self.spec.options
        while True:
            item = await self.process.read()
            if item is None:
                break
            channel, data = item
            if (channel == STDOUT and o.stdout) or (channel == STDERR and o.node_stderr):
                await self.send(channel, data)
        return int(await self.process.wait())

    async def run(
        self, start: Callable[[], Awaitable[Any]], describe_exit: Callable[[int], st.Status]
    ) -> None:
        """Start the process, stream both ways, finish with one Status and a close frame."""
        try:
            await self.first_frame()
            try:
                self.process = await start()
            except _StartFailure as failure:
                await self._finish(failure.status)
                return
            pump = asyncio.ensure_future(self.pump_output())
            reader = asyncio.ensure_future(self.read_client())
            self.tasks = [pump, reader]
            done, _ = await asyncio.wait({pump, reader}, return_when=asyncio.FIRST_COMPLETED)
            if pump in done:
                await _cancel(reader)
                code = pump.result()
                await self._finish(describe_exit(code))
            else:
                # The client went away or broke the protocol: the process dies first, then the socket.
                await _cancel(pump)
                await self._kill()
                exc = reader.exception()
                if exc is not None and not isinstance(exc, (ProtocolViolation, ConnectionError)):
                    raise exc
                if isinstance(exc, ProtocolViolation):
                    log.info("ending %s session: %s", self.spec.kind, exc)
                    if not self.ws.closed:
                        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
                            await asyncio.wait_for(self.ws.close(code=1002, message=b"protocol error"), 1.0)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # never a traceback to the client: one InternalError Status instead
            log.exception("%s session failed", self.spec.kind)
            with contextlib.suppress(Exception):
                await self._finish(st.internal_error(f"{type(exc).__name__}: {exc}", typed=False))
        finally:
            # Also when the handler itself is cancelled (its client vanished): then neither task has been
            # reaped yet, and the pump would go on writing to a closing socket.
            for task in self.tasks:
                await _cancel(task)
            await self._kill()

    async def _kill(self) -> None:
        """Kill the session's process tree (idempotent; survives the handler being cancelled)."""
        if self.process is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.process.kill())

    async def _finish(self, status: st.Status) -> None:
        if self.ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send_status(status)
        with contextlib.suppress(ConnectionError, RuntimeError, asyncio.TimeoutError):
            await self.ws.close(code=1000)


class _StartFailure(Exception):
    def __init__(self, status: st.Status) -> None:
        super().__init__(status.get("message", ""))
        self.status = status


async def _cancel(task: asyncio.Future[Any]) -> None:
    task.cancel()
    with contextlib.suppress(BaseException):
        await task


# --- the texts of each path -----------------------------------------------------------------------


def exec_failed(spec: SessionSpec, runtime_text: str) -> st.Status:
    """The command could not be started (``executable file not found`` …)."""
    if spec.kind == "attach":
        inner = f"error attaching to container: {runtime_text}"
    else:
        inner = f"error executing command in container: {runtime_text}"
    if spec.negotiation.translator:
        return st.internal_error(f"Internal error occurred: {inner}", typed=False)
    return st.internal_error(inner, typed=False)


def upgrade_failed(spec: SessionSpec, kubelet_text: str) -> st.Status:
    """A kubelet refusal (e.g. ``container not found``) as the v5 translator reports it after the 101."""
    return st.internal_error(f"unable to upgrade connection: {kubelet_text}", typed=False)


def exit_status(spec: SessionSpec, code: int) -> st.Status:
    if code == 0 or spec.kind == "attach":
        return st.success()
    if spec.negotiation.translator:
        return st.non_zero_exit(code, f"command terminated with exit code {code}")
    argv = " ".join(spec.options.command)
    return st.non_zero_exit(code, f"error executing command [{argv}], exit code {code}")


def new_exec_id() -> str:
    return secrets.token_hex(32)


# --- the HTTP handler: the apiserver's checks, then the path's own ----------------------------------------


def _text(status: int, body: str) -> web.Response:
    """A node-side refusal proxied through the apiserver: plain text, not a Status."""
    return web.Response(status=status, text=body, content_type="text/plain")


def _container_names(pod: dict[str, Any]) -> list[str]:
    """Init, regular and ephemeral containers, in ``podutil.VisitContainers`` order."""
    spec = pod["spec"]
    return [
        c["name"]
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key, [])
    ]


def pick_container(pod: dict[str, Any], requested: str) -> tuple[str | None, st.Status | None]:
    """``validateContainer`` of ``pkg/registry/core/pod/strategy.go``."""
    name = pod["metadata"]["name"]
    if not requested:
        regular = pod["spec"].get("containers", [])
        if len(regular) == 1:
            return regular[0]["name"], None
        if not regular:
            return None, st.bad_request(f"a container name must be specified for pod {name}")
        choices = " ".join(_container_names(pod))
        return None, st.bad_request(
            f"a container name must be specified for pod {name}, choose one of: [{choices}]"
        )
    if requested not in _container_names(pod):
        return None, st.bad_request(f"container {requested} is not valid for pod {name}")
    return requested, None


def _is_upgrade(request: web.Request) -> bool:
    tokens = ",".join(request.headers.getall("Connection", [])).lower()
    return "upgrade" in [t.strip() for t in tokens.split(",")]


async def serve(
    request: web.Request, ctx: Any, kind: str, respond: Callable[[st.Status], web.Response]
) -> web.StreamResponse:
    """Handle ``GET|POST …/pods/{name}/{exec,attach}`` after authentication and the RBAC filter."""
    from . import auth  # local: auth has no dependency on this module's aiohttp types
    from .context import INFO, USER
    from .runtime.errors import ContainerNotRunning, ExecError

    info, user = request[INFO], request[USER]
    if request.method not in ("GET", "POST"):
        return respond(st.method_not_allowed())
    # AuthorizePodWebsocketUpgradeCreatePermission (beta, on since 1.35): a GET also needs "create".
    if info.verb != "create" and not auth.allowed(user, auth.with_verb(info, "create")):
        return respond(st.forbidden(info.resource, info.name, ""))
    options = StreamOptions.from_query(request.query)
    pod = ctx.store.pod(info.namespace, info.name)
    if pod is None:
        return respond(st.not_found("pods", info.name))
    container, problem = pick_container(pod, options.container)
    if problem is not None or container is None:
        return respond(problem or st.bad_request("no container"))
    if not pod["spec"].get("nodeName"):
        return respond(st.bad_request(f"pod {info.name} does not have a host assigned"))

    upgrade = request.headers.get("Upgrade", "").strip().lower()
    if _is_upgrade(request) and upgrade.startswith("spdy/"):
        return respond(
            st.bad_request(
                "this demo cluster serves pods/exec and pods/attach over WebSocket only "
                "(v5.channel.k8s.io, v4.channel.k8s.io, v4.base64.channel.k8s.io, base64.channel.k8s.io, "
                "channel.k8s.io); SPDY/3.1 is not supported. kubectl 1.30+ uses WebSocket unless "
                "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false is set."
            )
        )
    if not (_is_upgrade(request) and upgrade == "websocket"):
        return respond(st.bad_request("Upgrade request required"))

    negotiation = negotiate(request.headers.get("Sec-WebSocket-Protocol"))
    spec = SessionSpec(kind=kind, options=options, negotiation=negotiation, container=container)
    no_streams = not (options.stdin or options.stdout or options.node_stderr)
    kubelet_refusal = "you must specify at least 1 of stdin, stdout, stderr" if no_streams else ""
    not_found = f'container not found ("{container}")'
    if not negotiation.translator:
        # Proxied to the kubelet: its refusals come back as plain-text HTTP errors before any upgrade.
        if kubelet_refusal:
            return _text(400, kubelet_refusal)
        if ctx.node.running_container(info.namespace, info.name, container) is None:
            return _text(500, not_found)
    if request.method != "GET":
        return _text(405, "bad method")  # golang.org/x/net/websocket accepts only GET handshakes
    if negotiation.refused:
        return web.Response(status=403)

    ws = web.WebSocketResponse(
        protocols=[negotiation.protocol] if negotiation.protocol else (),
        max_msg_size=MAX_FRAME,
        autoping=True,
        compress=False,
        timeout=CLOSE_WAIT,
        decode_text=False,
    )
    await ws.prepare(request)
    session = Session(ws, spec)

    async def start() -> Any:
        if negotiation.translator and kubelet_refusal:
            raise _StartFailure(upgrade_failed(spec, kubelet_refusal))
        runtime_container = ctx.node.running_container(info.namespace, info.name, container)
        if runtime_container is None:
            if negotiation.translator:
                raise _StartFailure(upgrade_failed(spec, not_found))
            raise _StartFailure(
                exec_failed(spec, "failed to exec in container: container is in CONTAINER_EXITED state")
            )
        try:
            if kind == "attach":
                return await runtime_container.attach(
                    stdin=options.stdin, stdout=options.stdout, stderr=options.node_stderr, tty=options.tty
                )
            return await runtime_container.exec(
                list(options.command),
                tty=options.tty,
                stdin=options.stdin,
                stdout=options.stdout,
                stderr=options.node_stderr,
            )
        except ContainerNotRunning:
            if negotiation.translator:
                raise _StartFailure(upgrade_failed(spec, not_found)) from None
            raise _StartFailure(
                exec_failed(spec, "failed to exec in container: container is in CONTAINER_EXITED state")
            ) from None
        except ExecError as exc:
            raise _StartFailure(exec_failed(spec, exc.runtime_message(new_exec_id()))) from None

    ctx.sessions.add(session)
    try:
        await session.run(start, lambda code: exit_status(spec, code))
    finally:
        ctx.sessions.discard(session)
    return ws
