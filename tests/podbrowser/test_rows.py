"""A pod's row as the pod browser shows it (k8sterm_widget/browser/rows.py): kubectl's columns, pure."""

from __future__ import annotations

import pytest

from k8sterm_widget.browser.rows import containers, human_duration, pod_row, pod_status


def status(name, state, **extra):
    return {"name": name, "state": state, **extra}


def test_kinds_states_and_what_can_have_a_shell():
    pod = {
        "metadata": {"name": "p", "namespace": "n", "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": {
            "nodeName": "node",
            "initContainers": [
                {"name": "setup", "image": "i"},
                {"name": "proxy", "image": "i", "restartPolicy": "Always"},
            ],
            "containers": [{"name": "app", "image": "i"}],
            "ephemeralContainers": [
                {"name": "debugger-x", "image": "b", "stdin": True, "targetContainerName": "app"}
            ],
        },
        "status": {
            "phase": "Running",
            "initContainerStatuses": [
                status("setup", {"terminated": {"exitCode": 0, "reason": "Completed"}}),
                status("proxy", {"running": {}}, ready=True, started=True, restartCount=2),
            ],
            "containerStatuses": [status("app", {"waiting": {"reason": "CrashLoopBackOff"}}, restartCount=5)],
            "ephemeralContainerStatuses": [status("debugger-x", {"running": {}})],
        },
    }
    entries = {c["name"]: c for c in containers(pod)}
    assert [c["name"] for c in containers(pod)] == ["app", "setup", "proxy", "debugger-x"]
    assert entries["setup"]["kind"] == "init" and not entries["setup"]["execable"]
    assert entries["proxy"]["kind"] == "sidecar" and entries["proxy"]["execable"]
    assert entries["app"]["reason"] == "CrashLoopBackOff" and not entries["app"]["execable"]
    assert entries["debugger-x"]["kind"] == "ephemeral" and entries["debugger-x"]["attachable"]
    r = pod_row(pod)
    assert (r["status"], r["ready"], r["restarts"], r["default"]) == ("CrashLoopBackOff", "1/2", 7, "app")
    pod["metadata"]["deletionTimestamp"] = "2024-01-01T00:01:00Z"
    assert pod_status(pod) == "Terminating" and not any(c["execable"] for c in containers(pod))


def test_init_status_like_kubectl():
    pod = {
        "spec": {"initContainers": [{"name": "a"}, {"name": "b"}], "containers": [{"name": "c"}]},
        "status": {
            "phase": "Pending",
            "initContainerStatuses": [
                status("a", {"terminated": {"exitCode": 0}}),
                status("b", {"running": {}}),
            ],
        },
    }
    assert pod_status(pod) == "Init:1/2"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"),
     (3 * 86400 + 7200, "3d2h"), (400 * 86400, "400d"), (3 * 365 * 86400 + 86400, "3y1d")],
)  # fmt: skip
def test_age_like_kubectl(seconds, text):
    assert human_duration(seconds) == text
