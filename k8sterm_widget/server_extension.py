"""Jupyter Server extension: TCP_NODELAY on the server's WebSocket connections.

**Why.** Every comm reply from a kernel (a widget's ``send``) reaches the browser about 40 ms late. The kernel
emits ``status: busy`` and then the reply; Jupyter Server forwards each as its own WebSocket frame; with
Nagle's algorithm on, the second small frame waits until the browser ACKs the first, and browsers delay that
ACK (~40 ms on Linux). A bare anywidget ping-pong in JupyterLab 4.6 takes 44 ms per round trip on a stock
server, about 4 ms with TCP_NODELAY on. Tornado leaves Nagle on for WebSockets unless the application asks
(``WebSocketHandler.set_nodelay``), and Jupyter Server does not ask. So this speeds up every widget served by
this server, not only ours.

**Hook.** A tornado output transform (the public ``Application.add_transform``), instantiated for every
request. Turning the flag on when a request *starts* would not stick: finishing the ``101 Switching
Protocols`` response runs the HTTP/1.1 connection's "Nagle back on for the next request" reset just before the
stream is handed over to the WebSocket. So on a 101 response the transform sets the flag one IOLoop step
later, once the socket carries the WebSocket. This covers every WebSocket of the server (kernels, terminals,
collaboration, other extensions) and composes with anything else, whereas the other candidate,
``ServerApp.kernel_websocket_connection_class``, covers kernel sockets only and would replace a class that the
user, the gateway client or another extension may have set. Nothing private is patched.

**Cost.** Each WebSocket message leaves in its own TCP segment instead of being coalesced with the next: a few
more packets for bursts of tiny messages (Tornado writes a frame with one ``write``, so a frame is never split
into a header packet and a payload packet). Plain HTTP is left alone: Tornado itself turns no-delay on at the
end of each response and off again for the next request on a keep-alive connection. ``IOStream.set_nodelay``
is a no-op on non-TCP streams, so a server on a unix socket is unaffected.

Installed with the package as ``etc/jupyter/jupyter_server_config.d/k8sterm_widget.json``; turn it off with
``--ServerApp.jpserver_extensions=k8sterm_widget=False``.
"""

from __future__ import annotations

from typing import Any

from tornado import httputil
from tornado.ioloop import IOLoop
from tornado.web import OutputTransform

SWITCHING_PROTOCOLS = 101


class NoDelayAfterUpgrade(OutputTransform):
    """Sets TCP_NODELAY on a connection once it has been upgraded to a WebSocket; other responses pass."""

    def __init__(self, request: httputil.HTTPServerRequest) -> None:
        super().__init__(request)
        self._stream = getattr(request.connection, "stream", None)

    def transform_first_chunk(
        self, status_code: int, headers: httputil.HTTPHeaders, chunk: bytes, finishing: bool
    ) -> tuple[int, httputil.HTTPHeaders, bytes]:
        if status_code == SWITCHING_PROTOCOLS and self._stream is not None:
            # After the handshake's own reset (see the module docstring); a closed stream ignores it.
            IOLoop.current().add_callback(self._stream.set_nodelay, True)
        return status_code, headers, chunk


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    if NoDelayAfterUpgrade not in serverapp.web_app.transforms:
        serverapp.web_app.add_transform(NoDelayAfterUpgrade)
    serverapp.log.info(
        "k8sterm_widget: TCP_NODELAY on for WebSocket connections (no 40 ms Nagle delay on widget messages)"
    )
