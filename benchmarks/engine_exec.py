"""The Python exec engine beside kubectl and the naive official-client way, in one run, on one demo cluster.

``python -m benchmarks.engine_exec`` starts a demo cluster and measures, for each client, the median of
several repetitions:

* download, streamed: ``head -c N /dev/zero`` in the pod, output consumed as it arrives (kubectl to
  /dev/null; k8sterm through an :class:`ExecSession` callback) (MB/s);
* download, collected: the same output gathered in this Python process (kubectl through
  ``subprocess.run(capture_output=True)``, as a script would; ``k8sterm_widget.exec``; the naive client)
  (MB/s) — keeping 100 MB in memory costs page faults, so this is slower than streaming for everyone;
* upload: N bytes into ``cat >/dev/null`` through stdin, then stdin closed (MB/s);
* round trip: ``true`` (ms from call to exit status; for kubectl this includes its process start-up);
* idle cost: CPU used by this process while 10 interactive shells sit open for 30 s (engine only).

Clients: **kubectl** 1.37 (the yardstick, from :mod:`benchmarks.kubectl_exec`), **k8sterm** —
``k8sterm_widget.exec`` (pre-flight included), and **naive** — the official client's
``kubernetes.stream.stream(..., _preload_content=True)`` as its README shows it (it cannot send stdin
EOF that way, so it has no upload figure). Ratios are k8sterm / kubectl; above 1.0 is better for MB/s,
below 1.0 for ms. The machine is noisy: read medians and ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

import psutil

import k8sterm_widget
from k8sterm_widget.demo.external import ExternalCluster
from k8sterm_widget.session import ExecSession

from .kubectl_exec import MB, KubectlTarget, measure_download, measure_round_trip, measure_upload


def _timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def engine_download(kc: dict, size: int, repeat: int) -> float:
    def once():
        r = k8sterm_widget.exec("web-0", ["head", "-c", str(size), "/dev/zero"], "demo", **kc)
        assert len(r.stdout_bytes) == size, len(r.stdout_bytes)

    return size / MB / statistics.median(_timed(once) for _ in range(repeat))


def engine_stream_download(kc: dict, size: int, repeat: int) -> float:
    def once():
        got = [0]

        def count(stream: int, payload: memoryview) -> None:
            got[0] += len(payload)

        command = ["head", "-c", str(size), "/dev/zero"]
        s = ExecSession.open("web-0", command, "demo", tty=False, stdin=False, on_output=count, **kc)
        assert s.wait() == 0 and got[0] == size, got[0]

    return size / MB / statistics.median(_timed(once) for _ in range(repeat))


def kubectl_collected_download(target: KubectlTarget, size: int, repeat: int) -> float:
    argv = ("exec", target.pod, "--", "head", "-c", str(size), "/dev/zero")
    return size / MB / statistics.median(target.run(*argv, stdout=subprocess.PIPE) for _ in range(repeat))


def engine_upload(kc: dict, size: int, repeat: int) -> float:
    data = bytes(size)

    def once():
        r = k8sterm_widget.exec("web-0", ["sh", "-c", "cat >/dev/null"], "demo", input=data, **kc)
        assert r.exit_code == 0

    return size / MB / statistics.median(_timed(once) for _ in range(repeat))


def engine_round_trip(kc: dict, repeat: int) -> float:
    k8sterm_widget.exec("web-0", ["true"], "demo", **kc)  # warm: kubeconfig resolved and cached
    return 1000 * statistics.median(
        _timed(lambda: k8sterm_widget.exec("web-0", ["true"], "demo", **kc)) for _ in range(repeat)
    )


def _naive_api(kc: dict):
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kc["kubeconfig"], context=kc["context"])
    return client.CoreV1Api(api_client)


def naive_download(kc: dict, size: int, repeat: int) -> float:
    from kubernetes.stream import stream

    api = _naive_api(kc)

    def once():
        out = stream(
            api.connect_get_namespaced_pod_exec, "web-0", "demo", container="nginx",
            command=["head", "-c", str(size), "/dev/zero"], stderr=True, stdin=False, stdout=True, tty=False,
        )  # fmt: skip
        assert len(out) == size, len(out)

    return size / MB / statistics.median(_timed(once) for _ in range(repeat))


def naive_round_trip(kc: dict, repeat: int) -> float:
    from kubernetes.stream import stream

    api = _naive_api(kc)

    def once():
        stream(api.connect_get_namespaced_pod_exec, "web-0", "demo", container="nginx", command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)  # fmt: skip

    once()
    return 1000 * statistics.median(_timed(once) for _ in range(repeat))


def engine_idle_cpu(kc: dict, shells: int = 10, seconds: float = 30.0) -> float:
    """CPU seconds this process used per wall second while ``shells`` shells sat idle (percent of a core)."""
    sessions = [ExecSession.open("web-1", None, "demo", **kc) for _ in range(shells)]
    try:
        time.sleep(1.0)  # let the prompts arrive
        me = psutil.Process()
        before = sum(me.cpu_times()[:2])
        time.sleep(seconds)
        used = sum(me.cpu_times()[:2]) - before
    finally:
        for s in sessions:
            s.close()
    return 100 * used / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--round-trips", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    size = args.size_mb * MB
    with ExternalCluster() as cluster:  # a separate process, as a real API server is
        kc = {"kubeconfig": cluster.kubeconfig, "context": cluster.context}
        target = KubectlTarget(kubeconfig=cluster.kubeconfig)
        try:
            kubectl = {
                "rtt": measure_round_trip(target, args.round_trips),
                "stream": measure_download(target, size, args.repeat),
                "down": kubectl_collected_download(target, size, args.repeat),
                "up": measure_upload(target, size, args.repeat),
            }
        finally:
            shutil.rmtree(target.home, ignore_errors=True)
        engine = {
            "rtt": engine_round_trip(kc, args.round_trips),
            "stream": engine_stream_download(kc, size, args.repeat),
            "down": engine_download(kc, size, args.repeat),
            "up": engine_upload(kc, size, args.repeat),
        }
        naive = {"rtt": naive_round_trip(kc, args.round_trips), "down": naive_download(kc, size, args.repeat)}
        idle = engine_idle_cpu(kc, seconds=args.idle_seconds)
        print(
            f"{time.strftime('%Y-%m-%d')}, demo cluster in its own process, "
            f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"load {os.getloadavg()[0]:.1f}"
        )

        def row(label: str, key: str, fmt: str) -> tuple[str, ...]:
            naive_cell = format(naive[key], fmt) if key in naive else "n/a"
            ratio = f"{engine[key] / kubectl[key]:.2f}x"
            return (label, format(kubectl[key], fmt), format(engine[key], fmt), naive_cell, ratio)

        rows = [
            ("measure", "kubectl", "k8sterm", "naive client", "k8sterm / kubectl"),
            row(f"download {args.size_mb} MB, streamed (MB/s)", "stream", ".1f"),
            row(f"download {args.size_mb} MB, collected (MB/s)", "down", ".1f"),
            row(f"upload {args.size_mb} MB (MB/s; naive: no stdin EOF)", "up", ".1f"),
            row("exec round trip, true (ms)", "rtt", ".0f"),
            (f"idle CPU, 10 shells for {args.idle_seconds:g} s", "n/a", f"{idle:.2f} % of a core", "n/a", ""),
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        print("\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
