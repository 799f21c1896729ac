"""The REST side of the demo apiserver: discovery, auth, lists, paging, tables, watches, access reviews."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import yaml
from demo_helpers import ADMIN_SCENARIO, api

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.scenario import parse

TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)


def test_version_and_health_are_public(demo_cluster):
    v = api(demo_cluster, "GET", "/version", user=None).json()
    assert (v["major"], v["minor"]) == ("1", "37") and v["gitVersion"].startswith("v1.37.1")
    for path in ("/healthz", "/livez", "/readyz"):
        r = api(demo_cluster, "GET", path, user=None)
        assert (r.status_code, r.text) == (200, "ok")


def test_anonymous_is_forbidden_like_kind(demo_cluster):
    r = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods", user=None)
    assert r.status_code == 403
    assert r.json()["message"] == (
        'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
        'in the namespace "demo"'
    )
    r = api(demo_cluster, "GET", "/api", user=None)
    assert r.json()["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'


def test_bad_token_is_401(demo_cluster):
    r = api(demo_cluster, "GET", "/api", token="nope")
    assert r.status_code == 401
    assert r.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "Unauthorized", "reason": "Unauthorized", "code": 401,
    }  # fmt: skip


def test_discovery(demo_cluster):
    assert api(demo_cluster, "GET", "/api").json()["versions"] == ["v1"]
    groups = api(demo_cluster, "GET", "/apis").json()["groups"]
    assert [g["name"] for g in groups] == [
        "apiregistration.k8s.io",
        "apps", "authentication.k8s.io", "authorization.k8s.io", "batch", "rbac.authorization.k8s.io",
        "apiextensions.k8s.io", "coordination.k8s.io", "discovery.k8s.io",
    ]  # fmt: skip
    resources = {r["name"]: r for r in api(demo_cluster, "GET", "/api/v1").json()["resources"]}
    assert resources["pods"]["shortNames"] == ["po"] and resources["pods/exec"]["verbs"] == ["create", "get"]
    assert resources["replicationcontrollers/scale"]["group"] == "autoscaling"
    # kubectl asks for aggregated discovery first: every resource of every group in one answer
    r = api(
        demo_cluster,
        "GET",
        "/apis",
        headers={
            "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        },
    )
    assert r.headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    body = r.json()
    assert body["kind"] == "APIGroupDiscoveryList"
    apps = next(g for g in body["items"] if g["metadata"]["name"] == "apps")
    deployments = next(res for res in apps["versions"][0]["resources"] if res["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["shortNames"] == ["deploy"]
    assert {s["subresource"] for s in deployments["subresources"]} == {"scale", "status"}


def test_unknown_paths_and_methods(demo_cluster):
    r = api(demo_cluster, "GET", "/api/v1/namespaces/demo/ingresses")
    assert r.status_code == 404 and r.json()["message"] == "the server could not find the requested resource"
    assert api(demo_cluster, "GET", "/nonsense").text == "404 page not found\n"
    r = api(demo_cluster, "PUT", "/api/v1/namespaces/demo/pods")
    assert r.status_code == 405 and r.json()["reason"] == "MethodNotAllowed"
    assert (
        api(demo_cluster, "GET", "/api/v1/namespaces/nope").json()["message"] == 'namespaces "nope" not found'
    )


def test_list_paging_with_continue(demo_cluster):
    names, token = [], ""
    while True:
        r = api(
            demo_cluster, "GET", "/api/v1/pods", params={"limit": 3, **({"continue": token} if token else {})}
        )
        body = r.json()
        assert body["kind"] == "PodList" and "kind" not in body["items"][0]
        names += [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in body["items"]]
        token = body["metadata"].get("continue", "")
        if not token:
            break
        assert body["metadata"]["remainingItemCount"] > 0
    assert names == sorted(names) and len(names) == 7 and names[-1] == "jobs/worker"
    bad = api(demo_cluster, "GET", "/api/v1/pods", params={"continue": "%%%"})
    assert bad.status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/namespaces", "/api/v1/namespaces/demo/pods"])
def test_paging_a_cluster_scoped_and_a_namespaced_list(demo_cluster, path):
    """Pages of one object, each token's key relative to the list's prefix (etcd3's encodeContinue), end
    where the unpaged list ends, with remainingItemCount counting down."""
    whole = [o["metadata"]["name"] for o in api(demo_cluster, "GET", path).json()["items"]]
    names, token = [], ""
    while True:
        body = api(
            demo_cluster, "GET", path, params={"limit": 1, **({"continue": token} if token else {})}
        ).json()
        names += [o["metadata"]["name"] for o in body["items"]]
        token = body["metadata"].get("continue", "")
        if not token:
            assert "remainingItemCount" not in body["metadata"]
            break
        start = json.loads(base64.urlsafe_b64decode(token + "==="))["start"]
        assert start == names[-1] + "\x00"
        assert body["metadata"]["remainingItemCount"] == len(whole) - len(names)
    assert names == whole and len(whole) > 2


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", ["web-0", "web-1"]),
        ("app==web", ["web-0", "web-1"]),
        ("app!=web", ["completed", "crashloop", "distroless", "pending"]),
        ("app in (flaky, api)", ["crashloop", "distroless"]),
        ("app notin (web,batch)", ["crashloop", "distroless"]),
        ("app", ["completed", "crashloop", "distroless", "pending", "web-0", "web-1"]),
        ("!app", []),
        ("app=web,app!=web", []),
    ],
)
def test_label_selectors(demo_cluster, selector, expected):
    r = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods", params={"labelSelector": selector})
    assert [p["metadata"]["name"] for p in r.json()["items"]] == expected


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("metadata.name=web-1", ["demo/web-1"]),
        ("metadata.namespace=jobs", ["jobs/worker"]),
        ("spec.nodeName=", ["demo/pending"]),
        ("status.phase=Succeeded", ["demo/completed"]),
        ("status.phase!=Running,metadata.namespace=demo", ["demo/completed", "demo/pending"]),
    ],
)
def test_field_selectors(demo_cluster, selector, expected):
    r = api(demo_cluster, "GET", "/api/v1/pods", params={"fieldSelector": selector})
    assert [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in r.json()["items"]] == expected


def test_table_output(demo_cluster):
    body = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods", headers={"Accept": TABLE}).json()
    assert body["kind"] == "Table" and body["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in body["columnDefinitions"]] == [
        "Name", "Ready", "Status", "Restarts", "Age", "IP", "Node", "Nominated Node", "Readiness Gates",
    ]  # fmt: skip
    rows = {row["cells"][0]: row for row in body["rows"]}
    assert rows["completed"]["conditions"] == [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ]
    assert rows["web-0"]["object"]["kind"] == "PartialObjectMetadata"
    assert rows["web-0"]["object"]["metadata"]["name"] == "web-0"
    full = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods/web-0", headers={"Accept": TABLE},
               params={"includeObject": "Object"}).json()  # fmt: skip
    assert full["rows"][0]["object"]["kind"] == "Pod"
    none = api(
        demo_cluster, "GET", "/api/v1/namespaces", headers={"Accept": TABLE}, params={"includeObject": "None"}
    )
    rows = none.json()["rows"]
    assert {r["cells"][0] for r in rows} >= {"default", "demo", "jobs", "kube-system"}
    assert [r["object"] for r in rows] == [None] * len(rows)


def test_watch_stream(demo_cluster):
    """A watch from a list's resourceVersion sees nothing old, bookmarks are JSON lines, timeouts end it."""
    listed = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods").json()
    rv = listed["metadata"]["resourceVersion"]
    r = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods",
            params={"watch": "true", "resourceVersion": rv, "timeoutSeconds": "1"}, stream=True)  # fmt: skip
    started = time.monotonic()
    lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines == [] and 0.8 < time.monotonic() - started < 5
    r = api(demo_cluster, "GET", "/api/v1/namespaces/jobs/pods",
            params={"watch": "1", "timeoutSeconds": "1", "fieldSelector": "metadata.name=worker"},
            stream=True)  # fmt: skip
    events = [json.loads(line) for line in r.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "worker")]
    old = api(
        demo_cluster,
        "GET",
        "/api/v1/pods",
        params={"watch": "true", "resourceVersion": "1", "timeoutSeconds": "1"},
    )
    # the history kept covers the whole (short) life of the demo cluster: rv 1 replays every change
    assert old.status_code == 200


