"""Scripting a terminal while its view is open in JupyterLab: the person sees the typed command and output.

One JupyterLab (KUBECONFIG pointing at the demo cluster), Debian's Chromium, one notebook: a cell shows
the shell, the next cells ``run``/``expect`` on it, and the xterm in the page must show what they typed
and what came back — the command at the shell's own prompt, once, as a person would have typed it, and
nothing of run()'s marks (the shell integration prints them, invisibly).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from helpers import term_lines, wait_line, wait_status

from k8sterm_widget.demo.runtime.layers import host_busybox

pytestmark = pytest.mark.chromium


@pytest.fixture(scope="module")
def lab(start_lab, demo_cluster):
    return start_lab(env={"KUBECONFIG": demo_cluster.kubeconfig})


def cell_output(page, index: int, text: str, timeout: float = 30.0) -> str:
    """Wait until cell ``index``'s output contains ``text``; return the whole output text."""
    js = """([i, text]) => {
        const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
        return !!cell && (cell.querySelector('.jp-OutputArea')?.textContent ?? '').includes(text);
    }"""
    try:
        page.wait_for_function(js, arg=[index, text], timeout=timeout * 1000)
    except Exception as e:
        shown = page.locator(".jp-Notebook .jp-Cell").nth(index).inner_text()
        raise AssertionError(f"{text!r} not in the output of cell {index}: {shown!r}") from e
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-OutputArea").inner_text()


def ash_prompt(cluster) -> str:
    """The prompt of the busybox image's shell as the image really has it (k8sterm_widget/demo/runtime/
    images.py): BusyBox's ash, ``\\w \\$ `` so ``/ # ``, where containers get their own root and the host
    has a busybox (CI installs busybox-static); else the host's sh (dash), ``# ``."""
    return "/ # " if cluster.isolation == "namespaces" and host_busybox() else "# "


@pytest.mark.parametrize("container", ["nginx", "sidecar"], ids=["bash", "ash"])
def test_run_and_expect_with_the_view_open(lab, page, demo_cluster, container):
    prompt = "root@web-0:/# " if container == "nginx" else ash_prompt(demo_cluster)
    name = lab.write_notebook(
        f"drive-{container}.ipynb",
        f'import k8sterm_widget as k8s\nt = k8s.shell("web-0", "demo", "{container}", renderer="dom")\nt',
        'out = t.run("echo drive-$((6*7))")\nprint("RESULT", repr(out), out.exit_code, t.size is not None)',
        't.sendline("echo typed-$((2*3))")\nprint("EXPECT", t.expect(r"typed-(\\d)").group(1))',
    )
    lab.open_notebook(page, name)
    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").first.wait_for()
    wait_status(page, "connected")

    lab.run_cell(page, 1)
    cell_output(page, 1, "RESULT 'drive-42\\n' 0 True")  # the view's size, not the headless 80x24
    wait_line(page, "drive-42", exact=True)
    lines = [line for line in term_lines(page) if line.strip()]
    # exactly what a person would have typed, at the shell's own prompt, once; then the output
    assert [line for line in lines if "drive-" in line] == [prompt + "echo drive-$((6*7))", "drive-42"]
    after = lines.index("drive-42")
    assert lines[after + 1].rstrip() == prompt.rstrip()  # the next prompt
    assert not re.search(r"printf|eval|133;|k8s-", "\n".join(lines)), lines

    lab.run_cell(page, 2)
    cell_output(page, 2, "EXPECT 6")
    wait_line(page, "typed-6", exact=True)


def test_the_quickstarts_first_code_cell_shows_a_live_shell(lab, page):
    """What a new user does after `make demo`: run the first code cell of the quickstart, get a shell."""
    source = Path(__file__).resolve().parents[2] / "examples" / "quickstart.ipynb"
    shutil.copy(source, lab.root / "quickstart.ipynb")
    lab.open_notebook(page, "quickstart.ipynb")
    cells = page.locator(".jp-Notebook .jp-Cell")
    first_code = next(
        i for i in range(cells.count()) if "jp-CodeCell" in (cells.nth(i).get_attribute("class") or "")
    )
    lab.run_cell(page, first_code)
    page.locator(".k8sterm .xterm").first.wait_for()
    wait_status(page, "connected")
    wait_line(page, "root@web-0:/#")  # bash's prompt: a live shell in web-0
