"""What keeps a terminal's session: ``record()``, ``snapshot()`` and the saved transcript.

``Terminal`` holds one :class:`TerminalRecorder` and forwards to it. The recorder sees the terminal only
through :class:`RecordedTerminal` (the few facts it reads and the three things it asks), so this layer
does not import the widget's.

* :meth:`TerminalRecorder.record` starts a :class:`~.recorder.Recording`. It begins with the screen as it is
  (the replay buffer's checkpoint plus the bytes after it, the same data a new view is drawn from), so
  the cast replays what the user saw, then gets every output byte (and, when asked, every typed byte and
  every resize) as it arrives.
* :meth:`TerminalRecorder.snapshot` asks a front end that shows the terminal for xterm's HTML and falls
  back to the kernel's own screen model (see :mod:`.snapshot`).
* The ``transcript`` trait (:class:`TranscriptTrait`) is the screen kept in the notebook's widget state:
  the front end sets it (serialized screen, capped) a second after output settles and when the session
  ends, so that a notebook saved with widget state shows the last screen on reopen, with no kernel, under
  a "session ended" banner. A terminal that no front end shows (nbclient, ``nbconvert --execute`` with
  ``store_widget_state``) sets it itself from its replay buffer when the session ends.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import traitlets as t

from . import snapshot as snap
from .recorder import Recording
from .redact import Rule

log = logging.getLogger("k8sterm_widget.recording")

TRANSCRIPT_MAX = 512 * 1024  # characters of serialized screen kept in the notebook per terminal
SCREEN_PREFIX_MAX = 2 << 20  # bytes of the current screen a new recording starts with
SNAPSHOT_TIMEOUT = 2.0
LIVE = ("connecting", "connected")
RESET_ATTRS = "\x1b[0m"


def cap_screen(data: str, limit: int = TRANSCRIPT_MAX) -> str:
    """The end of a serialized screen that fits ``limit``, cut at a line start (old scrollback goes first)."""
    if len(data) <= limit:
        return data
    cut = len(data) - limit + len(RESET_ATTRS)
    newline = data.find("\n", cut)
    if newline < 0:
        return ""
    return RESET_ATTRS + data[newline + 1 :]


class TranscriptTrait(t.Dict):
    """``{"data": str, "cols": int, "rows": int, "source": "browser" | "kernel"}`` or ``{}``.

    Set by front ends, so validated like a message: anything malformed becomes ``{}`` (logged), and data
    over :data:`TRANSCRIPT_MAX` is cut to its last lines.
    """

    def validate(self, obj: Any, value: Any) -> dict:
        if not value:
            return {}
        if not isinstance(value, dict):
            log.warning("k8sterm: dropped a transcript that is not an object")
            return {}
        data, cols, rows = value.get("data"), value.get("cols"), value.get("rows")
        ok_size = all(type(n) is int and 2 <= n <= 1000 for n in (cols, rows))
        if not isinstance(data, str) or not ok_size:
            log.warning("k8sterm: dropped a malformed transcript")
            return {}
        source = value.get("source") if value.get("source") in ("browser", "kernel") else "browser"
        return {"data": cap_screen(data), "cols": cols, "rows": rows, "source": source}


class RecordedTerminal(Protocol):
    """The terminal as its recorder sees it (:class:`k8sterm_widget.widget.Terminal` is one)."""

    @property
    def pod(self) -> str: ...
    @property
    def namespace(self) -> str: ...
    @property
    def container(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def exit_code(self) -> int | None: ...

    def screen(self) -> list[str]:
        """The rows shown now, from the kernel's own screen model."""
        ...

    def _pty_size(self) -> tuple[int, int]:
        """(cols, rows) of the pty: as a view reported it, else as the session opened, else 80x24."""
        ...

    def _screen_bytes(self) -> bytes:
        """The terminal's current screen as bytes: the checkpoint and the output after it."""
        ...

    def _views_shown(self) -> bool:
        """Whether a front end reports a view of this terminal now."""
        ...

    def _post(self, content: dict) -> None:
        """Send a protocol message to the front ends."""
        ...


