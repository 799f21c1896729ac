"""The generic REST verbs (:mod:`k8sterm_widget.demo.rest`, :mod:`~k8sterm_widget.demo.verbs`) through real
kubectl and raw HTTP: create/apply/patch/replace/delete of any kind, the apiserver's error texts, dryRun,
selectors, paging, OpenAPI for ``apply`` and ``explain``, server-side apply conflicts.

A cluster of its own (an empty scenario), so nothing here changes what the shared cluster's tests see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from demo_helpers import api
from kubectl_runner import Kubectl

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.scenario import parse

SCENARIO = {
    "namespace": "default",
    "users": [
        {
            "name": "admin",
            "rules": [{"verbs": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}],
        },
        {"name": "viewer", "rules": [{"verbs": ["get", "list", "watch"], "resources": ["pods"]}]},
    ],
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    c = DemoCluster(parse(SCENARIO), state_dir=tmp_path_factory.mktemp("rest-cluster"))
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def k(cluster: DemoCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("rest-kubectl-home"))


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


CONFIGMAP = """apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
"""


def test_create_get_apply_delete_a_configmap(k: Kubectl) -> None:
    r = k("create", "-f", "-", input=CONFIGMAP)
    assert (r.returncode, r.stdout) == (0, "configmap/settings created\n"), r.stderr
    r = k("create", "-f", "-", input=CONFIGMAP)
    assert r.returncode == 1
    exists = 'configmaps "settings" already exists'
    assert r.stderr == f'Error from server (AlreadyExists): error when creating "STDIN": {exists}\n'
    r = k("apply", "-f", "-", input=CONFIGMAP.replace("blue", "red"))
    assert (r.returncode, r.stdout) == (0, "configmap/settings configured\n"), r.stderr
    r = k("get", "configmap", "settings", "-o", "jsonpath={.data.color}")
    assert r.stdout == "red"
    r = k("get", "cm")
    assert r.stdout.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert any(line.split()[:2] == ["settings", "1"] for line in r.stdout.splitlines())
    r = k("delete", "configmap", "settings")
    assert (r.returncode, r.stdout) == (0, 'configmap "settings" deleted from default namespace\n')
    r = k("get", "configmap", "settings")
    assert r.stderr == 'Error from server (NotFound): configmaps "settings" not found\n'


def test_bad_manifests_get_the_apiservers_words_and_create_nothing(k: Kubectl) -> None:
    pod = """apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  containers:
  - name: app
"""
    r = k("apply", "-f", "-", input=pod)
    assert r.returncode == 1
    assert 'The Pod "broken" is invalid: spec.containers[0].image: Required value' in r.stderr
    assert k("get", "pod", "broken").returncode == 1
    r = k(
        "apply",
        "-f",
        "-",
        input=pod.replace("  - name: app", "  - name: app\n    image: busybox\n    bogus: 1"),
    )
    assert r.returncode == 1
    assert 'strict decoding error: unknown field "spec.containers[0].bogus"' in r.stderr
    deployment = """apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatch}
spec:
  selector: {matchLabels: {app: a}}
  template:
    metadata: {labels: {app: b}}
    spec: {containers: [{name: c, image: busybox}]}
"""
    r = k("apply", "-f", "-", input=deployment)
    assert r.returncode == 1
    # since 1.34 a field error renders a map or struct bad value as JSON (apimachinery
    # pkg/util/validation/field/errors.go, "Nicer value rendering in API errors")
    assert (
        'The Deployment "mismatch" is invalid: spec.template.metadata.labels: Invalid value: '
        '{"app":"b"}: `selector` does not match template `labels`'
    ) in r.stderr
    assert k("get", "deployment", "mismatch").returncode == 1
    r = k("create", "configmap", "Bad_Name")
    assert r.returncode == 1
    assert 'metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain' in r.stderr


def test_immutable_fields(k: Kubectl) -> None:
    assert k("create", "deployment", "imm", "--image=busybox:1.36", "--", "sleep", "infinity").returncode == 0
    r = k("patch", "deployment", "imm", "-p", '{"spec":{"selector":{"matchLabels":{"app":"other"}}}}')
    assert r.returncode == 1
    # ValidateDeploymentSpec (the template no longer matches) comes before ValidateDeploymentUpdate, as in
    # kubernetes/website#23203's report of the same patch
    assert r.stderr == (
        'The Deployment "imm" is invalid: \n'
        '* spec.template.metadata.labels: Invalid value: {"app":"imm"}: `selector` does not match template '
        "`labels`\n"
        '* spec.selector: Invalid value: {"matchLabels":{"app":"other"}}: field is immutable\n'
    )
    assert k("delete", "deployment", "imm").returncode == 0


def test_dry_run_creates_nothing(k: Kubectl) -> None:
    r = k("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["data"] == {"a": "b"}
    assert k("get", "configmap", "dry").returncode == 1


def test_label_selectors_paging_and_tables(cluster: DemoCluster, k: Kubectl) -> None:
    for i in range(5):
        assert k("create", "configmap", f"page-{i}", f"--from-literal=i={i}").returncode == 0
        assert (
            k("label", "configmap", f"page-{i}", f"parity={'even' if i % 2 == 0 else 'odd'}").returncode == 0
        )
    r = k("get", "cm", "-l", "parity=even", "-o", "name")
    assert r.stdout.split() == ["configmap/page-0", "configmap/page-2", "configmap/page-4"]
    first = api(
        cluster,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        params={"limit": "2", "labelSelector": "parity"},
    )
    body = first.json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["page-0", "page-1"]
    # ListMeta: with a label or field selector the number of remaining items is unknown and left unset
    assert "remainingItemCount" not in body["metadata"]
    rest = api(
        cluster,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        params={"limit": "10", "labelSelector": "parity", "continue": body["metadata"]["continue"]},
    )
    assert [i["metadata"]["name"] for i in rest.json()["items"]] == ["page-2", "page-3", "page-4"]
    assert k("delete", "cm", "-l", "parity").returncode == 0
    assert k("get", "cm", "-l", "parity", "-o", "name").stdout == ""


def test_server_side_apply_owns_fields_and_reports_conflicts(k: Kubectl) -> None:
    manifest = """apiVersion: v1
