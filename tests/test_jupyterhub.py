"""Behind JupyterHub: log in, start a server, type into a terminal whose bytes take the lane through the hub's
proxy.

The deployment a team uses: JupyterHub (PyPI) with configurable-http-proxy (npm: the hub's default proxy, run
from this repository's node_modules), a local spawner (``SimpleLocalProcessSpawner``: single-user servers as
this user, each in its own directory) and a dummy authenticator (any name, one shared password). The
single-user server is ``jupyterhub-singleuser`` from the venv, so our server extension (installed there) is
on and relays the lane: the page's WebSocket to ``/user/<name>/k8sterm/lane/<id>`` crosses the proxy, and is
authorized by the hub's OAuth cookie like the kernel's own.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import nbformat
import pytest
from helpers import focus_terminal, type_line, wait_line, wait_status

pytestmark = pytest.mark.chromium

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = os.path.dirname(sys.executable)
CHP = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
PASSWORD = "hub-test-password"
USER = "tester"
# window.jupyterapp, to tell when the notebook's kernel is connected (a cell run before is dropped)
ARGS = ["--LabApp.expose_app_in_browser=True", "--LabApp.news_url=None"]

CONFIG = """
import os
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{chp!r}]
c.JupyterHub.db_url = "sqlite:///{root}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{root}/cookie_secret"
c.JupyterHub.pid_file = "{root}/jupyterhub.pid"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
c.Authenticator.allow_all = True
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{root}/users/{{username}}"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.args = {args!r}
c.Spawner.default_url = "/lab"
c.Spawner.environment = {{"KUBECONFIG": {kubeconfig!r}, "JUPYTER_CONFIG_DIR": "{root}/jupyter-config"}}
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
"""


@pytest.fixture(scope="module")
def hub(start_server, own_cluster, tmp_path_factory):
    if not CHP.exists():
        pytest.fail(f"{CHP} is missing: run `npm ci` (package.json lists configurable-http-proxy)")
    root = tmp_path_factory.mktemp("hub-state")
    (root / "users" / USER).mkdir(parents=True)
    config = root / "jupyterhub_config.py"
    config.write_text(
        CONFIG.format(
            hub_port=_free_port(), proxy_api_port=_free_port(), chp=str(CHP), root=root,
            password=PASSWORD, singleuser=shutil.which("jupyterhub-singleuser", path=VENV_BIN),
            args=ARGS + (["--allow-root"] if os.geteuid() == 0 else []), kubeconfig=own_cluster.kubeconfig,
        )
    )  # fmt: skip
    server = start_server(
        [sys.executable, "-m", "jupyterhub", "-f", str(config), "--JupyterHub.port={port}"],
        ready="hub/health",
        what="JupyterHub",
    )
    server.state = root  # type: ignore[attr-defined]
    return server


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_terminal_behind_jupyterhub_types_over_the_lane_through_the_hubs_proxy(hub, page):
    # log in (the hub's own form) and let it spawn the user's server
    page.goto(f"{hub.url}hub/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(f"{hub.url}user/{USER}/lab**", timeout=120_000)
    page.locator(".jp-LabShell").wait_for(timeout=60_000)

    name = f"hub-{uuid.uuid4().hex[:6]}.ipynb"
    cell = 'import k8sterm_widget as k8s\nt = k8s.shell("web-0", "demo", renderer="dom")\nt'
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(cell)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, hub.state / "users" / USER / name)
    page.goto(f"{hub.url}user/{USER}/lab/tree/{name}")
    page.locator(".jp-Notebook").wait_for()
    page.wait_for_function(
        """() => {
            const context = window.jupyterapp?.shell.currentWidget?.sessionContext;
            return context?.session?.kernel?.connectionStatus === "connected"
                && context.kernelDisplayStatus === "idle";
        }""",
        timeout=120_000,
    )
    page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    page.locator(".k8sterm .xterm").first.wait_for(timeout=60_000)
    wait_status(page, "connected", timeout=60)
    # the terminal's bytes are on its lane: a WebSocket to the page's own origin (the hub's proxy), under the
    # user's prefix, which the proxy routes to the user's server and its relay
    page.wait_for_function("() => document.querySelector('.k8sterm').dataset.transport === 'lane'")
    base = page.evaluate(
        "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).baseUrl"
    )
    assert base == f"/user/{USER}/" and page.url.startswith(hub.url)
    focus_terminal(page)
    type_line(page, "echo through-the-hub-$((6*7))")
    wait_line(page, "through-the-hub-42", exact=True)
