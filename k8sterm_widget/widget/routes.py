"""Which way each kernel → front-end message goes: the widget's comm, a front end's lane, or both.

The comm reaches every front end of the widget at once; a lane (:mod:`k8sterm_widget.lane`) reaches one.
The rules, chosen so that a front end never misses output and a lane never costs a round trip:

* ``hello`` always goes on the comm: its probe buffer tells the front end whether the *comm* carries
  buffers (a lane always does);
* a message addressed to one front end (``replay``: the ``to`` field) goes on that front end's lane when
  it is open, else on the comm;
* ``output`` goes on every open lane, and on the comm too unless every front end the kernel has heard on
  the comm has since moved to a lane (a front end that never got a lane — another host, an old page —
  keeps the comm flowing; duplicates are harmless, the front end skips them by offset);
* everything else (``detached``, ``snapshot``) goes on the comm, to everyone.

A front end is "heard on the comm" when it sends ``ready`` or ``replay`` there, and that also means it has
left its lane, if it had one (a front end on a lane sends everything on it): the lane is closed, even if
the kernel still thinks it open (a browser that dropped its WebSocket behind a half-open connection).
When a lane closes its front end is forgotten until it says so again (a live page falls back and asks for
a replay on the comm; a closed page says nothing and costs nothing). A front end that never got a lane
and then went away stays "on the comm": output then also goes there, which costs bandwidth, not bytes.

At most ``MAX_LANES`` lanes per terminal (the oldest gives way): each holds a socket and a thread here and
in the server.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable

from ..lane.kernel import Lane

log = logging.getLogger("k8sterm_widget.widget")

MAX_LANES = 8

Send = Callable[[dict, list], None]
Receive = Callable[[dict, list, str], None]


class Routes:
    def __init__(self, comm_send: Send, receive: Receive) -> None:
        self._comm_send = comm_send
        self._receive = receive  # (content, buffers, front-end id): a message that came on a lane
        self._lock = threading.Lock()
        self._comm_ids: set[str] = set()
        self._lanes: dict[str, Lane] = {}  # front-end id -> its lane, pending or open

    # ------------------------------------------------------------------ front ends

    def heard_on_comm(self, frontend: str) -> None:
        with self._lock:
            lane = self._lanes.pop(frontend, None)
            self._comm_ids.add(frontend)
        if lane is not None:
            lane.close()  # the front end has left it

    def offer(self, frontend: str) -> str | None:
        """Connect a lane for ``frontend``; its id for the ``hello``, or None (no relay: comm only)."""
        with self._lock:
            stale = [self._lanes.pop(frontend)] if frontend in self._lanes else []  # it said `ready` again
            while len(self._lanes) >= MAX_LANES:
                stale.append(self._lanes.pop(next(iter(self._lanes))))
        for old in stale:
            old.close()
        lane = Lane.connect(
            on_message=lambda _lane, content, buffers: self._receive(content, buffers, frontend),
            on_open=lambda lane: self._opened(frontend, lane),
            on_close=lambda lane: self._closed(frontend, lane),
        )
        if lane is None:
            return None
        with self._lock:
            self._lanes[frontend] = lane
        return lane.id

    def _opened(self, frontend: str, lane: Lane) -> None:
        with self._lock:
            if self._lanes.get(frontend) is lane:
                self._comm_ids.discard(frontend)

    def _closed(self, frontend: str, lane: Lane) -> None:
        with self._lock:
            if self._lanes.get(frontend) is lane:
                del self._lanes[frontend]

    def on_lane(self, frontend: str) -> bool:
        with self._lock:
            lane = self._lanes.get(frontend)
            return lane is not None and lane.is_open

    @property
    def open_lanes(self) -> int:
        with self._lock:
            return sum(1 for lane in self._lanes.values() if lane.is_open)

    def close(self) -> None:
        with self._lock:
            lanes, self._lanes = list(self._lanes.values()), {}
        for lane in lanes:
            lane.close()

    # ------------------------------------------------------------------ sending

    def send(self, content: dict, buffers: list) -> None:
        with self._lock:
            lanes = {fe: lane for fe, lane in self._lanes.items() if lane.is_open}
            comm_too = bool(self._comm_ids) or not lanes
        kind = content.get("type")
        to = content.get("to")
        if kind == "hello":
            self._comm_send(content, buffers)
            return
        if isinstance(to, str):
            lane = lanes.get(to)
            if lane is None or not lane.send(*_binary(content, buffers)):
                self._comm_send(content, buffers)
            return
        if kind == "output" and lanes:
            content_bin, buffers_bin = _binary(content, buffers)
            for lane in lanes.values():
                if not lane.send(content_bin, buffers_bin):
                    comm_too = True  # it closed just now: its front end will ask for a replay anyway
            if not comm_too:
                return
        self._comm_send(content, buffers)


def _binary(content: dict, buffers: list) -> tuple[dict, list]:
    """Lanes always carry buffers: undo the base64 form the comm may be using for other front ends."""
    encoded = content.get("b64")
    if encoded is None or buffers:
        return content, buffers
    content = {k: v for k, v in content.items() if k != "b64"}
    parts = encoded if isinstance(encoded, list) else [encoded]
    return content, [base64.b64decode(p) for p in parts]
