"""A tutorial executed for publishing: small when saved with widget state, readable without the widget.

The quickstart is executed the way an author publishes it (``jupyter nbconvert --execute``, whose
``store_widget_state`` is on by default: nbclient here), then checked as a reader gets it: the file's size,
and its HTML export (nbconvert's default ``lab`` template) with every script removed — what a browser shows
offline, where the widget manager from the CDN never loads.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
PER_TERMINAL = 20_000  # bytes a terminal adds to the saved notebook, beyond its transcript
SHARED_FRONT_END = 260_000  # the front end, once per notebook (gzipped bundle, base64)


@pytest.fixture(scope="module")
def published(demo_cluster, tmp_path_factory) -> tuple[nbformat.NotebookNode, str]:
    """The executed quickstart as nbconvert --execute saves it, and its serialized text."""
    home = tmp_path_factory.mktemp("publish")
    mp = pytest.MonkeyPatch()
    mp.setenv("KUBECONFIG", demo_cluster.kubeconfig)
    mp.setenv("IPYTHONDIR", str(home / "ipython"))
    mp.setenv("JUPYTER_DATA_DIR", str(home / "jupyter-data"))
    try:
        nb = nbformat.read(QUICKSTART, as_version=4)
        client = NotebookClient(
            nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(home)}}
        )
        assert client.store_widget_state  # nbconvert's default, as an author runs it
        client.execute()
    finally:
        mp.undo()
    return nb, nbformat.writes(nb)


def _terminal_outputs(nb) -> list[tuple[dict, dict]]:
    """(widget output, face output) of every terminal the notebook displays."""
    pairs = []
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        for first, second in itertools.pairwise(outputs):
            face = second.get("data", {}).get("text/html", "")
            if WIDGET_VIEW in first.get("data", {}) and "k8sterm-face" in face:
                pairs.append((first, second))
    return pairs


def test_the_saved_notebook_is_small(published):
    nb, text = published
    state = nb.metadata["widgets"][WIDGET_STATE]["state"]
    terminals = _terminal_outputs(nb)
    assert len(terminals) >= 3
    for widget, face in terminals:
        model = state[widget["data"][WIDGET_VIEW]["model_id"]]
        transcript = len(json.dumps(model["state"].get("transcript", {})))
        layout = state.get(model["state"].get("layout", "").removeprefix("IPY_MODEL_"), {})
        added = len(json.dumps(model)) - transcript + len(json.dumps(layout))
        added += len(json.dumps(widget)) + len(json.dumps(face))
        assert added <= PER_TERMINAL, (model["state"]["pod"], added)
    first = state[terminals[0][0]["data"][WIDGET_VIEW]["model_id"]]["state"]
    assert "Hello from web-0" in first["transcript"]["data"]  # reopened with its state, the widget shows it
    bundles = [m for m in state.values() if m["model_name"] == "WidgetModel" and "code" in m["state"]]
    assert len(bundles) == 1  # the front end once, however many terminals
    budget = SHARED_FRONT_END + PER_TERMINAL * len(terminals) + len(json.dumps([c.source for c in nb.cells]))
    assert len(text.encode()) < budget, len(text.encode())


def test_its_html_export_shows_each_terminals_last_screen_without_scripts(published):
    nb, _ = published
    body, _ = HTMLExporter().from_notebook_node(nb)
    static = re.sub(r"<script\b.*?</script>", "", body, flags=re.S | re.I)
    faces = re.findall(r'<div class="k8sterm-face".*?</pre></div></div>', static, flags=re.S)
    assert len(faces) == len(_terminal_outputs(nb))
    first = faces[0]
    assert "Hello from web-0" in first and "root@web-0:/#" in first  # the run() and the prompt after it
    assert "demo/web-0 · nginx · connected" in first
    distroless = next(face for face in faces if "demo/distroless" in face)
    assert "has no shell" in distroless  # an error is one readable line in the face too


def test_the_faces_are_plain_html(published):
    nb, _ = published
    for _, face in _terminal_outputs(nb):
        html = face["data"]["text/html"]
        assert not re.search(r"<(script|style|iframe|img|link)\b|\son\w+=|javascript:", html, re.I)
        assert face["data"]["text/plain"].splitlines()[0].startswith("demo/")
