"""Installing the package rebuilds the front end only when it changed, and never rewrites the lock file.

``make demo`` bundles the front end, then ``pip install -e`` runs the hatch-jupyter-builder hook; if that
hook rebuilds (or rewrites package-lock.json) the next ``make demo`` sees newer files and starts over, so
every start took a full ``npm ci`` + esbuild + pip install. These tests run the hook the way pip runs it,
through hatchling's PEP 660 editable build, once on the worktree (nothing may change) and once on a fresh
copy of the sources (it must build, with ``npm ci``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_STAMP = ".venv/.demo-installed"  # what `make demo` depends on
BUNDLES = [ROOT / "k8sterm_widget" / "static" / f"{name}.js" for name in ("k8sterm", "page-player")]


def _build_editable(root: Path, out: Path) -> str:
    """What pip does for ``pip install -e .``: hatchling's build_editable, run in the project directory."""
    code = "import sys, hatchling.build as b; print(b.build_editable(sys.argv[1]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _mtimes(paths: list[Path]) -> dict[Path, int]:
    return {p: p.stat().st_mtime_ns for p in paths if p.exists()}


def test_an_editable_install_of_an_unchanged_tree_touches_nothing(tmp_path):
    # the state `make demo` leaves: the bundles are newer than every source, the package installed after
    # them (a no-op when that is already so, as in CI after `make test`)
    subprocess.run(["make", "-s", "js", DEMO_STAMP], cwd=ROOT, check=True, capture_output=True, timeout=600)
    watched = [*BUNDLES, ROOT / "package-lock.json", ROOT / "node_modules" / ".installed"]
    before = _mtimes(watched)
    _build_editable(ROOT, tmp_path)
    assert _mtimes(watched) == before, "the install hook rebuilt the front end or rewrote the lock file"
    # and so a second `make demo` has nothing to redo: neither the front end nor the install
    assert subprocess.run(["make", "-q", "js"], cwd=ROOT, timeout=60).returncode == 0
    assert subprocess.run(["make", "-q", DEMO_STAMP], cwd=ROOT, timeout=60).returncode == 0


def test_a_fresh_tree_is_built_by_npm_ci_and_left_up_to_date_for_make(tmp_path):
    if shutil.which("npm") is None:
        pytest.fail("npm is needed to build the front end")
    tracked = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split("\0")
    src = tmp_path / "src"
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, src / name)
    lock = (src / "package-lock.json").read_bytes()
    lock_mtime = (src / "package-lock.json").stat().st_mtime_ns
    _build_editable(src, tmp_path / "out")
    for bundle in BUNDLES:
        assert (src / bundle.relative_to(ROOT)).stat().st_size > 1000, bundle.name
    assert (src / "package-lock.json").read_bytes() == lock
    assert (src / "package-lock.json").stat().st_mtime_ns == lock_mtime, "npm install rewrote the lock file"
    assert subprocess.run(["make", "-q", "js"], cwd=src, timeout=60).returncode == 0
