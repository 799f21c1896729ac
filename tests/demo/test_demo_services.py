"""Services as pods use them (:mod:`k8sterm_widget.demo.services`, :mod:`~k8sterm_widget.demo.dns`): a
ClusterIP reaches ready endpoints only, the cluster DNS answers what CoreDNS answers through the pods' own
resolvers (busybox's ``nslookup`` and ``wget``, glibc's), a NodePort answers on the host's ``127.0.0.1`` and
on the node's address, and what of it remains where pods share the host's network.

The pod-network tests need network namespaces (CI has them; the probe says why where not); the degraded mode
is tested everywhere, in a cluster started with ``isolation="process"``.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubectl_runner import Kubectl

from k8sterm_widget.demo import DemoCluster

NS = "svc"
HELLO = re.compile(r"Hello Kubernetes bootcamp! \| Running on: (\S+) \| v=1\n")


def _apply(kubectl: Kubectl, *objects: dict) -> None:
    # one document each: kubectl validates a `kind: List` against /openapi/v2 in protobuf, which the demo
    # cluster does not serve (docs/demo-cluster.md)
    r = kubectl("apply", "-f", "-", input="\n---\n".join(json.dumps(o) for o in objects))
    assert r.returncode == 0, r.stderr


def _bootcamp(name: str, *, ready: bool = True) -> dict:
    container: dict = {"name": "app", "image": "gcr.io/google-samples/kubernetes-bootcamp:v1"}
    # Ready once node listens (without a probe a pod is Ready when its process starts, serving or not); the
    # other serves like it, but its readiness probe never passes
    probe = {"httpGet": {"path": "/", "port": 8080}} if ready else {"exec": {"command": ["false"]}}
    container["readinessProbe"] = {**probe, "periodSeconds": 1}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "hello"}},
        "spec": {"containers": [container], "terminationGracePeriodSeconds": 0},
    }  # fmt: skip


def _client(name: str, image: str, command: list[str]) -> dict:
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": image, "command": command}],
                 "terminationGracePeriodSeconds": 0},
    }  # fmt: skip


@pytest.fixture(scope="module")
def pods(demo_cluster: DemoCluster, kubectl: Kubectl) -> Iterator[Kubectl]:
    """Namespace ``svc``: bootcamp pods ``ready`` and ``unready`` behind Service ``hello`` (80 → 8080), and
    client pods ``bb`` (busybox), ``web`` (nginx) and ``py`` (python)."""
    if not getattr(demo_cluster._runtime, "pod_network", False):
        pytest.skip(
            f"no per-pod network on this machine ({demo_cluster.notice}); see test_without_a_pod_network"
        )
    assert kubectl("create", "namespace", NS).returncode == 0
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "hello", "namespace": NS},
        "spec": {"selector": {"app": "hello"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }  # fmt: skip
    _apply(
        kubectl, service, _bootcamp("ready"), _bootcamp("unready", ready=False),
        _client("bb", "busybox:1.36", ["sleep", "3600"]), _client("web", "nginx:1.27", []),
        _client("py", "python:3.12", ["sleep", "3600"]),
    )  # fmt: skip
    for pod in ("ready", "bb", "web", "py"):
        r = kubectl("-n", NS, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=60s")
        assert r.returncode == 0, r.stderr
    yield kubectl
    kubectl("delete", "namespace", NS, "--wait=false")


def _exec(kubectl: Kubectl, pod: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return kubectl("-n", NS, "exec", pod, "--", *argv, timeout=60)


def _cluster_ip(kubectl: Kubectl, name: str) -> str:
    return kubectl("-n", NS, "get", "svc", name, "-o", "jsonpath={.spec.clusterIP}").stdout


def test_cluster_ip_reaches_only_ready_endpoints(pods: Kubectl) -> None:
    # kube-proxy sends a Service's traffic to the endpoints of Ready pods: `unready` serves too, but gets none
    endpoints = pods("-n", NS, "get", "endpoints", "hello", "-o", "json").stdout
    subsets = json.loads(endpoints)["subsets"]
    assert [a["targetRef"]["name"] for a in subsets[0]["addresses"]] == ["ready"]
    assert [a["targetRef"]["name"] for a in subsets[0]["notReadyAddresses"]] == ["unready"]
    loop = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do wget -qO- http://hello; done"
    r = _exec(pods, "bb", "sh", "-c", loop)
    assert r.returncode == 0, r.stderr
    assert HELLO.findall(r.stdout) == ["ready"] * 12, r.stdout
    # the same through the ClusterIP itself, and by every name the search path completes
    ip = _cluster_ip(pods, "hello")
    for url in (
        f"http://{ip}",
        "http://hello.svc",
        "http://hello.svc.svc",
        "http://hello.svc.svc.cluster.local",
    ):
        r = _exec(pods, "bb", "wget", "-qO-", url)
        assert HELLO.fullmatch(r.stdout) and r.returncode == 0, (url, r.stdout, r.stderr)
    # a port the Service does not have is refused, as kube-proxy's REJECT does
    r = _exec(pods, "bb", "wget", "-qO-", f"http://{ip}:8080")
    assert r.returncode == 1 and "Connection refused" in r.stderr, r.stderr


def test_the_bootcamp_image_is_the_tutorials_app(pods: Kubectl) -> None:
    """What the Kubernetes Basics tutorial does inside its pod (runtime/images.py: BOOTCAMP_V1)."""
    r = _exec(pods, "ready", "cat", "server.js")
    assert r.stdout.startswith("var http = require('http');\n") and 'response.end(" | v=1\\n");' in r.stdout
    r = _exec(pods, "ready", "bash", "-c", "curl -s http://localhost:8080; echo $NODE_VERSION; ps -o args= 1")
    assert (
        r.stdout == "Hello Kubernetes bootcamp! | Running on: ready | v=1\n6.3.1\n/bin/sh -c node server.js\n"
    )
    logs = pods("-n", NS, "logs", "ready").stdout.splitlines()
    assert re.fullmatch(r"Kubernetes Bootcamp App Started At: \S+Z \| Running On:  ready ", logs[0]), logs
    assert re.fullmatch(
        r"Running On: ready \| Total Requests: 1 \| App Uptime: [\d.]+ seconds \| Log Time: \S+Z", logs[2]
    )


def test_the_nginx_image_curls_a_service(pods: Kubectl) -> None:
    r = _exec(pods, "web", "curl", "-s", "http://hello.svc.svc.cluster.local")
    assert HELLO.fullmatch(r.stdout), (r.stdout, r.stderr)


def test_busybox_nslookup_prints_what_coredns_gives_it(pods: Kubectl) -> None:
    ip = _cluster_ip(pods, "hello")
    r = _exec(pods, "bb", "nslookup", "hello.svc.svc.cluster.local")
    # busybox 1.3x asks for A and AAAA; CoreDNS answers the AAAA with NOERROR and no record, which busybox
    # shows as a blank line (before or after the A answer: whichever arrives first)
    assert [line for line in r.stdout.splitlines() if line] == [
        "Server:\t\t10.96.0.10", "Address:\t10.96.0.10:53",
        "Name:\thello.svc.svc.cluster.local", f"Address: {ip}",
    ], r.stdout  # fmt: skip
    assert r.returncode == 0
    r = _exec(pods, "bb", "nslookup", "kubernetes.default.svc.cluster.local")
    assert (
        "Name:\tkubernetes.default.svc.cluster.local\nAddress: 10.96.0.1\n" in r.stdout and r.returncode == 0
    )
    # a short name: busybox tries every search domain and reports the ones that do not exist (as on kind)
    r = _exec(pods, "bb", "nslookup", "hello")
    assert f"Name:\thello.svc.svc.cluster.local\nAddress: {ip}\n" in r.stdout
    assert "** server can't find hello.svc.cluster.local: NXDOMAIN" in r.stdout
    # reverse: CoreDNS's PTR for a ClusterIP
    r = _exec(pods, "bb", "nslookup", ip)
    assert "name = hello.svc.svc.cluster.local" in r.stdout and r.returncode == 0, r.stdout
    r = _exec(pods, "bb", "nslookup", "no-such-service.svc.svc.cluster.local")
    assert "** server can't find no-such-service.svc.svc.cluster.local: NXDOMAIN" in r.stdout
    assert r.returncode == 1


def test_glibc_resolves_short_names_through_the_search_path(pods: Kubectl) -> None:
    names = "'kubernetes.default', 'hello', 'hello.svc'"
    script = f"import socket; print(*(socket.gethostbyname(n) for n in ({names})))"
    r = _exec(pods, "py", "python3", "-c", script)
    ip = _cluster_ip(pods, "hello")
    assert r.stdout.split() == ["10.96.0.1", ip, ip], r.stderr
    # and over TCP, which resolvers use for long answers (CoreDNS serves both)
    r = _exec(pods, "py", "python3", "-c", _DNS_OVER_TCP)
    assert r.stdout.strip() == "10.96.0.1", r.stderr


_DNS_OVER_TCP = """
import socket, struct
q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
name = "kubernetes.default.svc.cluster.local"
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\\0"
q += struct.pack(">HH", 1, 1)
s = socket.create_connection(("10.96.0.10", 53), timeout=5)
s.sendall(struct.pack(">H", len(q)) + q)
n = struct.unpack(">H", s.recv(2))[0]
a = b""
while len(a) < n:
    a += s.recv(n - len(a))
