"""Every pre-flight failure is a typed error with a useful sentence, from REST and handshake alike."""

import socket
from pathlib import Path

import pytest
import yaml

from k8sterm_widget.errors import (
    ClusterUnreachable,
    CommandNotFound,
    ContainerNotRunning,
    ContainerNotValid,
    Forbidden,
    PodNotFound,
    PodNotRunning,
    Unauthorized,
)
from k8sterm_widget.kube import config as kconfig
from k8sterm_widget.kube.preflight import preflight
from k8sterm_widget.session import ExecSession


@pytest.fixture
def cluster(demo_cluster):
    return kconfig.resolve(kubeconfig=demo_cluster.kubeconfig, context="demo-admin")


@pytest.fixture
def viewer(demo_cluster):
    return kconfig.resolve(kubeconfig=demo_cluster.kubeconfig, context="demo-viewer")


def edited_kubeconfig(demo_cluster, tmp_path, edit):
    doc = yaml.safe_load(Path(demo_cluster.kubeconfig).read_text())
    edit(doc)
    path = tmp_path / "edited.kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_default_container_from_annotation_and_kubectl_note(cluster):
    assert preflight(cluster, "web-0", "demo").container == "nginx"
    assert preflight(cluster, "web-0", "demo").notes == []
    assert preflight(cluster, "web-0", "demo", "sidecar").container == "sidecar"
    assert preflight(cluster, "web-1", "demo").notes == []


def test_pod_not_found_names_the_namespace_and_suggests(cluster):
    with pytest.raises(PodNotFound) as info:
        preflight(cluster, "web-9", "demo")
    assert 'namespace "demo"' in str(info.value) and "web-0" in info.value.suggestions
    with pytest.raises(PodNotFound, match='"nowhere"'):
        preflight(cluster, "web-0", "nowhere")


def test_container_not_valid_lists_the_choices(cluster):
    with pytest.raises(ContainerNotValid) as info:
        preflight(cluster, "web-0", "demo", "nope")
    assert "nginx" in info.value.choices and "sidecar" in info.value.choices
    assert "out of: nginx, sidecar" in str(info.value)


def test_pod_not_running(cluster):
    with pytest.raises(PodNotRunning, match="does not have a host assigned"):
        preflight(cluster, "pending", "demo")
    with pytest.raises(PodNotRunning, match="completed pod; current phase is Succeeded"):
        preflight(cluster, "completed", "demo")


def test_forbidden_names_user_verb_and_resource(viewer):
    with pytest.raises(Forbidden) as info:
        preflight(viewer, "web-0", "demo")
    e = info.value
    assert (e.user, e.verb, e.resource, e.namespace) == ("viewer", "create", "pods/exec", "demo")
    assert 'User "viewer" cannot create resource "pods/exec"' in str(e)


def test_unauthorized(demo_cluster, tmp_path):
    def bad_token(doc):
        for u in doc["users"]:
            u["user"]["token"] = "not-a-valid-token"

    c = kconfig.resolve(kubeconfig=edited_kubeconfig(demo_cluster, tmp_path, bad_token), context="demo-admin")
    with pytest.raises(Unauthorized) as info:
        preflight(c, "web-0", "demo")
    assert "not-a-valid-token" not in str(info.value)


