"""The documentation site: `make docs` builds it strictly, offline, with every page and tutorial in it.

One build per test session (as `make docs` runs it: `sphinx-build -W`, tutorials executed against a demo
cluster that docs/conf.py starts), then checks on the files it wrote, and Chromium opening it from disk with
the network cut off.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
# Attributes through which a page makes the browser fetch something (as opposed to <a href>, a link the
# reader may follow); CSS url() and @import likewise.
FETCHING = re.compile(
    r"""<(?:script|img|iframe|source|video|audio|embed)\b[^>]*\bsrc=["']?(https?:)?//"""
    r"""|<link\b[^>]*\bhref=["']?(https?:)?//"""
    r"""|url\(\s*["']?(https?:)?//|@import\s+["']?(?:url\()?["']?(https?:)?//""",
    re.IGNORECASE,
)


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    home = tmp_path_factory.mktemp("docs-home")
    env = {
        **os.environ,
        "IPYTHONDIR": str(home / "ipython"),  # no profile or startup file of the user's
        "JUPYTER_DATA_DIR": str(home / "jupyter-data"),  # the venv's python3 kernel
    }
    env.pop("KUBECONFIG", None)  # conf.py starts the demo cluster the tutorials run on
    env.pop("K8STERM_DOCS_KUBECONFIG", None)
    env.pop("K8STERM_DOCS_EXECUTE", None)
    sphinx = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-c", "docs"]
    start = time.monotonic()
    proc = subprocess.run(
        [*sphinx, "-d", str(out / ".doctrees"), ".", str(out / "html")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    noise = "Kernel is running over TCP without encryption"
    errors = "\n".join(line for line in proc.stderr.splitlines() if noise not in line)
    assert proc.returncode == 0, f"sphinx-build failed:\n{errors[-6000:]}"
    print(f"docs built in {time.monotonic() - start:.1f} s")
    return out / "html"


def test_every_page_and_tutorial_is_built(site: Path):
    for page in DOCS.glob("*.md"):
        if page.stem != "README":
            assert (site / "docs" / f"{page.stem}.html").is_file(), page.name
    for tutorial in [*(ROOT / "examples").glob("*.ipynb"), *(ROOT / "examples").glob("*.md")]:
        assert (site / "examples" / f"{tutorial.stem}.html").is_file(), tutorial.name
    assert (site / "index.html").is_file()  # the redirect to docs/index.html


def test_every_page_is_reachable_from_the_index(site: Path):
    """A page someone added without listing it still appears in the navigation (docs/conf.py adds it)."""
    index = (site / "docs" / "index.html").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.stem not in ("README", "index"):
            assert f'href="{page.stem}.html"' in index, page.name


def test_the_site_fetches_nothing_from_another_host(site: Path):
    offenders = []
    for path in site.rglob("*"):
        if path.suffix in (".html", ".css", ".js") and path.is_file():
            for match in FETCHING.finditer(path.read_text(encoding="utf-8", errors="replace")):
                offenders.append(f"{path.relative_to(site)}: {match.group(0)[:120]}")
    assert not offenders, "\n".join(offenders)


def test_pages_carry_no_widget_state(site: Path):
    """The front end is not embedded in the pages (it would be, once per terminal, by default)."""
    quickstart = site / "examples" / "quickstart.html"
    assert "application/vnd.jupyter.widget-state+json" not in quickstart.read_text(encoding="utf-8")
    assert quickstart.stat().st_size < 300_000


def test_the_tutorials_ran_against_the_demo_cluster(site: Path):
    page = (site / "examples" / "quickstart.html").read_text(encoding="utf-8")
    assert "Hello from web-0" in page  # a run() result, printed by the executed cell
    assert page.count('class="k8sterm-face"') >= 3  # each terminal's last screen


def test_the_demo_clusters_image_catalogue_is_on_its_page(site: Path):
    from k8sterm_widget.demo.runtime.images import IMAGES

    page = (site / "docs" / "demo-cluster.html").read_text(encoding="utf-8")
    for image in IMAGES:
        assert f'<span class="pre">{image.name}</span>' in page, image.name


def test_every_error_class_is_in_the_error_table():
    import k8sterm_widget.errors as errors

    table = (DOCS / "errors.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"`(\w+)`", table))
    missing = [name for name in errors.__all__ if name not in documented]
    assert not missing, f"add these to the table in docs/errors.md: {missing}"


@pytest.fixture
def offline(chromium):
    """A page with the network cut off; after the test, nothing but files may have been requested."""
    fetched: list[str] = []
    context = chromium.new_context(offline=True)
    context.on("request", lambda r: None if r.url.startswith("file:") else fetched.append(r.url))
    try:
        yield context.new_page()
    finally:
        context.close()
    assert fetched == []


@pytest.mark.chromium
def test_a_tutorial_opened_from_disk_offline_shows_its_terminals_screens(site: Path, offline):
    page = offline
    page.goto((site / "index.html").as_uri())  # the redirect, then the home page
    page.wait_for_url("**/docs/index.html")
    page.get_by_role("link", name="k8sterm quickstart").first.click()
    page.wait_for_url("**/examples/quickstart.html")
    output = page.locator(".cell_output", has_text="Hello from web-0")
    output.first.wait_for(timeout=10_000)
    assert output.first.is_visible()
    # The first terminal, as it looked at the end: the run() in it and the prompt after it.
    screen = page.locator(".k8sterm-face").first
    assert screen.is_visible()
    assert "demo/web-0 · nginx · connected" in screen.inner_text()
    assert "Hello from web-0\nroot@web-0:/#" in screen.inner_text()
    # The widget output's text fallback is hidden on the site (its face says it all).
    assert not page.get_by_text("k8sterm terminal demo/web-0").first.is_visible()
    # Furo's stylesheet and script came from disk: the theme is applied (sidebar laid out).
    assert page.locator(".sidebar-drawer").first.is_visible()


@pytest.mark.chromium
def test_a_recorded_session_plays_on_the_site_offline_with_the_packages_player(site: Path, offline):
    page = offline
    page.goto((site / "examples" / "recordings.html").as_uri())
    page.locator(".k8sterm-page-player .k8sterm-player").wait_for(timeout=10_000)
    page.wait_for_function(
        "() => document.querySelector('.k8sterm-player')?.dataset.state === 'ended'", timeout=30_000
    )
    lines = page.evaluate(
        """() => {
            const b = document.querySelector('.k8sterm-player').terminal.buffer.active;
            return Array.from({length: b.length}, (_, i) => b.getLine(i).translateToString(true));
        }"""
    )
    assert "hello from the recording" in lines and "[redacted]" in lines
    # The player's static face (its last screen, for readers without it) gave way to the player.
    assert not page.locator('[data-k8sterm-kind="player"]').first.is_visible()
