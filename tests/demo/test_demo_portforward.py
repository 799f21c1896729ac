"""``kubectl port-forward`` (SPDY over WebSocket), the official client's ``portforward`` (v4 channels) and
``kubectl proxy`` to ``pods/proxy`` and ``services/proxy`` (:mod:`k8sterm_widget.demo.portforward`,
:mod:`~k8sterm_widget.demo.spdy`, :mod:`~k8sterm_widget.demo.proxy`).

The pod's ports are served by an echo server and an HTTP server whose bytes the tests know exactly.  On a
per-pod network (the usual case, and CI's) they run in a pod of their own (the ``python`` image, the script
below), reached on the pod's network as on a real cluster; where pods share the host's network (the fallback
without network namespaces) the same servers are listeners of this test on the host's loopback, which is what
a pod's port then is (test_demo_services.py runs that mode on any machine, in a cluster of process isolation).
"""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from kubectl_runner import Kubectl

from k8sterm_widget.demo import DemoCluster

SERVERS = """
import http.server, socketserver, sys, threading

class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"echo:" + self.request.recv(1000))

class Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"hello from {self.path}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

echo = socketserver.ThreadingTCPServer(("", int(sys.argv[1])), Echo)
web = http.server.ThreadingHTTPServer(("", int(sys.argv[2])), Hello)
threading.Thread(target=echo.serve_forever, daemon=True).start()
print("serving", flush=True)
web.serve_forever()
"""


@dataclass
class Servers:
    pod: str  # the pod whose ports they are
    label: str  # a selector matching only that pod
    echo: int
    web: int


