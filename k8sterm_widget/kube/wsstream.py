"""Transport: one Kubernetes exec/attach WebSocket, driven by one I/O thread.

Why not the official client's ``WSClient``: its reads block forever by default, ``update(timeout=0)`` in a
loop spins a core, it decodes frames one by one, parses the exit status with YAML and ``int()``, flattens
handshake errors into ``status=0``, sends no keepalive and has no connect timeout (docs/exec-protocol.md §8).
We still use the official client for everything it does well — building the URL and query from the
generated ``connect_get_namespaced_pod_exec``, authentication (tokens, client certificates, exec plugins),
TLS settings and proxies — by giving each stream its own ``ApiClient`` whose ``call_api`` performs the
WebSocket handshake (websocket-client, the library the official client uses). After the upgrade we own the
socket:

* one thread per stream waits in ``select`` on the socket and a wake-up pipe — nothing polls, an idle
  shell costs no CPU; frames buffered inside TLS (``SSLSocket.pending()``) are drained before waiting;
* the socket is non-blocking and framing is done by the sans-I/O core of ``websockets``, so a large stdin
  write can never deadlock against output the server is trying to send us (its C speedups mask at memory
  speed; wsproto, tried first, held throughput to 0.6x kubectl's);
* all socket I/O happens in that thread (an ``SSLSocket`` must not be read and written concurrently);
  writers enqueue and wake it, and block only above a high-water mark (bounded memory, real backpressure);
* keepalive pings every ``ping_interval`` s; no answer within another interval ends the stream with a reason;
* reading can be paused (flow control from the browser): the kernel's TCP window then fills and the
  backpressure reaches the process in the pod.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import certifi
import websocket
from kubernetes import client
from kubernetes.stream.ws_client import websocket_proxycare
from websockets.frames import Close, Frame, Opcode
from websockets.protocol import Protocol, Side, State

from ..errors import ClusterUnreachable, K8stermError, ProtocolError
from .config import Cluster
from .status import Context, error_from_status, parse_status

log = logging.getLogger(__name__)

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255

SEND_HIGH_WATER = 1 << 20  # writers block while this much is queued and not yet on the wire
# Stdin frames: big enough that per-frame Python work (masking, framing) does not cap throughput, small
# enough to interleave with resize and keep a paste far below servers' message limits (Go: 32 MiB).
STDIN_FRAME = 128 * 1024
SEND_CHUNK = 256 * 1024
READ_BUDGET = 1 << 20  # bytes read per loop turn before writes and pause requests get a look-in
CLOSE_GRACE = 2.0


@dataclass
class StreamEnd:
    """How a stream ended. ``status`` is the raw channel-3 payload (None when the server sent none)."""

    reason: str
    clean: bool
    status: bytes | None = None
    close_code: int | None = None
    by_client: bool = False


OnMessage = Callable[[int, memoryview], None]
OnEnd = Callable[[StreamEnd], None]


def _ssl_options(cfg: client.Configuration, url: str) -> dict:
    """websocket-client TLS options from the client's Configuration (as ``ws_client.create_websocket``)."""
    if url.startswith("wss://") and cfg.verify_ssl:
        opts: dict = {"cert_reqs": ssl.CERT_REQUIRED, "ca_certs": cfg.ssl_ca_cert or certifi.where()}
        if cfg.assert_hostname is not None:
            opts["check_hostname"] = cfg.assert_hostname
    else:
        opts = {"cert_reqs": ssl.CERT_NONE}
    if cfg.cert_file:
        opts["certfile"] = cfg.cert_file
    if cfg.key_file:
        opts["keyfile"] = cfg.key_file
    if cfg.tls_server_name:
        opts["server_hostname"] = cfg.tls_server_name
    return opts