print(socket.inet_ntoa(a[-4:]))
"""


def test_node_port_answers_on_the_hosts_loopback_and_the_nodes_address(pods: Kubectl) -> None:
    r = pods("-n", NS, "expose", "pod", "ready", "--name=hello-np", "--type=NodePort", "--port=8080")
    assert r.returncode == 0, r.stderr
    port = int(pods("-n", NS, "get", "svc", "hello-np", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout)
    assert 30000 <= port <= 32767
    body = _get(f"http://127.0.0.1:{port}")  # `minikube service --url` / Docker Desktop's localhost
    assert HELLO.fullmatch(body), body
    r = _exec(pods, "bb", "wget", "-qO-", f"http://172.18.0.2:{port}")  # NodeIP:NodePort from a pod
    assert HELLO.fullmatch(r.stdout), (r.stdout, r.stderr)
    assert pods("-n", NS, "delete", "service", "hello-np").returncode == 0
    deadline = time.monotonic() + 10
    while True:  # the tutorial's "curl the previously exposed IP and port": not reachable any more
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except ConnectionRefusedError:
            break
        assert time.monotonic() < deadline, "the NodePort still answers after its Service is gone"
        time.sleep(0.1)


def _get(url: str, timeout: float = 10) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return urllib.request.urlopen(url, timeout=5).read().decode()
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_pod_on_the_heels_of_a_deleted_one_gets_another_address_and_is_reachable(pods: Kubectl) -> None:
    """Pod addresses go round-robin, as host-local IPAM gives them: the address a pod just released is not
    the next one given. (It was: the node's neighbour cache still held the gone pod's MAC for it, and the
    next pod's readiness probe timed out for about 45 s.)"""
    _apply(pods, {**_bootcamp("first"), "metadata": {"name": "first", "namespace": NS}})
    assert pods("-n", NS, "wait", "--for=condition=Ready", "pod/first", "--timeout=60s").returncode == 0
    first = pods("-n", NS, "get", "pod", "first", "-o", "jsonpath={.status.podIP}").stdout
    assert pods("-n", NS, "delete", "pod", "first").returncode == 0  # waits until it is gone
    _apply(pods, {**_bootcamp("second"), "metadata": {"name": "second", "namespace": NS}})
    ready = pods("-n", NS, "wait", "--for=condition=Ready", "pod/second", "--timeout=60s")
    assert ready.returncode == 0, ready.stderr  # its httpGet probe reaches it from the node
    second = pods("-n", NS, "get", "pod", "second", "-o", "jsonpath={.status.podIP}").stdout
    assert first and second and second != first
    pods("-n", NS, "delete", "pod", "second", "--wait=false")


# --- pods on the host's network ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def degraded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DemoCluster, Kubectl]]:
    """A cluster whose pods share the host's network, as on a machine without network namespaces."""
    with DemoCluster(isolation="process", state_dir=tmp_path_factory.mktemp("degraded")) as cluster:
        yield cluster, Kubectl(kubeconfig=cluster.kubeconfig, home=Path(tmp_path_factory.mktemp("home")))


ECHO = """
import socketserver, sys
class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        for line in self.rfile:
            self.wfile.write(line)
socketserver.ThreadingTCPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
"""


def _connect(address: tuple[str, int], timeout: float = 15) -> socket.socket:
    """A connection to a server that may still be starting (a pod's process, kubectl port-forward)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(address, timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_without_a_pod_network(degraded: tuple[DemoCluster, Kubectl]) -> None:
    """What degrades (docs/demo-cluster.md): no ClusterIP is routable, so the cluster maps each ClusterIP
    port to a loopback port; a NodePort and port-forward still reach the pod, whose port is the host's."""
    cluster, kubectl = degraded
    assert cluster.isolation == "process"
    port = _free_port()
    echo = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "echo", "namespace": "default", "labels": {"app": "echo"}},
        "spec": {"containers": [{"name": "c", "image": "python:3.12",
                                 "command": ["python3", "-c", ECHO, str(port)]}],
                 "terminationGracePeriodSeconds": 0},
    }  # fmt: skip
    _apply(kubectl, echo)
    assert (
        kubectl("-n", "default", "wait", "--for=condition=Ready", "pod/echo", "--timeout=60s").returncode == 0
    )
    r = kubectl(
        "-n", "default", "expose", "pod", "echo", "--type=NodePort", "--port=7000", f"--target-port={port}"
    )
    assert r.returncode == 0, r.stderr
    ip = kubectl("-n", "default", "get", "svc", "echo", "-o", "jsonpath={.spec.clusterIP}").stdout
    node_port = int(
        kubectl("-n", "default", "get", "svc", "echo", "-o", "jsonpath={.spec.ports[0].nodePort}").stdout
    )
    deadline = time.monotonic() + 10
    while cluster.service_address(ip, 7000) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    address = cluster.service_address(ip, 7000)
    assert address is not None and address[0] == "127.0.0.1"
    for where in (("127.0.0.1", port), address, ("127.0.0.1", node_port)):
        with _connect(where) as s:
            s.sendall(b"hello\n")
            assert s.recv(100) == b"hello\n", where
    local = _free_port()
    argv = kubectl.argv("-n", "default", "port-forward", "pod/echo", f"{local}:{port}")
    proc = subprocess.Popen(
        argv, env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        with _connect(("127.0.0.1", local)) as s:
            s.sendall(b"forwarded\n")
            assert s.recv(100) == b"forwarded\n"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # the DNS still answers, on the host's loopback only (pods use the host's resolv.conf)
    from dnslib import DNSRecord

    assert cluster.dns_address is not None and cluster.dns_address[0] == "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.settimeout(5)
        u.sendto(DNSRecord.question("echo.default.svc.cluster.local").pack(), cluster.dns_address)
        assert [str(rr.rdata) for rr in DNSRecord.parse(u.recv(4096)).rr] == [ip]
