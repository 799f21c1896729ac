"""The demo cluster in a child process: for benchmarks and for tests that kill or freeze the server.

In-process (:class:`~.cluster.DemoCluster`) the server shares the GIL with its client, which is not how a
real cluster behaves and skews throughput figures; a child process also lets a test ``SIGKILL`` or
``SIGSTOP`` the server to see what a client does when its cluster dies or hangs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

_KUBECONFIG_LINE = re.compile(r"export KUBECONFIG=(\S+)")


class ExternalCluster:
    """``python -m k8sterm_widget.demo`` as a child process (its own session, so signals reach it alone)."""

    def __init__(
        self,
        *,
        state_dir: str | Path | None = None,
        port: int = 0,
        timeout: float = 60.0,
        scenario: str | Path | None = None,
    ) -> None:
        self.scenario = scenario  # a scenario YAML (None: the built-in one)
        self._own_state = state_dir is None
        self.state_dir = Path(state_dir or tempfile.mkdtemp(prefix="k8sterm-demo-ext-"))
        self.port = port
        self.timeout = timeout
        self.kubeconfig = ""
        self.context = "demo-admin"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> ExternalCluster:
        argv = [sys.executable, "-m", "k8sterm_widget.demo", "--state-dir", str(self.state_dir)]
        if self.port:
            argv += ["--port", str(self.port)]
        if self.scenario is not None:
            argv += ["--scenario", str(self.scenario)]
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        assert self.proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + self.timeout
        while not self.kubeconfig and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if m := _KUBECONFIG_LINE.search(line):
                self.kubeconfig = m.group(1).strip("'\"")
        if not self.kubeconfig:
            self.kill()
            raise RuntimeError("the demo cluster did not start:\n" + "".join(lines))
        # Keep draining its output so the child never blocks on a full pipe.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        return self

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL the server (its containers die with it: they hold a lifeline to it)."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(10)

    def stop(self) -> None:
        """Stop it cleanly (SIGTERM), falling back to SIGKILL."""
        if self.proc is None:
            return
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()
        if self._own_state:
            import shutil

            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> ExternalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
