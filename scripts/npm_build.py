"""The build function hatch-jupyter-builder calls: bundle the front end only when it is out of date.

hatch-jupyter-builder's own ``npm_builder`` runs ``npm install`` on every build, which rewrites
package-lock.json, and its ``skip-if-exists`` is ignored for editable installs — so each ``pip install -e``
(and so each ``make demo``) rebuilt everything and left a newer lock file that made the next ``make`` start
over. Here the bundle is rebuilt only when a source is newer than it, and dependencies come from ``npm ci``
(the lock file as written, never modified), as the Makefile does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: What esbuild reads; a change in any of them makes the bundle stale.
SOURCES = ("js", "package.json", "package-lock.json", "esbuild.config.mjs")
#: What esbuild writes (one module per widget class) — the hook's ensured targets.
TARGETS = tuple(f"k8sterm_widget/static/{name}.js" for name in ("k8sterm", "page-player"))
#: The stamp the Makefile also uses: node_modules matches the lock file as of this file's time.
NPM_STAMP = "node_modules/.installed"


def _newest(paths: list[Path]) -> float:
    newest = 0.0
    for path in paths:
        if path.is_dir():
            newest = max([newest, *(f.stat().st_mtime for f in path.rglob("*") if f.is_file())])
        elif path.exists():
            newest = max(newest, path.stat().st_mtime)
    return newest


def stale(root: Path = ROOT) -> bool:
    """True when a bundle is missing or older than a source of it."""
    targets = [root / t for t in TARGETS]
    if not all(t.exists() for t in targets):
        return True
    return _newest([root / s for s in SOURCES]) > min(t.stat().st_mtime for t in targets)


def build(target_name: str, version: str, **_: object) -> None:
    """hatch-jupyter-builder's ``build-function``: (target "wheel"/"sdist", version "standard"/"editable")."""
    if os.environ.get("HATCH_JUPYTER_BUILDER_SKIP_NPM") == "1" or not stale():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("building k8sterm_widget's front end needs npm (node >= 18) on PATH")
    stamp = ROOT / NPM_STAMP
    manifests = [ROOT / "package.json", ROOT / "package-lock.json"]
    if not stamp.exists() or _newest(manifests) > stamp.stat().st_mtime:
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)
        stamp.touch()
    subprocess.run([npm, "run", "--silent", "build"], cwd=ROOT, check=True)
