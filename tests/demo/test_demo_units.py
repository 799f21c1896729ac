"""Pure functions of the demo apiserver: Status bytes, booleans, resize stream, selectors, printers, PKI."""

from __future__ import annotations

import os

import pytest
import yaml

from k8sterm_widget.demo import auth, kubeconfig, objects, pki, tables
from k8sterm_widget.demo import status as st
from k8sterm_widget.demo.exec_ws import ResizeStream, negotiate, parse_bool
from k8sterm_widget.demo.scenario import ContainerSpec, PodSpec
from k8sterm_widget.demo.selectors import SelectorError, match_labels, parse_labels


def test_status_bytes_in_go_field_order():
    assert st.compact(st.success()) == b'{"metadata":{},"status":"Success"}'
    assert st.compact(st.internal_error("boom", typed=False)) == (
        b'{"metadata":{},"status":"Failure","message":"Internal error occurred: boom",'
        b'"reason":"InternalError",'
        b'"details":{"causes":[{"message":"boom"}]},"code":500}'
    )
    assert st.encode(st.not_found("pods", "p")) == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
        b'"message":"pods \\"p\\" not found",'
        b'"reason":"NotFound","details":{"name":"p","kind":"pods"},"code":404}\n'
    )
    assert st.forbidden("pods", "p", "")["message"] == 'pods "p" is forbidden: '


@pytest.mark.parametrize(
    ("values", "expected"),
    [([], False), (["0"], False), (["false"], False), (["FaLsE"], False), (["1"], True), (["true"], True),
     (["True"], True), ([""], True), (["no"], True), (["0", "1"], False), (["1", "0"], True)],
)  # fmt: skip
def test_parse_bool_like_apimachinery(values, expected):
    assert parse_bool(values) is expected


def test_resize_stream():
    r = ResizeStream()
    assert r.feed(b'{"Width":80,"Height":24}{"width":1') == [(80, 24)]
    assert r.feed(b'00,"HEIGHT":30,"extra":true}\n') == [(100, 30)]
    assert r.feed(b"null") == [(0, 0)]
    assert r.feed(b' {"Width":70000}') == [] and r.broken
    assert r.feed(b'{"Width":1,"Height":1}') == []  # resize handling ended for the session
    for bad in (b'{"Width":"80"}', b"[1,2]", b'{"Width":1.5}', b"NaN", b'{"Width":-1}', b"}"):
        fresh = ResizeStream()
        fresh.feed(bad)
        assert fresh.broken, bad


def test_negotiation_rules():
    assert negotiate("v4.channel.k8s.io, v5.channel.k8s.io").protocol == "v5.channel.k8s.io"
    assert negotiate("base64.channel.k8s.io,v4.channel.k8s.io").protocol == "base64.channel.k8s.io"
    assert negotiate(None).protocol is None and not negotiate("").refused
    assert negotiate("foo").refused


def test_label_selector_grammar():
    labels = {"app": "web", "tier": "front", "n": "5"}
    for expr, ok in [("app=web", True), ("app==web,tier", True), ("app!=web", False), ("!tier", False),
                     ("app in (web, db)", True), ("app notin (web)", False), ("n>3", True), ("n<3", False),
                     ("missing!=x", True), ("", True), ("app in ()", False)]:  # fmt: skip
        # (parseValues makes "()" the set {""}, which app=web is not in)
        assert match_labels(parse_labels(expr), labels) is ok, expr
    for bad in ("app in (", "=x", "app=web,", "a b", "app in (x y)"):
        with pytest.raises(SelectorError):
            parse_labels(bad)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (119, "119s"), (125, "2m5s"), (600, "10m"), (3 * 3600 + 5 * 60, "3h5m"),
     (9 * 3600, "9h"), (3 * 86400 + 3600, "3d1h"), (30 * 86400, "30d"), (3 * 365 * 86400, "3y")],
)  # fmt: skip
def test_human_duration(seconds, text):
    assert tables.human_duration(seconds) == text


def _pod(**kw) -> dict:
    spec = PodSpec(name="p", namespace="ns", containers=[ContainerSpec(name="c", image="busybox:1.36")], **kw)
    return objects.pod_object(spec, node="n", created=0)


