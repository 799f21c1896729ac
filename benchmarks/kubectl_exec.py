"""kubectl's exec throughput and latency against the demo cluster: the yardstick for the Python engine.

Run ``python -m benchmarks.kubectl_exec`` (or ``make bench``).  It starts a demo cluster, then measures with
the venv's kubectl 1.37:

* download: ``kubectl exec web-0 -- head -c N /dev/zero`` with stdout to /dev/null (MB/s);
* upload: N bytes on kubectl's stdin into ``cat >/dev/null`` (MB/s);
* round trip: ``kubectl exec web-0 -- true`` (ms, including kubectl's start-up and discovery cache hits).

Each figure is the median of several repetitions.  The measuring functions take a :class:`KubectlTarget`,
so later benchmarks can put the Python engine's numbers next to kubectl's in the same run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from k8sterm_widget.demo import DemoCluster

MB = 1 << 20


@dataclass
class KubectlTarget:
    """How to run kubectl against one cluster, isolated from the user's own configuration."""

    kubeconfig: str
    kubectl: str = str(Path(sys.executable).parent / "kubectl")
    pod: str = "web-0"
    namespace: str = "demo"
    home: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="kubectl-bench-"))

    def argv(self, *args: str) -> list[str]:
        return [self.kubectl, "--cache-dir", os.path.join(self.home, "cache"), "-n", self.namespace, *args]

    @property
    def env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", ""), "HOME": self.home, "KUBECONFIG": self.kubeconfig}

    def run(self, *args: str, stdin: int | None = None, stdout: int | None = subprocess.DEVNULL) -> float:
        """Run one kubectl command; return its wall time in seconds (raises if it fails)."""
        began = time.perf_counter()
        proc = subprocess.run(
            self.argv(*args), stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, env=self.env
        )
        elapsed = time.perf_counter() - began
        if proc.returncode != 0:
            raise RuntimeError(f"kubectl {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
        return elapsed


def measure_download(target: KubectlTarget, size: int = 100 * MB, repeat: int = 5) -> float:
    """Median MB/s of ``head -c size /dev/zero`` streamed to kubectl's stdout (discarded)."""
    times = [
        target.run("exec", target.pod, "--", "head", "-c", str(size), "/dev/zero") for _ in range(repeat)
    ]
    return size / MB / statistics.median(times)


def measure_upload(target: KubectlTarget, size: int = 100 * MB, repeat: int = 5) -> float:
    """Median MB/s of ``size`` bytes sent on kubectl's stdin into ``cat >/dev/null``."""
    with tempfile.TemporaryFile() as f:
        f.truncate(size)  # a sparse file of zeros: reading it costs nothing
        times = []
        for _ in range(repeat):
            f.seek(0)
            times.append(
                target.run("exec", "-i", target.pod, "--", "sh", "-c", "cat >/dev/null", stdin=f.fileno())
            )
    return size / MB / statistics.median(times)


def measure_round_trip(target: KubectlTarget, repeat: int = 20) -> float:
    """Median milliseconds of ``kubectl exec pod -- true`` (process start to exit status)."""
    target.run("get", "pod", target.pod)  # warm the discovery cache, as an interactive user's would be
    return 1000 * statistics.median(target.run("exec", target.pod, "--", "true") for _ in range(repeat))


def table(rows: list[tuple[str, str, str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=20)
    args = parser.parse_args(argv)
    size = args.size_mb * MB
    with DemoCluster() as cluster:
        target = KubectlTarget(kubeconfig=cluster.kubeconfig)
        try:
            rtt = measure_round_trip(target, args.round_trips)
            down = measure_download(target, size, args.repeat)
            up = measure_upload(target, size, args.repeat)
        finally:
            shutil.rmtree(target.home, ignore_errors=True)
        print(
            f"demo cluster {cluster.server} (containers: {cluster.isolation}), "
            f"kubectl 1.37, {os.cpu_count()} CPUs"
        )
        print(table([
            ("client", "measure", f"median of {args.repeat} ({args.round_trips} for latency)"),
            ("kubectl", f"exec download ({args.size_mb} MB, head -c)", f"{down:.1f} MB/s"),
            ("kubectl", f"exec upload ({args.size_mb} MB, stdin to cat)", f"{up:.1f} MB/s"),
            ("kubectl", "exec round trip (true)", f"{rtt:.0f} ms"),
        ]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
