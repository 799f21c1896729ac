"""Starting, stopping and restarting the demo cluster; the CLI; user scenarios; container restarts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from demo_helpers import api

from k8sterm_widget.demo import DemoCluster, cluster
from k8sterm_widget.demo.scenario import ScenarioError, load

SCENARIO = """
node: test-node
namespace: lab
users:
  - name: admin
    rules: [{verbs: ["*"], resources: ["*"]}, {verbs: ["*"], nonResourceURLs: ["*"]}]
namespaces:
  - name: lab
    pods:
      - name: flaky
        containers:
          - {name: app, image: "busybox:1.36", command: [sh, -c, "sleep 0.3; exit 2"]}
      - name: once
        restartPolicy: Never
        containers:
          - {name: app, image: "busybox:1.36", command: [sh, -c, "exit 1"]}
      - name: noimage
        containers:
          - {name: app, image: "registry.invalid/nothing:1"}
      - name: init
        initContainers:
          - {name: wait, image: "busybox:1.36", command: [sleep, "30"]}
        containers:
          - {name: app, image: "nginx:1.27"}
"""


def _pod(c: DemoCluster, name: str) -> dict:
    return api(c, "GET", f"/api/v1/namespaces/lab/pods/{name}").json()


def _wait(pred, timeout: float = 8.0):
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def _descendants() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def test_restart_on_the_same_state_dir_keeps_url_and_credentials(tmp_path):
    before = _descendants()
    with cluster(state_dir=tmp_path) as first:
        url, token, kubeconfig = first.server, first.token("admin"), Path(first.kubeconfig).read_text()
        assert oct(os.stat(first.kubeconfig).st_mode & 0o777) == "0o600"
        assert first.context == "demo-admin"
    with cluster(state_dir=tmp_path) as second:
        assert (second.server, second.token("admin")) == (url, token)
        assert Path(second.kubeconfig).read_text() == kubeconfig
        assert api(second, "GET", "/api/v1/namespaces/demo/pods/web-0").status_code == 200
    assert (tmp_path / "ca.crt").exists()  # a caller's state dir is kept
    assert _wait(lambda: _descendants() <= before)


def test_stop_is_idempotent_and_temp_state_is_removed():
    c = DemoCluster().start()
    state = c.state_dir
    c.stop()
    c.stop()
    assert not state.exists() and not c.running


def test_bad_scenarios_fail_at_load(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("users: [{name: a}]\nnamespaces: [{name: Bad_NS}]\n")
    with pytest.raises(ScenarioError, match=r"namespaces\[0\]\.name"):
        load(bad)
    assert load().namespace == "demo"


def test_user_scenario_lifecycle(tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    with cluster(scenario=path) as c:
        assert c.context == "demo-admin"
        # a container that keeps exiting: restarted at once, then CrashLoopBackOff with the kubelet's
        # back-off, the restart count still that of the container that exited
        flaky = _wait(
            lambda: (
                "waiting" in (p := _pod(c, "flaky"))["status"]["containerStatuses"][0]["state"]
                and p["status"]["containerStatuses"][0]["restartCount"] >= 1
                and p
            )
        )
        status = flaky["status"]["containerStatuses"][0]
        assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
        assert re.fullmatch(
            r"back-off \d+s restarting failed container=app pod=flaky_lab\([-0-9a-f]{36}\)",
            status["state"]["waiting"]["message"],
        )
        assert status["lastState"]["terminated"]["exitCode"] == 2
        assert flaky["status"]["phase"] == "Running"
        # restartPolicy Never: the pod fails for good
        once = _wait(lambda: (p := _pod(c, "once"))["status"]["phase"] == "Failed" and p)
        assert once["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] == "Error"
        # an image the runtime does not know is what a kubelet cannot pull
        noimage = _wait(lambda: "ImagePullBackOff" in str(p := _pod(c, "noimage")) and p)
        assert noimage["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == (
            'Back-off pulling image "registry.invalid/nothing:1"'
        )
        # an init container still running: Init:0/1, the app container waits for PodInitializing
        table = api(
            c,
            "GET",
            "/api/v1/namespaces/lab/pods",
            headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
        ).json()
        cells = {row["cells"][0]: row["cells"] for row in table["rows"]}
        assert cells["init"][1:3] == ["0/1", "Init:0/1"]
        assert cells["noimage"][2] == "ImagePullBackOff" and cells["once"][2] == "Error"


def _run_cli(argv: list[str], tmp_path: Path) -> None:
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    lines = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        text = "".join(lines)
        assert "export KUBECONFIG=" in text, text
        kubeconfig = text.split("export KUBECONFIG=", 1)[1].split()[0]
        assert Path(kubeconfig).exists()
        pids = {p.pid for p in psutil.Process(proc.pid).children(recursive=True)}
        assert pids, "the cluster runs containers"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "Stopping the demo cluster" in proc.stdout.read()
        assert not any(
            psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_k8sterm_cluster_cli(tmp_path):
    _run_cli(
        [str(Path(sys.executable).parent / "k8sterm"), "cluster", "--state-dir", str(tmp_path / "s")],
        tmp_path,
    )


def test_python_m_demo(tmp_path):
    _run_cli([sys.executable, "-m", "k8sterm_widget.demo"], tmp_path)
