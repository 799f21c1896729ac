"""The three PATCH formats (:mod:`k8sterm_widget.demo.patch`) and ephemeral-container validation, as units."""

from __future__ import annotations

import pytest

from k8sterm_widget.demo import patch, validation

POD = {
    "metadata": {"name": "p", "labels": {"app": "x"}, "finalizers": ["a"]},
    "spec": {
        "containers": [{"name": "app", "image": "a:1", "env": [{"name": "A", "value": "1"}]}],
        "ephemeralContainers": [{"name": "dbg", "image": "busybox:1.36"}],
    },
}


def test_strategic_merge_adds_by_merge_key_and_keeps_the_rest():
    out = patch.strategic_merge(POD, {"spec": {"ephemeralContainers": [{"name": "two", "image": "busybox"}]}})
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["dbg", "two"]
    out = patch.strategic_merge(POD, {"spec": {"containers": [{"name": "app", "env": [{"name": "B"}]}]}})
    assert out["spec"]["containers"][0]["image"] == "a:1"
    assert out["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}, {"name": "B"}]
    assert POD["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]  # inputs untouched


def test_strategic_merge_directives():
    delete = {"spec": {"ephemeralContainers": [{"name": "dbg", "$patch": "delete"}]}}
    assert patch.strategic_merge(POD, delete)["spec"]["ephemeralContainers"] == []
    replace = {"spec": {"ephemeralContainers": [{"$patch": "replace"}, {"name": "new", "image": "x"}]}}
    assert patch.strategic_merge(POD, replace)["spec"]["ephemeralContainers"] == [
        {"name": "new", "image": "x"}
    ]
    order = {
        "spec": {
            "$setElementOrder/ephemeralContainers": [{"name": "new"}, {"name": "dbg"}],
            "ephemeralContainers": [{"name": "new", "image": "x"}],
        }
    }
    assert [c["name"] for c in patch.strategic_merge(POD, order)["spec"]["ephemeralContainers"]] == [
        "new",
        "dbg",
    ]
    assert patch.strategic_merge(POD, {"metadata": {"labels": None}})["metadata"] == {
        "name": "p",
        "finalizers": ["a"],
    }
    assert patch.strategic_merge(POD, {"metadata": {"finalizers": ["b"]}})["metadata"]["finalizers"] == [
        "a",
        "b",
    ]
    gone = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    assert patch.strategic_merge(POD, gone)["metadata"]["finalizers"] == []
    kept = {"metadata": {"$retainKeys": ["name"], "name": "p"}}
    assert patch.strategic_merge(POD, kept)["metadata"] == {"name": "p"}


def test_strategic_merge_errors():
    with pytest.raises(patch.PatchError) as info:
        patch.strategic_merge(POD, ["not", "a", "map"])
    assert info.value.status["message"] == "invalid JSON document"
    with pytest.raises(patch.PatchError, match="does not contain declared merge key: name"):
        patch.strategic_merge(POD, {"spec": {"ephemeralContainers": [{"image": "x"}]}})


def test_json_merge_patch():
    out = patch.merge_patch(POD, {"metadata": {"labels": None}, "spec": {"ephemeralContainers": []}})
    assert "labels" not in out["metadata"] and out["spec"]["ephemeralContainers"] == []
    assert out["spec"]["containers"] == POD["spec"]["containers"]


def test_json_patch_operations():
    ops = [
        {"op": "add", "path": "/spec/ephemeralContainers/-", "value": {"name": "x", "image": "i"}},
        {"op": "test", "path": "/spec/ephemeralContainers/1/name", "value": "x"},
        {"op": "replace", "path": "/metadata/labels/app", "value": "y"},
        {"op": "copy", "from": "/metadata/labels", "path": "/metadata/annotations"},
        {"op": "move", "from": "/metadata/finalizers/0", "path": "/metadata/owner"},
        {"op": "remove", "path": "/spec/containers/0/env"},
        {"op": "add", "path": "/metadata/labels/a~1b", "value": "z"},
    ]
    out = patch.json_patch(POD, ops)
    assert [c["name"] for c in out["spec"]["ephemeralContainers"]] == ["dbg", "x"]
    assert out["metadata"]["labels"] == {"app": "y", "a/b": "z"}
    assert out["metadata"]["annotations"] == {"app": "y"}
    assert (out["metadata"]["owner"], out["metadata"]["finalizers"]) == ("a", [])
    assert "env" not in out["spec"]["containers"][0]


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "remove", "path": "/spec/nothing"}],
        [{"op": "add", "path": "/spec/ephemeralContainers/9", "value": {}}],
        [{"op": "test", "path": "/metadata/name", "value": "other"}],
        [{"op": "frobnicate", "path": "/metadata"}],
        [{"op": "replace", "path": "/metadata/name"}],
    ],
)
def test_json_patch_failures_are_the_apiservers_422(ops):
    with pytest.raises(patch.PatchError) as info:
        patch.json_patch(POD, ops)
    assert info.value.status["code"] == 422
    assert info.value.status["message"] == "the server rejected our request due to an error in our request"


def test_json_patch_must_be_a_list():
    with pytest.raises(patch.PatchError) as info:
        patch.json_patch(POD, {"spec": {}})
    assert info.value.status["code"] == 400
    assert (
        info.value.status["message"] == "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    )


def test_normalize_defaults_and_orders_like_the_apiserver():
    got = validation.normalize({"tty": True, "name": "d", "image": "busybox", "bogus": 1, "stdin": False})
    assert got == {
        "name": "d",
        "image": "busybox",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "Always",
        "tty": True,
    }
    assert list(got) == list(validation.normalize(got))
    with pytest.raises(validation.DecodeError):
        validation.normalize({"name": 5})


def test_validation_texts():
    pod = {"spec": {"containers": [{"name": "app"}], "ephemeralContainers": [validation.normalize(
        {"name": "old", "image": "busybox:1.36"})]}}  # fmt: skip
    new = [
        validation.normalize({"name": "old", "image": "busybox:1.37"}),
        validation.normalize({"name": "app", "image": "x", "targetContainerName": "nope", "ports": [{}]}),
        validation.normalize({"name": "Bad_Name"}),
    ]
    texts = [str(e) for e in validation.validate(pod, new)]
    assert texts[:5] == [
        'spec.ephemeralContainers[1].name: Duplicate value: "app"',
        'spec.ephemeralContainers[1].targetContainerName: Not found: "nope"',
        "spec.ephemeralContainers[1].ports: Forbidden: cannot be set for an Ephemeral Container",
        'spec.ephemeralContainers[2].name: Invalid value: "Bad_Name": a lowercase RFC 1123 label must '
        "consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric "
        "character "
        "(e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
        "spec.ephemeralContainers[2].image: Required value",
    ]
    assert texts[5].startswith(
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "old" may not be changed\n'
    )
    assert [str(e) for e in validation.validate(pod, [])] == [
        'spec.ephemeralContainers: Forbidden: existing ephemeral containers "old" may not be removed\n'
    ]
