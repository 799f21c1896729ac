"""Fixtures for tests that drive a real JupyterLab in Debian's Chromium.

``start_lab(*args)`` starts a JupyterLab subprocess on loopback (no token; its own root, config and workspace
dirs; the venv's installed config, so the server extensions ``make`` enabled are on) and stops it after the
module. ``page`` is a fresh tab per test of the session's ``browser`` (tests/conftest.py), which without
Chromium skips the browser tests with a loud reason, unless ``CI=true``: then they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

LAB_START_TIMEOUT = 60.0


@dataclass
class Lab:
    """A running JupyterLab: its base URL, its root directory and its log."""

    url: str
    root: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def write_notebook(self, name: str, *cells: str) -> str:
        """Writes a Python 3 notebook with these code cells into the root; returns its name."""
        nb = nbformat.v4.new_notebook(
            cells=[nbformat.v4.new_code_cell(source) for source in cells],
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        )
        nbformat.write(nb, self.root / name)
        return name

    def open_notebook(self, page, name: str) -> None:
        """Opens a notebook in a fresh workspace (no layout restored) and waits for its kernel to be idle.

        A cell run before the kernel is connected is dropped, and the toolbar's indicator says "idle" before
        the session even starts, so this asks the app (``window.jupyterapp``, exposed by `start_lab`).
        """
        page.goto(f"{self.url}lab/workspaces/t-{uuid.uuid4().hex[:8]}/tree/{name}")
        page.locator(".jp-Notebook").wait_for()
        page.wait_for_function(
            """() => {
                const context = window.jupyterapp?.shell.currentWidget?.sessionContext;
                return context?.session?.kernel?.connectionStatus === "connected"
                    && context.kernelDisplayStatus === "idle";
            }""",
            timeout=LAB_START_TIMEOUT * 1000,
        )

    def run_cell(self, page, index: int) -> None:
        page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(lab: Lab) -> None:
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while time.monotonic() < deadline:
        if lab.proc.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.proc.returncode}:\n{lab.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{lab.url}api/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"JupyterLab not ready after {LAB_START_TIMEOUT:.0f} s:\n{lab.log()[-3000:]}")


@pytest.fixture(scope="module")
def start_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Lab]]:
    """Factory: ``start_lab("--Some.option=value", ..., env={...})`` returns a ready `Lab` (``env`` adds to
    the server's environment, and so to every kernel's, e.g. KUBECONFIG); all stop after the module."""
    labs: list[Lab] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Lab:
        home = tmp_path_factory.mktemp("lab")
        root = home / "root"
        root.mkdir()
        port = _free_port()
        # ~/.jupyter stays out; {sys.prefix}/etc/jupyter (where `make` installs our config) stays in.
        server_env = {
            **os.environ,
            **(env or {}),
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
            "IPYTHONDIR": str(home / "ipython"),
        }
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True",
            f"--ServerApp.root_dir={root}", *args,
        ]  # fmt: skip
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        log_path = home / "lab.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, env=server_env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
        lab = Lab(url=f"http://127.0.0.1:{port}/", root=root, log_path=log_path, proc=proc)
        labs.append(lab)
        _wait_ready(lab)
        return lab

    yield start
    for lab in labs:
        lab.proc.terminate()
    for lab in labs:
        try:
            lab.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            lab.proc.kill()
            lab.proc.wait()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
