"""Debug containers, the cluster side as units (k8sterm_widget/kube/ephemeral.py): the container kubectl
adds, its name, and its state as the pod reports it. The end-to-end checks are test_debug_kernel.py (a
demo cluster) and test_debug_jupyterlab.py (the "Debug with busybox" offer in JupyterLab)."""

from __future__ import annotations

import re

from k8sterm_widget.kube.ephemeral import all_names, debugger_name, ephemeral_container, ephemeral_state


def test_the_container_spec_is_kubectls():
    spec = ephemeral_container("debugger-abcde", "busybox:1.36", "app")
    assert spec["securityContext"] == {"capabilities": {"add": ["SYS_PTRACE"]}}  # kubectl's "general" profile
    assert spec["stdin"] and spec["tty"] and spec["targetContainerName"] == "app"
    assert spec["env"] == [{"name": "TERM", "value": "xterm-256color"}]
    assert "command" not in ephemeral_container("d", "busybox:1.36", None)
    untargeted = ephemeral_container("d", "busybox:1.36", None, ["sleep", 5])
    assert "targetContainerName" not in untargeted and untargeted["command"] == ["sleep", "5"]


def test_names_use_kubectls_alphabet_and_never_repeat_one_taken():
    assert re.fullmatch(r"debugger-[bcdfghjklmnpqrstvwxz2456789]{5}", debugger_name())
    taken = [debugger_name() for _ in range(50)]
    assert debugger_name(taken) not in taken


def test_the_state_of_an_ephemeral_container_as_the_pod_reports_it():
    pod = {
        "spec": {
            "containers": [{"name": "app"}],
            "initContainers": [{"name": "init"}],
            "ephemeralContainers": [{"name": "new"}, {"name": "up"}, {"name": "pulling"}, {"name": "done"}],
        },
        "status": {
            "ephemeralContainerStatuses": [
                {"name": "up", "state": {"running": {}}},
                {
                    "name": "pulling",
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "no such image"}},
                },
                {"name": "done", "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
            ]
        },
    }
    assert all_names(pod) == ["app", "init", "new", "up", "pulling", "done"]
    assert ephemeral_state(pod, "up") == ("running", "", "")
    assert ephemeral_state(pod, "pulling") == ("waiting", "ErrImagePull", "no such image")
    assert ephemeral_state(pod, "done") == ("terminated", "Completed", "exit code 0")
    assert ephemeral_state(pod, "new") == ("waiting", "Pending", "")  # added, no status yet
    assert ephemeral_state(pod, "other") == ("absent", "", "")
