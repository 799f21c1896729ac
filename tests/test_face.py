"""A widget's static face: drawn only once displayed, redrawn only when it changed, at a cell's end or
when the output settles (k8sterm_widget/face.py). JupyterLab's side is in tests/test_face_jupyterlab.py,
a whole executed tutorial in tests/test_publishing.py."""

from __future__ import annotations

import time

import pytest

from k8sterm_widget import face as face_mod
from k8sterm_widget.face import Face, frame


@pytest.fixture
def displays(monkeypatch):
    """Every display() and update_display() of a face, as (kind, display_id, bundle)."""
    calls: list[tuple[str, str, dict]] = []
    import IPython.display as d

    monkeypatch.setattr(d, "display", lambda b, raw, display_id: calls.append(("display", display_id, b)))
    monkeypatch.setattr(
        d, "update_display", lambda b, raw, display_id: calls.append(("update", display_id, b))
    )
    return calls


class Screen:
    def __init__(self) -> None:
        self.text, self.draws = "one", 0

    def __call__(self) -> tuple[str, str]:
        self.draws += 1
        return frame("terminal", "uid-1", f"<pre>{self.text}</pre>"), self.text


def test_nothing_is_drawn_until_the_face_is_shown(displays):
    screen = Screen()
    face = Face(screen)
    face.changed()
    face.refresh()
    assert screen.draws == 0 and displays == []
    face.show()
    assert displays[0][0] == "display" and displays[0][1] == face.display_id
    assert displays[0][2]["text/plain"] == "one"
    assert 'data-k8sterm-face="uid-1"' in displays[0][2]["text/html"]


def test_a_refresh_updates_the_display_only_when_the_face_changed(displays):
    screen = Screen()
    face = Face(screen)
    face.show()
    face.refresh()
    assert [kind for kind, *_ in displays] == ["display"]
    screen.text = "two"
    face.refresh()
    assert [kind for kind, *_ in displays] == ["display", "update"]
    assert displays[-1][2]["text/plain"] == "two" and displays[-1][1] == face.display_id


def test_a_cells_end_redraws_every_changed_face(displays):
    a, b = Screen(), Screen()
    fa, fb = Face(a), Face(b)
    fa.show()
    fb.show()
    a.text = "a changed"
    fa.changed()
    face_mod._at_cell_end()
    updates = [(i, bundle["text/plain"]) for kind, i, bundle in displays if kind == "update"]
    assert updates == [(fa.display_id, "a changed")]
    assert fa.dirty_since is None


def test_output_that_settles_is_redrawn_without_a_cell(displays, monkeypatch):
    monkeypatch.setattr(face_mod, "SETTLE", 0.1)
    screen = Screen()
    face = Face(screen)
    face.show()
    screen.text = "typed"
    face.changed()
    deadline = time.monotonic() + 5
    while not any(kind == "update" for kind, *_ in displays) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert displays[-1][0] == "update" and displays[-1][2]["text/plain"] == "typed"


def test_a_face_that_fails_to_draw_breaks_nothing(displays):
    screen = Screen()
    face = Face(screen)
    face.show()

    def broken():
        raise RuntimeError("no screen")

    face._render = broken
    face.refresh()  # logged, not raised
    assert [kind for kind, *_ in displays] == ["display"]
    other = Face(broken)
    other.show()  # a widget's display must not fail (IPython would then show the widget a second time)
    assert displays[-1][2] == {"text/html": "", "text/plain": ""}


def test_the_frame_escapes_what_names_the_widget():
    html = frame('t"x', '"><script>', "<pre></pre>")
    assert "<script>" not in html and "&quot;" in html


def test_a_cells_end_waits_for_a_commands_prompt_but_not_for_a_stream(displays, monkeypatch):
    screen = Screen()
    face = Face(screen)
    face.show()
    sleeps = []
    real_sleep = time.sleep

    def sleep(seconds):
        if not sleeps:  # while the cell's end waits, the prompt arrives
            screen.text = "prompt"
            face.changed()
        sleeps.append(seconds)
        real_sleep(seconds)

    monkeypatch.setattr(face_mod.time, "sleep", sleep)
    face.changed()  # output all along, no command ending: the cell's end does not wait
    face_mod._at_cell_end()
    assert sleeps == [] and displays[-1][2]["text/plain"] == "one"
    face.soon()  # a command just ended (run() returned): its prompt is on the way
    face.changed()
    face_mod._at_cell_end()
    assert sleeps and displays[-1][2]["text/plain"] == "prompt"
