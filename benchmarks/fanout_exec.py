"""Fan-out: one command on 20 pods with ``exec_many`` versus 20 execs one after the other.

``python -m benchmarks.fanout_exec`` starts a demo cluster in its own process with 20 running pods
(``benchmarks/fanout-20.yaml``, label ``app=bench``) and measures the wall time, median of several
repetitions, of:

* **sequential exec**: ``k8sterm_widget.exec(pod, cmd)`` for each pod in turn (what a Python loop does);
* **sequential kubectl**: ``kubectl exec pod -- cmd`` for each pod in turn (what a shell loop does);
* **exec_many**: ``k8sterm_widget.exec_many(cmd, selector="app=bench", parallel=P)`` for P = 4 and 20
  (one pod list call, then P execs at a time, each with its own pre-flight and WebSocket).

for two commands: ``true`` (pure per-exec overhead: pre-flight, handshake, exit status) and ``sleep 0.2``
(a command that does some work). Ratios are against sequential exec; on a real cluster, with 10 to 50 ms of
network round trip per request, the gap grows, since the sequential loop pays every round trip in turn.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import time
from pathlib import Path

import k8sterm_widget
from k8sterm_widget.demo.external import ExternalCluster

from .kubectl_exec import KubectlTarget

SCENARIO = Path(__file__).with_name("fanout-20.yaml")
PODS = [f"bench-{i:02d}" for i in range(20)]
NAMESPACE = "bench"


def _median_wall(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def sequential_exec(kc: dict, command: str, repeat: int) -> float:
    def once() -> None:
        for pod in PODS:
            assert k8sterm_widget.exec(pod, command, NAMESPACE, **kc).exit_code == 0

    return _median_wall(once, repeat)


def sequential_kubectl(target: KubectlTarget, command: str, repeat: int) -> float:
    target.run("get", "pods")  # warm kubectl's discovery cache, as a user's would be
    return _median_wall(lambda: [target.run("exec", pod, "--", "sh", "-c", command) for pod in PODS], repeat)


def fanout(kc: dict, command: str, parallel: int, repeat: int) -> float:
    def once() -> None:
        res = k8sterm_widget.exec_many(
            command, selector="app=bench", namespace=NAMESPACE, parallel=parallel, **kc
        )
        assert len(res) == len(PODS) and res.ok, res

    return _median_wall(once, repeat)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with ExternalCluster(scenario=SCENARIO) as cluster:
        kc = {"kubeconfig": cluster.kubeconfig, "context": cluster.context}
        target = KubectlTarget(kubeconfig=cluster.kubeconfig, namespace=NAMESPACE)
        k8sterm_widget.exec(PODS[0], "true", NAMESPACE, **kc)  # warm: imports, kubeconfig resolution
        rows = [("command", "way", f"wall time, median of {args.repeat}", "speed-up vs sequential exec")]
        try:
            for command in ("true", "sleep 0.2"):
                base = sequential_exec(kc, command, args.repeat)
                figures = [
                    ("sequential exec (20 pods)", base),
                    ("sequential kubectl exec (20 pods)", sequential_kubectl(target, command, args.repeat)),
                    ("exec_many, parallel=4", fanout(kc, command, 4, args.repeat)),
                    ("exec_many, parallel=20", fanout(kc, command, 20, args.repeat)),
                ]
                for way, wall in figures:
                    rows.append((command, way, f"{wall:.2f} s", f"{base / wall:.2f}x"))
        finally:
            shutil.rmtree(target.home, ignore_errors=True)
    print(
        f"{time.strftime('%Y-%m-%d')}, demo cluster (20 pods) in its own process, "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
