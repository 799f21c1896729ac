"""Recordings in a real JupyterLab and Chromium: snapshots, the transcript restored from a saved notebook,
and the cast player.

One JupyterLab for the module, with a demo cluster of its own, and a fresh notebook (so a fresh kernel)
per test. Terminals use the DOM renderer; every wait is a ``wait_for_function`` or a wait on the kernel,
never a fixed sleep.
"""

from __future__ import annotations

import os
import time

import nbformat
import pytest
from helpers import open_notebook, run_until, type_line, wait_line, wait_status

from k8sterm_widget.recording import CastWriter

pytestmark = pytest.mark.chromium

IMPORT = "import k8sterm_widget as k8s\n"


def test_snapshot_is_static_escaped_html(lab, page):
    open_notebook(
        lab,
        page,
        IMPORT + 't = k8s.shell("web-0", renderer="dom")\nt',
        "t.snapshot()",
        "s = t.snapshot()",
        'h = s.html\nprint(s.source, "<script" in h.lower(), "&lt;b&gt;bold&lt;/b&gt;" in h, "color:" in h)',
        'print("transcript", t.transcript.get("source"), "<b>bold</b>" in t.transcript.get("data", ""))',
    )
    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").first.wait_for()
    wait_status(page, "connected")
    type_line(page, "echo '<b>bold</b><script>alert(1)</script>'; printf '\\033[31mred\\033[0m\\n'")
    wait_line(page, "<b>bold</b><script>alert(1)</script>", exact=True)
    lab.run_cell(page, 1)
    # shown at once from the kernel's screen model, then replaced by xterm's own rendering (with colours)
    snapshot = page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".k8sterm-snapshot[data-source=browser]")
    snapshot.wait_for()
    text = snapshot.inner_text()
    assert "<b>bold</b><script>alert(1)</script>" in text  # shown as text, not markup
    assert "demo/web-0 · nginx · connected" in text
    assert snapshot.locator("script, b, iframe, img").count() == 0
    assert page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".k8sterm-snapshot").count() == 1
    lab.run_cell(page, 2)
    out = run_until(lab, page, 3, "False")  # by now the front end's answer has reached the kernel
    assert "browser False True True" in out, out
    # the front end also keeps the screen in the `transcript` trait (what a saved notebook shows on reopen)
    page.wait_for_function("() => document.querySelector('.k8sterm').keeper.lastData.includes('<b>bold</b>')")
    out = run_until(lab, page, 4, "transcript")
    assert "transcript browser True" in out, out


def test_a_saved_notebook_shows_the_last_screen_without_a_kernel(lab, page, own_cluster):
    """Executed headless like ``nbconvert --execute`` with ``store_widget_state``, then opened in Lab."""
    from nbclient import NotebookClient
    from nbformat.sign import NotebookNotary

    source = IMPORT + (
        't = k8s.shell("web-0", renderer="dom")\n'
        't.run("echo saved-$((40+2))")\n'
        't.sendline("exit")\n'
        "t.wait_exit(30)\n"
        "t"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    NotebookClient(nb, timeout=120, kernel_name="python3", store_widget_state=True).execute(
        env={**os.environ, "KUBECONFIG": own_cluster.kubeconfig}
    )
    states = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    term_state = next(s["state"] for s in states.values() if s["state"].get("pod") == "web-0")
    assert "saved-42" in term_state["transcript"]["data"]
    name = f"saved-{time.monotonic_ns()}.ipynb"
    NotebookNotary().sign(nb)  # we ran it: trusted, as if run in Lab (untrusted outputs render no widgets)
    nbformat.write(nb, lab.root / name)

    lab.open_notebook(page, name)  # a new kernel, which knows nothing of that terminal
    page.locator(".k8sterm[data-status=restored]").wait_for(timeout=20_000)
    wait_line(page, "saved-42", exact=True)
    banner = page.locator(".k8sterm-message.k8sterm-banner")
    assert banner.is_visible() and "Session ended" in banner.inner_text()
    assert page.locator(".k8sterm .k8sterm-status-text").inner_text() == "session ended (saved screen)"


def test_replay_plays_a_cast(lab, page):
    writer = CastWriter(lab.root / "demo.cast", 60, 10, title="a demo cast")
    writer.event("o", "\x1b[1mframe-one\x1b[0m\r\n", 0.05)
    writer.event("r", "70x12", 0.1)
    writer.event("o", "frame-two 日本語\r\n", 0.3)
    writer.event("o", "frame-three\r\n", 30.0)  # a long pause, shortened to idle_time_limit
    writer.close()
    open_notebook(lab, page, IMPORT + 'p = k8s.replay("demo.cast", speed=2)\np')
    lab.run_cell(page, 0)
    page.locator(".k8sterm-player").wait_for()
    page.locator(".k8sterm-player[data-state=ended]").wait_for(timeout=15_000)
    lines = page.evaluate(
        """() => { const t = document.querySelector('.k8sterm-player').terminal;
                   const b = t.buffer.active, out = [];
                   for (let i = 0; i < b.length; i++) out.push(b.getLine(i).translateToString(true));
                   return [t.cols, t.rows, out]; }"""
    )
    cols, rows, text = lines
    assert (cols, rows) == (70, 12)
    assert [line for line in text if line][:3] == ["frame-one", "frame-two 日本語", "frame-three"]
    assert page.locator(".k8sterm-player .k8sterm-title").inner_text() == "a demo cast"
    # seek back to the start, then play again
    page.evaluate("() => document.querySelector('.k8sterm-player').player.seek(0.06)")
    assert page.evaluate("() => document.querySelector('.k8sterm-player').dataset.state") == "paused"
    page.locator(".k8sterm-player button[data-action=play]").click()
    page.locator(".k8sterm-player[data-state=ended]").wait_for(timeout=15_000)


def test_a_terminal_and_a_player_in_one_page_load_xterm_once(lab, page):
    """Both widgets are parts of one front-end module (js/bundle.js), loaded once per page and kernel."""
    writer = CastWriter(lab.root / "once.cast", 40, 5)
    writer.event("o", "played-back\r\n", 0.05)
    writer.close()
    open_notebook(lab, page, IMPORT + 't = k8s.shell("web-0", renderer="dom")\nt', 'k8s.replay("once.cast")')
    lab.run_cell(page, 0)
    wait_status(page, "connected")
    lab.run_cell(page, 1)
    page.locator(".k8sterm-player[data-state=ended]").wait_for(timeout=15_000)
    loaded = page.evaluate("() => [...globalThis.__k8stermBundles.keys()]")
    assert len(loaded) == 1, loaded  # one module, so one xterm.js, for both widgets
    type_line(page, "echo still-$((2*21))")
    wait_line(page, "still-42", exact=True)
