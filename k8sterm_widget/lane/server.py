"""The Jupyter Server's part of the lane: a Unix socket for kernels, a WebSocket for browsers, a pipe between.

The relay never looks inside a message beyond its length; validating is the kernel's job, as for comm
messages. Pairing is by the id a kernel registered: one browser per id, once, within ``CLAIM_WINDOW``
seconds (an unclaimed kernel connection is closed, and the kernel forgets the lane). The WebSocket is
authenticated and authorized like a kernel's (``execute`` on ``kernels``): whoever may type in a kernel
may type in its terminals, nobody else.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import re
import shutil
import socket
import tempfile
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.ioloop import IOLoop
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from . import ENV, ID_LENGTH, MAX_FRAME, FrameError, decode, encode, frame_length, stream_frame

CLAIM_WINDOW = 60.0
MAX_PENDING = 256  # registered, unclaimed lanes (each holds a socket): more are refused
ARRIVAL_WAIT = 2.0  # a browser may ask before the kernel's registration has been read: wait this long
LANE_ID = re.compile(rf"^[0-9a-f]{{{ID_LENGTH}}}$")
LANE_OPEN = stream_frame(encode({"type": "lane_open"}))


class Relay:
    """The kernels' side: registered, not yet claimed lane connections by id."""

    def __init__(self, log: Any) -> None:
        self.log = log
        self.dir = tempfile.mkdtemp(prefix="k8sterm-lane-")  # 0700: only this user's processes connect
        self.path = os.path.join(self.dir, "s")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(64)
        self._sock.setblocking(False)
        self.pending: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        self._waiting: dict[str, asyncio.Future] = {}  # browsers that came before their kernel's registration
        self._server: asyncio.AbstractServer | None = None
        atexit.register(self.remove)

    def start(self) -> None:
        """Serve the socket and tell the kernels started from now on where it is."""
        os.environ[ENV] = self.path
        IOLoop.current().add_callback(self._serve)

    async def _serve(self) -> None:
        serve = asyncio.start_unix_server
        self._server = await serve(self._kernel_connected, sock=self._sock, limit=MAX_FRAME)

    def remove(self) -> None:
        if os.environ.get(ENV) == self.path:
            del os.environ[ENV]
        shutil.rmtree(self.dir, ignore_errors=True)

    async def _kernel_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            content, _ = decode(await read_frame(reader))
        except (FrameError, OSError, asyncio.IncompleteReadError):
            writer.close()
            return
        lane = content.get("lane")
        if (
            not isinstance(lane, str)
            or not LANE_ID.match(lane)
            or lane in self.pending
            or len(self.pending) >= MAX_PENDING
        ):
            writer.close()
            return
        self.pending[lane] = (reader, writer)
        waiter = self._waiting.pop(lane, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        IOLoop.current().call_later(CLAIM_WINDOW, self._expire, lane, writer)

    def _expire(self, lane: str, writer: asyncio.StreamWriter) -> None:
        if self.pending.get(lane, (None, None))[1] is writer:
            del self.pending[lane]
            writer.close()

    async def claim(self, lane: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The kernel connection registered as ``lane``, once (waiting up to ``ARRIVAL_WAIT`` for it)."""
        if lane not in self.pending and LANE_ID.match(lane) and lane not in self._waiting:
            waiter = self._waiting[lane] = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(waiter, ARRIVAL_WAIT)
            except asyncio.TimeoutError:
                pass
            finally:
                if self._waiting.get(lane) is waiter:
                    del self._waiting[lane]
        return self.pending.pop(lane, None)

    def give_back(self, lane: str, pair: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
        """A claim whose WebSocket handshake was refused: the lane stays claimable (within its window)."""
        if not pair[1].is_closing() and lane not in self.pending:
            self.pending[lane] = pair


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    return await reader.readexactly(frame_length(await reader.readexactly(4)))


class LaneHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """``GET {base_url}k8sterm/lane/<id>``: the browser's end of one lane."""

    auth_resource = "kernels"
    pair: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    _pump: asyncio.Future | None = None  # kernel -> browser

    def set_default_headers(self) -> None:
        """JupyterHandler's headers make no sense on a WebSocket (as in Jupyter's kernel handler)."""

    @property
    def relay(self) -> Relay:
        return self.settings["k8sterm_lane_relay"]

    @ws_authenticated
    async def get(self, lane: str) -> None:
        is_authorized = self.authorizer.is_authorized
        authorized = await ensure_async(is_authorized(self, self.current_user, "execute", "kernels"))
        if not authorized:
            raise web.HTTPError(403)
        self.pair = await self.relay.claim(lane)
        if self.pair is None:
            raise web.HTTPError(404, "no such lane")
        try:
            await super().get(lane)  # returns when the WebSocket ends, or at once if the upgrade is refused
        finally:
            if not self._opened and self.pair is not None:
                # Refused (not a WebSocket request, another origin, an unknown version): no browser got the
                # lane, so its owner may still claim it; closing it here let any such request use it up.
                self.relay.give_back(lane, self.pair)
                self.pair = None
            self.on_close()

    _opened = False

    async def open(self, lane: str) -> None:
        self._opened = True
        super().open()
        self.set_nodelay(True)
        assert self.pair is not None
        reader, writer = self.pair
        writer.write(LANE_OPEN)
        self._pump = asyncio.ensure_future(self._to_browser(reader))

    async def _to_browser(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                await self.write_message(await read_frame(reader), binary=True)
        except (asyncio.IncompleteReadError, FrameError, OSError, WebSocketClosedError, StreamClosedError):
            pass
        self.close()

    async def on_message(self, message: str | bytes) -> None:
        if self.pair is None:
            return
        writer = self.pair[1]
        if not isinstance(message, bytes) or len(message) > MAX_FRAME:
            self.log.warning("k8sterm: dropped a lane message that is not a binary frame")
            return
        writer.write(stream_frame(message))
        try:
            await writer.drain()  # the kernel reads slowly: stop reading the browser (back-pressure)
        except OSError:
            self.close()

    def on_close(self) -> None:
        if self.pair is not None:
            self.pair[1].close()
            self.pair = None

    def get_compression_options(self) -> None:
        return None  # terminal bytes are small and latency-bound


def setup(serverapp: Any) -> Relay | None:
    """Start the relay and route its WebSocket; None (and one log line) where Unix sockets are missing."""
    if not hasattr(socket, "AF_UNIX"):
        serverapp.log.info("k8sterm_widget: no Unix sockets here; terminals use the comm only")
        return None
    web_app = serverapp.web_app
    if "k8sterm_lane_relay" in web_app.settings:  # loaded twice
        return web_app.settings["k8sterm_lane_relay"]
    relay = Relay(serverapp.log)
    web_app.settings["k8sterm_lane_relay"] = relay
    base = web_app.settings.get("base_url", "/")
    web_app.add_handlers(".*$", [(base.rstrip("/") + r"/k8sterm/lane/([0-9a-f]+)", LaneHandler)])
    relay.start()
    return relay
