"""The ``k8sterm`` console script: ``k8sterm cluster`` runs the demo cluster, ``k8sterm lab`` adds JupyterLab.

Both run in the foreground until Ctrl-C or SIGTERM and then stop everything they started, so ``make demo``
never leaves a server or a container process behind.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from . import missing_dependency, needs_extra

if TYPE_CHECKING:
    from .cluster import DemoCluster

MINIMAL_NOTEBOOK = """{
 "cells": [
  {"cell_type": "markdown", "metadata": {}, "source": ["# k8sterm quickstart\\n",
   "\\n", "The demo cluster is running; `KUBECONFIG` points at it."]},
  {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [],
   "source": ["import subprocess\\n",
              "print(subprocess.run(['kubectl', 'get', 'pods'], capture_output=True, text=True).stdout)"]}
 ],
 "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
 "nbformat": 4,
 "nbformat_minor": 5
}
"""


def _add_cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--state-dir", help="keep CA, tokens and kubeconfig here (reused on restart)")
    p.add_argument("--scenario", help="scenario YAML (default: the built-in demo scenario)")
    p.add_argument("--isolation", default="auto", choices=["auto", "namespaces", "process"])


class _Stop:
    """Turns SIGINT/SIGTERM into an event the main thread waits on.

    The wait wakes every :data:`_WAKE` seconds: the kernel may hand a signal sent to the process to any
    thread (the cluster's event loop, say), and Python runs its handler only in the main thread, once that
    thread wakes — an endless ``Event.wait()`` would then never see it (a SIGTERM was lost in 1 start of 20).
    """

    def __init__(self) -> None:
        self.event = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.event.set())

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = _WAKE if deadline is None else min(_WAKE, deadline - time.monotonic())
            if self.event.wait(max(left, 0)) or (deadline is not None and time.monotonic() >= deadline):
                return self.event.is_set()


_WAKE = 0.2


def _new_cluster(args: argparse.Namespace) -> DemoCluster:
    """The cluster, not started yet (its kubeconfig's path is already known)."""
    from .cluster import DemoCluster

    return DemoCluster(args.scenario, port=args.port, state_dir=args.state_dir, isolation=args.isolation)


def _start_cluster(args: argparse.Namespace) -> DemoCluster:
    return _new_cluster(args).start()


def _announce(cluster: DemoCluster) -> None:
    names = [cluster.context_for(u.name) for u in cluster.scenario.users]
    contexts = ", ".join(f"{n} (current)" if n == cluster.context else n for n in names)
    print(f"Demo cluster running at {cluster.server} (containers: {cluster.isolation})")
    if cluster.notice:
        print(f"{'Warning' if cluster.isolation == 'process' else 'Note'}: {cluster.notice}")
    print(f"kubeconfig: {cluster.kubeconfig}")
    print(f"contexts: {contexts}")
    print()
    print(f"  export KUBECONFIG={cluster.kubeconfig}")
    print()
    sys.stdout.flush()


def run_cluster(args: argparse.Namespace) -> int:
    stop = _Stop()
    cluster = _start_cluster(args)
    try:
        _announce(cluster)
        print("Press Ctrl-C to stop.", flush=True)
        stop.wait()
    finally:
        print("Stopping the demo cluster …", flush=True)
        cluster.stop()
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], stop: _Stop, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not stop.event.is_set():
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True  # it answers (e.g. 403 without the token): it is up
        except OSError:
            time.sleep(0.3)
    return False


def _stop_lab(lab: subprocess.Popen[bytes]) -> None:
    """SIGTERM to JupyterLab alone, which stops its kernels; then whatever is left of its process group.

    Not the whole group at once: a helper JupyterLab runs at start-up (jupyter-lsp's ``npm prefix -g``)
    would die under it and JupyterLab would print a warning about it on the way out.
    """
    if lab.poll() is None:
        lab.terminate()
        try:
            lab.wait(timeout=15)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
    try:
        os.killpg(lab.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass  # nothing left


def run_lab(args: argparse.Namespace) -> int:
    notebook = Path(args.notebook)
    if not notebook.exists():
        notebook.parent.mkdir(parents=True, exist_ok=True)
        notebook.write_text(MINIMAL_NOTEBOOK)
    stop = _Stop()
    # JupyterLab starts while the cluster does (both take seconds, mostly imports): it only needs the
    # kubeconfig's path, for the kernels it will start, and those read the file once a notebook is open.
    cluster = _new_cluster(args)
    lab: subprocess.Popen[bytes] | None = None
    try:
        port = args.lab_port or _free_port()
        token = secrets.token_hex(24)
        root = notebook.resolve().parent
        cmd = [
            sys.executable, "-m", "jupyterlab", str(notebook.resolve()),
            "--ip=127.0.0.1", f"--port={port}", "--port-retries=0",
            f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        ]  # fmt: skip
        if (not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")) or args.no_browser:
            cmd.append("--no-browser")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        env = dict(os.environ, KUBECONFIG=cluster.kubeconfig)
        venv_bin = str(Path(sys.executable).parent)
        if shutil.which("kubectl", path=venv_bin):
            env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
        lab = subprocess.Popen(cmd, env=env, start_new_session=True)
        cluster.start()
        _announce(cluster)
        url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}"
        if _wait_http(f"http://127.0.0.1:{port}/api", lab, stop):
            print(f"JupyterLab: {url}")
            print("Press Ctrl-C to stop JupyterLab and the demo cluster.", flush=True)
        while not stop.wait(0.5):
            if lab.poll() is not None:
                print(f"JupyterLab exited with code {lab.returncode}", flush=True)
                break
    finally:
        if lab is not None:
            _stop_lab(lab)
        print("Stopping the demo cluster …", flush=True)
        cluster.stop()
    return 0


def build_parser(prog: str = "k8sterm") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="k8sterm_widget's demo cluster and tutorial launcher"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("cluster", help="run the demo cluster until Ctrl-C")
    _add_cluster_args(c)
    c.set_defaults(func=run_cluster)
    lab = sub.add_parser("lab", help="run the demo cluster and JupyterLab on a notebook until Ctrl-C")
    lab.add_argument("notebook", nargs="?", default="examples/quickstart.ipynb")
    lab.add_argument("--lab-port", type=int, default=0)
    lab.add_argument("--no-browser", action="store_true")
    _add_cluster_args(lab)
    lab.set_defaults(func=run_lab)
    return parser


def _missing(lab: bool) -> str | None:
    """What of the ``demo`` extra is not installed (the package itself installs without it), or None."""
    if missing_dependency:
        return missing_dependency
    import importlib.util

    for name in ("jupyterlab", "ipykernel") if lab else ():
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except (ImportError, ValueError):  # ValueError: a module whose import was blocked
            return name
    return None


def _refuse(missing: str, prog: str) -> int:
    print(f"{prog}: {needs_extra(missing)}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = _missing(lab=args.command == "lab")
    if missing:
        return _refuse(missing, "k8sterm")
    return int(args.func(args))


def cluster_main(argv: list[str] | None = None) -> int:
    """``python -m k8sterm_widget.demo [--port …]``: the same as ``k8sterm cluster``."""
    parser = argparse.ArgumentParser(prog="python -m k8sterm_widget.demo", description="run the demo cluster")
    _add_cluster_args(parser)
    args = parser.parse_args(argv)
    missing = _missing(lab=False)
    if missing:
        return _refuse(missing, "python -m k8sterm_widget.demo")
    return run_cluster(args)


if __name__ == "__main__":
    sys.exit(main())
