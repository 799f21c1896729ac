"""The static face in a real JupyterLab (k8sterm_widget/face.py, js/face.js).

Live, the face is there but hidden behind the widget, and the kernel keeps it current: saving the
notebook stores the last screen. Opened untrusted (a notebook someone else executed), JupyterLab does not
run widgets, and the face is what shows — text and colours through JupyterLab's sanitizer.
"""

from __future__ import annotations

import json
import time

import nbformat
import pytest
from helpers import open_in_notebook7, type_line, wait_line, wait_status

pytestmark = pytest.mark.chromium

RED = r"""t.run("printf '\\033[31mred-%d\\033[0m\\n' 42")"""  # red-42 in red (SGR 31)
CELL = 'import k8sterm_widget\nt = k8sterm_widget.shell("web-0", "demo", renderer="dom")\nt'


@pytest.fixture(scope="module")
def lab(start_lab, demo_cluster):
    return start_lab(env={"KUBECONFIG": demo_cluster.kubeconfig})


def test_live_the_face_is_hidden_and_kept_current_and_saved(lab, page):
    name = lab.write_notebook(f"face-{time.monotonic_ns()}.ipynb", CELL)
    lab.open_notebook(page, name)
    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").wait_for(timeout=60_000)
    wait_status(page, "connected")
    face = page.locator(".k8sterm-face")
    face.wait_for(state="attached")
    assert page.locator(".k8sterm").first.is_visible()
    assert not face.is_visible()  # the live widget hides its own face, prompt area included
    assert not page.locator(".jp-OutputArea-child", has=face).is_visible()

    type_line(page, "echo face-$((6*7))")
    wait_line(page, "face-42", exact=True)
    # No cell runs: the kernel redraws the face a second after the output settles (a background update).
    page.wait_for_function(
        "() => document.querySelector('.k8sterm-face')?.textContent.includes('face-42')", timeout=15_000
    )
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    path = lab.root / name

    def saved_face() -> str:
        nb = json.loads(path.read_text())
        outputs = nb["cells"][0]["outputs"]
        return "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)

    deadline = time.monotonic() + 15
    while "face-42" not in saved_face() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "face-42" in saved_face() and "<script" not in saved_face()


def test_untrusted_the_face_is_what_shows(lab, page, demo_cluster, monkeypatch):
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(CELL), nbformat.v4.new_code_cell(RED)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    monkeypatch.setenv("KUBECONFIG", demo_cluster.kubeconfig)
    NotebookClient(nb, kernel_name="python3", timeout=60).execute()
    name = f"untrusted-{time.monotonic_ns()}.ipynb"
    nbformat.write(nb, lab.root / name)  # not signed by this server: untrusted
    page.goto(f"{lab.url}lab/tree/{name}")
    face = page.locator(".k8sterm-face").first
    face.wait_for(timeout=60_000)
    assert face.is_visible()
    assert "red-42" in face.text_content()
    assert page.locator(".k8sterm").count() == 0  # no widget ran
    red = face.locator("span", has_text="red-42").first
    assert red.evaluate("e => getComputedStyle(e).color") == "rgb(204, 0, 0)"  # the colour survived


def test_notebook7_shows_the_widget_not_its_face(lab, page):
    name = lab.write_notebook(f"face-nb7-{time.monotonic_ns()}.ipynb", CELL)
    open_in_notebook7(lab, page, name)
    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").wait_for(timeout=60_000)
    wait_status(page, "connected")
    face = page.locator(".k8sterm-face")
    face.wait_for(state="attached")
    assert page.locator(".k8sterm").first.is_visible() and not face.is_visible()
