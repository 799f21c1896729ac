"""Jupyter Server extension: widget messages without the 40 ms Nagle delay and without status churn.

Two independent fixes for every widget served by this server, not only ours:

1. TCP_NODELAY on the server's WebSocket connections (below).
2. Comm messages' ``busy``/``idle`` no longer drive the kernel status shown in the page (the last section).

And one for our terminals: the *lane* relay (:mod:`k8sterm_widget.lane`), a direct path for terminal
bytes between the browser and the kernel that skips the Jupyter message path.

TCP_NODELAY
-----------

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

Comm status
-----------
**Why.** The kernel publishes ``status: busy`` and ``status: idle`` around *every* shell message it handles, a
widget's comm message included: one keystroke in a terminal widget is three messages back (busy, idle, the
echo). JupyterLab and Notebook 7 turn each into a kernel status change, and each change swaps the favicon,
re-renders the toolbar's execution indicator and the status bar and costs a layout and paint: measured, 2-5 ms
of page work per widget message that the echo queues behind (keystroke echo p50 8.5 → 6.7 ms, p90 15 → 10 ms).
With comm subshells (ipykernel 7, JupyterLab's default) it is also wrong: a comm handled on a subshell while a
cell runs flips the indicator to idle although the cell is still running.

**Hook.** The page's ``untracked_message_types`` option: the front end ignores a status message whose parent
is of one of those types (``@jupyterlab/services`` ``KernelConnection``). Jupyter Server fills it from
``MappingKernelManager.untracked_message_types``, which also decides what counts as kernel *activity* for the
idle culler; that list is left alone (typing in a terminal widget still keeps a kernel alive), and
``comm_msg`` is added to the page's copy only, through the public ``page_config_hook`` setting (JupyterLab
and Notebook 7 both call it), chained after a hook someone else has set.

**Cost.** The kernel indicator no longer shows *busy* while only a comm handler runs (it does while a cell
runs, correctly now). With comm subshells off, a long-running comm handler blocks cells without the
indicator saying so.

The lane relay is described in :mod:`k8sterm_widget.lane`.

Installed with the package as ``etc/jupyter/jupyter_server_config.d/k8sterm_widget.json``; turn all three off
with ``--ServerApp.jpserver_extensions=k8sterm_widget=False``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tornado import httputil
from tornado.ioloop import IOLoop
from tornado.web import OutputTransform

SWITCHING_PROTOCOLS = 101
UNTRACKED_IN_PAGE = "comm_msg"

PageConfigHook = Callable[[Any, dict], dict]


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


def untrack_comm_status(page_config: dict) -> dict:
    """The page config with ``comm_msg`` among ``untracked_message_types`` (see "Comm status" above)."""
    types = list(page_config.get("untracked_message_types") or [])
    if UNTRACKED_IN_PAGE not in types:
        page_config["untracked_message_types"] = [*types, UNTRACKED_IN_PAGE]
    return page_config


def chain_page_config_hook(previous: PageConfigHook | None) -> PageConfigHook:
    """A ``page_config_hook`` that runs ``previous`` (if any), then :func:`untrack_comm_status`."""
    if previous is not None and getattr(previous, "k8sterm_widget", False):
        return previous  # loaded twice: already chained

    def hook(handler: Any, page_config: dict) -> dict:
        if previous is not None:
            page_config = previous(handler, page_config)
        return untrack_comm_status(page_config)

    hook.k8sterm_widget = True  # type: ignore[attr-defined]
    return hook


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    if NoDelayAfterUpgrade not in serverapp.web_app.transforms:
        serverapp.web_app.add_transform(NoDelayAfterUpgrade)
    settings = serverapp.web_app.settings
    settings["page_config_hook"] = chain_page_config_hook(settings.get("page_config_hook"))
    try:
        from .lane.server import setup
    except ImportError as e:  # jupyter_server < 2.13 has no ws_authenticated: terminals use the comm
        relay, lanes = None, f"; no terminal lanes ({e})"
    else:
        relay = setup(serverapp)
        lanes = f"; terminal lanes relayed through {relay.path}" if relay is not None else ""
    serverapp.log.info(
        "k8sterm_widget: TCP_NODELAY on for WebSocket connections (no 40 ms Nagle delay on widget messages); "
        "comm messages' busy/idle no longer drive the kernel status shown in the page" + lanes
    )
