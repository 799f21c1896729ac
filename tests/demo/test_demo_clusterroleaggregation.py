"""The clusterrole-aggregation controller, through the real kubectl: ``admin``/``edit``/``view`` carry
the bootstrap policy's rules, a RoleBinding to them grants them in its namespace only, and a ClusterRole
labelled ``aggregate-to-view`` joins ``view`` (and through it ``edit`` and ``admin``) until it goes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from tests.kubectl_runner import Kubectl

TEAM, OTHER = "agg-team", "agg-other"


def _role(kubectl: Kubectl, name: str) -> dict:
    r = kubectl("get", "clusterrole", name, "-o", "json", "--show-managed-fields")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _wait_rules(kubectl: Kubectl, name: str, present: bool, rule: dict) -> None:
    deadline = time.monotonic() + 20
    while (rule in (_role(kubectl, name).get("rules") or [])) != present:
        assert time.monotonic() < deadline, f"{name}: rule {rule} {'never came' if present else 'stayed'}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def tokens(kubectl: Kubectl) -> Iterator[dict[str, str]]:
    """alice is bound to ``edit`` and bob to ``view`` in agg-team, the way tutorials hand out rights."""
    for ns in (TEAM, OTHER):
        assert kubectl("create", "namespace", ns).returncode == 0
    out = {}
    for sa, role in (("alice", "edit"), ("bob", "view")):
        assert kubectl("create", "serviceaccount", sa, "-n", TEAM).returncode == 0
        r = kubectl("create", "rolebinding", f"{sa}-{role}", f"--clusterrole={role}",
                    f"--serviceaccount={TEAM}:{sa}", "-n", TEAM)  # fmt: skip
        assert r.returncode == 0, r.stderr
        out[sa] = kubectl("create", "token", sa, "-n", TEAM).stdout.strip()
    yield out
    kubectl("delete", "namespace", TEAM, OTHER, "--wait=false")


def test_the_bootstrap_roles_are_filled_from_the_aggregate_to_roles(kubectl: Kubectl) -> None:
    view, edit, admin = (_role(kubectl, n) for n in ("view", "edit", "admin"))
    to_view, to_edit, to_admin = (
        _role(kubectl, f"system:aggregate-to-{n}") for n in ("view", "edit", "admin")
    )
    assert view["aggregationRule"] == {
        "clusterRoleSelectors": [{"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}}]
    }
    assert view["rules"] == to_view["rules"]
    # edit's selector matches system:aggregate-to-edit and view (labelled aggregate-to-edit), by name
    assert edit["rules"] == to_edit["rules"] + [r for r in view["rules"] if r not in to_edit["rules"]]
    # admin's matches edit and system:aggregate-to-admin: "edit" sorts first
    assert admin["rules"] == edit["rules"] + [r for r in to_admin["rules"] if r not in edit["rules"]]
    managers = {f["manager"] for f in edit["metadata"].get("managedFields") or []}
    assert "clusterrole-aggregation-controller" in managers


def test_a_rolebinding_to_edit_grants_edit_in_its_namespace_only(kubectl: Kubectl, tokens: dict) -> None:
    alice = tokens["alice"]
    r = kubectl(
        "--token", alice, "create", "deployment", "web", "--image=busybox", "--replicas=0", "-n", TEAM
    )
    assert r.returncode == 0, r.stderr
    r = kubectl(
        "--token", alice, "create", "deployment", "web", "--image=busybox", "--replicas=0", "-n", OTHER
    )
    assert r.stderr == (
        "error: failed to create deployment: deployments.apps is forbidden: User "
        f'"system:serviceaccount:{TEAM}:alice" cannot create resource "deployments" in API group "apps" in '
        f'the namespace "{OTHER}"\n'
    )
    # edit cannot hand out rights: roles and rolebindings are admin's
    r = kubectl("--token", alice, "create", "rolebinding", "more", "--clusterrole=edit",
                "--serviceaccount=agg-team:alice", "-n", TEAM)  # fmt: skip
    assert "is forbidden" in r.stderr and 'cannot create resource "rolebindings"' in r.stderr
    # can-i --list shows the aggregated rules (a SelfSubjectRulesReview)
    r = kubectl("--token", alice, "auth", "can-i", "--list", "-n", TEAM)
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("deployments.apps "))
    assert all(v in line for v in ("create", "delete", "get", "list", "watch"))
    assert any(ln.startswith("pods/exec ") for ln in r.stdout.splitlines())


def test_view_reads_but_does_not_write(kubectl: Kubectl, tokens: dict) -> None:
    bob = tokens["bob"]
    assert kubectl("--token", bob, "get", "serviceaccount", "alice", "-n", TEAM).returncode == 0
    r = kubectl("--token", bob, "create", "configmap", "x", "-n", TEAM)
    assert 'cannot create resource "configmaps"' in r.stderr
    assert kubectl("--token", bob, "get", "pods", "-n", OTHER).returncode != 0


def test_a_new_aggregate_to_view_role_joins_view_edit_and_admin_until_deleted(
    kubectl: Kubectl, tokens: dict
) -> None:
    bob = tokens["bob"]
    assert 'cannot list resource "secrets"' in kubectl("--token", bob, "get", "secrets", "-n", TEAM).stderr
    manifest = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": "agg-secret-reader",
            "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
        },
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}],
    }
    assert kubectl("create", "-f", "-", input=json.dumps(manifest)).returncode == 0
    try:
        for name in ("view", "edit", "admin"):
            _wait_rules(kubectl, name, True, manifest["rules"][0])
        r = kubectl("--token", bob, "get", "secrets", "-n", TEAM)
        assert r.returncode == 0, r.stderr
    finally:
        assert kubectl("delete", "clusterrole", "agg-secret-reader").returncode == 0
    for name in ("view", "edit", "admin"):
        _wait_rules(kubectl, name, False, manifest["rules"][0])
    assert 'cannot list resource "secrets"' in kubectl("--token", bob, "get", "secrets", "-n", TEAM).stderr