class _HandshakeClient(client.ApiClient):
    """An ApiClient whose only request is a WebSocket handshake.

    The generated API method serialises the query (``command`` repeated per argv element, booleans) and
    adds authentication headers, then calls ``call_api``; we answer with a connected WebSocket. Using a
    subclass of a private, per-stream client avoids ``stream()``'s swap of methods on a shared client.
    """

    def __init__(self, cluster: Cluster, subprotocols: Sequence[str], ctx: Context) -> None:
        super().__init__(cluster.configuration)
        self._cluster = cluster
        self._subprotocols = list(subprotocols)
        self._ctx = ctx

    # Returns what the client's raw (``_preload_content=False``) path reads, ``.status`` and ``.response``,
    # rather than the RESTResponse its annotation names: the response here is the open WebSocket.
    def call_api(  # type: ignore[override]
        self,
        method: str,
        url: str,
        header_params: dict[str, str] | None = None,
        body: object = None,
        post_params: object = None,
        _request_timeout: object = None,
    ) -> SimpleNamespace:
        ws = self._connect(url, header_params or {})
        return SimpleNamespace(response=ws, status=200)

    def _connect(self, url: str, headers: dict) -> websocket.WebSocket:
        cfg = self.configuration
        if url.startswith("https://"):
            url = "wss://" + url[len("https://") :]
        elif url.startswith("http://"):
            url = "ws://" + url[len("http://") :]
        header = [f"{k}: {v}" for k, v in headers.items() if k.lower() in ("authorization", "user-agent")]
        options: dict = {"header": header, "subprotocols": self._subprotocols}
        if cfg.proxy or cfg.proxy_headers:
            options = websocket_proxycare(options, cfg, url, headers)
        ws = websocket.WebSocket(sslopt=_ssl_options(cfg, url), skip_utf8_validation=True)
        try:
            ws.connect(url, timeout=self._cluster.connect_timeout, **options)
        except websocket.WebSocketBadStatusException as e:
            body = e.resp_body or b""
            status = parse_status(body)
            text = "" if status is not None else body.decode("utf-8", "replace")
            raise error_from_status(status, text, e.status_code, self._ctx) from None
        except websocket.WebSocketAddressException:
            raise ClusterUnreachable(self._cluster.server, "host name could not be resolved") from None
        except (TimeoutError, websocket.WebSocketTimeoutException):
            raise ClusterUnreachable(self._cluster.server, "connection timed out") from None
        except ssl.SSLError as e:
            detail = "certificate verify failed" if "verify" in str(e).lower() else "TLS error"
            raise ClusterUnreachable(self._cluster.server, f"TLS handshake failed ({detail})") from None
        except ConnectionRefusedError:
            raise ClusterUnreachable(self._cluster.server, "connection refused") from None
        except OSError as e:
            raise ClusterUnreachable(self._cluster.server, e.strerror or type(e).__name__) from None
        except websocket.WebSocketException as e:
            raise ProtocolError(
                f"the API server did not accept the exec WebSocket ({e}); "
                f"offered {', '.join(self._subprotocols)}"
            ) from None
        return ws


