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
import re
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import traitlets as t

from .. import errors
from ..face import Face, display_with_face, frame
from ..frontend import SharedFrontEnd
from ..kube.config import resolve
from ..kube.ephemeral import DEFAULT_TIMEOUT as DEFAULT_DEBUG_TIMEOUT
from ..recording.recorder import Recording
from ..recording.redact import Rule
from ..recording.snapshot import FACE_TAIL, Snapshot, screen_face, screen_frame
from ..recording.terminal import SNAPSHOT_TIMEOUT, TerminalRecorder, TranscriptTrait, cap_screen
from ..session import ExecSession
from . import protocol
from .connect import DEBUG_IMAGE, Connector, DebugConnector, offers_for
from .drive import DEFAULT_TIMEOUT, Driver, Pattern, RunResult
from .order import InputOrder, Latest
from .output import OutputPipe
from .routes import Routes
from .stdin import InputQueue

log = logging.getLogger("k8sterm_widget.widget")

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


class Terminal(SharedFrontEnd):
    """A live shell (or command) in a Kubernetes container, shown as an xterm.js terminal.

    Synced state is names and status only. Options: ``renderer`` ("auto": WebGL where a GPU runs it, the
    DOM renderer where WebGL would be emulated in software, 2.5x faster there, or fails; "webgl" insists;
    "dom" forces it, e.g. for tests reading DOM rows), ``font_size``, ``rows`` (the visible height in rows;
    the width follows the cell), ``scrollback``, ``lane`` (False keeps this terminal on the comm).

    Automation hook: in the browser, the widget root ``.k8sterm`` has a ``terminal`` property, the live
    xterm ``Terminal`` (tests and benchmarks read its buffer).

    Composed, not mixed in: scripting (``send``, ``expect``, ``run``, ``wait_exit`` …) is its
    :class:`.drive.Driver`'s, ``record``, ``snapshot`` and the saved ``transcript`` its
    :class:`~k8sterm_widget.recording.terminal.TerminalRecorder`'s, and how it reaches its process (exec,
    or attach to a debug container: :meth:`debug`) its :class:`.connect.Connector`'s; the methods here
    only forward. ``send`` is pexpect's (keystrokes), not ipywidgets' ``Widget.send``: messages to the
    front end leave through :meth:`_post` only.
    """

    part = "terminal"

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
        **kwargs: Any,
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
        self._shell_path: str | None = None  # the auto-detected shell, once a recording asked for it
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
        self._pipe = OutputPipe(self._post, pause=self._pause, resume=self._resume)
        self._stdin = InputQueue(drop=self._drop)
        self._order = InputOrder(self._deliver_input)
        self._latest = Latest()
        self._driver = Driver(self)
        self._connector: Connector = Connector()
        self._recorder = TerminalRecorder(self, _shell_name(command))
        self._face = Face(self._draw_face)  # what readers without the widget see (k8sterm_widget.face)
        # Front-end messages by type: every type protocol.parse accepts has exactly one handler.
        self._handlers: dict[str, Callable[[protocol.Message], None]] = {
            "ready": self._on_ready,
            "replay": self._on_replay,
            "input": self._on_input,
            "resize": self._on_resize,
            "ack": self._on_ack,
            "checkpoint": self._on_checkpoint,
            "views": self._on_views,
            "reconnect": lambda _msg: self.reconnect(),
            "snapshot": lambda msg: self._recorder.answer(msg.fields["id"], msg.data),
            "debug": self._on_debug,
        }
        self.observe(self._after_status_change, names="status")
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
            self._recorder.stop()  # the widget goes away: finish its file (held lines, a half character)
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
        self._recorder.input(data)
        self._stdin.put(data)

    @property
    def size(self) -> tuple[int, int] | None:
        """The terminal size (cols, rows) last reported by a view."""
        return self._size

    def debug(
        self,
        image: str = DEBUG_IMAGE,
        target: str | None = None,
        container_name: str | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Replace this terminal's session with a shell in a new ephemeral debug container of its pod.

        What the "Debug with busybox" button of a "no shell in this image" error does. ``target`` defaults
        to the container this terminal tried (its processes are then visible to ``ps``). See
        :func:`k8sterm_widget.debug` for the container and the errors.
        """
        self._connector = DebugConnector(
            image=image,
            target=target or self.container or None,
            name=container_name,
            timeout=DEFAULT_DEBUG_TIMEOUT if timeout is None else timeout,
        )
        self.reconnect()

    # ------------------------------------------------------------------ scripting (the driver's)

    def send(self, data: str | bytes) -> None:  # pexpect's send, not ipywidgets' Widget.send
        """Type ``data`` into the terminal (str is UTF-8 encoded; ``"\\r"`` is Enter, ``"\\x03"`` Ctrl-C).

        This is pexpect's ``send``: keystrokes only. (ipywidgets' ``Widget.send``, a message to the front
        end, is not available on a ``Terminal``; its protocol messages leave through its own path.)
        """
        self._driver.send(data)

    def sendline(self, line: str = "") -> None:
        """``send(line + "\\r")``: a line, and Enter as the keyboard sends it."""
        self.send(line + "\r")

    def expect(
        self, pattern: Pattern | Sequence[Pattern], timeout: float | None = DEFAULT_TIMEOUT
    ) -> re.Match[str]:
        """Wait until the output matches ``pattern`` (a regex: str or compiled) and return the match.

        Text is matched after UTF-8 decoding, with escape sequences removed and ``\\r\\n`` as ``\\n``; the
        search covers the output not yet consumed by an earlier match (up to
        :data:`~.drive.BUFFER_LIMIT` characters). A list of patterns waits for whichever matches first in
        the output (``match.re`` tells which). The text up to the match's end is consumed: ``before`` is
        what came before it, ``after`` the matched text. ``timeout`` in seconds, ``None`` waits forever.
        Raises :class:`~k8sterm_widget.errors.ExpectTimeout` (with the last screen lines),
        :class:`~k8sterm_widget.errors.TerminalEnded` when the process ends first, or the terminal's
        typed error when it could not connect.
        """
        return self._driver.expect(pattern, timeout)

    def expect_exact(
        self, text: str | Sequence[str], timeout: float | None = DEFAULT_TIMEOUT
    ) -> re.Match[str]:
        """:meth:`expect` for literal text (no regex syntax)."""
        return self._driver.expect_exact(text, timeout)

    def run(self, command: str, timeout: float | None = DEFAULT_TIMEOUT, *, check: bool = False) -> RunResult:
        """Type ``command`` at the shell prompt, wait for it to finish, return its output.

        The result is a ``str`` (:class:`~.runline.RunResult`) without the echoed command line or the
        prompt, with ``.exit_code``; ``last_exit_code`` keeps the latest. ``check=True`` raises
        :class:`~k8sterm_widget.errors.CommandFailed` on a non-zero exit. The end is found by marks the
        shell prints, not by the prompt (see :mod:`k8sterm_widget.widget.drive`), so any PS1 works.
        Raises :class:`~k8sterm_widget.errors.RunTimeout` (the command may still run: ``interrupt()``),
        :class:`~k8sterm_widget.errors.TerminalBusy` while an earlier timed-out command still runs,
        :class:`~k8sterm_widget.errors.TerminalEnded` if the shell exits (``run("exit")``), or the
        terminal's typed error (``NoShellFound`` …) when it could not connect. The command must not read
        from the terminal; drive interactive programs with ``sendline``/``expect``.
        """
        try:
            return self._driver.run(command, timeout, check)
        finally:
            self._face.soon()  # the prompt follows the command's end: a cell ending now waits for it

    def wait_exit(self, timeout: float | None = DEFAULT_TIMEOUT) -> int | None:
        """Wait for the process to end; return its exit code (None if the terminal was closed).

        Raises the terminal's typed error when the connection was lost or never made, and
        :class:`~k8sterm_widget.errors.ExpectTimeout` when it is still running after ``timeout``.
        """
        return self._driver.wait_exit(timeout)

    def interrupt(self) -> None:
        """Send Ctrl-C, and stop waiting for the command of a ``run`` that timed out."""
        self._driver.interrupt()

    def screen(self) -> list[str]:
        """The rows the terminal shows now, rebuilt from its recent output (trailing spaces removed)."""
        return self._driver.screen()

    @property
    def before(self) -> str:
        """The text before the last ``expect`` match (after the previous one)."""
        return self._driver.before

    @property
    def after(self) -> str:
        """The text the last ``expect`` matched."""
        return self._driver.after

    @property
    def match(self) -> re.Match[str] | None:
        """The last ``expect`` match."""
        return self._driver.match

    @property
    def last_exit_code(self) -> int | None:
        """The exit code of the last command ``run`` completed."""
        return self._driver.last_exit_code

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ keeping the session (the recorder's)

    def record(
        self,
        path: str | os.PathLike,
        *,
        input: bool = False,
        redact: Rule | None = None,
        title: str | None = None,
    ) -> Recording:
        """Record this terminal to ``path`` as an asciicast v2 file until :meth:`stop_recording`.

        The file is written as output arrives (kernel side: no browser needed) and starts with the current
        screen. ``input=True`` also records typed input (off by default: passwords are typed without echo
        and would only appear there). ``redact`` drops secrets: a callable ``str -> str``, or a list of
        regular expressions whose matches become ``[redacted]`` (see :mod:`k8sterm_widget.recording.redact`
        for how text split across chunks is still caught). Returns the
        :class:`~k8sterm_widget.recording.Recording`, also usable as a context manager.
        ``k8sterm_widget.replay(path)`` plays it; so does ``asciinema play``.
        """
        shell = self._running_shell()
        return self._recorder.record(path, input=input, redact=redact, title=title, shell=shell)

    def _running_shell(self) -> str | None:
        """The auto-detected shell's path, asked of the container the way the detection picks it (once).

        None where the command is the caller's (the argv names it) or the process is a debug container's.
        """
        if self._command is not None or type(self._connector) is not Connector:
            return None
        if self._shell_path is None:
            from ..oneshot import exec as exec_once
            from ..session import SHELL_PROBE

            container = self.container or self._args["container"]
            try:
                found = exec_once(
                    self.pod,
                    ["sh", "-c", SHELL_PROBE],
                    self._args["namespace"],
                    container,
                    context=self._args["context"],
                    kubeconfig=self._kubeconfig,
                    timeout=10,
                )
                path = found.stdout.strip().splitlines()
                self._shell_path = path[0] if found.exit_code == 0 and path else ""
            except errors.K8stermError as e:
                log.info("k8sterm: which shell runs could not be asked: %s", e)
                return None
        return self._shell_path or None

    def stop_recording(self) -> Path | None:
        """Finish the recording (writes what is still held back for redaction); returns its path."""
        return self._recorder.stop()

    @property
    def recording(self) -> Recording | None:
        """The current (or last) recording."""
        return self._recorder.recording

    def snapshot(self, *, timeout: float = SNAPSHOT_TIMEOUT) -> Snapshot:
        """The current screen as static HTML; make it the last expression of a cell to display it.

        The output is plain ``text/html`` (no script, inline styles), so GitHub, nbviewer, nbconvert and
        VS Code render it without the widget. The kernel renders its own screen model at once (escaped
        text); a front end showing this terminal is asked for xterm's ``serializeAsHTML`` (with colours,
        sanitized here), which replaces it, in the displayed output too, when it arrives. Where the front
        end's answer can reach the kernel while this cell runs (comm messages handled off the main thread),
        this waits up to ``timeout`` seconds for it; otherwise it returns at once.
        """
        return self._recorder.snapshot(timeout)

    # ------------------------------------------------------------------ what the collaborators read

    def _pty_size(self) -> tuple[int, int]:
        """(cols, rows): as a view reported it, else as the session opened, else 80x24."""
        session = self.session
        return self._size or (session.size if session is not None else None) or DEFAULT_SIZE

    def _screen_bytes(self) -> bytes:
        return self._pipe.screen()

    def _views_shown(self) -> bool:
        return self.comm is not None and bool(self._views_last)

    def __repr__(self) -> str:
        where = f"{self.namespace}/{self.pod}" if self.namespace else self.pod
        container = f" ({self.container})" if self.container else ""
        detail = f": {self.status_detail}" if self.status_detail else ""
        return f"<k8sterm Terminal {where}{container} {self.status}{detail}>"

    # ------------------------------------------------------------------ display

    def _ipython_display_(self) -> None:
        """The live widget, then its static face: the last screen, for every reader without the widget."""
        where = f"{self.namespace}/{self.pod}" if self.namespace else self.pod
        display_with_face(self, f"k8sterm terminal {where}", self._face)

    def _draw_face(self) -> tuple[str, str]:
        cols, rows = self._pty_size()
        output = self._screen_bytes().decode("utf-8", "replace")
        inner, text = screen_face(output, cols, rows)
        if output and self.status in LIVE and not self._views_shown():
            # No front end keeps the transcript (nbconvert --execute): keep the screen drawn here, so that
            # the notebook saved with widget state shows it in the widget too when reopened.
            kept = cap_screen(output, FACE_TAIL)
            if kept != self.transcript.get("data"):
                self.transcript = {"data": kept, "cols": cols, "rows": rows, "source": "kernel"}
        where = f"{self.namespace}/{self.pod}" if self.namespace else self.pod
        status = f"exited with code {self.exit_code}" if self.status == "exited" else self.status
        if self.status_detail and self.status in ("error", "disconnected"):
            status = f"{status}: {self.status_detail}"
        caption = " · ".join(part for part in (where, self.container, status) if part)
        return frame("terminal", self._uid, screen_frame(inner, caption)), f"{caption}\n{text}"

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

    def _on_output(self, gen: int, data: bytes | memoryview) -> None:
        if gen == self._gen:
            with self._recorder.lock:
                self._pipe.feed(data)
                self._recorder.output(data)
            self._driver.tap.feed(data)
            self._face.changed()

    def _pause(self) -> None:
        if (session := self.session) is not None:
            session.pause_output()

    def _resume(self) -> None:
        if (session := self.session) is not None:
            session.resume_output()

    def _update(self, **traits: Any) -> None:
        """Set synced traits together (one update message); serialized across threads."""
        with self._state_lock, self.hold_sync():
            for name, value in traits.items():
                setattr(self, name, value)
        if traits.keys() & {"status", "status_detail", "exit_code"}:
            self._face.changed()
            if self.status not in LIVE:
                self._face.refresh()  # a session that ended shows it at once, wherever the face is

    def _after_status_change(self, change: dict) -> None:
        """An error the user can act on gets its buttons (anything else clears them); a session that ended
        with no view showing it keeps its screen in the widget state."""
        offers = offers_for(self.error) if change["new"] == "error" else []
        if list(self.offers) != offers:
            self.offers = offers
        transcript = self._recorder.transcript_after(change["old"], change["new"])
        if transcript is not None:
            self.transcript = transcript

    # ------------------------------------------------------------------ kernel -> front end

    def _post(self, content: dict, buffers: Sequence[bytes] = ()) -> None:
        """The one way protocol messages leave: :class:`.routes.Routes` picks the comm or a lane."""
        if content.get("type") not in protocol.KERNEL_TYPES:
            raise ValueError(f"not a kernel message of the protocol: {content.get('type')!r}")
        self._routes.send(content, list(buffers))

    def _comm_send(self, content: dict, buffers: list) -> None:
        """The comm end of the routes: ipywidgets' ``Widget.send`` (``send`` here types keys)."""
        super().send(content, buffers or None)

    # ------------------------------------------------------------------ front-end messages

    # ------------------------------------------------------------------ front end -> kernel

    def _on_custom_msg(self, _widget: object, content: object, buffers: Sequence[Any] | None) -> None:
        self._handle(content, buffers, None)

    def _on_lane_msg(self, content: dict, buffers: list, frontend: str) -> None:
        self._handle(content, buffers, frontend)

    def _handle(self, content: object, buffers: Sequence[Any] | None, lane: str | None) -> None:
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
            self._handlers[msg.type](msg)
        except Exception:
            log.exception("k8sterm: handling a %r message failed", msg.type)

    def _on_ready(self, msg: protocol.Message) -> None:
        hello = {"type": "hello", "to": msg.fields["id"], "binary_in": msg.binary}
        if self.lane and msg.lane is None and (lane := self._routes.offer(msg.fields["id"])):
            hello["lane"] = lane
        self._post(hello, [b"\x01"])

    def _on_replay(self, msg: protocol.Message) -> None:
        # A lane carries buffers whatever the comm does: only a comm request can switch the comm to base64.
        f = msg.fields
        self._pipe.replay_to(f["id"], b64_only=f["b64"] and msg.lane is None, have=f["have"])

    def _on_input(self, msg: protocol.Message) -> None:
        self._order.push(msg.fields["id"], msg.fields["seq"], msg.data or b"")

    def _deliver_input(self, data: bytes) -> None:
        if self.status in LIVE and data:
            self._recorder.input(data)
            self._stdin.put(data)

    def _on_resize(self, msg: protocol.Message) -> None:
        if not self._latest.newer(msg.fields["id"], "resize", msg.fields["seq"]):
            return
        size = (msg.fields["cols"], msg.fields["rows"])
        self._size = size
        self._size_known.set()
        self._recorder.resize(*size)  # also before the stream opens: the size the view gives is the cast's
        if (session := self.session) is not None and not session.ended:
            try:
                session.resize(*size)
            except errors.K8stermError as e:
                log.info("k8sterm: resize failed: %s", e)

    def _on_debug(self, _msg: protocol.Message) -> None:
        """The error line's "Debug with busybox": a permanent container, so only when offered, and once.

        Without this check any front end (or five clicks) could add ephemeral containers, which a pod keeps
        until it is deleted. The offer is withdrawn before the switch starts, under the lock, so two
        messages racing on two threads (comm and lane) cannot both pass.
        """
        with self._lock:
            if "debug" not in self.offers:
                self._drop("a 'debug' request the terminal has not offered")
                return
            self.offers = [o for o in self.offers if o != "debug"]
        self.debug()

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


def _shell_name(command: Sequence[str] | str | None) -> str:
    """The ``$SHELL`` a recording names for an argv: its program (else sh, until the container is asked
    which shell the auto-detection starts: ``Terminal._running_shell``)."""
    if isinstance(command, (list, tuple)) and command:
        return str(command[0])
    return "/bin/sh"


def shell(
    pod: str,
    namespace: str | None = None,
    container: str | None = None,
    command: Sequence[str] | str | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    **options: Any,
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
    **options: Any,
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
