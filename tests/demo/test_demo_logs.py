"""``pods/log`` (``kubectl logs``) and ``kubectl attach`` to regular containers, on a scenario of its own."""

from __future__ import annotations

import re
import subprocess
import time

import pexpect
import pytest
import yaml
from demo_helpers import api

from k8sterm_widget.demo import cluster, scenario

SCENARIO = """
namespace: lab
users:
  - name: admin
    rules: [{verbs: ["*"], resources: ["*"]}, {verbs: ["*"], nonResourceURLs: ["*"]}]
  - name: viewer
    rules: [{verbs: [get, list, watch], resources: [pods, pods/log]}]
namespaces:
  - name: lab
    pods:
      - name: logger
        containers:
          - name: main
            image: "busybox:1.36"
            command:
              - sh
              - -c
              - "for i in 1 2 3 4 5; do echo line $i; done; sleep 0.2; echo oops >&2; sleep infinity"
          - {name: side, image: "busybox:1.36", command: [sh, -c, "echo side; sleep infinity"]}
      - name: ticker
        containers:
          - name: main
            image: "busybox:1.36"
            command: [sh, -c, "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done"]
      - name: console
        containers:
          - {name: shell, image: "busybox:1.36", tty: true, stdin: true}
      - name: flaky
        containers:
          - name: app
            image: "busybox:1.36"
            command: [sh, -c, "echo run $(cat /proc/uptime); sleep 0.3; exit 1"]
      - name: noimage
        containers:
          - {name: app, image: "registry.invalid/nothing:1"}
"""
#: The shipped scenario's frozen pods, as tutorials meet them (moved to this module's namespace).
FROZEN = [
    {**m, "metadata": {**m["metadata"], "namespace": "lab"}}
    for m in scenario.load().manifests
    if m["kind"] == "Pod" and m["metadata"]["name"] in ("completed", "crashloop")
]


@pytest.fixture(scope="module")
def logs_cluster(tmp_path_factory):
    path = tmp_path_factory.mktemp("logs-scenario") / "scenario.yaml"
    path.write_text(SCENARIO + yaml.safe_dump({"manifests": FROZEN}))
    with cluster(scenario=path) as c:
        deadline = time.monotonic() + 10  # logger's stderr line comes 0.2 s after its stdout lines
        while b"oops" not in _log(c, "logger", container="main").content and time.monotonic() < deadline:
            time.sleep(0.05)
        yield c


@pytest.fixture(scope="module")
def kctl(logs_cluster, kubectl, tmp_path_factory):
    return type(kubectl)(kubeconfig=logs_cluster.kubeconfig, home=tmp_path_factory.mktemp("kubectl-logs"))


def _log(c, pod: str, **params: str):
    return api(c, "GET", f"/api/v1/namespaces/lab/pods/{pod}/log", params=params)


def test_kubectl_logs(kctl):
    r = kctl("logs", "logger")
    assert (r.returncode, r.stdout) == (0, "line 1\nline 2\nline 3\nline 4\nline 5\noops\n")
    assert r.stderr == 'Defaulted container "main" out of: main, side\n'
    assert kctl("logs", "logger", "-c", "side").stdout == "side\n"
    assert kctl("logs", "logger", "-c", "main", "--tail=2").stdout == "line 5\noops\n"
    assert kctl("logs", "logger", "-c", "main", "--limit-bytes=10").stdout == "line 1\nlin"
    assert kctl("logs", "logger", "-c", "main", "--since=1h", "--tail=1").stdout == "oops\n"
    assert kctl("logs", "logger", "-c", "main", "--since-time=2099-01-01T00:00:00Z").stdout == ""
    stamped = kctl("logs", "logger", "-c", "main", "--timestamps", "--tail=2").stdout
    assert re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (line 5|oops)\n){2}", stamped), stamped
    assert kctl("--context", "demo-viewer", "logs", "logger", "-c", "side").stdout == "side\n"
    r = kctl("logs", "logger", "-c", "nope")
    assert (r.returncode, r.stderr) == (
        1,
        "error: container nope is not valid for pod logger out of: main, side\n",
    )


