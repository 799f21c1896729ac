"""The Python examples of the README and of docs/*.md run as printed, on the demo cluster's images.

A new user copies them into a notebook after `make demo`; an example that needs a file they do not have, or
a module they did not import, or that times a prompt wrongly, is the first thing they trip over. Each page's
examples run in order, in one fresh kernel per page (as the reader would paste them), with KUBECONFIG at a
demo cluster of this module's own (the sessions page adds an ephemeral debug container, which never goes
away). ``examples/real-cluster.md`` is about a kind cluster and is left out.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from k8sterm_widget.demo import DemoCluster

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
WITH_EXAMPLES = [p for p in PAGES if BLOCK.search(p.read_text())]
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = DemoCluster(state_dir=tmp_path_factory.mktemp("docs-examples-cluster"))
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_the_readme_and_the_guide_have_examples():
    assert {p.name for p in WITH_EXAMPLES} >= {"README.md", "scripting.md", "terminal.md", "sessions.md"}


@pytest.mark.parametrize("page", WITH_EXAMPLES, ids=lambda p: p.name)
def test_the_examples_of_a_page_run_as_printed(page, cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    blocks = BLOCK.findall(page.read_text())
    # a reader's notebook: each example block is a cell; `k8s` is imported by the first example that uses it
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(b) for b in blocks])
    work = tmp_path / "cwd"
    work.mkdir()
    client = NotebookClient(
        nb, kernel_name="python3", timeout=120, allow_errors=True, resources={"metadata": {"path": str(work)}}
    )
    client.execute()
    problems = []
    for cell in nb.cells:
        for out in cell.outputs:
            if out.output_type == "error":
                plain = COLOUR.sub("", out.evalue)  # the kernel's error text comes in colour
                problems.append(f"{cell.source[:80]!r}: {out.ename}: {plain}")
            elif out.output_type == "stream" and out.name == "stderr" and "Warning" in out.text:
                problems.append(f"{cell.source[:80]!r} warned: {out.text[:300]}")
    assert not problems, "\n".join(problems)
