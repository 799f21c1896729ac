"""How long ``make demo`` takes to be up, on a fresh clone and then again on the same, unchanged clone.

``python -m benchmarks.demo_start`` clones this repository (its HEAD, with ``git clone --local``) into a
temporary directory and runs ``make demo`` there twice, each time until it prints the JupyterLab URL, then
stops it with Ctrl-C (SIGINT to its process group) as a user would. The first start installs everything
(npm ci, esbuild, the venv); the second must rebuild nothing. It prints both times, what ``make`` ran the
second time, and every line of the output that warns — except pip's complaints about this machine's own
pip configuration (``/etc/pip.conf`` lists package indexes that are absent), which are not ours.

Needs network access to PyPI and npm (or their mirrors) for the first start. Not part of ``make bench``: it
takes a few minutes.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY = "JupyterLab: http"
# The machine's pip configuration, not ours: find-links/extra-index-url entries that do not exist here.
NOT_OURS = re.compile(r"WARNING: Location 'file://.*' is ignored")
WARNS = re.compile(r"warn|deprecat|\[W ", re.IGNORECASE)


def start_once(clone: Path, timeout: float) -> tuple[float, list[str]]:
    """Run ``make demo`` in ``clone`` until the URL shows; returns (seconds, output lines)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "KUBECONFIG", "MAKEFLAGS")}
    env["DISPLAY"] = ""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["make", "demo"], cwd=clone, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    up = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            lines.append(line)
            if READY in line:
                up.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ok = up.wait(timeout)
    elapsed = time.monotonic() - t0
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    reader.join(timeout=5)
    if not ok:
        raise RuntimeError(f"make demo was not up after {timeout:.0f} s:\n" + "\n".join(lines[-30:]))
    return elapsed, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.demo_start", description="make demo's start")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for each start")
    parser.add_argument("--keep", action="store_true", help="keep the clone (its path is printed)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="k8sterm-demo-start-"))
    clone = tmp / "k8sterm_widget"
    subprocess.run(["git", "clone", "--quiet", "--local", str(ROOT), str(clone)], check=True)
    try:
        first, first_out = start_once(clone, args.timeout)
        second, second_out = start_once(clone, args.timeout)
    finally:
        if not args.keep:
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
        else:
            print(f"clone kept in {clone}")
    ran = [line for line in second_out[: next(i for i, s in enumerate(second_out) if "k8sterm lab" in s)]]
    warnings = [s for s in first_out + second_out if WARNS.search(s) and not NOT_OURS.search(s)]
    load = os.getloadavg()[0]
    print(f"make demo on a fresh clone, {datetime.date.today()}, {os.cpu_count()} CPUs (load {load:.1f}):")
    print()
    print("| start | up after |")
    print("|---|---|")
    print(f"| first (fresh clone: venv, npm ci, esbuild) | {first:.1f} s |")
    print(f"| second (unchanged clone) | {second:.1f} s |")
    print()
    print("make ran before `k8sterm lab` the second time:", ran or "nothing")
    print("warnings:", "none" if not warnings else "")
    for line in warnings:
        print("   ", line)
    return 0 if not ran and not warnings else 1


if __name__ == "__main__":
    sys.exit(main())