@pytest.mark.parametrize(
    ("state", "last", "expected"),
    [
        (objects.waiting("ContainerCreating"), None, "ContainerCreating"),
        (objects.waiting("CrashLoopBackOff"), objects.terminated(1, 0, 0, "x"), "CrashLoopBackOff"),
        (objects.waiting("ErrImagePull"), None, "ErrImagePull"),
        (objects.terminated(0, 0, 0, "x"), None, "Completed"),
        (objects.terminated(137, 0, 0, "x", reason="OOMKilled"), None, "OOMKilled"),
        (objects.running(0), None, "Running"),
    ],
)
def test_pod_status_column(state, last, expected):
    pod = _pod(restart_policy="Never")
    pod["status"]["containerStatuses"] = [
        objects.container_status("c", "busybox:1.36", state, last_state=last, ready="running" in state)
    ]
    objects.refresh_status(pod, now=0)
    assert tables.pod_cells(pod, now=10)[0][2] == expected


def test_init_container_status_column():
    spec = PodSpec(
        name="p", namespace="ns",
        containers=[ContainerSpec(name="c", image="busybox:1.36")],
        init_containers=[ContainerSpec(name="i", image="busybox:1.36")],
    )  # fmt: skip
    pod = objects.pod_object(spec, node="n", created=0)
    pod["status"]["initContainerStatuses"] = [objects.container_status("i", "busybox", objects.running(0))]
    pod["status"]["containerStatuses"] = [
        objects.container_status("c", "busybox", objects.waiting("PodInitializing"))
    ]
    objects.refresh_status(pod, now=0)
    assert tables.pod_cells(pod, now=1)[0][1:3] == ["0/1", "Init:0/1"]
    pod["status"]["initContainerStatuses"][0]["state"] = objects.terminated(3, 0, 0, "x")
    assert tables.pod_cells(pod, now=1)[0][2] == "Init:Error"


def test_request_info_and_rbac_wording():
    info = auth.request_info("POST", "/api/v1/namespaces/demo/pods/web-0/exec", {})
    assert (info.verb, info.resource, info.subresource, info.namespace, info.name) == (
        "create", "pods", "exec", "demo", "web-0",
    )  # fmt: skip
    user = auth.User("viewer", (), ())
    assert auth.forbidden_reason(user, info) == (
        'User "viewer" cannot create resource "pods/exec" in API group "" in the namespace "demo"'
    )
    assert auth.request_info("GET", "/api/v1/pods", {"watch": "true"}).verb == "watch"
    assert auth.request_info("GET", "/api/v1/namespaces", {}).namespace == ""
    assert not auth.request_info("GET", "/api/v1", {}).is_resource


def test_pki_is_reused_and_kubeconfig_private(tmp_path):
    first = pki.ensure_pki(tmp_path)
    ca = first.ca_pem
    assert pki.ensure_pki(tmp_path).ca_pem == ca
    tokens = kubeconfig.ensure_tokens(tmp_path, ["admin", "viewer"])
    assert kubeconfig.ensure_tokens(tmp_path, ["admin", "viewer"]) == tokens
    path = tmp_path / "kubeconfig"
    kubeconfig.write_kubeconfig(
        path, server="https://127.0.0.1:1", ca_pem=ca, tokens=tokens, namespace="demo", current_user="admin"
    )
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "server.key").st_mode & 0o777 == 0o600
    cfg = yaml.safe_load(path.read_text())
    assert cfg["current-context"] == "demo-admin"
    assert [c["name"] for c in cfg["contexts"]] == ["demo-admin", "demo-viewer"]
    assert all(c["context"]["namespace"] == "demo" for c in cfg["contexts"])


def test_protobuf_times_as_go_writes_them_in_json():
    from k8sterm_widget.demo import protobuf

    meta = protobuf._META
    # an empty Time message is time.Time{} (null); MicroTime keeps microseconds (RFC3339Micro)
    assert protobuf.decode_message(b"", meta + "Time") is None
    stamp = bytes([0x08]) + bytes([0x80, 0xA4, 0xE8, 0xD7, 0x06]) + bytes([0x10, 0xC0, 0x84, 0x3D])
    assert protobuf.decode_message(stamp, meta + "Time") == "2026-11-15T20:11:44Z"
    assert protobuf.decode_message(stamp, meta + "MicroTime") == "2026-11-15T20:11:44.001000Z"