kind: ConfigMap
metadata: {name: ssa}
data: {a: "1", b: "2"}
"""
    r = k("apply", "--server-side", "-f", "-", input=manifest)
    assert (r.returncode, r.stdout) == (0, "configmap/ssa serverside-applied\n"), r.stderr
    r = k("apply", "--server-side", "-f", "-", input=manifest.replace('b: "2"', 'c: "3"'))
    assert r.returncode == 0, r.stderr
    data = json.loads(k("get", "cm", "ssa", "-o", "json").stdout)["data"]
    assert data == {"a": "1", "c": "3"}  # b was this manager's and it no longer lists it
    r = k(
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        "-",
        input=manifest.replace('a: "1"', 'a: "9"'),
    )
    assert r.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl" using v1: .data.a' in r.stderr
    r = k(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--field-manager=other",
        "-f",
        "-",
        input=manifest.replace('a: "1"', 'a: "9"'),
    )
    assert r.returncode == 0, r.stderr
    managed = json.loads(k("get", "cm", "ssa", "-o", "json", "--show-managed-fields").stdout)["metadata"][
        "managedFields"
    ]
    assert {m["manager"] for m in managed} == {"kubectl", "other"}


def test_explain_reads_the_openapi_documents(k: Kubectl) -> None:
    r = k("explain", "deployment.spec.strategy")
    assert r.returncode == 0, r.stderr
    assert "GROUP:      apps" in r.stdout and "FIELD: strategy <DeploymentStrategy>" in r.stdout
    assert "rollingUpdate\t<RollingUpdateDeployment>" in r.stdout


def test_forbidden_for_a_viewer(cluster: DemoCluster, k: Kubectl) -> None:
    r = k("--context", cluster.context_for("viewer"), "create", "configmap", "nope")
    assert r.returncode == 1
    assert r.stderr == (
        'error: failed to create configmap: configmaps is forbidden: User "viewer" cannot create resource '
        '"configmaps" in API group "" in the namespace "default"\n'
    )
    r = k("auth", "can-i", "create", "deployments", "--as=viewer")
    assert r.stdout.strip() == "no"
    assert k("create", "rolebinding", "viewer-edit", "--clusterrole=edit", "--user=viewer").returncode == 0
    r = k("--context", cluster.context_for("viewer"), "create", "configmap", "now-yes")
    assert r.returncode == 0, r.stderr


def test_finalizers_hold_deletion_until_removed(k: Kubectl) -> None:
    manifest = """apiVersion: v1
kind: ConfigMap
metadata: {name: held, finalizers: [example.com/hold]}
"""
    assert k("create", "-f", "-", input=manifest).returncode == 0
    r = k("delete", "cm", "held", "--wait=false")
    assert r.returncode == 0
    meta = json.loads(k("get", "cm", "held", "-o", "json").stdout)["metadata"]
    assert meta["deletionTimestamp"] and meta["finalizers"] == ["example.com/hold"]
    assert k("patch", "cm", "held", "--type=merge", "-p", '{"metadata":{"finalizers":null}}').returncode == 0
    assert wait_for(lambda: k("get", "cm", "held").returncode == 1)


def test_kubectl_get_watch_sees_changes(cluster: DemoCluster, k: Kubectl) -> None:
    import subprocess

    argv = k.argv("get", "configmaps", "-w", "--output-watch-events", "--request-timeout=30s")
    proc = subprocess.Popen(argv, env=k.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        header = proc.stdout.readline()
        assert header.split()[:3] == ["EVENT", "NAME", "DATA"]
        ok = k("create", "configmap", "watched", "--from-literal=a=1")
        assert ok.returncode == 0, ok.stderr
        assert k("delete", "configmap", "watched").returncode == 0
        seen = []
        while len(seen) < 20:
            line = proc.stdout.readline()
            seen.append(line.split()[:2])
            if line.split()[:2] == ["DELETED", "watched"]:
                break
        assert ["ADDED", "watched"] in seen and ["DELETED", "watched"] in seen
    finally:
        proc.kill()
        proc.wait()
