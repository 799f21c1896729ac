"""The wheel carries what PyPI, pip and a reviewer look for, and the front end once.

Built as pip builds it (hatchling's build_wheel, through the real jupyter-builder hook); the metadata is read
back from the wheel's METADATA file, not from pyproject.toml, so a setting hatchling ignores fails here.
"""

from __future__ import annotations

import email
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    subprocess.run(["make", "-s", "js"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    out = tmp_path_factory.mktemp("wheel")
    code = "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with zipfile.ZipFile(out / proc.stdout.split()[-1]) as zf:
        yield zf


@pytest.fixture(scope="module")
def metadata(wheel) -> email.message.Message:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    return email.message_from_bytes(wheel.read(name))


def test_classifiers_say_jupyter_and_the_python_versions(metadata):
    classifiers = set(metadata.get_all("Classifier"))
    assert {"Framework :: Jupyter", "Framework :: Jupyter :: JupyterLab :: 4"} <= classifiers
    low = metadata["Requires-Python"].removeprefix(">=")
    python = "Programming Language :: Python :: 3."
    versions = {c.rsplit(" :: ", 1)[1] for c in classifiers if c.startswith(python)}
    assert low in versions and {"3.10", "3.11", "3.12", "3.13"} <= versions, versions


def test_license_is_an_spdx_expression_with_its_text_in_the_wheel(metadata, wheel):
    assert metadata["License-Expression"] == "Apache-2.0"
    assert metadata.get_all("License-File") == ["LICENSE"]
    text = wheel.read(next(n for n in wheel.namelist() if n.endswith("licenses/LICENSE"))).decode()
    assert "Apache License" in text and "Version 2.0" in text
    assert (ROOT / "LICENSE").read_text() == text


def test_authors_and_project_urls(metadata):
    assert metadata["Author"] or metadata["Author-email"]
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert {"Homepage", "Documentation", "Source", "Issues"} <= set(urls), urls
    assert all(u.startswith("https://") for u in urls.values())


def test_make_demo_installs_notebook_7_which_the_readme_advertises(metadata):
    demo = [r for r in metadata.get_all("Requires-Dist") if "extra == 'demo'" in r.replace('"', "'")]
    assert any(r.startswith("notebook>=7") for r in demo), demo


XTERM = b"xterm-helper-textarea"  # a class name only xterm.js's code holds


def test_xterm_is_bundled_once_for_the_widgets_not_once_per_widget(wheel):
    """anywidget loads each widget's module from a blob URL, where a split chunk cannot be imported: so the
    terminal, the pod browser and the player are one module (js/bundle.js), and xterm.js is in it once.
    The static pages' player (page-player.js, a classic script: pages opened from disk cannot import
    modules) is the one other copy."""
    static = {
        n.rsplit("/", 1)[1]: wheel.read(n) for n in wheel.namelist() if "/static/" in n and n.endswith(".js")
    }
    with_xterm = sorted(name for name, code in static.items() if XTERM in code)
    assert with_xterm == ["k8sterm.js", "page-player.js"], sorted(static)
