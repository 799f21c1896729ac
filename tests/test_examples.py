"""Every notebook in ``examples/`` runs headless against the demo cluster, and its own asserts pass.

The tutorials check their steps with ``assert`` (on ``run()``, ``exec()``, fan-out and transfer results),
so executing them here with nbclient makes a broken tutorial fail the build. The kernel finds the demo
cluster through ``KUBECONFIG`` in its environment, exactly as under ``k8sterm lab`` (``make demo``); the
notebooks hard-code no path, token or context. The saved notebooks must stay free of outputs and widget
state, so that a diff shows only what a person wrote.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ALIVE_AFTER_RUN_ALL = """
import k8sterm_widget as _k8s
_shown = {n: v.status for n, v in dict(globals()).items() if isinstance(v, _k8s.Terminal)}
assert _shown.get("term") == "connected" and _shown.get("side") == "connected", _shown
"""


def test_the_tutorials_exist():
    assert {p.name for p in NOTEBOOKS} >= {"quickstart.ipynb", "scripting.ipynb"}
    assert (EXAMPLES / "real-cluster.md").is_file()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_saved_notebooks_have_no_outputs_widget_state_or_credentials(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert "widgets" not in nb.metadata, "saved widget state (350 KB of JS per terminal)"
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]
        # the cluster comes from KUBECONFIG (set by `k8sterm lab`), never from the notebook itself
        for word in ("kubeconfig=", "--kubeconfig", "token", "KUBECONFIG", "/.kube/"):
            assert word not in cell.source, (word, cell.source[:60])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_example_notebook_runs_green_headless(path, demo_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", demo_cluster.kubeconfig)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))  # no profile or startup file of the user's
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))  # the venv's python3 kernel
    nb = nbformat.read(path, as_version=4)
    if path.name == "quickstart.ipynb":
        # After Run All the reader finds live terminals to play with: no cell may close the ones above.
        nb.cells.append(nbformat.v4.new_code_cell(ALIVE_AFTER_RUN_ALL))
    work = tmp_path / "cwd"
    work.mkdir()
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(work)}}
    )
    try:
        client.execute()
    except CellExecutionError as e:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(e))  # the kernel's traceback comes in colour
        pytest.fail(f"{path.name} failed:\n{plain}", pytrace=False)
    if path.name == "quickstart.ipynb":
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert "k8s.shell(" in first.source
        assert any(WIDGET_VIEW in o.get("data", {}) for o in first.outputs), "the first cell shows no shell"