def test_unreachable_names_the_server_but_no_secret(demo_cluster, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def closed_port(doc):
        for c in doc["clusters"]:
            c["cluster"]["server"] = f"https://127.0.0.1:{port}"

    c = kconfig.resolve(
        kubeconfig=edited_kubeconfig(demo_cluster, tmp_path, closed_port), context="demo-admin"
    )
    with pytest.raises(ClusterUnreachable) as info:
        preflight(c, "web-0", "demo")
    assert f"127.0.0.1:{port}" in str(info.value) and "refused" in str(info.value)
    token = yaml.safe_load(Path(demo_cluster.kubeconfig).read_text())["users"][0]["user"]["token"]
    assert token not in str(info.value)


def test_wrong_ca_is_a_tls_failure(demo_cluster, tmp_path):
    import base64

    from k8sterm_widget.demo import pki

    # Another demo cluster's CA: a valid CA, just not the one that signed this server's certificate.
    pem = base64.b64encode(pki.ensure_pki(tmp_path / "other").ca_pem).decode()

    def other_ca(doc):
        for c in doc["clusters"]:
            c["cluster"].pop("certificate-authority", None)
            c["cluster"]["certificate-authority-data"] = pem

    c = kconfig.resolve(kubeconfig=edited_kubeconfig(demo_cluster, tmp_path, other_ca), context="demo-admin")
    with pytest.raises(ClusterUnreachable, match="certificate verify failed"):
        preflight(c, "web-0", "demo")
    with pytest.raises(ClusterUnreachable, match="certificate verify failed"):
        ExecSession.open(
            "web-0",
            ["true"],
            "demo",
            tty=False,
            stdin=False,
            check=False,
            kubeconfig=c.source,
            context="demo-admin",
        )


# --- the same failures when the REST pre-flight is skipped: parsed from the handshake / channel 3 ----------


@pytest.mark.parametrize(
    ("context", "pod", "container", "error"),
    [
        ("demo-viewer", "web-0", None, Forbidden),
        ("demo-admin", "web-9", None, PodNotFound),
        ("demo-admin", "web-0", "nope", ContainerNotValid),
        ("demo-admin", "pending", None, PodNotRunning),
        ("demo-admin", "completed", None, ContainerNotRunning),
    ],
)
def test_handshake_failures_are_typed_too(demo_cluster, context, pod, container, error):
    with pytest.raises(error):
        s = ExecSession.open(
            pod,
            ["true"],
            "demo",
            container,
            tty=False,
            stdin=False,
            check=False,
            kubeconfig=demo_cluster.kubeconfig,
            context=context,
        )
        s.wait(10)


def test_command_not_found_after_the_upgrade(demo_cluster):
    s = ExecSession.open(
        "web-0", ["nope"], "demo", tty=False, stdin=False, kubeconfig=demo_cluster.kubeconfig
    )
    with pytest.raises(CommandNotFound):
        s.wait(10)


def test_one_pod_check_in_kubectl_execs_and_kubectl_debugs_words():
    """``check_pod`` serves exec (pod and container) and debug (pod only, and not while it is deleted)."""
    from k8sterm_widget.errors import ContainerNotRunning, PodNotRunning
    from k8sterm_widget.kube.preflight import DEBUG, check_pod

    def pod(phase="Running", node="node-1", deleting=False, state=None):
        meta = {"name": "p", **({"deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {})}
        statuses = [{"name": "app", "state": state or {"running": {}}}]
        return {
            "metadata": meta,
            "spec": {"nodeName": node},
            "status": {"phase": phase, "containerStatuses": statuses},
        }

    check_pod(pod(), "app")
    check_pod(pod(deleting=True), "app")  # kubectl exec still works while the pod terminates
    check_pod(pod(state={"waiting": {"reason": "CrashLoopBackOff"}}), None, DEBUG)  # debug needs no container
    with pytest.raises(
        PodNotRunning, match="cannot exec into a container in a completed pod; current phase is Failed"
    ):
        check_pod(pod(phase="Failed"), "app")
    with pytest.raises(
        PodNotRunning, match="cannot add a debug container to a completed pod; current phase is "
    ):
        check_pod(pod(phase="Succeeded"), None, DEBUG)
    with pytest.raises(PodNotRunning, match="does not have a host assigned") as info:
        check_pod(pod(node=None), None, DEBUG)
    assert "debug container runs on the pod's node" in (info.value.hint or "")
    with pytest.raises(PodNotRunning, match="pod p is being deleted"):
        check_pod(pod(deleting=True), None, DEBUG)
    with pytest.raises(ContainerNotRunning, match=r'container "app" of pod "p" is not running \(waiting: '):
        check_pod(pod(state={"waiting": {"reason": "CrashLoopBackOff"}}), "app")
