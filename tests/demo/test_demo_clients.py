"""The official ``kubernetes`` client (v5 and forced v4) and ``kubernetes_asyncio`` (v4) against the demo."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream


def _api(kubeconfig: str, context: str = "demo-admin") -> k8s.CoreV1Api:
    return k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=kubeconfig, context=context))


def _run(ws, stdin: bytes | None = None, close_stdin: bool = False) -> tuple[bytes, bytes]:
    out, err = bytearray(), bytearray()
    if stdin is not None:
        ws.write_stdin(stdin)
    if close_stdin:
        ws.close_channel(0)
    while ws.is_open():
        ws.update(timeout=1)
        out += ws.read_stdout(timeout=0) or b""
        err += ws.read_stderr(timeout=0) or b""
    return bytes(out), bytes(err)


def test_rest_calls(kubeconfig):
    api = _api(kubeconfig)
    pods = api.list_namespaced_pod("demo", label_selector="app=web")
    assert [p.metadata.name for p in pods.items] == ["web-0", "web-1"]
    running = api.list_pod_for_all_namespaces(field_selector="status.phase=Running")
    assert {(p.metadata.namespace, p.metadata.name) for p in running.items} >= {
        ("jobs", "worker"),
        ("demo", "web-0"),
    }
    pod = api.read_namespaced_pod("web-0", "demo")
    assert pod.status.container_statuses[0].state.running is not None
    with pytest.raises(ApiException) as info:
        api.read_namespaced_pod("nope", "demo")
    assert info.value.status == 404
    assert json.loads(info.value.body)["message"] == 'pods "nope" not found'


def test_self_subject_access_review(kubeconfig):
    for context, expected in (("demo-admin", True), ("demo-viewer", False)):
        authz = k8s.AuthorizationV1Api(
            k8s_config.new_client_from_config(config_file=kubeconfig, context=context)
        )
        review = k8s.V1SelfSubjectAccessReview(
            spec=k8s.V1SelfSubjectAccessReviewSpec(
                resource_attributes=k8s.V1ResourceAttributes(
                    namespace="demo", verb="create", resource="pods", subresource="exec", name="web-0"
                )
            )
        )
        assert authz.create_self_subject_access_review(review).status.allowed is expected


def test_stream_v5_exit_status_and_stdin_close(kubeconfig):
    api = _api(kubeconfig)
    ws = stream(
        api.connect_get_namespaced_pod_exec, "web-0", "demo", container="nginx",
        command=["sh", "-c", "cat; echo done >&2; exit 5"],
        stdin=True, stdout=True, stderr=True, tty=False, _preload_content=False, binary=True,
    )  # fmt: skip
    assert ws.subprotocol == "v5.channel.k8s.io"
    out, err = _run(ws, stdin=b"abc\xe2\x82\xac", close_stdin=True)
    assert out == b"abc\xe2\x82\xac" and err == b"done\n"
    assert ws.returncode == 5
    status = yaml.safe_load(ws.read_channel(3, timeout=0) or "{}") or {}
    assert status == {} or status.get("reason") == "NonZeroExitCode"


def test_stream_forced_v4(kubeconfig):
    api = _api(kubeconfig)
    ws = stream(
        api.connect_get_namespaced_pod_exec, "web-1", "demo",
        command=["sh", "-c", "echo v4; exit 3"],
        stdin=False, stdout=True, stderr=True, tty=False, _preload_content=False, binary=True,
        _headers={"sec-websocket-protocol": "v4.channel.k8s.io"},
    )  # fmt: skip
    assert ws.subprotocol == "v4.channel.k8s.io"
    out, _ = _run(ws)
    assert out == b"v4\n"
    assert ws.returncode == 3


def test_stream_handshake_error_is_a_status(kubeconfig):
    api = _api(kubeconfig, "demo-viewer")
    with pytest.raises(ApiException) as info:
        stream(
            api.connect_get_namespaced_pod_exec, "web-0", "demo", command=["true"],
            stdout=True, stderr=True, _preload_content=False,
        )  # fmt: skip
    assert "403 Forbidden" in str(info.value.reason)
    body = str(info.value.reason).rsplit("-+-+-", 1)[-1]
    assert 'cannot get resource \\"pods/exec\\"' in body or 'cannot get resource "pods/exec"' in body


def test_kubernetes_asyncio_exec_v4(kubeconfig):
    from kubernetes_asyncio import client as aclient
    from kubernetes_asyncio import config as aconfig
    from kubernetes_asyncio.stream import WsApiClient

    async def main() -> tuple[str | None, bytes, dict]:
        cfg = aclient.Configuration()
        await aconfig.load_kube_config(config_file=kubeconfig, context="demo-admin", client_configuration=cfg)
        async with WsApiClient(configuration=cfg) as ws_api:
            api = aclient.CoreV1Api(api_client=ws_api)
            out = bytearray()
            status: dict = {}
            ctx = await api.connect_get_namespaced_pod_exec(
                "worker", "jobs", container="worker", command=["sh", "-c", "echo async; exit 4"],
                stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False,
            )  # fmt: skip
            async with ctx as ws:
                async for msg in ws:
                    data = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                    if data and data[0] == 1:
                        out += data[1:]
                    elif data and data[0] == 3:
                        status = json.loads(data[1:])
                return ws.protocol, bytes(out), status

    _, out, status = asyncio.run(main())
    assert out == b"async\n"
    assert status["reason"] == "NonZeroExitCode"
    assert status["details"]["causes"] == [{"reason": "ExitCode", "message": "4"}]
    assert (
        status["message"]
        == "command terminated with non-zero exit code: error executing command [sh -c echo async; exit 4], "
        "exit code 4"
    )
