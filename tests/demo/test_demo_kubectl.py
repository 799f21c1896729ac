"""Real kubectl 1.37 against the demo cluster: the output a user sees must be a real cluster's.

Each error case asserts kubectl's exact stderr and exit code from docs/exec-protocol.md §6, which were
recorded against real clusters (and kubectl's own client-side checks).
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime

import pytest

EXEC_ID = r"[0-9a-f]{64}"


def _human_seconds(text: str) -> int:
    """Seconds of a duration as kubectl's ``HumanDuration`` prints it (``45s``, ``2m26s``, ``3h``)."""
    match = re.fullmatch(r"(?:(\d+)y)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    assert match and text, text
    units = (365 * 86400, 86400, 3600, 60, 1)
    return sum(int(v) * u for v, u in zip(match.groups(), units, strict=True) if v)


def test_get_pods_table(kubectl):
    def finished_ago() -> float:
        pod = json.loads(kubectl("get", "pod", "crashloop", "-n", "demo", "-o", "json").stdout)
        finished = pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["finishedAt"]
        return time.time() - datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp()

    before = finished_ago()
    r = kubectl("get", "pods", "-n", "demo")
    after = finished_ago()
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = {line.split()[0]: line.split() for line in lines[1:]}
    assert set(rows) == {"completed", "crashloop", "distroless", "pending", "web-0", "web-1"}
    assert rows["web-0"][1:4] == ["2/2", "Running", "0"]
    assert rows["web-1"][1:4] == ["1/1", "Running", "0"]
    assert rows["distroless"][1:3] == ["1/1", "Running"]
    assert rows["pending"][1:4] == ["0/1", "Pending", "0"]
    assert rows["completed"][1:4] == ["0/1", "Completed", "0"]
    assert rows["crashloop"][1:3] == ["0/1", "CrashLoopBackOff"]
    # RESTARTS: the count and how long ago the last run ended (printers.go: `6 (45s ago)`, later
    # `6 (2m26s ago)`; HumanDuration drops the seconds from 10 minutes on; the age is read between two reads)
    match = re.fullmatch(r"6 \((\w+) ago\)", " ".join(rows["crashloop"][3:6]))
    assert match, rows["crashloop"]
    ago = _human_seconds(match.group(1))
    slack = 1 if after < 600 else 60
    assert int(before) - slack <= ago <= after + 1, (match.group(1), before, after)


def test_get_pods_all_namespaces_and_wide(kubectl):
    r = kubectl("get", "pods", "-A", "-o", "wide")
    assert r.returncode == 0, r.stderr
    header, *body = r.stdout.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == [
        "NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
        "READINESS GATES",
    ]  # fmt: skip
    rows = {(line.split()[0], line.split()[1]): line.split() for line in body}
    assert ("jobs", "worker") in rows
    web0 = rows[("demo", "web-0")]
    assert re.fullmatch(r"10\.244\.0\.\d+", web0[6]) and web0[7] == "demo-control-plane"
    assert web0[8:] == ["<none>", "<none>"]
    pending = rows[("demo", "pending")]
    assert pending[6:] == ["<none>", "<none>", "<none>", "<none>"]


def test_get_pods_json_is_a_real_pod_list(kubectl):
    r = kubectl("get", "pods", "-n", "demo", "-o", "json")
    assert r.returncode == 0, r.stderr
    items = {p["metadata"]["name"]: p for p in json.loads(r.stdout)["items"]}
    web0 = items["web-0"]
    assert web0["metadata"]["annotations"]["kubectl.kubernetes.io/default-container"] == "nginx"
    assert web0["metadata"]["uid"] and web0["metadata"]["resourceVersion"].isdigit()
    assert [c["name"] for c in web0["spec"]["containers"]] == ["nginx", "sidecar"]
    assert web0["spec"]["nodeName"] == "demo-control-plane"
    statuses = web0["status"]["containerStatuses"]
    assert all("running" in s["state"] and s["ready"] and s["started"] for s in statuses)
    assert all(s["containerID"].startswith("containerd://") and "@sha256:" in s["imageID"] for s in statuses)
    assert web0["status"]["qosClass"] == "BestEffort" and web0["status"]["podIP"].startswith("10.244.0.")
    assert {c["type"] for c in web0["status"]["conditions"]} >= {"Ready", "ContainersReady", "PodScheduled"}
    pending = items["pending"]
    assert "nodeName" not in pending["spec"] and pending["status"]["phase"] == "Pending"
    assert pending["status"]["conditions"][0]["reason"] == "Unschedulable"
    completed = items["completed"]["status"]
    assert completed["phase"] == "Succeeded"
    assert completed["containerStatuses"][0]["state"]["terminated"]["reason"] == "Completed"
    crash = items["crashloop"]["status"]["containerStatuses"][0]
    assert crash["state"]["waiting"]["reason"] == "CrashLoopBackOff" and crash["restartCount"] == 6
    assert crash["lastState"]["terminated"]["exitCode"] == 1


def test_label_and_field_selectors(kubectl):
    assert kubectl("get", "pods", "-l", "app=web", "-o", "name").stdout.split() == ["pod/web-0", "pod/web-1"]
    assert kubectl("get", "pods", "-l", "app in (api,batch)", "-o", "name").stdout.split() == [
        "pod/completed", "pod/distroless", "pod/pending",
    ]  # fmt: skip
    assert "pod/web-0" not in kubectl("get", "pods", "-l", "app!=web", "-o", "name").stdout
    running = kubectl("get", "pods", "--field-selector", "status.phase=Running", "-o", "name").stdout.split()
    assert running == ["pod/crashloop", "pod/distroless", "pod/web-0", "pod/web-1"]
    bad = kubectl("get", "pods", "--field-selector", "spec.bogus=1")
    assert bad.returncode == 1
    # kubectl adds its own prefix to the apiserver's "field label not supported" BadRequest.
    assert bad.stderr.startswith("Error from server (BadRequest): ")
    assert bad.stderr.strip().endswith(": field label not supported: spec.bogus")


def test_get_namespaces(kubectl):
    r = kubectl("get", "ns")
    assert r.returncode == 0, r.stderr
    names = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert names == ["default", "demo", "jobs", "kube-node-lease", "kube-public", "kube-system"]
    assert all(line.split()[1] == "Active" for line in r.stdout.splitlines()[1:])


def test_exec_exit_code(kubectl):
    r = kubectl("exec", "web-0", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert r.returncode == 3
    assert r.stdout == "out\n"
    assert r.stderr == "err\ncommand terminated with exit code 3\n"


def test_exec_stdin_and_default_container_note(kubectl):
    r = kubectl("exec", "-i", "worker", "-n", "jobs", "--", "wc", "-c", input=b"hello world")
    assert r.returncode == 0
    assert r.stdout.strip() == "11"
    assert r.stderr == 'Defaulted container "worker" out of: worker, setup (init)\n'
    quiet = kubectl("exec", "-q", "worker", "-n", "jobs", "--", "true")
    assert quiet.returncode == 0 and quiet.stderr == ""
    # The default-container annotation silences the note (web-0 has two containers).
    annotated = kubectl("exec", "web-0", "--", "true")
    assert annotated.returncode == 0 and annotated.stderr == ""


def test_exec_hostname_and_shared_container_namespace(kubectl):
    r = kubectl("exec", "web-0", "-c", "sidecar", "--", "sh", "-c", "hostname; echo $HOSTNAME")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["web-0", "web-0"]


@pytest.mark.parametrize(
    ("args", "stderr", "code"),
    [
        (
            ["--context", "demo-viewer", "exec", "web-0", "--", "true"],
            'error: unable to upgrade connection: pods "web-0" is forbidden: User "viewer" cannot create '
            'resource "pods/exec" in API group "" in the namespace "demo"\n',
            1,
        ),
        (["exec", "nope", "--", "true"], 'Error from server (NotFound): pods "nope" not found\n', 1),
        (
            ["exec", "-n", "nowhere", "nope", "--", "true"],
            # kubectl 1.37 itself asks for the namespace after the pod's 404
            'Error from server (NotFound): namespaces "nowhere" not found\n',
            1,
        ),
        (
            ["exec", "web-0", "-c", "bad", "--", "true"],
            "error: container bad is not valid for pod web-0 out of: nginx, sidecar\n",
            1,
        ),
        (
            ["exec", "pending", "--", "true"],
            "error: unable to upgrade connection: pod pending does not have a host assigned\n",
            1,
        ),
        (
            ["exec", "completed", "--", "true"],
            "error: cannot exec into a container in a completed pod; current phase is Succeeded\n",
            1,
        ),
        (
            ["exec", "crashloop", "--", "true"],
            'error: Internal error occurred: unable to upgrade connection: container not found ("app")\n',
            1,
        ),
    ],
    ids=[
        "forbidden",
        "pod-not-found",
        "namespace-not-found",
        "wrong-container",
        "unscheduled",
        "completed",
        "crashloop",
    ],
)
def test_exec_errors(kubectl, args, stderr, code):
    r = kubectl(*args)
    assert (r.returncode, r.stderr) == (code, stderr)


@pytest.mark.parametrize(
    ("pod", "command", "reason"),
    [
        ("web-0", "nosuchcmd", 'exec: "nosuchcmd": executable file not found in $PATH'),
        ("web-0", "/bin/nosuch", 'exec: "/bin/nosuch": stat /bin/nosuch: no such file or directory'),
        ("distroless", "sh", 'exec: "sh": executable file not found in $PATH'),
    ],
)
def test_exec_command_not_found(kubectl, pod, command, reason):
    r = kubectl("exec", pod, "--", command)
    assert r.returncode == 1
    assert re.fullmatch(
        "error: Internal error occurred: Internal error occurred: error executing command in container: "
        f'failed to exec in container: failed to start exec "{EXEC_ID}": '
        "OCI runtime exec failed: exec failed: "
        f"unable to start container process: {re.escape(reason)}: unknown\n",
        r.stderr,
    ), r.stderr


def test_missing_command_run_by_a_shell_is_127(kubectl):
    r = kubectl("exec", "web-1", "--", "sh", "-c", "nosuchcmd")
    assert r.returncode == 127
    assert r.stderr.endswith("command terminated with exit code 127\n")


def test_unauthorized_fails_at_discovery(kubectl):
    r = kubectl("--token", "not-a-valid-token", "get", "pods")
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == "error: You must be logged in to the server (Unauthorized)"


def test_viewer_may_list_pods_but_not_namespaces(kubectl):
    assert kubectl("--context", "demo-viewer", "get", "pods").returncode == 0
    r = kubectl("--context", "demo-viewer", "get", "ns")
    assert r.returncode == 1
    assert r.stderr == (
        'Error from server (Forbidden): namespaces is forbidden: User "viewer" cannot list resource '
        '"namespaces" in API group "" at the cluster scope\n'
    )


def test_auth_can_i(kubectl):
    assert kubectl("auth", "can-i", "create", "pods/exec").stdout.strip() == "yes"
    viewer = kubectl("--context", "demo-viewer", "auth", "can-i", "create", "pods/exec")
    assert (viewer.returncode, viewer.stdout.strip()) == (1, "no")
    assert kubectl("--context", "demo-viewer", "auth", "can-i", "list", "pods").stdout.strip() == "yes"


def test_spdy_only_kubectl_gets_a_clear_refusal(kubectl):
    r = kubectl("exec", "web-0", "--", "true", env={"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"})
    assert r.returncode == 1
    assert r.stderr.startswith("error: unable to upgrade connection: this demo cluster serves pods/exec")
    assert "WebSocket only" in r.stderr