def test_a_watch_from_before_the_kept_history_is_expired():
    from k8sterm_widget.demo import store as stores

    s = stores.Store()
    for i in range(stores.HISTORY + 5):
        s.create("configmaps", {"metadata": {"name": f"c{i}", "namespace": "d"}})
    oldest = s._history[0].rv
    # watch_cache.go: "too old resource version: %d (%d)", resourceVersion, oldest-1
    with pytest.raises(stores.TooOld, match=rf"^too old resource version: 2 \({oldest - 1}\)$"):
        s.watch("configmaps", None, 2)
    _watcher, backlog = s.watch("configmaps", None, oldest - 1)
    assert len(backlog) == stores.HISTORY


def test_store_lists_in_etcd_key_order_and_pages_by_bisection():
    from k8sterm_widget.demo import store as stores

    s = stores.Store()
    # "a-b/…" sorts before "a/…" in etcd ("-" < "/"), though the namespace "a" sorts before "a-b"
    for ns, name in [("a", "y"), ("a-b", "x"), ("a", "x"), ("b", "z"), ("a-b", "w")]:
        s.create("configmaps", {"metadata": {"name": name, "namespace": ns}})
    names = [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in s.list("configmaps")]
    assert names == ["a-b/w", "a-b/x", "a/x", "a/y", "b/z"]
    assert [o["metadata"]["name"] for o in s.list("configmaps", "a")] == ["x", "y"]
    assert [o["metadata"]["name"] for o in s.list("configmaps", "a-b", start="a-b/w\x00")] == ["x"]
    assert [o["metadata"]["name"] for o in s.list("configmaps", None, start="a/x\x00", limit=2)] == ["y", "z"]
    assert s.count("configmaps", "a", start="a/x\x00") == 1 and s.count("configmaps") == 5
    assert s.list("configmaps", "c") == [] and s.count("configmaps", "c") == 0
    s.remove("configmaps", "a", "x")
    assert [o["metadata"]["name"] for o in s.list("configmaps", "a")] == ["y"]


def test_table_bytes_is_the_table_encoded():
    """The cached byte path renders what the plain one does, in every includeObject mode and on a second,
    cached, request (Ages recomputed; rows with a last restart or conditions included)."""
    import json

    from k8sterm_widget.demo.kinds.core import NAMESPACE, POD

    def pod(name: str, status: dict, created: str | None = "2026-12-01T10:00:00Z") -> dict:
        meta = {"name": name, "namespace": "d", "uid": name, "resourceVersion": "7"}
        if created:
            meta["creationTimestamp"] = created
        return {"metadata": meta, "spec": {"containers": [{"name": "c"}]}, "status": status}

    restarted = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "c",
                "ready": True,
                "restartCount": 2,
                "state": {"running": {}},
                "lastState": {"terminated": {"finishedAt": "2026-12-01T11:00:00Z", "exitCode": 1}},
            }
        ],
    }
    pods = [
        pod("plain", {"phase": "Pending"}),
        pod("done", {"phase": "Succeeded"}),
        pod("restarted", restarted),
        pod("<ageless>", {"phase": "Pending"}, created=None),
    ]
    namespaces = [
        {
            "metadata": {"name": "d", "creationTimestamp": "2026-12-01T10:00:00Z"},
            "status": {"phase": "Active"},
        }
    ]
    for now in (1_764_590_000.0, 1_764_600_000.0):  # the second time from the cache, at another time
        for kind, objs in ((POD, pods), (NAMESPACE, namespaces)):
            for mode in ("None", "Metadata", "Object"):
                for version in ("v1", "v1beta1"):
                    args = dict(version=version, include_object=mode, resource_version="9", now=now)
                    page = dict(continue_token="tok", remaining=3)
                    encoded = tables.table_bytes(kind, objs, **args, **page)
                    assert json.loads(encoded) == tables.table(
                        kind, objs, **args, continue_token="tok", remaining=3
                    )
                    assert b"<" not in encoded  # Go's encoder writes \u003c
    empty = tables.table_bytes(POD, [], version="v1", include_object="Metadata", resource_version="1")
    assert json.loads(empty)["rows"] == []