class TerminalRecorder:
    """``record``, ``snapshot`` and the kept transcript of one terminal."""

    def __init__(self, terminal: RecordedTerminal, shell_name: str = "/bin/sh") -> None:
        self._terminal = terminal
        self._shell_name = shell_name  # the cast's $SHELL
        self.recording: Recording | None = None  # the current (or last) recording
        self.lock = threading.Lock()  # orders output between the replay buffer and a recording
        self._snapshots: dict[str, tuple[snap.Snapshot, str]] = {}
        self._snap_lock = threading.Lock()
        self._answers_off_main = False  # a snapshot answer was once handled while the main thread waited

    # ------------------------------------------------------------------ recording

    def record(
        self,
        path: str | os.PathLike,
        *,
        input: bool,
        redact: Rule | None,
        title: str | None,
        shell: str | None = None,
    ) -> Recording:
        term = self._terminal
        if self.recording is not None and self.recording.active:
            raise RuntimeError(f"already recording to {self.recording.path}; call stop_recording() first")
        cols, rows = term._pty_size()
        env = {"TERM": "xterm-256color", "SHELL": shell or self._shell_name}
        where = f"{term.namespace}/{term.pod}" if term.namespace else term.pod
        title = title or (f"{where} [{term.container}]" if term.container else where)
        recording = Recording(Path(path), cols, rows, input=input, redact=redact, title=title, env=env)
        with self.lock:
            screen = self._current_screen()
            if screen:
                recording.output(screen)
            self.recording = recording
        return recording

    def stop(self) -> Path | None:
        recording = self.recording
        return None if recording is None else recording.stop()

    def output(self, data: bytes | memoryview) -> None:
        """Called with :attr:`lock` held, right after the replay buffer got ``data``."""
        recording = self.recording
        if recording is not None and recording.active:
            recording.output(data)

    def input(self, data: bytes) -> None:
        recording = self.recording
        if recording is not None and recording.active:
            recording.input_data(data)

    def resize(self, cols: int, rows: int) -> None:
        recording = self.recording
        if recording is not None and recording.active:
            recording.resize(cols, rows)

    def _current_screen(self) -> bytes:
        """What a new view would draw, capped from the start at :data:`SCREEN_PREFIX_MAX`."""
        data = self._terminal._screen_bytes()
        if len(data) > SCREEN_PREFIX_MAX:
            data = data[-SCREEN_PREFIX_MAX:]
            data = data[data.find(b"\n") + 1 :]
        return data

    # ------------------------------------------------------------------ snapshot

    def snapshot(self, timeout: float) -> snap.Snapshot:
        term = self._terminal
        caption = self._caption()
        try:
            lines = term.screen()
        except Exception:  # the scripting engine cannot model the screen: say so rather than fail
            lines = ["(the screen could not be rendered)"]
        shot = snap.from_lines(list(lines), caption)
        if not term._views_shown():
            return shot
        request = secrets.token_hex(8)
        with self._snap_lock:
            self._snapshots[request] = (shot, caption)
            while len(self._snapshots) > 16:  # answers that never came
                self._snapshots.pop(next(iter(self._snapshots)))
        term._post({"type": "snapshot", "id": request})
        if self._answers_off_main or threading.current_thread() is not threading.main_thread():
            shot.wait(timeout)
        return shot

    def _caption(self) -> str:
        term = self._terminal
        where = f"{term.namespace}/{term.pod}" if term.namespace else term.pod
        parts = [where]
        if term.container:
            parts.append(term.container)
        status = term.status
        if status == "exited":
            status = f"exited with code {term.exit_code}"
        parts.append(status)
        parts.append(time.strftime("%Y-%m-%d %H:%M:%S"))
        return " · ".join(parts)

    def answer(self, request: str, html: bytes | None) -> None:
        """A front end's ``snapshot`` message: xterm's HTML for request ``request``."""
        with self._snap_lock:
            entry = self._snapshots.pop(request, None)
        if entry is None or not html:
            return
        if threading.current_thread() is not threading.main_thread():
            self._answers_off_main = True
        shot, caption = entry
        shot.upgrade(snap.browser_html(html.decode("utf-8", "replace"), caption))

    # ------------------------------------------------------------------ transcript

    def transcript_after(self, old: str, new: str) -> dict | None:
        """The ``transcript`` to keep when the status went ``old`` -> ``new``, or None to leave it.

        Session over and no front end shows the terminal: its screen goes into the widget state.
        """
        if new in LIVE or old not in LIVE or self._terminal._views_shown():
            return None
        try:
            data = self._current_screen().decode("utf-8", "replace")
            if not data:
                return None
            cols, rows = self._terminal._pty_size()
            return {"data": data, "cols": cols, "rows": rows, "source": "kernel"}
        except Exception:
            log.exception("k8sterm: keeping the transcript failed")
            return None


__all__ = ["TRANSCRIPT_MAX", "RecordedTerminal", "TerminalRecorder", "TranscriptTrait", "cap_screen"]
