"""The pod browser in a real JupyterLab and Chromium: two clicks to a shell, tabs.

One JupyterLab for the module, with a demo cluster of its own (the test counts its pods). Terminals use
the DOM renderer; every wait is a ``wait_for_function`` or a wait on the kernel, never a fixed sleep.
"""

from __future__ import annotations

import pytest
from helpers import open_notebook, type_line, wait_line, wait_status

pytestmark = pytest.mark.chromium

IMPORT = "import k8sterm_widget as k8s\n"


def test_browse_two_clicks_to_a_shell_and_several_tabs(lab, page):
    open_notebook(lab, page, IMPORT + 'b = k8s.browse(renderer="dom")\nb')
    lab.run_cell(page, 0)
    page.locator(".k8sterm-browse[data-state=live] tr.k8sterm-browse-pod[data-pod=web-0]").wait_for()
    assert page.locator("tr.k8sterm-browse-pod").count() == 6
    assert page.locator(".k8sterm-browse-context").input_value() == "demo-admin"
    assert page.locator(".k8sterm-browse-namespace").input_value() == "demo"

    page.locator("tr.k8sterm-browse-pod[data-pod=web-0]").click()  # click 1: the pod shows its containers
    shell = ".k8sterm-browse-container[data-container=nginx] button[data-action=shell]"
    page.locator(shell).click()  # click 2: a shell in that container, in a tab below
    page.locator(".k8sterm-tab-panel .k8sterm .xterm").first.wait_for()
    wait_status(page, "connected")
    type_line(page, "hostname; echo $((6*7))")
    wait_line(page, "web-0", exact=True)
    wait_line(page, "42", exact=True)

    # not running: no shell button to press; a second pod opens a second tab
    assert page.locator("tr.k8sterm-browse-pod[data-pod=crashloop] button[data-action=shell]").is_disabled()
    page.locator("tr.k8sterm-browse-pod[data-pod=web-1] button[data-action=shell]").click()
    page.locator(".k8sterm-tab").nth(1).wait_for()
    wait_status(page, "connected", index=1)
    assert page.locator(".k8sterm-tab[aria-selected=true] .k8sterm-tab-title").inner_text() == "web-1 · nginx"
    type_line(page, "hostname", index=1)
    wait_line(page, "web-1", exact=True, index=1)
    # back to the first tab: its screen is still there
    page.locator(".k8sterm-tab").first.locator(".k8sterm-tab-title").click()
    assert page.locator(".k8sterm-tab-panel").first.is_visible()
    wait_line(page, "web-0", exact=True, index=0)
    # closing a tab removes its terminal
    page.locator(".k8sterm-tab").nth(1).locator("button[data-action=close]").click()
    page.wait_for_function("() => document.querySelectorAll('.k8sterm-tab').length === 1")
