"""SelfSubjectReview (``kubectl auth whoami``): every authenticated user may ask who they are."""

from __future__ import annotations

import json

import pytest
from demo_helpers import api

PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


@pytest.mark.parametrize("context", ["demo-admin", "demo-viewer"])
def test_kubectl_auth_whoami(kubectl, context):
    r = kubectl("--context", context, "auth", "whoami")
    assert r.returncode == 0, r.stderr
    rows = [line.split(None, 1) for line in r.stdout.splitlines()]
    user = context.removeprefix("demo-")
    assert rows == [["ATTRIBUTE", "VALUE"], ["Username", user], ["Groups", "[system:authenticated]"]]
    as_json = json.loads(kubectl("--context", context, "auth", "whoami", "-o", "json").stdout)
    assert as_json["apiVersion"] == "authentication.k8s.io/v1"
    assert as_json["status"]["userInfo"] == {"username": user, "groups": ["system:authenticated"]}


def test_selfsubjectreview_api(demo_cluster):
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    r = api(demo_cluster, "POST", PATH, user="viewer", json=body)
    assert r.status_code == 201
    review = r.json()
    assert (review["kind"], review["status"]) == (
        "SelfSubjectReview",
        {"userInfo": {"username": "viewer", "groups": ["system:authenticated"]}},
    )
    assert review["metadata"]["creationTimestamp"].endswith("Z")
    assert api(demo_cluster, "POST", PATH, data=b"{not json").status_code == 400
    anonymous = api(demo_cluster, "POST", PATH, user=None, json=body)
    assert anonymous.status_code == 403
    assert anonymous.json()["message"] == (
        'selfsubjectreviews.authentication.k8s.io is forbidden: User "system:anonymous" cannot create '
        'resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope'
    )


def test_authentication_group_is_discoverable(demo_cluster):
    group = api(demo_cluster, "GET", "/apis/authentication.k8s.io").json()
    assert group["preferredVersion"]["groupVersion"] == "authentication.k8s.io/v1"
    resources = api(demo_cluster, "GET", "/apis/authentication.k8s.io/v1").json()["resources"]
    assert [(r["name"], r["kind"], r["verbs"]) for r in resources] == [
        ("selfsubjectreviews", "SelfSubjectReview", ["create"]),
        ("tokenreviews", "TokenReview", ["create"]),
    ]
