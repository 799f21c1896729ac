"""``Terminal``: the anywidget that shows a live shell in a container; ``shell()`` and ``debug()`` make one.

The kernel owns the exec stream (credentials never leave it, no extra port); the browser gets bytes over
the widget's comm (protocol in :mod:`.protocol`). This module is the lifecycle and the glue; the
policies live in :mod:`.coalesce`, :mod:`.flow`, :mod:`.replay`, the transport in :mod:`.output` and
:mod:`.stdin`.

Lifecycle:

* **Opening.** ``Terminal(...)`` returns at once with status ``connecting``; a thread resolves the
  kubeconfig and runs the pre-flight checks (pod, container, RBAC). The exec stream itself opens when the
  first view reports its size, or after ``FIRST_SIZE_WAIT`` with 80x24 when no view comes (headless
  runs), so the shell's first prompt already has the right width. A pre-flight failure becomes status
  ``error`` with one readable line; ``Terminal.error`` holds the typed exception.
* **Ending.** The process exits (``exited`` with the code), the connection drops (``disconnected`` with
  the reason), or :meth:`Terminal.close` ends it (``closed``). The last screen stays on display;
  :meth:`Terminal.reconnect` starts a new session in the same terminal.
* **Cleanup rule.** The remote process is also ended when the kernel stops (``atexit``) and when the
  cell output is cleared: when a front end reports that its last view of this terminal was removed and no
  view comes back within ``CLEARED_GRACE`` seconds (re-running a cell, clearing outputs, closing the
  notebook tab). A page reload does not count: it reports nothing, and its replacement replays the
  screen. Headless terminals (never displayed) live until closed or until the kernel stops.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path

import anywidget
import traitlets as t

from .. import errors
from ..kube.config import resolve
from ..kube.ephemeral import DEFAULT_TIMEOUT as DEFAULT_DEBUG_TIMEOUT
from ..recording.terminal import Recordable, TranscriptTrait
from ..session import ExecSession
from . import protocol
from .connect import DEBUG_IMAGE, Connector, ConnectorActions, DebugConnector
from .drive import Drivable, Driver
from .order import InputOrder, Latest
from .output import OutputPipe
from .routes import Routes
from .stdin import InputQueue

log = logging.getLogger("k8sterm_widget.widget")

STATIC = Path(__file__).resolve().parent.parent / "static"
FIRST_SIZE_WAIT = 2.0
DEFAULT_SIZE = (80, 24)
CLEARED_GRACE = 5.0
CLOSE_TIMEOUT = 1.0

STATES = ("connecting", "connected", "exited", "disconnected", "error", "closed")
LIVE = ("connecting", "connected")

# A new session in the same terminal: leave the alternate screen, soft-reset modes and attributes, and
# turn off mouse reporting and bracketed paste that the previous program may have left on. DECSC first:
# leaving a screen (1049l) restores the *saved* cursor, which is then the current one if no full-screen
# app was running, or the one saved when it started otherwise (xterm.js keeps one per screen).
RESET = b"\x1b7\x1b[?1049l\x1b[!p\x1b[?2004l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\r\n"

_live: weakref.WeakSet[Terminal] = weakref.WeakSet()


def _close_all_at_exit() -> None:
    for term in list(_live):
        try:
            term.close(timeout=0.5)
        except Exception:
            pass


atexit.register(_close_all_at_exit)


class Terminal(Recordable, ConnectorActions, Drivable, anywidget.AnyWidget):
    """A live shell (or command) in a Kubernetes container, shown as an xterm.js terminal.

    Synced state is names and status only. Options: ``renderer`` ("auto": WebGL where a GPU runs it, the
    DOM renderer where WebGL would be emulated in software, 2.5x faster there, or fails; "webgl" insists;
    "dom" forces it, e.g. for tests reading DOM rows), ``font_size``, ``rows`` (the visible height in rows;
    the width follows the cell), ``scrollback``, ``lane`` (False keeps this terminal on the comm).

    Automation hook: in the browser, the widget root ``.k8sterm`` has a ``terminal`` property, the live
    xterm ``Terminal`` (tests and benchmarks read its buffer).

    Scripting (``send``, ``expect``, ``run``, ``wait_exit`` …) comes from :class:`.drive.Drivable`;
    ``record``, ``snapshot`` and the saved ``transcript`` from :class:`..recording.terminal.Recordable`;
    how it connects (exec, or attach to a debug container: ``debug()``) from :mod:`.connect`.
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    pod = t.Unicode("").tag(sync=True)
    namespace = t.Unicode("").tag(sync=True)
    container = t.Unicode("").tag(sync=True)
    context = t.Unicode("").tag(sync=True)  # the kubeconfig context's *name*
    status = t.Enum(STATES, default_value="connecting").tag(sync=True)
    status_detail = t.Unicode("").tag(sync=True)
    exit_code = t.Int(None, allow_none=True).tag(sync=True)
    notes = t.List(t.Unicode()).tag(sync=True)
    badge = t.Unicode("").tag(sync=True)  # what kind of session, when not a plain shell ("debug container …")
    offers = t.List(t.Unicode()).tag(sync=True)  # actions the error line offers ("debug")
    # The last screen, kept in the notebook's widget state (set by the front end; see recording.terminal).
    transcript = TranscriptTrait().tag(sync=True, echo_update=False)

    renderer = t.Enum(("auto", "webgl", "dom"), default_value="auto").tag(sync=True)
    font_size = t.Int(13, min=6, max=72).tag(sync=True)
    rows = t.Int(24, min=4, max=200).tag(sync=True)
    scrollback = t.Int(5000, min=0, max=1_000_000).tag(sync=True)

    _uid = t.Unicode("").tag(sync=True)  # lets a view find its model-level state in the browser
    # Offer front ends the direct lane when the server relays one (k8sterm_widget.lane); False: comm only.
    lane = t.Bool(True)

    def __init__(
        self,
        pod: str,
        namespace: str | None = None,
        container: str | None = None,
        command: Sequence[str] | str | None = None,
        *,
        context: str | None = None,
        kubeconfig: str | os.PathLike | None = None,
        connect: bool = True,
        **kwargs,
    ) -> None:
        super().__init__(
            pod=pod,
            namespace=namespace or "",
            container=container or "",
            context=context or "",
            _uid=uuid.uuid4().hex,
            **kwargs,
        )
        self._args = {"namespace": namespace, "container": container, "context": context}
        self._command = command
        self._kubeconfig = kubeconfig
        self.error: errors.K8stermError | None = None
        self.session: ExecSession | None = None
        self._lock = threading.RLock()
        self._state_lock = threading.Lock()
        self._gen = 0
        self._created = time.monotonic()
        self._size: tuple[int, int] | None = None
        self._size_known = threading.Event()
        self._views_last: int | None = None
        self._grace: threading.Timer | None = None
        self._limiter = protocol.RateLimiter()
        self._drop = protocol.DropLog()
        self._routes = Routes(self._comm_send, self._on_lane_msg)
        self._pipe = OutputPipe(self._routes.send, pause=self._pause, resume=self._resume)
        self._stdin = InputQueue()
        self._order = InputOrder(self._deliver_input)
        self._latest = Latest()
        self._driver = Driver(self)
        self._connector = Connector()
        self._init_recordable()
        self.observe(self._offer_actions, names="status")
        self.on_msg(self._on_custom_msg)
        _live.add(self)
        if connect:
            self._start()

    # ------------------------------------------------------------------ public API

    def reconnect(self) -> None:
        """End the current session (if any) and open a new one in the same terminal."""
        if self.comm is None:
            raise errors.SessionClosed("this terminal widget was closed; create a new one with shell()")
        with self._lock:
            self._gen += 1
            old, self.session = self.session, None
        self._stdin.attach(None)
        self._stdin.clear()
        if old is not None:
            threading.Thread(target=old.close, args=(CLOSE_TIMEOUT,), daemon=True).start()
        label = f"{self.namespace}/{self.pod}" if self.namespace else self.pod
        self._pipe.inject(RESET + f"\x1b[2m[reconnecting to {label}]\x1b[0m\r\n".encode())
        self._start()

    def close(self, *, keep_view: bool = True, timeout: float = CLOSE_TIMEOUT) -> None:
        """End the remote process. The widget keeps showing the last screen with status "closed".

        ``keep_view=False`` also closes the widget itself (its views disappear), like ipywidgets'
        ``Widget.close``; :meth:`reconnect` is then no longer possible.
        """
        if not hasattr(self, "_pipe"):  # __init__ failed half-way (ipywidgets calls close() from __del__)
            super().close()
            return
        with self._lock:
            self._gen += 1
            session, self.session = self.session, None
            if self._grace is not None:
                self._grace.cancel()
                self._grace = None
        self._stdin.attach(None)
        self._stdin.clear()
        if session is not None:
            session.close(timeout)
        if self.status in LIVE:
            self._update(status="closed", status_detail="")
        if not keep_view:
            self.stop_recording()  # the widget goes away: finish its file (held lines, a half character)
            self._pipe.stop()
            self._stdin.stop()
            self._routes.close()
            _live.discard(self)
            super().close()

    def write(self, data: bytes | str) -> None:
        """Send input to the process, as if typed (queued while connecting)."""
        if self.status not in LIVE:
            raise errors.SessionClosed(f"the session has ended ({self.status}); call reconnect() first")
        data = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        self._tee_input(data)
        self._stdin.put(data)

    @property
    def size(self) -> tuple[int, int] | None:
        """The terminal size (cols, rows) last reported by a view."""
        return self._size

    def __repr__(self) -> str:
        where = f"{self.namespace}/{self.pod}" if self.namespace else self.pod
        container = f" ({self.container})" if self.container else ""
        detail = f": {self.status_detail}" if self.status_detail else ""
        return f"<k8sterm Terminal {where}{container} {self.status}{detail}>"

    # ------------------------------------------------------------------ connecting

    def _start(self) -> None:
        with self._lock:
            self._gen += 1
            gen = self._gen
        self.error = None
        self._update(status="connecting", status_detail="", exit_code=None)
        threading.Thread(target=self._connect, args=(gen,), name="k8sterm-connect", daemon=True).start()

    def _connect(self, gen: int) -> None:
        try:
            cluster = resolve(context=self._args["context"], kubeconfig=self._kubeconfig)
            namespace = self._args["namespace"] or cluster.namespace
            if not self._current(gen):
                return
            self._update(context=cluster.context or "", namespace=namespace)
            connector = self._connector
            target = connector.target(self, cluster, namespace)
            if not self._current(gen):
                return
            self._update(container=target.container, notes=list(target.notes))
            self._size_known.wait(max(0.0, self._created + FIRST_SIZE_WAIT - time.monotonic()))
            session = ExecSession.open(
                self.pod,
                connector.command(self),
                namespace,
                target.container,
                size=self._size or DEFAULT_SIZE,
                on_output=lambda _stream, data: self._on_output(gen, data),
                context=self._args["context"],
                kubeconfig=self._kubeconfig,
                check=False,
                subresource=connector.subresource,
            )
            session.notes = list(target.notes)
        except errors.K8stermError as e:
            self._failed(gen, e)
            return
        except Exception as e:  # a bug or an unexpected local failure: still one line, never a traceback
            log.exception("k8sterm: opening the session failed")
            self._failed(gen, errors.K8stermError(f"could not open the session: {type(e).__name__}: {e}"))
            return
        with self._lock:
            if gen != self._gen:
                stale = True
            else:
                stale = False
                self.session = session
        if stale:
            session.close(CLOSE_TIMEOUT)
            return
        if self._pipe.paused:
            session.pause_output()
        if self._size is not None and self._size != session.size:
            session.resize(*self._size)
        self._update(status="connected", status_detail="")
        connector.opened(self, session)
        self._stdin.attach(session)
        session.add_end_callback(lambda s: self._ended(gen, s))

    def _current(self, gen: int) -> bool:
        with self._lock:
            return gen == self._gen

    def _failed(self, gen: int, error: errors.K8stermError) -> None:
        if not self._current(gen):
            return
        self.error = error
        self._update(status="error", status_detail=str(error))

    def _ended(self, gen: int, session: ExecSession) -> None:
        with self._lock:
            if gen != self._gen:
                return
            self.session = None
        self._stdin.attach(None)
        self._stdin.clear()
        self._pipe.flush()
        if session.exit_code is not None:
            self._update(status="exited", status_detail="", exit_code=session.exit_code)
        elif isinstance(session.error, errors.ConnectionLost):
            self.error = session.error
            self._update(status="disconnected", status_detail=session.error.reason)
        elif session.error is not None:
            self.error = session.error
            self._update(status="error", status_detail=str(session.error))
        else:
            self._update(status="closed", status_detail=session.end_reason or "")

    def _on_output(self, gen: int, data: bytes) -> None:
        if gen == self._gen:
            with self._rec_lock:
                self._pipe.feed(data)
                self._tee_output(data)
            self._driver.tap.feed(data)

    def _pause(self) -> None:
        if (session := self.session) is not None:
            session.pause_output()

    def _resume(self) -> None:
        if (session := self.session) is not None:
            session.resume_output()

    def _update(self, **traits) -> None:
        """Set synced traits together (one update message); serialized across threads."""
        with self._state_lock, self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)

    def _comm_send(self, content: dict, buffers: list) -> None:
        self.send(content, buffers or None)

    # ------------------------------------------------------------------ front-end messages

    def _on_custom_msg(self, _widget, content, buffers) -> None:
        self._handle(content, buffers, None)

    def _on_lane_msg(self, content: dict, buffers: list, frontend: str) -> None:
        self._handle(content, buffers, frontend)

    def _handle(self, content, buffers, lane: str | None) -> None:
        """Every front-end message, comm or lane, comes here: validate, rate-limit, dispatch; never raise."""
        try:
            if not self._limiter.allow():
                self._drop("rate limit exceeded")
                return
            msg = protocol.parse(content, buffers)
        except protocol.Invalid as e:
            self._drop(str(e))
            return
        except Exception as e:
            self._drop(f"unreadable message ({type(e).__name__})")
            return
        msg.lane = lane
        if lane is None and msg.type in ("ready", "replay"):
            self._routes.heard_on_comm(msg.fields["id"])
        try:
            getattr(self, f"_on_{msg.type}")(msg)
        except Exception:
            log.exception("k8sterm: handling a %r message failed", msg.type)

    def _on_ready(self, msg: protocol.Message) -> None:
        hello = {"type": "hello", "to": msg.fields["id"], "binary_in": msg.binary}
        if self.lane and msg.lane is None and (lane := self._routes.offer(msg.fields["id"])):
            hello["lane"] = lane
        self.send(hello, [b"\x01"])

    def _on_replay(self, msg: protocol.Message) -> None:
        # A lane carries buffers whatever the comm does: only a comm request can switch the comm to base64.
        self._pipe.replay_to(msg.fields["id"], b64_only=msg.fields["b64"] and msg.lane is None)

    def _on_input(self, msg: protocol.Message) -> None:
        self._order.push(msg.fields["id"], msg.fields["seq"], msg.data or b"")

    def _deliver_input(self, data: bytes) -> None:
        if self.status in LIVE and data:
            self._tee_input(data)
            self._stdin.put(data)

    def _on_resize(self, msg: protocol.Message) -> None:
        if not self._latest.newer(msg.fields["id"], "resize", msg.fields["seq"]):
            return
        size = (msg.fields["cols"], msg.fields["rows"])
        self._size = size
        self._size_known.set()
        if (session := self.session) is not None and not session.ended:
            try:
                session.resize(*size)
                self._tee_resize(*size)
            except errors.K8stermError as e:
                log.info("k8sterm: resize failed: %s", e)

    def _on_ack(self, msg: protocol.Message) -> None:
        self._pipe.ack(msg.fields["offset"])

    def _on_checkpoint(self, msg: protocol.Message) -> None:
        f = msg.fields
        self._pipe.checkpoint(f["offset"], f["cols"], f["rows"], msg.data or b"")

    def _on_views(self, msg: protocol.Message) -> None:
        if not self._latest.newer(msg.fields["id"], "views", msg.fields["seq"]):
            return
        count = msg.fields["count"]
        with self._lock:
            self._views_last = count
            if self._grace is not None:
                self._grace.cancel()
                self._grace = None
            if count == 0 and self.status in LIVE:
                self._grace = threading.Timer(CLEARED_GRACE, self._grace_expired)
                self._grace.daemon = True
                self._grace.start()

    def _grace_expired(self) -> None:
        with self._lock:
            if self._views_last != 0:
                return
            self._grace = None
        log.info("k8sterm: the last view of %s was removed; closing the session", self.pod)
        self.close()

    def _on_reconnect(self, _msg: protocol.Message) -> None:
        self.reconnect()


