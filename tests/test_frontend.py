"""The front end is shared by the widgets of a kernel (one Bundle model), not copied into each one's state.

The browser side (the loader finding the bundle, in JupyterLab and Notebook 7) is exercised by every browser
test; the saved size of an executed tutorial by tests/test_publishing.py.
"""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from k8sterm_widget import frontend
from k8sterm_widget.recording.player import Player
from k8sterm_widget.widget import Terminal


@pytest.fixture
def in_a_kernel(monkeypatch):
    monkeypatch.setattr(frontend, "shared", lambda: True)
    monkeypatch.setattr(frontend, "_bundles", {})


def test_a_bundle_is_the_static_file_gzipped():
    model = frontend.bundle("k8sterm")
    try:
        code = gzip.decompress(base64.b64decode(model.code))
        assert code == (frontend.STATIC / "k8sterm.js").read_bytes()
        assert gzip.decompress(base64.b64decode(model.css)) == (frontend.STATIC / "k8sterm.css").read_bytes()
        assert len(model.code) < len(code) / 2  # what the compression buys in a saved notebook
    finally:
        model.close()


def test_terminals_in_a_kernel_share_one_bundle_and_carry_only_the_loader(in_a_kernel):
    a = Terminal("web-0", namespace="demo", connect=False)
    b = Terminal("web-1", namespace="demo", connect=False)
    player = Player()
    try:
        assert a._esm == b._esm == player._esm == frontend.LOADER and a._css == ""
        # one bundle for every widget class (xterm.js once in the page), each naming its part of it
        assert a._bundle is b._bundle is player._bundle and a._bundle.name == "k8sterm"
        assert (a._part, player._part) == ("terminal", "player")
        state = a.get_state()
        assert state["_bundle"] == f"IPY_MODEL_{a._bundle.model_id}"
        assert len(json.dumps(state)) < 5_000  # names, status and options, not 585 KB of front end
    finally:
        for w in (a, b, player):
            w.close()


def test_a_closed_bundle_is_created_again(in_a_kernel):
    first = frontend.bundle("k8sterm")
    first.close()
    second = frontend.bundle("k8sterm")
    try:
        assert second is not first and second.comm is not None
    finally:
        second.close()


def test_outside_a_kernel_the_widget_carries_its_front_end_inline():
    term = Terminal("web-0", namespace="demo", connect=False)
    try:
        assert term._bundle is None
        assert term._esm == (frontend.STATIC / "k8sterm.js").read_text()
    finally:
        term.close()


def test_the_loader_stays_small():
    assert len(frontend.LOADER) < 2_000