def test_watch_initial_events_and_bookmark(demo_cluster):
    """The watch-list form informers use: current objects as ADDED, then the initial-events-end bookmark."""
    r = api(demo_cluster, "GET", "/api/v1/namespaces/demo/pods",
            params={"watch": "true", "timeoutSeconds": "3", "allowWatchBookmarks": "true",
                    "sendInitialEvents": "true", "resourceVersionMatch": "NotOlderThan"},
            stream=True)  # fmt: skip
    events = []

    def consume() -> None:
        for line in r.iter_lines():
            if line:
                events.append(json.loads(line))

    t = threading.Thread(target=consume)
    t.start()
    t.join(5)
    types = [e["type"] for e in events]
    assert types[:6] == ["ADDED"] * 6
    assert types[6] == "BOOKMARK"
    assert events[6]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_self_subject_access_review_json(demo_cluster):
    review = {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "spec": {
            "resourceAttributes": {
                "namespace": "demo",
                "verb": "get",
                "resource": "pods",
                "subresource": "exec",
            }
        },
    }
    path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    viewer = api(demo_cluster, "POST", path, user="viewer", json=review)
    assert viewer.status_code == 201 and viewer.json()["status"] == {"allowed": False}
    admin = api(demo_cluster, "POST", path, json=review).json()
    assert admin["status"]["allowed"] is True and admin["spec"] == review["spec"]
    nonres = {"spec": {"nonResourceAttributes": {"path": "/api", "verb": "get"}}}
    assert api(demo_cluster, "POST", path, user="viewer", json=nonres).json()["status"]["allowed"] is True
    assert api(demo_cluster, "POST", path, data=b"{not json").status_code == 400


