"""``k8sterm`` (k8sterm_widget/demo/cli.py) where the ``demo`` extra is not installed.

The package installs without the extra (a user who only wants the widget against a real cluster); the
console script is there all the same. Run without aiohttp/cryptography (or JupyterLab, for ``lab``) it must
say which extra to install, in one line and a non-zero exit, not print a traceback about ``cryptography``.
Modules are made missing the way Python's import system allows (``sys.modules[name] = None``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

RUN = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # import of NAME halted: as if not installed
from k8sterm_widget.demo.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize(
    ("missing", "argv"),
    [
        ("cryptography", ["cluster"]),
        ("aiohttp", ["cluster"]),
        ("jupyterlab", ["lab", "--no-browser"]),
    ],
)
def test_without_the_demo_extra_k8sterm_says_which_extra_to_install(missing, argv, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, missing, *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path, start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # it started something instead of refusing: stop all of it
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"k8sterm {' '.join(argv)} ran without {missing}")
    assert proc.returncode != 0
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert missing in lines[0] and "pip install 'k8sterm_widget[demo]'" in lines[0]
    assert not list(tmp_path.iterdir())  # `lab` did not write a notebook or start anything first
