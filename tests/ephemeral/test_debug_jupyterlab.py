"""Debug containers in a real JupyterLab and Chromium: an image without a shell offers one, in place.

One JupyterLab for the module, with a demo cluster of its own (debug containers are permanent in a pod).
"""

from __future__ import annotations

import pytest
from helpers import open_notebook, type_line, wait_line, wait_status

pytestmark = pytest.mark.chromium

IMPORT = "import k8sterm_widget as k8s\n"


def test_no_shell_offers_a_debug_container_and_ps_sees_the_app(lab, page):
    open_notebook(lab, page, IMPORT + 't = k8s.shell("distroless", renderer="dom")\nt')
    lab.run_cell(page, 0)
    offer = page.locator(".k8sterm-message button[data-action=debug]")
    offer.wait_for(timeout=30_000)
    assert "has no shell" in page.locator(".k8sterm-message").inner_text()
    assert 'k8sterm_widget.debug("distroless"' in page.locator(".k8sterm-message").inner_text()
    offer.click()
    wait_status(page, "connected", timeout=40)
    assert page.locator(".k8sterm-badge").inner_text() == "debug container · busybox:1.36 · target app"
    assert page.locator(".k8sterm .k8sterm-container").inner_text().startswith("debugger-")
    type_line(page, "ps")
    wait_line(page, "/app/server")
