"""The part of ``Terminal`` that keeps a session: ``record()``, ``snapshot()`` and the saved transcript.

* :meth:`Recordable.record` starts a :class:`~.recorder.Recording`. It begins with the screen as it is
  (the replay buffer's checkpoint plus the bytes after it, the same data a new view is drawn from), so
  the cast replays what the user saw, then gets every output byte (and, when asked, every typed byte and
  every resize) as it arrives.
* :meth:`Recordable.snapshot` asks a front end that shows the terminal for xterm's HTML and falls back to
  the kernel's own screen model (see :mod:`.snapshot`).
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
from typing import Any

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


class Recordable:
    """Mixed into ``Terminal``; uses its replay buffer, size, status, front-end messages and screen model."""

    # ------------------------------------------------------------------ recording

    def _init_recordable(self) -> None:
        self._recording: Recording | None = None
        self._rec_lock = threading.Lock()  # orders output between the replay buffer and a recording
        self._snapshots: dict[str, tuple[snap.Snapshot, str]] = {}
        self._snap_lock = threading.Lock()
        term: Any = self
        term.observe(self._keep_transcript, names="status")

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
        regular expressions whose matches become ``[redacted]`` (see :mod:`.redact` for how text split
        across chunks is still caught). Returns the :class:`~.recorder.Recording`, also usable as a context
        manager. ``k8sterm_widget.replay(path)`` plays it; so does ``asciinema play``.
        """
        term: Any = self
        if self._recording is not None and self._recording.active:
            raise RuntimeError(f"already recording to {self._recording.path}; call stop_recording() first")
        cols, rows = self._recording_size()
        env = {"TERM": "xterm-256color", "SHELL": self._shell_name()}
        where = f"{term.namespace}/{term.pod}" if term.namespace else term.pod
        title = title or (f"{where} [{term.container}]" if term.container else where)
        recording = Recording(
            Path(path),
            cols,
            rows,
            input=input,
            redact=redact,
            title=title,
            env=env,
            on_stop=self._recording_stopped,
        )
        with self._rec_lock:
            screen = self._current_screen()
            if screen:
                recording.output(screen)
            self._recording = recording
        return recording

    def stop_recording(self) -> Path | None:
        """Finish the recording (writes what is still held back for redaction); returns its path."""
        recording = self._recording
        if recording is None:
            return None
        return recording.stop()

    @property
    def recording(self) -> Recording | None:
        """The current (or last) recording."""
        return self._recording

    def _recording_stopped(self, recording: Recording) -> None:
        pass  # the Recording stays reachable as ``recording``; hooks check ``active``

    def _tee_output(self, data: Any) -> None:
        """Called with ``_rec_lock`` held, right after the replay buffer got ``data``."""
        recording = self._recording
        if recording is not None and recording.active:
            recording.output(data)

    def _tee_input(self, data: bytes) -> None:
        recording = self._recording
        if recording is not None and recording.active:
            recording.input_data(data)

    def _tee_resize(self, cols: int, rows: int) -> None:
        recording = self._recording
        if recording is not None and recording.active:
            recording.resize(cols, rows)

    def _recording_size(self) -> tuple[int, int]:
        term: Any = self
        session = term.session
        return term.size or (session.size if session is not None else None) or (80, 24)

    def _shell_name(self) -> str:
        command = getattr(self, "_command", None)
        if isinstance(command, (list, tuple)) and command:
            return str(command[0])
        return "/bin/sh"  # the auto-detected shell starts as sh (then execs bash or ash when present)

    def _current_screen(self) -> bytes:
        """Checkpoint + bytes after it: exactly what a new view would draw (capped from the start)."""
        term: Any = self
        pipe = term._pipe
        pipe.flush()
        with pipe._cond:  # the replay buffer is guarded by the pipe's lock
            shot = pipe.replay.snapshot()
        data = (shot.checkpoint.data if shot.checkpoint else b"") + shot.tail
        if len(data) > SCREEN_PREFIX_MAX:
            data = data[-SCREEN_PREFIX_MAX:]
            data = data[data.find(b"\n") + 1 :]
        return data

    # ------------------------------------------------------------------ snapshot

    def snapshot(self, *, timeout: float = SNAPSHOT_TIMEOUT) -> snap.Snapshot:
        """The current screen as static HTML; make it the last expression of a cell to display it.

        The output is plain ``text/html`` (no script, inline styles), so GitHub, nbviewer, nbconvert and
        VS Code render it without the widget. The kernel renders its own screen model at once (escaped
        text); a front end showing this terminal is asked for xterm's ``serializeAsHTML`` (with colours,
        sanitized here), which replaces it, in the displayed output too, when it arrives. Where the front
        end's answer can reach the kernel while this cell runs (comm messages handled off the main thread),
        this waits up to ``timeout`` seconds for it; otherwise it returns at once.
        """
        term: Any = self
        caption = self._caption()
        try:
            lines = term.screen()
        except Exception:  # the scripting engine cannot model the screen: say so rather than fail
            lines = ["(the screen could not be rendered)"]
        shot = snap.from_lines(list(lines), caption)
        if term.comm is None or not getattr(term, "_views_last", None):
            return shot
        request = secrets.token_hex(8)
        with self._snap_lock:
            self._snapshots[request] = (shot, caption)
            while len(self._snapshots) > 16:  # answers that never came
                self._snapshots.pop(next(iter(self._snapshots)))
        term.send({"type": "snapshot", "id": request})
        if self._answers_off_main or threading.current_thread() is not threading.main_thread():
            shot.wait(timeout)
        return shot

    _answers_off_main = False  # a snapshot answer was once handled while the main thread was free to wait

    def _caption(self) -> str:
        term: Any = self
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

    def _on_snapshot(self, msg: Any) -> None:
        with self._snap_lock:
            entry = self._snapshots.pop(msg.fields["id"], None)
        if entry is None or not msg.data:
            return
        if threading.current_thread() is not threading.main_thread():
            self._answers_off_main = True
        shot, caption = entry
        shot.upgrade(snap.browser_html(msg.data.decode("utf-8", "replace"), caption))

    # ------------------------------------------------------------------ transcript

    def _keep_transcript(self, change: dict) -> None:
        """Session over and no front end shows the terminal: keep its screen in the widget state."""
        term: Any = self
        if change["new"] in LIVE or change["old"] not in LIVE or getattr(term, "_views_last", None):
            return
        try:
            data = self._current_screen().decode("utf-8", "replace")
            if not data:
                return
            cols, rows = self._recording_size()
            term.transcript = {"data": data, "cols": cols, "rows": rows, "source": "kernel"}
        except Exception:
            log.exception("k8sterm: keeping the transcript failed")


__all__ = ["TRANSCRIPT_MAX", "Recordable", "TranscriptTrait", "cap_screen"]
