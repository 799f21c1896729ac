"""The cluster DNS (:mod:`k8sterm_widget.demo.dns`): what CoreDNS answers for Services and pods."""

from __future__ import annotations

import socket

from dnslib import QTYPE, RCODE, DNSRecord
from kubectl_runner import Kubectl

from k8sterm_widget.demo import DemoCluster


def ask(cluster: DemoCluster, name: str, qtype: str = "A") -> DNSRecord:
    address = cluster.dns_address
    assert address is not None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(DNSRecord.question(name, qtype).pack(), address)
        return DNSRecord.parse(s.recv(4096))


def test_services_and_pods_resolve(demo_cluster: DemoCluster, kubectl: Kubectl) -> None:
    answer = ask(demo_cluster, "kubernetes.default.svc.cluster.local")
    assert [str(rr.rdata) for rr in answer.rr] == ["10.96.0.1"]
    assert [str(rr.rdata) for rr in ask(demo_cluster, "kube-dns.kube-system.svc.cluster.local").rr] == [
        "10.96.0.10"
    ]
    assert (
        kubectl("-n", "demo", "create", "service", "clusterip", "dns-probe", "--tcp=8080:80").returncode == 0
    )
    try:
        ip = kubectl("-n", "demo", "get", "svc", "dns-probe", "-o", "jsonpath={.spec.clusterIP}").stdout
        answer = ask(demo_cluster, "dns-probe.demo.svc.cluster.local")
        assert [str(rr.rdata) for rr in answer.rr] == [ip] and answer.header.aa == 1
        srv = ask(demo_cluster, "_8080-80._tcp.dns-probe.demo.svc.cluster.local", "SRV")
        assert [str(rr.rdata) for rr in srv.rr] == ["0 100 8080 dns-probe.demo.svc.cluster.local."]
    finally:
        kubectl("-n", "demo", "delete", "service", "dns-probe")
    assert ask(demo_cluster, "dns-probe.demo.svc.cluster.local").header.rcode == RCODE.NXDOMAIN
    pod = ask(demo_cluster, "10-244-0-5.demo.pod.cluster.local")
    assert [str(rr.rdata) for rr in pod.rr] == ["10.244.0.5"]
    outside = ask(demo_cluster, "example.com")
    assert outside.header.rcode == RCODE.NXDOMAIN and QTYPE[outside.q.qtype] == "A"