class ExecStream:
    """A connected exec/attach stream: channel frames in and out, keepalive, pause/resume, a clean end.

    ``on_message(channel, payload)`` runs on the I/O thread for stdout/stderr payloads (never empty; a
    read-only memoryview of an immutable message, zero-copy: a consumer that keeps it may keep it as is);
    channel 3 is collected and handed to ``on_end`` in :class:`StreamEnd`. ``on_end`` runs exactly once.
    """

    def __init__(
        self,
        ws: websocket.WebSocket,
        *,
        on_message: OnMessage,
        on_end: OnEnd,
        ping_interval: float | None = 30.0,
        name: str = "k8sterm-exec",
    ) -> None:
        if ws.sock is None:
            raise ProtocolError("the exec WebSocket has no socket (closed during the handshake)")
        self.protocol: str = ws.getsubprotocol() or ""
        self._ws_client = ws  # kept only to hold the socket's owner alive
        self._sock: socket.socket = ws.sock
        self._sock.setblocking(False)
        # The handshake is done; max_size=None because output messages are as large as the server makes them.
        self._wsp = Protocol(Side.CLIENT, state=State.OPEN, max_size=None)
        self._on_message = on_message
        self._on_end = on_end
        self._ping_interval = ping_interval if ping_interval and ping_interval > 0 else None

        self._lock = threading.Lock()
        self._writable = threading.Condition(self._lock)
        # What the I/O thread is to do, in order: bytes to send in a frame, an int to close with that code,
        # a str to drop the connection for that reason.
        self._queue: deque[bytes | int | str] = deque()
        self._queued = 0  # bytes accepted from writers and not yet handed to the socket
        self._out = bytearray()
        self._rbuf_view = memoryview(bytearray(READ_BUDGET))
        self._attempt = 0  # length of an SSL write that must be retried with the same bytes
        self._paused = False
        self._end: StreamEnd | None = None
        self._ended = threading.Event()
        self._status = bytearray()
        self._status_seen = False
        self._message: list[bytes] = []
        self._closing_since: float | None = None
        self._close_by_client = False
        self._last_rx = time.monotonic()
        self._ping_sent: float | None = None
        self._next_ping = time.monotonic() + (self._ping_interval or 0)

        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ opening

    @classmethod
    def connect(
        cls,
        cluster: Cluster,
        *,
        namespace: str,
        pod: str,
        container: str | None,
        command: Sequence[str] | None,
        stdin: bool,
        stdout: bool = True,
        stderr: bool = True,
        tty: bool = False,
        subresource: str = "exec",
        subprotocols: Sequence[str] = (V5, V4),
        on_message: OnMessage,
        on_end: OnEnd,
        ping_interval: float | None = 30.0,
    ) -> ExecStream:
        """Upgrade to an exec (or attach) stream; raises the typed error of a refused handshake."""
        ctx = Context(cluster.server, pod, namespace, container, list(command or ()))
        api_client = _HandshakeClient(cluster, subprotocols, ctx)
        try:
            core = client.CoreV1Api(api_client)
            kwargs: dict[str, str | bool | None] = {
                "container": container,
                "stdin": stdin,
                "stdout": stdout,
                "tty": tty,
            }
            if not tty:  # with a tty the server merges stderr; kubectl omits it too
                kwargs["stderr"] = stderr
            params: dict[str, Any] = {k: v for k, v in kwargs.items() if v is not None}
            if subresource == "exec":
                ws = core.connect_get_namespaced_pod_exec(
                    pod, namespace, command=list(command or ()), _preload_content=False, **params
                )
            elif subresource == "attach":
                ws = core.connect_get_namespaced_pod_attach(pod, namespace, _preload_content=False, **params)
            else:
                raise ValueError(f"unknown subresource {subresource!r}")
        except K8stermError:
            raise
        except (ValueError, TypeError):
            raise
        except Exception as e:  # pydantic validation and other local failures, never with secrets
            raise ProtocolError(f"could not start the exec request: {type(e).__name__}: {e}") from None
        finally:
            api_client.close()
        if not isinstance(ws, websocket.WebSocket):  # the client's annotation says str: see _HandshakeClient
            raise ProtocolError(f"the exec request returned {type(ws).__name__}, not a WebSocket")
        if ws.getsubprotocol() not in subprotocols:
            if ws.sock is not None:
                ws.sock.close()
            raise ProtocolError(f"the API server chose an unsupported subprotocol {ws.getsubprotocol()!r}")
        return cls(
            ws, on_message=on_message, on_end=on_end, ping_interval=ping_interval, name=f"k8sterm-{pod}"
        )

    # ------------------------------------------------------------------ API for the session layer

    @property
    def supports_stdin_close(self) -> bool:
        """Only v5 can half-close stdin; on v4 EOF is impossible short of closing the socket (§4.4)."""
        return self.protocol == V5

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def end(self) -> StreamEnd | None:
        return self._end

    def send(self, channel: int, data: bytes, timeout: float | None = None) -> bool:
        """Queue ``data`` on ``channel``; blocks above the high-water mark. False once the stream ended.

        Large writes are cut into 128 KiB frames so a paste never produces one giant frame.
        """
        if not data:
            return not self.ended
        view = memoryview(data)
        prefix = bytes([channel])
        chunks = deque(prefix + view[i : i + STDIN_FRAME] for i in range(0, len(view), STDIN_FRAME))
        # Enqueue up to the high-water mark per wake-up, not one wake-up per frame.
        while chunks:
            if not self._enqueue_many(chunks, timeout):
                return False
        return True

    def close_channel(self, channel: int) -> bool:
        """Half-close a channel (v5 ``[255, ch]``); raise ProtocolError on v4 where it does not exist."""
        if not self.supports_stdin_close:
            raise ProtocolError(
                f"the server negotiated {self.protocol or 'an old protocol'}, which cannot close stdin "
                "(needs v5.channel.k8s.io, Kubernetes 1.30+)"
            )
        return self._enqueue(bytes([CLOSE, channel]), 2, None)

    def close(self, timeout: float = CLOSE_GRACE) -> StreamEnd | None:
        """End the stream from our side: send a close frame, wait for the answer (at most ``timeout``)."""
        if not self.ended:
            self._enqueue(1000, 0, None, force=True)
            self._ended.wait(timeout + 1.0)
        if not self.ended:
            self.abort("the server did not answer the close")
        self._thread.join(timeout)
        return self._end

    def abort(self, reason: str = "aborted") -> None:
        """Drop the connection now, without a close handshake."""
        self._enqueue(reason, 0, None, force=True)

    def pause_reading(self) -> None:
        """Stop reading the socket (flow control); TCP backpressure then reaches the pod."""
        with self._lock:
            self._paused = True
        self._wake()

    def resume_reading(self) -> None:
        with self._lock:
            self._paused = False
            self._ping_sent = None  # pongs could not be read while paused; start keepalive afresh
            self._next_ping = time.monotonic() + (self._ping_interval or 0)
        self._wake()

    def wait(self, timeout: float | None = None) -> StreamEnd | None:
        self._ended.wait(timeout)
        return self._end

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # ------------------------------------------------------------------ writer side

    def _wait_writable(self, deadline: float | None) -> bool:
        """With the lock held: wait until the queue is below the high-water mark. False on timeout/end."""
        while self._queued > SEND_HIGH_WATER and not self._ended.is_set():
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            self._writable.wait(remaining if remaining is not None else 1.0)
        return not self._ended.is_set()

    def _enqueue(
        self, item: bytes | int | str, size: int, timeout: float | None, force: bool = False
    ) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._writable:
            if self._ended.is_set() or not (force or self._wait_writable(deadline)):
                return False
            self._queue.append(item)
            self._queued += size
        self._wake()
        return True

    def _enqueue_many(self, chunks: deque[bytes], timeout: float | None) -> bool:
        """Move frames from ``chunks`` into the queue until it is full; False on timeout or end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._writable:
            if not self._wait_writable(deadline):
                return False
            while chunks and self._queued <= SEND_HIGH_WATER:
                chunk = chunks.popleft()
                self._queue.append(chunk)
                self._queued += len(chunk)
        self._wake()
        return True

    def _wake(self) -> None:
        # Under the lock, so a wake-up can never land in a reused descriptor after _finish closed the pipe.
        with self._lock:
            if self._wake_w < 0:
                return
            try:
                os.write(self._wake_w, b"\0")
            except BlockingIOError:
                pass  # a wake-up is already pending

    # ------------------------------------------------------------------ I/O thread

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._wake_r, selectors.EVENT_READ)
        registered = 0
        end: StreamEnd | None = None
        try:
            while end is None:
                end = self._take_queue()
                if end is not None:
                    break
                with self._lock:
                    paused = self._paused
                interest = (0 if paused else selectors.EVENT_READ) | (
                    selectors.EVENT_WRITE if self._out else 0
                )
                if interest != registered:
                    if registered and interest:
                        sel.modify(self._sock, interest)
                    elif interest:
                        sel.register(self._sock, interest)
                    else:
                        sel.unregister(self._sock)
                    registered = interest
                timeout = self._timeout(paused)
                if not paused and isinstance(self._sock, ssl.SSLSocket) and self._sock.pending():
                    timeout = 0
                events = sel.select(timeout)
                readable = not paused and (
                    timeout == 0
                    or any(key.fileobj is self._sock and mask & selectors.EVENT_READ for key, mask in events)
                )
                for key, _mask in events:
                    if key.fileobj == self._wake_r:
                        with contextlib.suppress(BlockingIOError):
                            while os.read(self._wake_r, 4096):
                                pass
                if readable:
                    end = self._read()
                if end is None and self._out:
                    end = self._flush()
                if end is None:
                    end = self._timers(paused)
        except Exception as e:  # a bug or an unexpected socket state must still end the stream
            log.exception("exec stream I/O failed")
            end = StreamEnd(f"internal error in the exec stream: {type(e).__name__}", clean=False)
        finally:
            sel.close()
            self._finish(end or StreamEnd("stopped", clean=False))

    def _timeout(self, paused: bool) -> float | None:
        now = time.monotonic()
        deadlines = []
        if self._ping_interval and not paused:
            deadlines.append(self._next_ping)
            if self._ping_sent is not None:
                deadlines.append(self._ping_sent + self._ping_interval)
        if self._closing_since is not None:
            deadlines.append(self._closing_since + CLOSE_GRACE)
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - now)

    def _take_queue(self) -> StreamEnd | None:
        with self._writable:
            items = list(self._queue)
            self._queue.clear()
        for item in items:
            if isinstance(item, bytes):
                if self._wsp.state is State.OPEN:
                    self._wsp.send_binary(item)
            elif isinstance(item, int):
                self._close_by_client = True
                if self._wsp.state is State.OPEN:
                    self._wsp.send_close(item)
                    self._closing_since = time.monotonic()
            else:
                return StreamEnd(item, clean=False, by_client=True)
        self._collect_output()
        return None

    def _collect_output(self) -> None:
        for chunk in self._wsp.data_to_send():
            self._out += chunk  # an empty chunk asks for a TCP half-close; closing the socket covers it

    def _read(self) -> StreamEnd | None:
        """Read what the socket has (up to a budget) and parse it in one piece.

        TLS hands out one record (at most 16 KiB) per ``recv``; gathering records into one buffer before
        parsing keeps the per-call overhead of the frame parser off the hot path.
        """
        view, filled, lost = self._rbuf_view, 0, None
        while filled < READ_BUDGET:
            try:
                n = self._sock.recv_into(view[filled:])
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError):
                break
            except (ConnectionResetError, BrokenPipeError):
                lost = "the connection was reset by the server"
                break
            except OSError as e:
                lost = e.strerror or type(e).__name__
                break
            if n == 0:
                lost = "the server closed the connection without a close frame"
                break
            filled += n
        if filled:
            self._last_rx = time.monotonic()
            # Copied into the parser's own buffer at once, which takes any buffer (annotated bytes only).
            self._wsp.receive_data(view[:filled])  # type: ignore[arg-type]
            end = self._events()
            if end is not None:
                return end
        return self._lost(lost) if lost else None

    def _events(self) -> StreamEnd | None:
        for frame in self._wsp.events_received():
            if not isinstance(frame, Frame):  # Request/Response events exist only during a handshake
                continue
            opcode = frame.opcode
            if opcode in (Opcode.BINARY, Opcode.TEXT, Opcode.CONT):
                # Text frames only come with the base64 protocols, which we never offer; taken as bytes.
                if frame.fin and not self._message:
                    self._dispatch(frame.data)  # the common case: a whole message in one frame
                    continue
                self._message.append(bytes(frame.data))
                if frame.fin:
                    self._dispatch(b"".join(self._message))
                    self._message.clear()
            elif opcode is Opcode.PONG:
                self._ping_sent = None
            elif opcode is Opcode.CLOSE:  # (pings are answered by the protocol object itself)
                self._collect_output()  # our echo of the close frame
                self._flush_quietly()
                close = Close.parse(frame.data) if frame.data else Close(1005, "")
                clean = close.code in (1000, 1001) or self._status_seen
                reason = "closed by the client" if self._close_by_client else "the process ended"
                if not clean:
                    reason = f"the server closed the stream with code {close.code}" + (
                        f" ({close.reason})" if close.reason else ""
                    )
                return StreamEnd(
                    reason,
                    clean=clean,
                    status=bytes(self._status) if self._status_seen else None,
                    close_code=close.code,
                    by_client=self._close_by_client,
                )
        self._collect_output()  # pongs
        if self._wsp.parser_exc is not None:
            return self._lost(f"the server broke the WebSocket protocol ({self._wsp.parser_exc})")
        return None

    def _dispatch(self, message: bytes | bytearray | memoryview) -> None:
        if len(message) < 2:
            return  # the empty first frame, or an empty keepalive write
        channel, payload = message[0], memoryview(message)[1:]
        if channel == ERROR:
            self._status += payload
            self._status_seen = True
        elif channel in (STDOUT, STDERR):
            try:
                self._on_message(channel, payload)
            except Exception:
                log.exception("output callback failed; output continues")
        # other channels: ignored, like the Go clients do

    def _flush(self) -> StreamEnd | None:
        while self._out:
            size = self._attempt or min(len(self._out), SEND_CHUNK)
            try:
                sent = self._sock.send(memoryview(self._out)[:size])
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError, InterruptedError):
                self._attempt = size  # TLS: retry with exactly these bytes
                return None
            except (ConnectionResetError, BrokenPipeError):
                return self._lost("the connection was reset by the server")
            except OSError as e:
                return self._lost(e.strerror or type(e).__name__)
            self._attempt = 0
            del self._out[:sent]
            with self._writable:
                self._queued = max(0, self._queued - sent)
                self._writable.notify_all()
        return None

    def _flush_quietly(self) -> None:
        with contextlib.suppress(Exception):
            self._sock.setblocking(True)
            self._sock.settimeout(0.5)
            while self._out:
                sent = self._sock.send(self._out)
                del self._out[:sent]

    def _timers(self, paused: bool) -> StreamEnd | None:
        now = time.monotonic()
        if self._closing_since is not None and now - self._closing_since >= CLOSE_GRACE:
            return StreamEnd("closed by the client (the server did not confirm)", clean=True, by_client=True)
        if not self._ping_interval or paused:
            return None
        if self._ping_sent is not None and now - self._ping_sent >= self._ping_interval:
            if self._last_rx < self._ping_sent:
                return self._lost(f"no answer to keepalive pings for {self._ping_interval:g} s")
            self._ping_sent = None
        if now >= self._next_ping and self._wsp.state is State.OPEN:
            self._wsp.send_ping(b"k8sterm")
            self._collect_output()
            self._ping_sent = now
            self._next_ping = now + self._ping_interval
        return None

    def _lost(self, reason: str) -> StreamEnd:
        if self._close_by_client:
            return StreamEnd("closed by the client", clean=True, by_client=True)
        if self._status_seen:
            # The exit status arrived; only the close frame is missing. Nothing was lost.
            return StreamEnd("the process ended", clean=True, status=bytes(self._status))
        return StreamEnd(reason, clean=False)

    def _finish(self, end: StreamEnd) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        self._ws_client.sock = None
        self._ws_client.connected = False
        with self._writable:
            self._end = end
            self._ended.set()
            self._queue.clear()
            self._writable.notify_all()
            for fd in (self._wake_r, self._wake_w):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_r = self._wake_w = -1
        try:
            self._on_end(end)
        except Exception:
            log.exception("end callback failed")