def serve_in_pod(kubectl: Kubectl, namespace: str, name: str, echo: int = 7000, web: int = 8000) -> None:
    """A pod running the echo and HTTP servers, Ready once both listen (a tcpSocket readiness probe)."""
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {"containers": [{
            "name": "servers", "image": "python:3.12",
            "command": ["python3", "-c", SERVERS, str(echo), str(web)],
            "ports": [{"name": "echo", "containerPort": echo}, {"name": "web", "containerPort": web}],
            "readinessProbe": {"tcpSocket": {"port": web}, "periodSeconds": 1},
        }]},
    }  # fmt: skip
    r = kubectl("apply", "-f", "-", input=json.dumps(pod))
    assert r.returncode == 0, r.stderr
    r = kubectl("-n", namespace, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=60s")
    assert r.returncode == 0, r.stderr


@pytest.fixture(scope="module")
def listeners(demo_cluster: DemoCluster, kubectl: Kubectl) -> Iterator[Servers]:
    if getattr(demo_cluster._runtime, "pod_network", False):
        serve_in_pod(kubectl, "demo", "pf-servers")
        yield Servers("pf-servers", "app=pf-servers", 7000, 8000)
        kubectl("-n", "demo", "delete", "pod", "pf-servers", "--grace-period=0")
        return
    echo = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    web = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    for server in (echo, web):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Servers("web-1", "app=web", echo.server_address[1], web.server_address[1])
    for server in (echo, web):
        server.shutdown()
        server.server_close()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = self.request.recv(1000)
        self.request.sendall(b"echo:" + data)


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.path}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fetch_once_up(url: str, proc: subprocess.Popen[str], timeout: float = 15) -> bytes:
    """GET ``url`` from a kubectl that listens on it (port-forward, proxy) once it has started to."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return bytes(urllib.request.urlopen(url, timeout=5).read())
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline or proc.poll() is not None:
                raise
            time.sleep(0.05)


def _connect(port: int, deadline: float) -> socket.socket:
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_kubectl_port_forward_carries_bytes_both_ways(kubectl: Kubectl, listeners: Servers) -> None:
    echo = listeners.echo
    local = _free_port()
    argv = kubectl.argv("port-forward", f"pod/{listeners.pod}", f"{local}:{echo}")
    proc = subprocess.Popen(
        argv, env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 15
        for i in range(3):  # three connections over one SPDY session
            with _connect(local, deadline) as s:
                s.sendall(b"ping %d" % i)
                assert s.recv(100) == b"echo:ping %d" % i
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"Forwarding from 127.0.0.1:{local} -> {echo}" in out
    assert out.count(f"Handling connection for {local}") == 3


def test_kubectl_port_forward_to_a_service(kubectl: Kubectl, listeners: Servers) -> None:
    """``kubectl port-forward svc/NAME LOCAL:PORT`` (kubectl's cmd/portforward): kubectl picks a running pod
    of the Service's selector, turns the service port into the targetPort it names — a container port's
    name looked up in that pod's spec — and forwards to that pod; a port the Service lacks is kubectl's
    error before anything is forwarded."""
    svc = f"pf-svc-{listeners.web}"
    key, value = listeners.label.split("=")
    # on a pod network the servers' pod names its ports; sharing the host's network, web-1 names none of them
    target: int | str = "web" if listeners.pod == "pf-servers" else listeners.web
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": svc, "namespace": "demo"},
        "spec": {"selector": {key: value}, "ports": [{"name": "http", "port": 80, "targetPort": target}]},
    }  # fmt: skip
    assert kubectl("apply", "-f", "-", input=json.dumps(service)).returncode == 0
    local = _free_port()
    argv = kubectl.argv("-n", "demo", "port-forward", f"svc/{svc}", f"{local}:80")
    proc = subprocess.Popen(
        argv, env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert _fetch_once_up(f"http://127.0.0.1:{local}/via-service", proc) == b"hello from /via-service\n"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert f"Forwarding from 127.0.0.1:{local} -> {listeners.web}" in out
    r = kubectl("-n", "demo", "port-forward", f"svc/{svc}", f"{_free_port()}:81", timeout=20)
    assert r.returncode == 1 and f"error: Service {svc} does not have a service port 81" in r.stderr
    kubectl("-n", "demo", "delete", "service", svc)


def test_port_forward_to_a_closed_port_reports_the_kubelets_error(
    kubectl: Kubectl, listeners: Servers
) -> None:
    closed, local = _free_port(), _free_port()
    argv = kubectl.argv("port-forward", f"pod/{listeners.pod}", f"{local}:{closed}")
    proc = subprocess.Popen(
        argv, env=kubectl.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        with _connect(local, time.monotonic() + 15) as s:
            s.sendall(b"x")
            s.recv(10)
        out = proc.communicate(timeout=15)[0]
    finally:
        proc.kill()
    assert f"error forwarding port {closed} to pod" in out
    assert f"dial tcp4 127.0.0.1:{closed}: connect: connection refused" in out


def test_port_forward_to_a_pod_that_does_not_run(kubectl: Kubectl) -> None:
    r = kubectl("port-forward", "pod/pending", "18999:80", timeout=20)
    assert r.returncode == 1
    assert "error: unable to forward port because pod is not running. Current status=Pending" in r.stderr


def test_official_client_portforward(demo_cluster: DemoCluster, listeners: Servers) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    echo = listeners.echo
    api = client.CoreV1Api(config.new_client_from_config(demo_cluster.kubeconfig))
    pf = portforward(api.connect_get_namespaced_pod_portforward, listeners.pod, "demo", ports=str(echo))
    sock = pf.socket(echo)
    sock.setblocking(True)
    sock.sendall(b"from python")
    assert sock.recv(100) == b"echo:from python"
    sock.close()
    assert pf.error(echo) is None


def test_kubectl_proxy_reaches_pods_and_services(kubectl: Kubectl, listeners: Servers) -> None:
    web, pod = listeners.web, listeners.pod
    svc = f"proxied-{web}"
    assert kubectl("-n", "demo", "create", "service", "clusterip", svc, f"--tcp=80:{web}").returncode == 0
    key, value = listeners.label.split("=")
    selector = json.dumps({"spec": {"selector": {key: value}}})
    assert kubectl("-n", "demo", "patch", "service", svc, "-p", selector).returncode == 0
    port = _free_port()
    proc = subprocess.Popen(kubectl.argv("proxy", f"--port={port}"), env=kubectl.env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/api/v1/namespaces/demo"
        body = _fetch_once_up(f"{base}/pods/{pod}:{web}/proxy/greet?x=1", proc)
        assert body == b"hello from /greet?x=1\n"
        assert urllib.request.urlopen(f"{base}/services/{svc}/proxy/", timeout=5).read() == b"hello from /\n"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{base}/pods/{pod}:{_free_port()}/proxy/", timeout=5)
        assert info.value.code == 503
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        kubectl("-n", "demo", "delete", "service", svc)


def test_spdy_header_blocks_round_trip() -> None:
    """The framer against itself: a client's SYN_STREAM headers come out as they went in."""
    import struct
    import zlib

    from k8sterm_widget.demo import spdy

    deflate = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, spdy.DICTIONARY)
    headers = {"streamtype": "data", "port": "80", "requestid": "0"}
    raw = struct.pack(">I", len(headers))
    for k, v in headers.items():
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    block = deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH)
    body = struct.pack(">IIBB", 1, 0, 0, 0) + block
    frame = struct.pack(">HHI", 0x8003, spdy.SYN_STREAM, len(body)) + body
    reader = spdy.Reader()
    parsed = reader.feed(frame[:5]) + reader.feed(frame[5:] + spdy.Writer.data(1, b"abc", fin=True))
    assert parsed[0].type == spdy.SYN_STREAM and parsed[0].headers == headers and parsed[0].stream_id == 1
    assert (parsed[1].control, parsed[1].data, parsed[1].flags) == (False, b"abc", spdy.FLAG_FIN)