def test_garbage_never_yields_a_traceback(demo_cluster):
    for params in (
        {"limit": "x"},
        {"labelSelector": "a in ("},
        {"fieldSelector": "nope"},
        {"timeoutSeconds": "x", "watch": "1"},
    ):
        r = api(demo_cluster, "GET", "/api/v1/pods", params=params)
        assert r.status_code == 400 and r.json()["kind"] == "Status", params
    r = requests.get(demo_cluster.server + "/api/v1/pods", headers={"Authorization": "Basic Zm9vOmJhcg=="},
                     verify=demo_cluster.ca_file, timeout=10)  # fmt: skip
    assert r.status_code == 401


# --- API machinery on a cluster of this module's own: its writes are no other test's expectations --------

WATCH_CACHE = 30


@pytest.fixture(scope="module")
def machinery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    """A cluster whose watches resume from the last 30 changes only (kube-apiserver's
    ``--default-watch-cache-size``), so that a resourceVersion can be too old within a test."""
    c = DemoCluster(parse(yaml.safe_load(ADMIN_SCENARIO)), state_dir=tmp_path_factory.mktemp("machinery"),
                    watch_cache_size=WATCH_CACHE)  # fmt: skip
    c.start()
    try:
        yield c
    finally:
        c.stop()


CONFIGMAPS = "/api/v1/namespaces/demo/configmaps"


def _configmap(name: str, labels: dict[str, str], **meta: object) -> dict:
    return {"metadata": {"name": name, "labels": labels, **meta}, "data": {"k": "v"}}