def test_log_refusals(logs_cluster, kctl):
    c = logs_cluster
    r = _log(c, "logger", container="main", tailLines="-1")
    assert (r.status_code, r.json()["message"]) == (
        422,
        'PodLogOptions "logger" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0',
    )
    assert _log(c, "logger", container="main", limitBytes="x").status_code == 400
    assert _log(c, "nope").json()["message"] == 'pods "nope" not found'
    assert _log(c, "logger").json()["message"] == (
        "a container name must be specified for pod logger, choose one of: [main side]"
    )
    r = kctl("logs", "logger", "-c", "main", "--previous")
    assert (r.returncode, r.stderr) == (
        1,
        'Error from server (BadRequest): previous terminated container "main" in pod "logger" not found\n',
    )
    deadline = time.monotonic() + 5
    while "trying and failing" not in (r := kctl("logs", "noimage")).stderr and time.monotonic() < deadline:
        time.sleep(0.2)
    assert r.stderr == (
        'Error from server (BadRequest): container "app" in pod "noimage" is waiting to start: '
        "trying and failing to pull image\n"
    )


def test_previous_run_after_a_restart(logs_cluster, kctl):
    def status() -> dict:
        pod = api(logs_cluster, "GET", "/api/v1/namespaces/lab/pods/flaky").json()
        return pod["status"]["containerStatuses"][0]

    deadline = time.monotonic() + 10
    while not (status()["restartCount"] >= 1 and "waiting" in status()["state"]):  # two runs, backing off
        assert time.monotonic() < deadline, status()
        time.sleep(0.1)
    # Backing off, the container's current log and its previous one are both the last run's (the kubelet's
    # rule: a waiting container's logs are those of its last terminated instance).
    current, previous = kctl("logs", "flaky").stdout, kctl("logs", "flaky", "--previous").stdout
    assert re.fullmatch(r"run [\d.]+ [\d.]+\n", current) and previous == current


def test_frozen_scenario_pods_log_what_their_commands_printed(logs_cluster, kctl):
    # On kind these pods really ran: `sh -c "echo done"` completed, `sh -c "echo starting; exit 1"` crashed
    # six times.  The kubelet's validateContainerLogStatus (pkg/kubelet/kubelet_pods.go) shows a terminated
    # container's own run; for a waiting one — current or --previous — the run of lastState.terminated; and
    # refuses --previous without a last termination.
    assert [m["metadata"]["name"] for m in FROZEN] == ["completed", "crashloop"]
    assert (kctl("logs", "completed").stdout, kctl("logs", "crashloop").stdout) == ("done\n", "starting\n")
    assert kctl("logs", "crashloop", "--previous").stdout == "starting\n"
    assert kctl("logs", "crashloop", "-f").stdout == "starting\n"  # a run that ended: -f returns at once
    r = kctl("logs", "completed", "--previous")
    assert (r.returncode, r.stderr) == (
        1,
        'Error from server (BadRequest): previous terminated container "main" in pod "completed" not found\n',
    )
    # the states stay the ones the scenario gives
    listed = api(logs_cluster, "GET", "/api/v1/namespaces/lab/pods").json()["items"]
    pods = {p["metadata"]["name"]: p for p in listed}
    crash = pods["crashloop"]["status"]["containerStatuses"][0]
    assert (crash["restartCount"], crash["state"]["waiting"]["reason"]) == (6, "CrashLoopBackOff")
    assert crash["lastState"]["terminated"]["exitCode"] == 1
    assert pods["completed"]["status"]["phase"] == "Succeeded"


def test_follow_streams_until_the_client_leaves(logs_cluster, kctl):
    proc = subprocess.Popen(
        kctl.argv("logs", "-f", "ticker"), env=kctl.env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        seen = [int(proc.stdout.readline().split()[1]) for _ in range(30)]
        assert seen == list(range(seen[0], seen[0] + 30))  # old lines, then new ones, none twice
    finally:
        proc.kill()
        proc.wait()
    limited = _log(logs_cluster, "ticker", follow="true", limitBytes="200")
    assert len(limited.content) == 200  # the limit ends a followed stream too


def test_kubectl_attach_to_a_regular_container(logs_cluster, kctl):
    argv = kctl.argv("attach", "-it", "console")
    child = pexpect.spawn(argv[0], argv[1:], env=kctl.env, dimensions=(30, 100), timeout=20, encoding="utf-8")
    try:
        child.expect_exact("If you don't see a command prompt, try pressing enter.")
        child.sendline("echo attached-$((6*7))")
        child.expect_exact("attached-42")
        child.sendline("exit 0")
        child.expect_exact(
            "Session ended, resume using 'kubectl attach console -c shell -n lab -i -t' command"
        )
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
    proc = subprocess.Popen(kctl.argv("attach", "ticker"), env=kctl.env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first, second = proc.stdout.readline(), proc.stdout.readline()
        assert re.fullmatch(r"tick \d+\n", first) and int(second.split()[1]) == int(first.split()[1]) + 1
    finally:
        proc.kill()
        proc.wait()
