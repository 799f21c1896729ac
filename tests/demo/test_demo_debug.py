"""Ephemeral debug containers: ``pods/ephemeralcontainers``, ``kubectl debug -it``, attach, watch progress.

These tests add ephemeral containers, which a pod keeps for good, so they run on a cluster of their own
(the default scenario) and leave the session's shared cluster as every other test expects it.
"""

from __future__ import annotations

import json
import re
import threading
import time

import pexpect
import pytest
from demo_helpers import api
from kubernetes import client, config

from k8sterm_widget.demo import cluster

EPHEMERAL = "/api/v1/namespaces/demo/pods/{}/ephemeralcontainers"
SMP = {"Content-Type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}


@pytest.fixture(scope="module")
def debug_cluster(tmp_path_factory):
    with cluster(state_dir=tmp_path_factory.mktemp("debug-cluster")) as c:
        yield c


@pytest.fixture(scope="module")
def kctl(debug_cluster, kubectl, tmp_path_factory):
    """The session's kubectl helper, bound to this module's cluster."""
    return type(kubectl)(kubeconfig=debug_cluster.kubeconfig, home=tmp_path_factory.mktemp("kubectl-debug"))


def _spawn(kctl, *args: str) -> pexpect.spawn:
    argv = kctl.argv(*args)
    return pexpect.spawn(argv[0], argv[1:], env=kctl.env, dimensions=(30, 100), timeout=20, encoding="utf-8")


def _pod(c, name: str) -> dict:
    return api(c, "GET", f"/api/v1/namespaces/demo/pods/{name}").json()


def _status(c, pod: str, container: str) -> dict | None:
    statuses = _pod(c, pod)["status"].get("ephemeralContainerStatuses", [])
    return next((s for s in statuses if s["name"] == container), None)


def _wait_state(c, pod: str, container: str, state: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = _status(c, pod, container)
        if (status and state in status["state"]) or time.monotonic() > deadline:
            assert status and state in status["state"], status
            return status
        time.sleep(0.05)


def _add(c, pod: str, container: dict, *, user: str = "admin"):
    body = {"spec": {"ephemeralContainers": [container]}}
    return api(c, "PATCH", EPHEMERAL.format(pod), user=user, headers=SMP, data=json.dumps(body))


# --- kubectl, end to end -------------------------------------------------------------------------


def test_kubectl_debug_it_into_distroless(debug_cluster, kctl):
    child = _spawn(kctl, "debug", "-it", "distroless", "-n", "demo", "--image=busybox:1.36", "--target=app")
    try:
        child.expect(r"Defaulting debug container name to (debugger-[a-z0-9]{5})\.")
        name = child.match.group(1)
        child.expect_exact("If you don't see a command prompt, try pressing enter.")
        child.sendline("")
        child.expect_exact("# ")
        child.sendline("ps")
        child.expect(r"\n\s+\d+ root\s+(\d+:\d\d )?/app/server infinity\r\n")  # the target's process
        child.expect_exact("# ")
        if debug_cluster.isolation == "namespaces":  # the target's filesystem, through its pid 1
            child.sendline("ls /proc/1/root/app; hostname")
            child.expect(r"server\r\ndistroless\r\n")
        child.sendline("exit")
        child.expect_exact(
            "Session ended, the ephemeral container will not be restarted but may be reattached using "
            f"'kubectl attach distroless -c {name} -n demo -i -t' if it is still running"
        )
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    terminated = _wait_state(debug_cluster, "distroless", name, "terminated")["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")
    spec = next(
        e for e in _pod(debug_cluster, "distroless")["spec"]["ephemeralContainers"] if e["name"] == name
    )
    assert spec == {
        "name": name,
        "image": "busybox:1.36",
        "resources": {},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
        "stdin": True,
        "tty": True,
        "targetContainerName": "app",
    }


def test_attach_exec_and_logs_of_a_running_debug_container(debug_cluster, kctl):
    r = kctl("debug", "web-1", "--image=busybox:1.36", "-c", "shell", "-it", "--attach=false")
    assert r.returncode == 0, r.stderr
    _wait_state(debug_cluster, "web-1", "shell", "running")
    child = _spawn(kctl, "attach", "-it", "web-1", "-c", "shell")
    try:
        child.expect_exact("If you don't see a command prompt, try pressing enter.")
        child.sendline("echo hi-$((40+2)); stty size")
        child.expect(r"hi-42\r\n30 100\r\n")
    finally:
        child.close(force=True)  # kubectl leaves; the container runs on
    assert "running" in _status(debug_cluster, "web-1", "shell")["state"]
    r = kctl("exec", "web-1", "--", "hostname")
    assert (r.stdout, r.stderr) == ("web-1\n", 'Defaulted container "nginx" out of: nginx, shell (ephem)\n')
    assert kctl("exec", "web-1", "-c", "shell", "--", "sh", "-c", "echo $0").stdout == "sh\n"
    assert "hi-42" in kctl("logs", "web-1", "-c", "shell").stdout


# --- the API ---------------------------------------------------------------------------------------


def test_patch_then_watch_shows_creating_then_running(debug_cluster):
    c = debug_cluster
    listed = api(
        c, "GET", "/api/v1/namespaces/demo/pods", params={"fieldSelector": "metadata.name=distroless"}
    )
    events: list[dict] = []
    watch = api(c, "GET", "/api/v1/namespaces/demo/pods", stream=True, params={
        "watch": "1", "fieldSelector": "metadata.name=distroless", "timeoutSeconds": "5",
        "resourceVersion": listed.json()["metadata"]["resourceVersion"],
    })  # fmt: skip

    def consume() -> None:
        for line in watch.iter_lines():
            events.append(json.loads(line))
            statuses = events[-1]["object"]["status"].get("ephemeralContainerStatuses", [])
            if any(s["name"] == "watched" and "running" in s["state"] for s in statuses):
                return

    reader = threading.Thread(target=consume)
    reader.start()
    r = _add(c, "distroless", {"name": "watched", "image": "busybox:1.36", "command": ["sleep", "infinity"]})
    assert r.status_code == 200 and r.json()["kind"] == "Pod"
    assert r.json()["spec"]["ephemeralContainers"][-1]["command"] == ["sleep", "infinity"]
    reader.join(10)
    watch.close()
    assert {e["type"] for e in events} == {"MODIFIED"}

    def state(event: dict) -> str:
        statuses = event["object"]["status"].get("ephemeralContainerStatuses", [])
        mine = [s["state"] for s in statuses if s["name"] == "watched"]
        return (next(iter(mine[0])) + ":" + mine[0].get("waiting", {}).get("reason", "")) if mine else "none"

    assert [state(e) for e in events] == ["none", "waiting:ContainerCreating", "running:"]
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert versions == sorted(versions)
    status = _status(c, "distroless", "watched")
    assert status["ready"] is False and "started" not in status and status["restartCount"] == 0


def test_names_are_unique_and_entries_permanent(debug_cluster):
    c = debug_cluster
    keep = {"name": "keep", "image": "busybox:1.36", "command": ["sleep", "infinity"]}
    assert _add(c, "web-0", keep).status_code == 200
    r = _add(c, "web-0", {"name": "sidecar", "image": "busybox:1.36"})
    assert r.status_code == 422
    assert r.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'Pod "web-0" is invalid: spec.ephemeralContainers[1].name: Duplicate value: "sidecar"',
        "reason": "Invalid",
        "details": {"name": "web-0", "kind": "Pod", "causes": [{
            "reason": "FieldValueDuplicate", "message": 'Duplicate value: "sidecar"',
            "field": "spec.ephemeralContainers[1].name"}]},
        "code": 422,
    }  # fmt: skip
    # a second, identical "keep" (a JSON patch can append one; a strategic merge would merge it)
    again = [{"op": "add", "path": "/spec/ephemeralContainers/-", "value": keep}]
    r = api(c, "PATCH", EPHEMERAL.format("web-0"), headers=JSON_PATCH, data=json.dumps(again))
    assert (
        r.json()["message"]
        == 'Pod "web-0" is invalid: spec.ephemeralContainers[1].name: Duplicate value: "keep"'
    )
    remove = [{"op": "remove", "path": "/spec/ephemeralContainers/0"}]
    r = api(c, "PATCH", EPHEMERAL.format("web-0"), headers=JSON_PATCH, data=json.dumps(remove))
    assert (r.status_code, r.json()["message"]) == (
        422,
        'Pod "web-0" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "keep" '
        "may not be removed\n",
    )
    r = _add(c, "web-0", {**keep, "image": "busybox:1.37"})
    assert r.json()["message"].startswith(
        'Pod "web-0" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers "keep" '
        "may not be changed\n"
    )
    r = _add(c, "web-0", {"name": "aimed", "image": "busybox:1.36", "targetContainerName": "nope"})
    assert r.json()["message"] == (
        'Pod "web-0" is invalid: spec.ephemeralContainers[1].targetContainerName: Not found: "nope"'
    )
    # the same entry again is no change at all
    _wait_state(c, "web-0", "keep", "running")
    before = _pod(c, "web-0")["metadata"]["resourceVersion"]
    same = api(c, "PATCH", EPHEMERAL.format("web-0"), headers=SMP, data=json.dumps({"spec": {}}))
    assert same.status_code == 200 and same.json()["metadata"]["resourceVersion"] == before


def test_only_ephemeral_containers_change(debug_cluster):
    c = debug_cluster
    body = {
        "metadata": {"labels": {"hijacked": "yes"}},
        "spec": {"containers": [{"name": "nginx", "image": "evil:1"}], "ephemeralContainers": [
            {"name": "quiet", "image": "busybox:1.36", "command": ["sleep", "infinity"]}]},
    }  # fmt: skip
    r = api(c, "PATCH", EPHEMERAL.format("web-0"), headers=SMP, data=json.dumps(body))
    assert r.status_code == 200
    pod = r.json()
    assert pod["metadata"]["labels"] == {"app": "web"}
    assert [x["image"] for x in pod["spec"]["containers"]] == ["nginx:1.27", "busybox:1.36"]
    assert "quiet" in [e["name"] for e in pod["spec"]["ephemeralContainers"]]


def test_get_put_and_conflict(debug_cluster):
    c = debug_cluster
    pod = api(c, "GET", EPHEMERAL.format("worker").replace("/demo/", "/jobs/")).json()
    assert pod["kind"] == "Pod" and pod["metadata"]["name"] == "worker"
    path = EPHEMERAL.format("worker").replace("/demo/", "/jobs/")
    pod["spec"]["ephemeralContainers"] = [{"name": "put", "image": "busybox:1.36", "command": ["sleep", "9"]}]
    stale = {**pod, "metadata": {**pod["metadata"], "resourceVersion": "1"}}
    r = api(c, "PUT", path, json=stale)
    assert (r.status_code, r.json()["reason"], r.json()["message"]) == (
        409,
        "Conflict",
        'Operation cannot be fulfilled on pods "worker": the object has been modified; please apply your '
        "changes to the latest version and try again",
    )
    stale_patch = {"metadata": {"resourceVersion": "1"}, "spec": pod["spec"]}
    assert api(c, "PATCH", path, headers=SMP, data=json.dumps(stale_patch)).status_code == 409
    renamed = {**pod, "metadata": {**pod["metadata"], "name": "other"}}
    r = api(c, "PUT", path, json=renamed)
    assert r.json()["message"] == "the name of the object (other) does not match the name on the URL (worker)"
    r = api(c, "PUT", path, json=pod)
    assert r.status_code == 200 and r.json()["spec"]["ephemeralContainers"][0]["name"] == "put"
    assert int(r.json()["metadata"]["resourceVersion"]) > int(pod["metadata"]["resourceVersion"])


def test_refusals(debug_cluster, kctl):
    c = debug_cluster
    for method in ("GET", "PATCH", "PUT"):
        r = api(c, method, EPHEMERAL.format("nope"), headers=SMP, data="{}")
        assert (r.status_code, r.json()["message"]) == (404, 'pods "nope" not found'), method
    r = api(c, "PATCH", EPHEMERAL.format("web-1"), headers={"Content-Type": "application/json"}, data="{}")
    assert r.status_code == 415 and r.json()["reason"] == "UnsupportedMediaType"
    r = api(c, "PATCH", EPHEMERAL.format("web-1"), headers=SMP, data="{not json")
    assert (r.status_code, r.json()["message"]) == (400, "invalid JSON document")
    r = _add(c, "web-1", {"name": "nosy", "image": "busybox:1.36"}, user="viewer")
    assert (r.status_code, r.json()["message"]) == (
        403,
        'pods "web-1" is forbidden: User "viewer" cannot patch resource "pods/ephemeralcontainers" in API '
        'group "" in the namespace "demo"',
    )
    r = kctl("--context", "demo-viewer", "debug", "web-1", "--image=busybox:1.36", "-q")
    assert (r.returncode, r.stderr) == (
        1,
        'Error from server (Forbidden): pods "web-1" is forbidden: User "viewer" cannot patch resource '
        '"pods/ephemeralcontainers" in API group "" in the namespace "demo"\n',
    )
    r = kctl("debug", "nope", "--image=busybox:1.36", "-q")
    assert (r.returncode, r.stderr) == (1, 'Error from server (NotFound): pods "nope" not found\n')
    r = kctl("debug", "web-1", "--image=busybox:1.36", "-c", "nginx", "-q")
    assert (
        r.stderr == 'The Pod "web-1" is invalid: spec.ephemeralContainers[1].name: Duplicate value: "nginx"\n'
    )


def test_hostile_bodies_are_refused_and_the_pod_stays_readable(debug_cluster):
    c = debug_cluster
    deep: dict = {}
    for _ in range(400):  # decodes, but nests deeper than any container field
        deep = {"x": deep}
    r = _add(c, "web-1", {"name": "deep", "image": "busybox:1.36", "securityContext": deep})
    assert r.status_code == 422 and "exceeded max depth" in r.json()["message"]
    for body in (
        {"spec": {"ephemeralContainers": [1, 2]}},
        {"spec": {"ephemeralContainers": {"a": 1}}},
        {"spec": {"ephemeralContainers": [{"name": 5, "image": "x"}]}},
    ):
        r = api(c, "PATCH", EPHEMERAL.format("web-1"), headers=SMP, data=json.dumps(body))
        assert r.status_code in (400, 422) and r.json()["kind"] == "Status", body
    # mergepatch.ErrBadPatchType is not a Status: ErrorToAPIStatus makes it a 500 with its text
    r = api(c, "PATCH", EPHEMERAL.format("web-1"), headers=SMP, data=json.dumps({"$patch": 7}))
    assert (r.status_code, r.json()["message"]) == (500, "unknown patch type: 7 in map: map[$patch:7]")
    ops = [{"op": "move", "path": "/spec"}, {"op": "add", "path": 5, "value": 1}]
    r = api(c, "PATCH", EPHEMERAL.format("web-1"), headers=JSON_PATCH, data=json.dumps(ops))
    assert r.status_code == 422
    assert api(c, "GET", "/api/v1/namespaces/demo/pods/web-1").status_code == 200


def test_unknown_image_and_unscheduled_pod(debug_cluster):
    c = debug_cluster
    assert _add(c, "web-1", {"name": "broken", "image": "registry.invalid/tools:1"}).status_code == 200
    deadline = time.monotonic() + 5
    while (_status(c, "web-1", "broken") or {}).get("state", {}).get("waiting", {}).get("reason") != (
        "ImagePullBackOff"
    ):
        assert time.monotonic() < deadline, _status(c, "web-1", "broken")
        time.sleep(0.1)
    r = _add(c, "pending", {"name": "never", "image": "busybox:1.36"})
    assert r.status_code == 200 and [e["name"] for e in r.json()["spec"]["ephemeralContainers"]] == ["never"]
    time.sleep(0.2)
    assert "ephemeralContainerStatuses" not in _pod(c, "pending")["status"]  # no node, no kubelet


def test_official_client_json_patch(debug_cluster):
    core = client.CoreV1Api(config.new_client_from_config(config_file=debug_cluster.kubeconfig))
    container = {
        "name": "py",
        "image": "busybox:1.36",
        "command": ["sleep", "infinity"],
        "targetContainerName": "app",
    }
    # The client sends a JSON patch by default; "add" of the whole list works while the pod has none.
    pod = core.patch_namespaced_pod_ephemeralcontainers(
        "crashloop", "demo", [{"op": "add", "path": "/spec/ephemeralContainers", "value": [container]}]
    )
    assert [e.name for e in pod.spec.ephemeral_containers] == ["py"]
    assert pod.spec.ephemeral_containers[0].termination_message_policy == "File"
    running = _wait_state(debug_cluster, "crashloop", "py", "running")
    assert re.fullmatch(r"containerd://[0-9a-f]{64}", running["containerID"])
    read = core.read_namespaced_pod_ephemeralcontainers("crashloop", "demo")
    assert read.status.ephemeral_container_statuses[0].name == "py"
