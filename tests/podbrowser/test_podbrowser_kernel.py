"""The pod browser in the kernel, on a demo cluster: the watch, the namespace fallback, actions, and secrets
(its rows, pure, are in test_rows.py)."""

from __future__ import annotations

import json

import pytest
from helpers import secrets_of, wait_until

import k8sterm_widget as k8s


@pytest.fixture
def kc(private_cluster):
    return {"kubeconfig": private_cluster.kubeconfig}


def live(b, what="the pod list"):
    wait_until(lambda: b.state == "live" and b.pods and b.namespaces, 20, what)
    return b


def row(b, name):
    return next((r for r in b.pods if r["name"] == name), None)


# ---- the live list ----------------------------------------------------------------------------------------


def test_pods_are_listed_live_and_a_change_arrives_through_the_watch(kc):
    b = live(k8s.browse(**kc))
    try:
        assert (b.context, b.namespace) == ("demo-admin", "demo")
        assert b.contexts == ["demo-admin", "demo-viewer"]
        assert {"default", "demo", "jobs", "kube-system"} <= set(b.namespaces) and not b.namespace_note
        web0 = row(b, "web-0")
        assert web0["status"] == "Running" and web0["ready"] == "2/2" and web0["default"] == "nginx"
        assert row(b, "crashloop")["restarts"] == 6 and row(b, "crashloop")["status"] == "CrashLoopBackOff"
        watcher = b._watcher
        lists, watches = watcher.lists, watcher.watches
        d = k8s.debug("web-1", namespace="demo", **kc)  # a pod change: an ephemeral container appears
        d.run("true", timeout=30)
        wait_until(
            lambda: any(
                c["kind"] == "ephemeral" and c["state"] == "running" for c in row(b, "web-1")["containers"]
            ),
            10,
            "the debug container in the browser's row",
        )
        assert watcher.lists == lists == 1 and watcher.watches == watches  # one watch, no re-list, no polling
        d.close()
    finally:
        b.close()
    wait_until(lambda: not watcher._thread.is_alive(), 5, "the watch thread to stop")


def test_the_static_face_is_the_pod_table(kc):
    b = k8s.browse(**kc)
    header = ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert b._draw_face()[1].splitlines()[1].split() == header  # drawn before any pod arrived
    b = live(b)
    try:
        html, text = b._draw_face()
        caption, header, *rows = text.splitlines()
        assert caption.startswith("pods · demo-admin / demo · ")
        assert header.split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
        web0 = next(r for r in rows if r.startswith("web-0 "))
        assert web0.split()[:3] == ["web-0", "2/2", "Running"]
        assert "CrashLoopBackOff" in text
        assert f'data-k8sterm-face="{b._uid}"' in html and "<td" in html and "<script" not in html
        b.shell("web-0")
        assert "open shells: web-0" in b._draw_face()[0]
    finally:
        b.close()


def test_namespaces_fall_back_when_listing_them_is_forbidden(kc):
    b = live(k8s.browse(context="demo-viewer", **kc))
    try:
        assert b.namespaces == ["demo"]
        assert "may not list namespaces" in b.namespace_note and '"viewer"' in b.namespace_note
        assert row(b, "web-0") is not None and not b.error  # pods are still listed
        t = b.shell("web-0")  # the viewer may not exec: the tab shows the error, the browser goes on
        wait_until(lambda: t.status == "error", 20, "the exec to be refused")
        assert "forbidden" in t.status_detail
    finally:
        b.close()


def test_switching_namespace_and_a_bad_one(kc):
    b = live(k8s.browse(**kc))
    try:
        b._on_msg(b, {"type": "select", "namespace": "jobs"}, [])
        wait_until(lambda: b.namespace == "jobs" and row(b, "worker"), 10, "the jobs namespace")
        worker = row(b, "worker")
        assert [(c["name"], c["kind"]) for c in worker["containers"]] == [
            ("worker", "container"),
            ("setup", "init"),
        ]
        b._on_msg(b, {"type": "select", "namespace": "../etc"}, [])
        assert "not a valid namespace name" in b.error and b.namespace == "jobs"
    finally:
        b.close()


def test_tabs_open_and_close_terminals(kc):
    b = live(k8s.browse(**kc))
    try:
        b._on_msg(b, {"type": "open", "pod": "web-0", "container": "sidecar"}, [])
        b._on_msg(b, {"type": "debug", "pod": "distroless", "target": "app"}, [])
        b._on_msg(b, {"type": "open", "pod": "web-0; rm -rf /"}, [])  # not a pod name: ignored
        assert [tab["kind"] for tab in b.tabs] == ["shell", "debug"]
        shell, dbg = b.terminals
        assert shell.run("hostname").strip() == "web-0" and shell.container == "sidecar"
        assert "/app/server" in dbg.run("ps", timeout=30)
        assert all(
            tab["ref"] == f"anywidget:{t.model_id}" for tab, t in zip(b.tabs, b.terminals, strict=True)
        )
        assert b.selected == b.tabs[-1]["id"]
        b._on_msg(b, {"type": "close", "id": b.tabs[0]["id"]}, [])
        assert len(b.tabs) == 1
        wait_until(lambda: shell.status == "closed", 10, "the closed tab's session to end")
    finally:
        b.close()


def test_the_watch_stops_when_no_view_is_left(kc, monkeypatch):
    from k8sterm_widget.browser import _widget

    monkeypatch.setattr(_widget, "IDLE_GRACE", 0.1)
    b = live(k8s.browse(**kc))
    try:
        b._on_msg(b, {"type": "views", "count": 1}, [])
        b._on_msg(b, {"type": "views", "count": 0}, [])
        wait_until(lambda: b.state == "paused", 5, "the watch to pause")
        b._on_msg(b, {"type": "views", "count": 1}, [])
        wait_until(lambda: b.state == "live", 10, "the watch to resume")
    finally:
        b.close()


# ---- secrets ----------------------------------------------------------------------------------------------


def test_no_secret_in_any_trait_or_message_of_browse_debug_and_replay(rec, kc, tmp_path):
    b = live(k8s.browse(**kc))
    term = b.shell("web-0")
    term.run("echo hi")
    path = tmp_path / "s.cast"
    with term.record(path):
        term.run("echo recorded")
    dbg = b.debug("distroless")
    dbg.run("ps", timeout=30)
    player = k8s.replay(path)
    viewer = live(k8s.browse(context="demo-viewer", **kc))
    wait_until(lambda: viewer.namespace_note, 10, "the viewer's note")
    messages = [m[1] for m in rec.messages]
    for m in messages:  # the bundles are code, not state: anything may be a word in them
        m.get("state", {}).pop("_esm", None)
        m.get("state", {}).pop("_css", None)
    sent = json.dumps(messages) + "".join(buf.decode("latin-1") for m in rec.messages for buf in m[2])
    for widget in (b, dbg, player):
        state = {k: v for k, v in widget.get_state().items() if k not in ("_esm", "_css")}
        sent += json.dumps(state, default=str)
    assert "demo-admin" in sent and "recorded" in sent  # the audit sees real traffic
    for secret in secrets_of(kc["kubeconfig"]):
        assert secret not in sent
    for word in ("token", "client-key", "BEGIN CERTIFICATE", "BEGIN RSA", "BEGIN EC", "password"):
        assert word not in sent
    b.close()
    viewer.close()
    player.close()
