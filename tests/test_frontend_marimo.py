"""marimo shows the live widgets (k8sterm_widget/frontend.py's inline fallback).

marimo runs anywidgets itself: no Jupyter kernel and no Jupyter widget manager, so a widget carries its
front end inline (``frontend.shared()`` is false) and talks over marimo's own comm; each view renders in a
shadow root of marimo's page. marimo does not display a widget through ``_ipython_display_``, so there is
no face to hide. Shown both ways marimo's docs give: wrapped, ``mo.ui.anywidget(widget)``, and bare as a
cell's last expression.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from helpers import browser_and_player_live, cast_text, live_shell_at

pytestmark = pytest.mark.chromium

APP = textwrap.dedent("""\
    import marimo

    app = marimo.App()


    @app.cell
    def _():
        import k8sterm_widget as k8s
        import marimo as mo
        return k8s, mo


    @app.cell
    def _(k8s, mo):
        term = mo.ui.anywidget(k8s.shell("web-0", "demo", renderer="dom"))
        term
        return


    @app.cell
    def _(k8s):
        k8s.shell("web-0", "demo", renderer="dom")
        return


    @app.cell
    def _(k8s, mo):
        mo.ui.anywidget(k8s.browse("demo"))
        return


    @app.cell
    def _(k8s, mo):
        mo.ui.anywidget(k8s.replay("demo.cast", speed=4))
        return


    if __name__ == "__main__":
        app.run()
""")
# The notebook an author edits: one terminal, its cells run when the page opens (marimo's default is to
# wait for a click in `marimo edit`; the project config turns that on).
EDITED = textwrap.dedent("""\
    import marimo

    app = marimo.App()


    @app.cell
    def _():
        import k8sterm_widget as k8s
        import marimo as mo

        mo.ui.anywidget(k8s.shell("web-0", "demo", renderer="dom"))
        return
""")
AUTORUN = "[runtime]\nauto_instantiate = true\n"
TIMEOUT = 90_000  # ms: marimo runs the app when the page connects, on a loaded machine


def marimo(start_server, demo_cluster, mode: str, files: dict[str, str]):
    """``marimo <mode> app.py`` on loopback, no token, no update check, on the session's demo cluster."""
    return start_server(
        [sys.executable, "-m", "marimo", "-y", mode, "--headless", "--host", "127.0.0.1", "--port", "{port}",
         "--no-token", "{root}/app.py"],
        ready="health",
        what=f"marimo-{mode}",
        env={"KUBECONFIG": demo_cluster.kubeconfig, "MARIMO_SKIP_UPDATE_CHECK": "1"},
        files=files,
    )  # fmt: skip


@pytest.fixture
def watched(page):
    """The page, and a list of its uncaught errors."""
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    return page, problems


def live_terminal(page, root, word: str) -> None:
    """The terminal at ``root`` is live, over marimo's comm (marimo's page is not a Jupyter Server's: no
    lane)."""
    live_shell_at(page, root, word)
    assert root.get_attribute("data-transport") == "comm"


def test_marimo_run_shows_the_live_widgets(start_server, demo_cluster, watched):
    page, problems = watched
    files = {"app.py": APP, "demo.cast": cast_text("played-in-marimo")}
    app = marimo(start_server, demo_cluster, "run", files)
    page.goto(app.url, timeout=TIMEOUT)
    terminals = page.locator(".k8sterm")
    live_terminal(page, terminals.nth(0), "wrapped")
    live_terminal(page, terminals.nth(1), "bare")
    assert terminals.nth(0).evaluate("e => e.getRootNode() instanceof ShadowRoot")

    browser_and_player_live(page, "played-in-marimo")
    assert page.locator(".k8sterm-face").count() == 0
    # The front end came inline with each widget (no shared bundle model to load it from).
    assert page.evaluate("() => globalThis.__k8stermBundles === undefined")
    assert problems == []


def test_marimo_edit_shows_the_live_terminal(start_server, demo_cluster, watched):
    page, problems = watched
    app = marimo(start_server, demo_cluster, "edit", {"app.py": EDITED, ".marimo.toml": AUTORUN})
    page.goto(app.url, timeout=TIMEOUT)
    live_terminal(page, page.locator(".k8sterm").first, "edited")
    assert problems == []
