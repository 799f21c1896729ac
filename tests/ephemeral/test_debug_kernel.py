"""``debug()`` end to end in the kernel, on a private demo cluster (debug containers are permanent)."""

from __future__ import annotations

import json
import re

import pytest
from helpers import wait_until
from kubernetes.client.rest import ApiException

import k8sterm_widget as k8s
from k8sterm_widget import errors

NAME = re.compile(r"debugger-[bcdfghjklmnpqrstvwxz2456789]{5}")


@pytest.fixture
def kc(private_cluster):
    return {"kubeconfig": private_cluster.kubeconfig, "namespace": "demo"}


def ephemeral(private_cluster, pod: str) -> list[dict]:
    from kubernetes import client

    from k8sterm_widget.kube.config import resolve

    api = resolve(kubeconfig=private_cluster.kubeconfig).new_api_client()
    try:
        resp = client.CoreV1Api(api).read_namespaced_pod(pod, "demo", _preload_content=False)
        return json.loads(resp.data)["spec"].get("ephemeralContainers", [])
    finally:
        api.close()


def test_debug_distroless_attach_and_run_ps(private_cluster, kc):
    t = k8s.debug("distroless", **kc)
    try:
        assert isinstance(t, k8s.Terminal)
        out = t.run("ps", timeout=30)
        assert "/app/server" in out  # the target's processes: the PID namespace is shared
        assert NAME.fullmatch(t.container), t.container
        assert t.badge == "debug container · busybox:1.36 · target app"
        assert any("shares the process namespace" in n for n in t.notes)
        spec = next(c for c in ephemeral(private_cluster, "distroless") if c["name"] == t.container)
        assert spec["targetContainerName"] == "app" and spec["tty"] and spec["stdin"]
        assert spec["image"] == "busybox:1.36"
        assert t.run("echo $TERM").strip() == "xterm-256color"
        # a second debug() adds a second container: names never repeat
        t2 = k8s.debug("distroless", **kc)
        t2.run("true", timeout=30)
        assert t2.container != t.container
        t2.close()
    finally:
        t.close()


def test_reconnect_after_exit_starts_a_new_debug_container(kc):
    t = k8s.debug("web-1", **kc)
    try:
        t.run("true", timeout=30)
        first = t.container
        t.sendline("exit")
        assert t.wait_exit(20) == 0
        t.reconnect()
        t.run("true", timeout=30)
        assert t.container != first and any("has ended" in n for n in t.notes)
    finally:
        t.close()


def test_no_shell_offers_debug_and_switches_in_place(kc):
    t = k8s.shell("distroless", **kc)
    try:
        with pytest.raises(errors.NoShellFound) as info:
            t.run("true", timeout=30)
        assert 'k8sterm_widget.debug("distroless", namespace="demo", target="app")' in str(info.value)
        assert t.offers == ["debug"]
        t._on_custom_msg(t, {"type": "debug"}, [])  # the error line's button
        assert "/app/server" in t.run("ps", timeout=30)
        assert t.offers == [] and t.badge.startswith("debug container")
    finally:
        t.close()


def test_a_debug_request_is_honoured_only_when_offered_and_only_once(private_cluster, kc):
    """A front end's ``debug`` message creates a permanent container: only after the kernel offered it (a
    "no shell" error), and once however many come (five clicks, two front ends)."""
    before = len(ephemeral(private_cluster, "web-0"))
    shelled = k8s.shell("web-0", **kc)  # a shell: nothing is offered
    try:
        shelled.run("true", timeout=30)
        assert shelled.offers == []
        for _ in range(5):
            shelled._on_custom_msg(shelled, {"type": "debug"}, [])
        assert shelled.run("echo still-here", timeout=30) == "still-here\n"
        assert len(ephemeral(private_cluster, "web-0")) == before and not shelled.badge
    finally:
        shelled.close()
    offered = len(ephemeral(private_cluster, "distroless"))
    t = k8s.shell("distroless", **kc)
    try:
        wait_until(lambda: t.offers == ["debug"], 30, "the offer")
        for _ in range(5):
            t._on_custom_msg(t, {"type": "debug"}, [])
        assert "/app/server" in t.run("ps", timeout=30)
        for _ in range(3):  # the offer is gone with the error line
            t._on_custom_msg(t, {"type": "debug"}, [])
        t.run("true", timeout=30)
        assert len(ephemeral(private_cluster, "distroless")) == offered + 1
    finally:
        t.close()


def test_viewer_is_refused_before_anything_changes(private_cluster, kc):
    before = len(ephemeral(private_cluster, "web-0"))
    t = k8s.debug("web-0", context="demo-viewer", **kc)
    with pytest.raises(errors.Forbidden) as info:
        t.run("true", timeout=30)
    assert 'cannot patch resource "pods/ephemeralcontainers"' in str(info.value)
    assert t.status == "error" and isinstance(t.error, errors.Forbidden)
    assert len(ephemeral(private_cluster, "web-0")) == before
    t.close()


def test_an_image_that_cannot_be_pulled(kc):
    t = k8s.debug("web-0", image="example.invalid/nope:0", **kc)
    with pytest.raises(errors.ImagePullFailed) as info:
        t.run("true", timeout=30)
    assert info.value.reason in ("ErrImagePull", "ImagePullBackOff") and "example.invalid/nope:0" in str(
        info.value
    )
    t.close()


def test_timeout_while_the_container_starts(kc):
    t = k8s.debug("web-0", timeout=0.0, **kc)
    with pytest.raises(errors.DebugContainerTimeout) as info:
        t.run("true", timeout=30)
    assert NAME.fullmatch(info.value.container) and "did not start within 0 s" in str(info.value)
    t.close()


def test_a_cluster_without_ephemeral_containers(kc, monkeypatch):
    from kubernetes import client

    def not_found(self, *args, **kwargs):
        raise ApiException(status=404, reason="Not Found")

    monkeypatch.setattr(client.CoreV1Api, "patch_namespaced_pod_ephemeralcontainers", not_found)
    t = k8s.debug("web-0", **kc)
    with pytest.raises(errors.EphemeralContainersUnsupported) as info:
        t.run("true", timeout=30)
    assert "does not support ephemeral debug containers" in str(info.value)
    t.close()


def test_pods_that_cannot_have_one(kc):
    for pod, error in (
        ("completed", errors.PodNotRunning),
        ("pending", errors.PodNotRunning),
        ("nope", errors.PodNotFound),
    ):
        t = k8s.debug(pod, **kc)
        wait_until(lambda t=t: t.status == "error", 20, f"{pod} to fail")
        assert isinstance(t.error, error), (pod, t.error)
        t.close()
