"""The static face of a widget: what it shows as ``text/html`` and ``text/plain``, kept current by the kernel.

A tutorial is read more often than it is run — on GitHub, nbviewer, a documentation site, an exported HTML
file, VS Code without the widget, an untrusted notebook in JupyterLab — and none of these runs widget code.
So each of our widgets is displayed as two outputs: the live widget (``application/vnd.jupyter.widget-view
+json``), and right after it its *face*, a plain ``text/html`` output (no script, inline styles, everything
from the pod escaped) with a ``display_id``, which the kernel updates (``update_display_data``) when what
the widget shows has changed and settled:

* at the end of every cell that ran (an IPython ``post_run_cell`` hook, on the main thread, so the update
  belongs to that cell: ``nbconvert --execute`` keeps it, and JupyterLab applies it to the earlier cell's
  output through the display id);
* :data:`SETTLE` seconds after the last change while no cell runs (a person typing in a terminal);
* at once when a session ends.

Why two outputs and not one bundle with both mimetypes: front ends pick one mimetype per output, and the
two that matter most pick the widget whenever they can — JupyterLab re-renders the whole output on
``update_display_data`` (a new terminal view each time the screen settles), and nbconvert's HTML export
chooses the widget view whenever the notebook has widget state (``nbconvert --execute`` stores it), which
offline is a blank box (jupyter/nbconvert#1643 falls back to other mimetypes only when the state is missing).

Where the live widget renders, its front end hides the face of the same widget (``data-k8sterm-face``
holds the widget's ``_uid``; see ``js/face.js``), so a reader never sees both. Everywhere else the face is
what shows, and a notebook saved in any way carries each widget's last face.
"""

from __future__ import annotations

import html
import logging
import threading
import time
import uuid
import weakref
from collections.abc import Callable
from typing import Any

log = logging.getLogger("k8sterm_widget")

SETTLE = 1.0  # seconds without change before a live face is redrawn while no cell runs
CELL_END_QUIET = 0.03  # at a cell's end, wait for output to pause this long (at most CELL_END_WAIT)...
CELL_END_WAIT = 0.2  # ... after a command ended (Face.soon)

Render = Callable[[], tuple[str, str]]


def frame(kind: str, uid: str, inner: str) -> str:
    """The face's outer element: names the widget's kind and ``_uid``, so that its live view can hide it."""
    return (
        f'<div class="k8sterm-face" data-k8sterm-face="{html.escape(uid, quote=True)}" '
        f'data-k8sterm-kind="{html.escape(kind, quote=True)}">{inner}</div>'
    )


def display_with_face(widget: Any, text: str, face: Face) -> None:
    """Display an anywidget (its own bundle, ``text`` as the plain-text fallback), then its ``face``."""
    from IPython.display import display

    bundle = widget._repr_mimebundle_()
    if bundle is None:  # anywidget's annotation allows it; a widget with a view never returns it
        return
    data, metadata = bundle
    display({**data, "text/plain": text}, metadata=metadata, raw=True)
    face.show()


class Face:
    """One widget's face. ``render()`` returns ``(html, text)``; call :meth:`changed` when it would differ.

    Nothing is displayed or rendered until :meth:`show` (a widget that is never displayed costs nothing).
    """

    def __init__(self, render: Render) -> None:
        self.display_id = uuid.uuid4().hex
        self._render = render
        self._lock = threading.Lock()
        self._shown = False
        self._last: tuple[str, str] | None = None
        self.dirty_since: float | None = None  # monotonic time of the first change not yet drawn
        self.changed_at = 0.0  # monotonic time of the last change
        self.tail_until = 0.0  # until then, more output is expected right away (see soon())

    @property
    def shown(self) -> bool:
        return self._shown

    def bundle(self) -> dict[str, str]:
        """The face's mime bundle; a face that fails to draw logs why and shows nothing (never raises)."""
        try:
            html_, text = self._render()
        except Exception:
            log.exception("k8sterm: drawing a static face failed")
            html_, text = "", ""
        self._last = (html_, text)
        return {"text/html": html_, "text/plain": text}

    def show(self) -> None:
        """Display the face (right after the widget's own output)."""
        from IPython.display import display

        with self._lock:
            self.dirty_since = None
            bundle = self.bundle()
            self._shown = True
        display(bundle, raw=True, display_id=self.display_id)
        _faces.add(self)
        _ensure_hooks()

    def changed(self) -> None:
        """What the widget shows has changed (cheap: called for every chunk of output)."""
        now = time.monotonic()
        self.changed_at = now
        if self._shown and self.dirty_since is None:
            self.dirty_since = now
            _worker.wake()

    def soon(self) -> None:
        """More output follows at once (a command finished; its prompt comes next): a cell that ends
        within :data:`CELL_END_WAIT` waits for the output to pause before drawing this face."""
        self.tail_until = time.monotonic() + CELL_END_WAIT

    def refresh(self) -> None:
        """Redraw the face where it is displayed, if its content differs from the last one drawn."""
        if not self._shown:
            return
        from IPython.display import update_display

        with self._lock:
            self.dirty_since = None
            previous = self._last
            bundle = self.bundle()
            if self._last == previous or not bundle["text/html"]:
                return
            update_display(bundle, raw=True, display_id=self.display_id)


_faces: weakref.WeakSet[Face] = weakref.WeakSet()


def _at_cell_end(*_args: object) -> None:
    """IPython's post_run_cell: draw every face that changed, as part of the cell that just ran."""
    now = time.monotonic()
    waiting = [face for face in list(_faces) if face.tail_until > now]
    deadline = max((face.tail_until for face in waiting), default=now)
    # Let a command's last output (its prompt) arrive first; only where a command just ended (soon()), so
    # that a terminal streaming all along (top, logs -f) does not slow every cell down.
    while waiting and time.monotonic() < deadline:
        if time.monotonic() - max(face.changed_at for face in waiting) >= CELL_END_QUIET:
            break
        time.sleep(CELL_END_QUIET / 3)
    for face in list(_faces):
        if face.dirty_since is not None:
            face.refresh()


class _Settler:
    """One daemon thread for every face: redraws a face SETTLE seconds after its last change."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        with self._cond:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="k8sterm-faces", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            now = time.monotonic()
            waits = []
            for face in list(_faces):
                if face.dirty_since is None:
                    continue
                due = face.changed_at + SETTLE
                if due <= now:
                    face.refresh()
                else:
                    waits.append(due - now)
            with self._cond:
                self._cond.wait(min(waits) if waits else 30.0)


_worker = _Settler()
_hooked = False


def _ensure_hooks() -> None:
    global _hooked
    if _hooked:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("post_run_cell", _at_cell_end)
    _hooked = True


__all__ = ["SETTLE", "Face", "display_with_face", "frame"]
