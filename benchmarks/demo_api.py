"""The demo cluster's API: start, create → Running, a Deployment to 100 Ready, ``kubectl get`` over 5,000
pods, watch throughput, and the API server's memory.

``python -m benchmarks.demo_api`` runs the cluster in its own process (``ExternalCluster``: a client in the
same process would share its GIL) with an empty scenario, and measures, each as a median where repeated:

* **cluster start**: ``DemoCluster(...).start()`` in this process, to the API answering with every pod
  started (the default scenario and an empty one);
* **create → Running**: ``POST`` a pod, then a watch until it reports ``Running`` (p50 and p90 of 20);
* **Deployment 0 → 100 Ready**: ``kubectl scale --replicas=100`` to ``readyReplicas == 100``;
* **kubectl get pods over 5,000 pods** (a Table): the wall time of the real kubectl, discovery cached, taking
  turns with the same kubectl reading the same ten pages from memory (``Replay``: kubectl's own share, the
  floor for any server on this machine), and the ratio of the two; kubectl's CPU time beside each;
* **watch**: events per second a watch client receives — the initial ADDED burst of 5,000 pods, then the
  5,000 DELETED events of one ``deletecollection``;
* **memory**: the API server process's RSS before and after 5,000 pods (pods bound to another node, so
  no container runs: what is measured is the API, not the runtime).

Targets of issue 11: Deployment ≤ 10 s, create → Running p50 ≤ 300 ms, get pods ≤ 300 ms, ≥ 1,000
events/s, start < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import yaml
from aiohttp import web

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.external import ExternalCluster
from k8sterm_widget.demo.scenario import parse

NAMESPACE = "bench"
SCENARIO = {
    "namespace": NAMESPACE,
    "users": [
        {
            "name": "admin",
            "rules": [{"verbs": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}],
        }
    ],
    "manifests": [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}],
}
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or "kubectl"


class Client:
    """Plain HTTPS requests with the admin token (what any client does)."""

    def __init__(self, kubeconfig: str) -> None:
        config = yaml.safe_load(Path(kubeconfig).read_text())
        self.server = config["clusters"][0]["cluster"]["server"]
        ca = Path(tempfile.mkdtemp()) / "ca.crt"
        import base64

        ca.write_bytes(base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]))
        self.ssl = ssl.create_default_context(cafile=str(ca))
        user = next(u for u in config["users"] if u["name"].endswith("admin"))
        self.token = user["user"]["token"]

    def request(self, method: str, path: str, body: Any = None, *, stream: bool = False) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        response = urllib.request.urlopen(req, context=self.ssl, timeout=120)
        return response if stream else json.loads(response.read())


def pod(name: str, node: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "infinity"]}],
        "terminationGracePeriodSeconds": 0,
    }
    if node:
        spec["nodeName"] = node
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"bench": "yes"}},
        "spec": spec,
    }


def start_times(repeat: int) -> tuple[float, float]:
    def once(scenario: Any) -> float:
        began = time.perf_counter()
        with DemoCluster(scenario):
            return time.perf_counter() - began

    default = statistics.median(once(None) for _ in range(repeat))
    empty = statistics.median(once(parse(SCENARIO)) for _ in range(repeat))
    return default, empty


def create_to_running(client: Client, count: int) -> list[float]:
    times = []
    base = f"/api/v1/namespaces/{NAMESPACE}/pods"
    for i in range(count):
        name = f"latency-{i}"
        listed = client.request("GET", base)
        rv = listed["metadata"]["resourceVersion"]
        watch = client.request(
            "GET", f"{base}?watch=1&resourceVersion={rv}&fieldSelector=metadata.name={name}", stream=True
        )
        began = time.perf_counter()
        client.request("POST", base, pod(name))
        for line in watch:
            event = json.loads(line)
            if event["object"].get("status", {}).get("phase") == "Running":
                break
        times.append(time.perf_counter() - began)
        watch.close()
        client.request("DELETE", f"{base}/{name}")
    return times


def deployment_to_100(kubeconfig: str) -> float:
    env = {"KUBECONFIG": kubeconfig, "HOME": tempfile.mkdtemp(), "PATH": "/usr/bin:/bin"}

    def kubectl(*args: str) -> str:
        return subprocess.run(
            [KUBECTL, "-n", NAMESPACE, *args],
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        ).stdout

    kubectl(
        "create", "deployment", "hundred", "--image=busybox:1.36", "--replicas=0", "--", "sleep", "infinity"
    )
    kubectl(
        "patch",
        "deployment",
        "hundred",
        "-p",
        '{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":0}}}}',
    )
    began = time.perf_counter()
    kubectl("scale", "deployment/hundred", "--replicas=100")
    while kubectl("get", "deployment", "hundred", "-o", "jsonpath={.status.readyReplicas}") != "100":
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    kubectl("delete", "deployment", "hundred", "--wait=false")
    return elapsed


def many_pods(client: Client, count: int) -> None:
    """Pods bound to a node the demo does not run: stored and listed, never started."""
    base = f"/api/v1/namespaces/{NAMESPACE}/pods"
    with ThreadPoolExecutor(8) as pool:
        list(
            pool.map(
                lambda i: client.request("POST", base, pod(f"many-{i:05d}", node="elsewhere")), range(count)
            )
        )


TABLE_ACCEPT = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)  # what kubectl get sends (-v=8)


class Replay:
    """The Table pages kubectl gets, recorded once and served from memory by a bare aiohttp TLS server (other
    requests are passed to the cluster): ``kubectl get pods`` against it is kubectl's own share of the time,
    the floor that no API server can go below on this machine."""

    def __init__(self, client: Client, state_dir: Path, kubeconfig: str) -> None:
        self.pages: dict[str, bytes] = {}
        self.client = client
        self.path = f"/api/v1/namespaces/{NAMESPACE}/pods"
        token = ""
        while True:
            query = "?limit=500" + (f"&continue={token}" if token else "")
            req = urllib.request.Request(client.server + self.path + query)
            req.add_header("Authorization", f"Bearer {client.token}")
            req.add_header("Accept", TABLE_ACCEPT)
            body = urllib.request.urlopen(req, context=client.ssl, timeout=120).read()
            self.pages[token] = body
            token = json.loads(body)["metadata"].get("continue", "")
            if not token:
                break
        self.tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.tls.load_cert_chain(state_dir / "server.crt", state_dir / "server.key")
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(30)
        config = yaml.safe_load(Path(kubeconfig).read_text())
        config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{self.port}"
        self.kubeconfig = str(Path(tempfile.mkdtemp()) / "replay.kubeconfig")
        Path(self.kubeconfig).write_text(yaml.safe_dump(config))

    async def _handle(self, request: web.Request) -> web.Response:
        if request.path == self.path and "watch" not in request.query:
            return web.Response(
                body=self.pages[request.query.get("continue", "")], content_type="application/json"
            )
        req = urllib.request.Request(self.client.server + request.path_qs)  # discovery, on the first run
        for name in ("Accept", "Authorization"):
            if name in request.headers:
                req.add_header(name, request.headers[name])
        with urllib.request.urlopen(req, context=self.client.ssl, timeout=30) as r:
            # the whole Content-Type: aggregated discovery is told apart by its parameters
            return web.Response(
                body=r.read(), status=r.status, headers={"Content-Type": r.headers["Content-Type"]}
            )

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=self.tls)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self.loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def kubectl_get(kubeconfigs: list[str], repeat: int, pods: int) -> list[tuple[float, float]]:
    """``kubectl get pods`` against each kubeconfig's server, taking turns; (median wall, median kubectl
    CPU) of each."""
    home = tempfile.mkdtemp()
    runs: list[list[tuple[float, float]]] = [[] for _ in kubeconfigs]
    argv = [KUBECTL, "-n", NAMESPACE, "get", "pods"]
    for i in range(repeat + 1):
        for kubeconfig, times in zip(kubeconfigs, runs, strict=True):
            env = {"KUBECONFIG": kubeconfig, "HOME": home, "PATH": "/usr/bin:/bin"}
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            began = time.perf_counter()
            done = subprocess.run(argv, capture_output=True, env=env)
            wall = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            if done.returncode or len(done.stdout.splitlines()) <= pods:
                raise RuntimeError(f"kubectl get pods: {done.stderr.decode()[-2000:]}")
            if i:  # the first round warms the discovery cache
                cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
                times.append((wall, cpu))
    return [
        (statistics.median(w for w, _ in times), statistics.median(c for _, c in times)) for times in runs
    ]


def watch_rates(client: Client, live: int) -> tuple[float, float]:
    base = f"/api/v1/namespaces/{NAMESPACE}/pods"
    began = time.perf_counter()
    stream = client.request("GET", f"{base}?watch=1&timeoutSeconds=60", stream=True)
    seen = 0
    initial = sum(1 for p in client.request("GET", base)["items"])
    for _ in stream:
        seen += 1
        if seen >= initial:
            break
    burst = seen / (time.perf_counter() - began)
    # live changes: one DELETE of the collection makes the server emit one DELETED event per pod
    start = time.perf_counter()
    with ThreadPoolExecutor(1) as pool:
        everything = f"{base}?labelSelector=bench%3Dyes&gracePeriodSeconds=0"
        deleting = pool.submit(client.request, "DELETE", everything)
        got = 0
        for _ in stream:
            got += 1
            if got >= live:
                break
        rate = got / (time.perf_counter() - start)
        deleting.result()
    stream.close()
    return burst, rate


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    print(f"{time.strftime('%Y-%m-%d')}, {platform.python_version()}, {psutil.cpu_count()} cores")
    rows: list[tuple[str, str, str]] = [("what", "figure", "target")]
    default_start, empty_start = start_times(args.repeat)
    rows.append(("cluster start, default scenario (7 pods)", f"{default_start * 1000:.0f} ms", "< 1 s"))
    rows.append(("cluster start, empty scenario", f"{empty_start * 1000:.0f} ms", "< 1 s"))
    scenario = Path(tempfile.mkdtemp()) / "bench.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    with ExternalCluster(scenario=scenario) as cluster:
        client = Client(cluster.kubeconfig)
        process = psutil.Process(cluster.proc.pid) if cluster.proc else None
        latencies = sorted(create_to_running(client, 20))
        p50, p90 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.9)]
        rows.append(
            (
                "create → Running, one pod (p50 / p90 of 20)",
                f"{p50 * 1000:.0f} / {p90 * 1000:.0f} ms",
                "p50 ≤ 300 ms",
            )
        )
        rows.append(("Deployment 0 → 100 Ready", f"{deployment_to_100(cluster.kubeconfig):.2f} s", "≤ 10 s"))
        time.sleep(2)  # the hundred pods go
        rss_before = process.memory_info().rss if process else 0
        began = time.perf_counter()
        many_pods(client, args.pods)
        created = time.perf_counter() - began
        rss_after = process.memory_info().rss if process else 0
        rows.append(
            (
                f"create {args.pods} pods over HTTPS (8 clients)",
                f"{created:.1f} s ({args.pods / created:.0f}/s)",
                "",
            )
        )
        replay = Replay(client, cluster.state_dir, cluster.kubeconfig)
        (demo, demo_cpu), (floor, floor_cpu) = kubectl_get(
            [cluster.kubeconfig, replay.kubeconfig], args.repeat, args.pods
        )
        replay.close()
        rows.append(
            (
                f"kubectl get pods over {args.pods} pods (median of {args.repeat}; kubectl CPU)",
                f"{demo * 1000:.0f} ms ({demo_cpu * 1000:.0f} ms)",
                "≤ 300 ms",
            )
        )
        rows.append(
            (
                "  the same pages from memory: kubectl's own share (CPU)",
                f"{floor * 1000:.0f} ms ({floor_cpu * 1000:.0f} ms)",
                f"ratio {demo / floor:.2f}x",
            )
        )
        burst, live = watch_rates(client, args.pods)
        rows.append((f"watch, initial {args.pods} ADDED events", f"{burst:.0f} events/s", "≥ 1,000/s"))
        rows.append(
            (f"watch, {args.pods} live DELETED (deletecollection)", f"{live:.0f} events/s", "≥ 1,000/s")
        )
        rows.append(
            (
                f"API server RSS, before → after {args.pods} pods",
                f"{rss_before / 2**20:.0f} → {rss_after / 2**20:.0f} MiB",
                "stated",
            )
        )
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, width, strict=True)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