def test_deletecollection_with_a_label_selector(machinery: DemoCluster) -> None:
    """DELETE on a collection (the generic registry's DeleteCollection, store.go): what the selectors list
    is deleted item by item, as DELETE deletes one (finalizers hold an item back); the answer is the list as
    it was read, before the deletion."""
    for cm in (
        _configmap("gone-1", {"batch": "x"}),
        _configmap("held", {"batch": "x"}, finalizers=["example.com/hold"]),
        _configmap("kept", {"batch": "y"}),
    ):
        assert api(machinery, "POST", CONFIGMAPS, json=cm).status_code == 201
    r = api(machinery, "DELETE", CONFIGMAPS, params={"labelSelector": "batch=x"})
    assert r.status_code == 200
    body = r.json()
    assert (body["kind"], body["apiVersion"]) == ("ConfigMapList", "v1")
    assert [i["metadata"]["name"] for i in body["items"]] == ["gone-1", "held"]
    assert all("deletionTimestamp" not in i["metadata"] for i in body["items"])  # as listed, not as left
    left = api(machinery, "GET", CONFIGMAPS, params={"labelSelector": "batch"}).json()["items"]
    assert [i["metadata"]["name"] for i in left] == ["held", "kept"]
    assert "deletionTimestamp" in left[0]["metadata"] and left[0]["metadata"]["finalizers"] == [
        "example.com/hold"
    ]
    # dryRun: the same answer, nothing deleted
    r = api(machinery, "DELETE", CONFIGMAPS, params={"labelSelector": "batch=y", "dryRun": "All"})
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["kept"]
    assert api(machinery, "GET", f"{CONFIGMAPS}/kept").status_code == 200
    # a selector that matches nothing deletes nothing; a broken one is the apiserver's 400
    r = api(machinery, "DELETE", CONFIGMAPS, params={"labelSelector": "batch=none"})
    assert (r.status_code, r.json()["items"]) == (200, [])
    r = api(machinery, "DELETE", CONFIGMAPS, params={"labelSelector": "batch in ("})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    merge = {"Content-Type": "application/merge-patch+json"}
    api(machinery, "PATCH", f"{CONFIGMAPS}/held", headers=merge, data='{"metadata":{"finalizers":null}}')
    assert api(machinery, "GET", f"{CONFIGMAPS}/held").status_code == 404
    api(machinery, "DELETE", f"{CONFIGMAPS}/kept")


DEPLOYMENTS = "/apis/apps/v1/namespaces/demo/deployments"


def _generation(cluster: DemoCluster, path: str) -> int:
    return int(api(cluster, "GET", path).json()["metadata"]["generation"])


def test_generation_moves_with_the_spec_only(machinery: DemoCluster) -> None:
    """metadata.generation is the strategies': 1 at create, +1 when PrepareForUpdate sees the spec change
    (never for labels or status), +1 when a deletion starts (rest.BeforeDelete, the store's
    markAsDeleting); a Deployment's annotations count as spec (they are copied to its ReplicaSets:
    pkg/registry/apps/deployment/strategy.go), a ReplicaSet's do not; kinds without a spec have none."""
    merge = {"Content-Type": "application/merge-patch+json"}
    deploy = {
        "metadata": {"name": "gen"},
        "spec": {
            "replicas": 0,
            "selector": {"matchLabels": {"app": "gen"}},
            "template": {
                "metadata": {"labels": {"app": "gen"}},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]},
            },
        },
    }
    created = api(machinery, "POST", DEPLOYMENTS, json=deploy).json()
    assert created["metadata"]["generation"] == 1
    path = f"{DEPLOYMENTS}/gen"

    def patch(body: dict, sub: str = "") -> dict:
        r = api(machinery, "PATCH", path + sub, headers=merge, data=json.dumps(body))
        assert r.status_code == 200, r.text
        return dict(r.json())

    # the controller's own writes (status, the revision annotation through /status) leave it alone
    deadline = time.monotonic() + 30
    while api(machinery, "GET", path).json().get("status", {}).get("observedGeneration") != 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _generation(machinery, path) == 1
    assert patch({"spec": {"minReadySeconds": 2}})["metadata"]["generation"] == 2
    assert patch({"metadata": {"labels": {"team": "a"}}})["metadata"]["generation"] == 2
    assert patch({"status": {"observedGeneration": 7}})["metadata"]["generation"] == 2  # status ignored here
    assert patch({"status": {"collisionCount": 1}}, "/status")["metadata"]["generation"] == 2
    assert patch({"spec": {"replicas": 0}})["metadata"]["generation"] == 2  # the same spec is no change
    assert patch({"metadata": {"annotations": {"note": "x"}}})["metadata"]["generation"] == 3
    assert patch({"spec": {"replicas": 1}}, "/scale")["spec"]["replicas"] == 1
    assert _generation(machinery, path) == 4
    # a ReplicaSet: annotations are not its spec
    rs = {**deploy, "kind": "ReplicaSet", "metadata": {"name": "gen-rs"}}
    rs_path = "/apis/apps/v1/namespaces/demo/replicasets/gen-rs"
    assert api(machinery, "POST", "/apis/apps/v1/namespaces/demo/replicasets", json=rs).status_code == 201
    r = api(machinery, "PATCH", rs_path, headers=merge, data='{"metadata":{"annotations":{"note":"x"}}}')
    assert r.json()["metadata"]["generation"] == 1
    # a ConfigMap has no spec and no generation
    cm = api(machinery, "POST", CONFIGMAPS, json=_configmap("nogen", {})).json()
    assert "generation" not in cm["metadata"]
    # a deletion held by a finalizer moves it once
    patch({"metadata": {"finalizers": ["example.com/hold"]}})
    assert _generation(machinery, path) == 4
    deleting = api(machinery, "DELETE", path).json()
    assert deleting["metadata"]["generation"] == 5 and "deletionTimestamp" in deleting["metadata"]
    assert api(machinery, "DELETE", path).json()["metadata"]["generation"] == 5
    patch({"metadata": {"finalizers": None}})
    for gone in (path, rs_path, f"{CONFIGMAPS}/nogen"):
        api(machinery, "DELETE", gone)


