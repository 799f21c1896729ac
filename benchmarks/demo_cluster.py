"""The demo cluster's own speed: start to all pods Running, container start, exec round trip.

``python -m benchmarks.demo_cluster`` measures, each as the median (and p90) of several repetitions:

* **cluster start**: ``DemoCluster(...).start()`` on a fresh state directory until every scenario pod that
  runs a process reports ``Running`` (the CA, tokens and kubeconfig are made anew each time, as on a first
  start; kind needs tens of seconds for the same);
* **container start**: :meth:`Runtime.run_container` of ``busybox sleep infinity`` until its main process
  runs (p50, p90), each in a pod of its own made beforehand (its sandbox — network namespace, veth — is
  timed apart, and torn down only at the end);
* **exec round trip**: ``k8sterm_widget.exec(pod, ["true"])`` and ``kubectl exec pod -- true`` against the
  same cluster, and their ratio (kubectl's includes its own process start-up).

The machine is shared and noisy: read medians and ratios. ``--json`` prints the figures as JSON too.
``--against REV`` runs the benchmark on a checkout of ``REV`` and on this tree in turns (``--rounds`` each,
each in its own process) and prints both with the ratio of their medians: the one comparison a shared
machine's changing load does not skew.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import k8sterm_widget
from k8sterm_widget.demo import DemoCluster

from .kubectl_exec import KubectlTarget, measure_round_trip


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


_CREATING = ("ContainerCreating", "PodInitializing")


def _all_started(cluster: DemoCluster, conn: http.client.HTTPSConnection) -> bool:
    """No container of any pod still waits to be created (frozen and unschedulable pods count as done)."""
    conn.request("GET", "/api/v1/pods", headers={"Authorization": f"Bearer {cluster.token('admin')}"})
    pods = json.loads(conn.getresponse().read())["items"]
    for pod in pods:
        status = pod.get("status", {})
        for s in status.get("initContainerStatuses", []) + status.get("containerStatuses", []):
            if s["state"].get("waiting", {}).get("reason") in _CREATING:
                return False
    return bool(pods)


def cluster_start(repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        state = Path(tempfile.mkdtemp(prefix="bench-demo-"))
        began = time.perf_counter()
        cluster = DemoCluster(state_dir=state)
        cluster.start()
        conn = http.client.HTTPSConnection(
            "127.0.0.1", cluster.port, context=ssl.create_default_context(cafile=cluster.ca_file)
        )
        while not _all_started(cluster, conn):
            time.sleep(0.005)
        conn.close()
        times.append(time.perf_counter() - began)
        cluster.stop()
        shutil.rmtree(state, ignore_errors=True)
        time.sleep(
            1.0
        )  # let the kernel finish tearing the last cluster's namespaces down (as on a first start)
    return times


async def _container_starts(repeat: int) -> tuple[list[float], list[float], str]:
    from k8sterm_widget.demo.runtime import Runtime, images

    state = Path(tempfile.mkdtemp(prefix="bench-runtime-"))
    runtime = Runtime(state)
    busybox = images.lookup("busybox:1.36")
    assert busybox is not None
    starts: list[float] = []
    sandboxes: list[float] = []
    try:
        # Sandboxes first, and all torn down at the end: a network namespace's teardown is the kernel's
        # deferred work (seconds of RCU waits), which would otherwise land on the next start measured.
        made = []
        create = getattr(runtime, "create_sandbox", None)
        for i in range(repeat):
            began = time.perf_counter()
            made.append(await create(namespace="bench", pod=f"p{i}", uid=f"uid-{i}") if create else None)
            sandboxes.append(time.perf_counter() - began)
        containers = []
        for i, sandbox in enumerate(made):
            extra = {"sandbox": sandbox} if sandbox is not None else {}
            began = time.perf_counter()
            containers.append(
                await runtime.run_container(
                    namespace="bench",
                    pod=f"p{i}",
                    name="c",
                    image=busybox,
                    command=["sleep", "infinity"],
                    **extra,
                )
            )
            starts.append(time.perf_counter() - began)
        for container in containers:
            await container.stop()
        mode = runtime.isolation
    finally:
        await runtime.stop()
        shutil.rmtree(state, ignore_errors=True)
    return starts, sandboxes, mode


def exec_round_trips(repeat: int) -> tuple[float, float]:
    with DemoCluster() as cluster:
        kc = {"kubeconfig": cluster.kubeconfig, "context": cluster.context}
        k8sterm_widget.exec("web-0", ["true"], "demo", **kc)  # warm: kubeconfig resolved and cached
        times = []
        for _ in range(repeat):
            began = time.perf_counter()
            k8sterm_widget.exec("web-0", ["true"], "demo", **kc)
            times.append(time.perf_counter() - began)
        target = KubectlTarget(kubeconfig=cluster.kubeconfig)
        try:
            kubectl = measure_round_trip(target, repeat)
        finally:
            shutil.rmtree(target.home, ignore_errors=True)
    return 1000 * statistics.median(times), kubectl


_COMPARED = (
    ("cluster start to all scenario pods Running", "cluster_start_s", "{:.2f} s"),
    ("container start, busybox, p50", "container_start_p50_ms", "{:.0f} ms"),
    ("pod sandbox", "sandbox_p50_ms", "{:.1f} ms"),
    ("exec round trip, k8sterm_widget.exec true", "exec_rtt_ms", "{:.0f} ms"),
    ("exec round trip, kubectl exec true", "kubectl_exec_rtt_ms", "{:.0f} ms"),
)


def against(rev: str, rounds: int, passthrough: list[str]) -> int:
    """This benchmark on a checkout of ``rev`` and on this tree, taking turns, so that both meet the same
    load: on a shared machine figures from different hours say more about the neighbours than the code."""
    root = Path(__file__).resolve().parent.parent
    base = Path(tempfile.mkdtemp(prefix="bench-baseline-"))
    archive = subprocess.run(["git", "-C", str(root), "archive", rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
    runs: dict[str, list[dict]] = {rev: [], "this tree": []}
    loads = [os.getloadavg()[0]]
    try:
        for _ in range(rounds):
            for label, tree in ((rev, base), ("this tree", root)):
                done = subprocess.run(
                    [sys.executable, "-m", "benchmarks.demo_cluster", "--json", *passthrough],
                    cwd=tree,
                    env={**os.environ, "PYTHONPATH": str(tree)},  # its own package, not the installed one
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
                loads.append(os.getloadavg()[0])
    finally:
        shutil.rmtree(base, ignore_errors=True)
    span = f"load {min(loads):.1f}-{max(loads):.1f}"
    print(f"{time.strftime('%Y-%m-%d')}, {rev} and this tree taking turns, {os.cpu_count()} CPUs, {span}")

    def cell(label: str, key: str, fmt: str) -> str:
        return " / ".join(fmt.format(r[key]) if key in r else "—" for r in runs[label])

    rows = [("measure", f"{rev} (runs)", "this tree (runs)", "ratio of medians")]
    for name, key, fmt in _COMPARED:
        old = [r[key] for r in runs[rev] if key in r]
        new = [r[key] for r in runs["this tree"] if key in r]
        ratio = f"{statistics.median(new) / statistics.median(old):.2f}x" if old and new else ""
        rows.append((name, cell(rev, key, fmt), cell("this tree", key, fmt), ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=7, help="cluster starts to time")
    parser.add_argument("--containers", type=int, default=30, help="container starts to time")
    parser.add_argument("--round-trips", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--against", metavar="REV", help="take turns with a checkout of this git revision")
    parser.add_argument("--rounds", type=int, default=2, help="turns each, with --against")
    args = parser.parse_args(argv)
    if args.against:
        passthrough = ["--starts", str(args.starts), "--containers", str(args.containers)]
        return against(args.against, args.rounds, [*passthrough, "--round-trips", str(args.round_trips)])
    starts = cluster_start(args.starts)
    containers, sandboxes, mode = asyncio.run(_container_starts(args.containers))
    engine_rtt, kubectl_rtt = exec_round_trips(args.round_trips)
    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "isolation": mode,
        "cluster_start_s": statistics.median(starts),
        "cluster_start_p90_s": _quantile(starts, 0.9),
        "container_start_p50_ms": 1000 * statistics.median(containers),
        "container_start_p90_ms": 1000 * _quantile(containers, 0.9),
        "sandbox_p50_ms": 1000 * statistics.median(sandboxes),
        "exec_rtt_ms": engine_rtt,
        "kubectl_exec_rtt_ms": kubectl_rtt,
    }
    print(
        f"{figures['date']}, containers: {mode}, {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    )
    rows = [
        ("measure", "median", "p90"),
        (f"cluster start to all pods Running ({args.starts} starts)",
         f"{figures['cluster_start_s']:.2f} s", f"{figures['cluster_start_p90_s']:.2f} s"),
        (f"container start, busybox ({args.containers} starts)",
         f"{figures['container_start_p50_ms']:.0f} ms", f"{figures['container_start_p90_ms']:.0f} ms"),
        ("pod sandbox (netns, veth, addresses)", f"{figures['sandbox_p50_ms']:.1f} ms", ""),
        ("exec round trip, k8sterm_widget.exec true", f"{engine_rtt:.0f} ms", ""),
        ("exec round trip, kubectl exec true", f"{kubectl_rtt:.0f} ms",
         f"ratio {engine_rtt / kubectl_rtt:.2f}x"),
    ]  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows))
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