def shell(
    pod: str,
    namespace: str | None = None,
    container: str | None = None,
    command: Sequence[str] | str | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    **options,
) -> Terminal:
    """A live shell in ``pod`` as a widget: make it the last expression of a cell.

    ``command`` None starts the container's best shell (bash, ash, sh); a list is an argv, a string runs
    through ``sh -c``. ``context``/``kubeconfig`` choose the cluster as kubectl would. ``options`` are
    display traits of :class:`Terminal` (``rows``, ``font_size``, ``renderer``, ``scrollback``). Never
    raises for cluster problems: the widget shows the error line, and ``Terminal.error`` holds the typed
    exception. Scripts drive it with ``run``/``sendline``/``expect``/``wait_exit`` (see :mod:`.drive`).
    """
    return Terminal(pod, namespace, container, command, context=context, kubeconfig=kubeconfig, **options)


def debug(
    pod: str,
    image: str = DEBUG_IMAGE,
    target: str | None = None,
    namespace: str | None = None,
    container_name: str | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    command: Sequence[str] | None = None,
    timeout: float = DEFAULT_DEBUG_TIMEOUT,
    **options,
) -> Terminal:
    """A shell in a new ephemeral debug container of ``pod``, as a terminal widget (``kubectl debug -it``).

    For images that have no shell (distroless, scratch). ``image`` is the debug container's image (a shell
    and tools; default ``busybox:1.36``); ``target`` the container whose processes it should see (default:
    the one ``kubectl exec`` would pick); ``container_name`` names it (default ``debugger-xxxxx``; naming a
    running debug container attaches to it instead of adding one); ``command`` replaces the image's default
    command; ``timeout`` bounds the wait for it to run. ``context``/``kubeconfig``/``namespace`` as for
    :func:`shell`; ``options`` are display traits of :class:`Terminal` (``rows``, ``renderer`` …).

    Returns at once, like :func:`shell`, the same :class:`Terminal`, whose header marks it as a debug
    container: the widget shows the progress and, on failure, one error line, and ``Terminal.error`` holds
    the typed exception (scripting calls such as ``run()`` wait for the shell and raise it). Ephemeral
    containers cannot be removed: each call adds one to the pod for good (checks run first, see
    :mod:`k8sterm_widget.kube.ephemeral`). A reconnect attaches again while the container runs and starts
    a new one once it has ended (:class:`.connect.DebugConnector`).
    """
    term = Terminal(
        pod, namespace, None, None, context=context, kubeconfig=kubeconfig, connect=False, **options
    )
    term._connector = DebugConnector(
        image=image, target=target, name=container_name, command=command, timeout=timeout
    )
    term._start()
    return term