def test_watch_from_a_too_old_resource_version_is_410_expired(machinery: DemoCluster) -> None:
    """The watch cache keeps the last changes; a watch from before them is answered 200, then one ERROR
    event whose object is the 410 Expired Status, then the end of the stream (cacher.go returns
    newErrWatcher; watch_cache.go: "too old resource version: %d (%d)" with the oldest replayable - 1)."""
    for i in range(WATCH_CACHE + 10):  # more changes than the cache keeps: resourceVersion 1 falls out
        api(machinery, "POST", CONFIGMAPS, json=_configmap(f"churn-{i}", {"churn": "yes"}))
    api(machinery, "DELETE", CONFIGMAPS, params={"labelSelector": "churn"})

    def watch_from(rv: int) -> tuple[int, list[dict]]:
        params = {"watch": "true", "resourceVersion": str(rv), "timeoutSeconds": "1"}
        r = api(machinery, "GET", CONFIGMAPS, params=params, stream=True)
        return r.status_code, [json.loads(line) for line in r.iter_lines() if line]

    code, events = watch_from(1)
    assert code == 200 and len(events) == 1 and events[0]["type"] == "ERROR"
    status = events[0]["object"]
    match = re.fullmatch(r"too old resource version: 1 \((\d+)\)", status.get("message", ""))
    assert match, status
    assert status == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": status["message"], "reason": "Expired", "code": 410,
    }  # fmt: skip
    # the number it names is the oldest resourceVersion a watch may start from (unless the cache has moved on
    # meanwhile: then the 410 names a newer one)
    oldest = int(match.group(1))
    for _ in range(5):
        code, events = watch_from(oldest)
        if not events or events[0]["type"] != "ERROR":
            break
        oldest = int(re.findall(r"\((\d+)\)", events[0]["object"]["message"])[0])
    assert code == 200 and all(e["type"] != "ERROR" for e in events)
    # the official client turns the ERROR event into its ApiException(410), which informers relist on
    from kubernetes import client, config, watch

    core = client.CoreV1Api(config.new_client_from_config(machinery.kubeconfig, context="demo-admin"))
    with pytest.raises(client.ApiException) as info:
        for _ in watch.Watch().stream(core.list_namespaced_config_map, "demo", resource_version="1",
                                      timeout_seconds=1):  # fmt: skip
            pass
    assert info.value.status == 410
