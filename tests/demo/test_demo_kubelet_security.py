"""A container's securityContext through the real kubectl (``demo/kubelet_security.py``, ``runtime/caps.py``).

Before, the demo ignored it: ``runAsUser: 1000`` ran as root, ``capabilities.drop: [ALL]`` kept all 14 of
containerd's, ``readOnlyRootFilesystem`` left ``/`` writable — a pod that asked for less privilege got
more. What a container gets now is containerd's (``WithUserID``, ``WithAdditionalGIDs``, the CRI plugin's
capability order; a non-root process has no effective capabilities, there being no ambient ones) and the
kubelet's refusals are its texts (``verifyRunAsNonRoot``). The first pod is the Kubernetes documentation's
"Configure a Security Context for a Pod or Container" example.

Needs a uid range for pods (root with user namespaces): without root only uid 0 exists in containers.
"""

from __future__ import annotations

import time

import pytest
from demo_helpers import ADMIN_SCENARIO
from kubectl_runner import Kubectl

from k8sterm_widget.demo import cluster
from k8sterm_widget.demo.runtime.isolation import probe

ISOLATION = probe()
pytestmark = pytest.mark.skipif(
    ISOLATION.mode != "namespaces" or ISOLATION.users == "own",
    reason=f"containers have uid 0 only here ({ISOLATION.users or ISOLATION.reason})",
)

SCENARIO = (
    ADMIN_SCENARIO
    + """  - apiVersion: v1
    kind: Pod
    metadata: {name: security-context-demo, namespace: demo}
    spec:
      securityContext: {runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000, supplementalGroups: [4000]}
      containers:
      - name: sec-ctx-demo
        image: busybox:1.28
        command: ["sh", "-c", "sleep 1h"]
        securityContext: {allowPrivilegeEscalation: false}
      - name: override
        image: busybox:1.28
        command: ["sh", "-c", "sleep 1h"]
        securityContext: {runAsUser: 2000}
  - apiVersion: v1
    kind: Pod
    metadata: {name: caps, namespace: demo}
    spec:
      containers:
      - name: none
        image: busybox:1.36
        command: [sleep, infinity]
        securityContext: {capabilities: {drop: [ALL]}}
      - name: ptrace
        image: busybox:1.36
        command: [sleep, infinity]
        securityContext: {capabilities: {add: [SYS_PTRACE], drop: [NET_RAW]}}
      - name: readonly
        image: busybox:1.36
        command: [sleep, infinity]
        securityContext: {readOnlyRootFilesystem: true}
"""
)


@pytest.fixture(scope="module")
def kctl(kubectl, tmp_path_factory):
    path = tmp_path_factory.mktemp("kubelet-security") / "scenario.yaml"
    path.write_text(SCENARIO)
    with cluster(path) as c:
        yield Kubectl(kubeconfig=c.kubeconfig, home=tmp_path_factory.mktemp("kubectl-kubelet-security"))


def sh(kctl, pod: str, container: str, script: str):
    return kctl("exec", pod, "-c", container, "--", "sh", "-c", script)


def test_run_as_user_group_and_supplemental_groups(kctl):
    # the documentation's output: uid=1000 gid=3000 groups=2000,3000,4000
    assert sh(kctl, "security-context-demo", "sec-ctx-demo", "id").stdout == (
        "uid=1000 gid=3000 groups=2000,3000,4000\n"
    )
    ps = sh(kctl, "security-context-demo", "sec-ctx-demo", "ps").stdout.splitlines()
    assert ps[1].split()[:2] == ["1", "1000"], ps  # the main process, too
    # a container's own runAsUser wins over the pod's
    assert sh(kctl, "security-context-demo", "override", "id").stdout == (
        "uid=2000 gid=3000 groups=2000,3000,4000\n"
    )
    # not root: no capabilities after exec, root's files stay root's, HOME from passwd or /
    run = sh(kctl, "security-context-demo", "sec-ctx-demo", "grep CapEff /proc/self/status; echo $HOME; "
             "touch /etc/x 2>&1; echo hi > /tmp/mine && ls -n /tmp/mine")  # fmt: skip
    lines = run.stdout.splitlines()
    assert lines[:3] == ["CapEff:\t0000000000000000", "/", "touch: /etc/x: Permission denied"], lines
    assert lines[3].split()[2:4] == ["1000", "3000"], lines


def test_capabilities_are_dropped_and_added_as_containerd_does(kctl):
    status = "grep -E 'Cap(Eff|Bnd)' /proc/self/status"
    assert sh(kctl, "caps", "none", status).stdout == "CapEff:\t0000000000000000\nCapBnd:\t0000000000000000\n"
    assert "Operation not permitted" in sh(kctl, "caps", "none", "chown 1 /tmp 2>&1").stdout  # no CAP_CHOWN
    # SYS_PTRACE (bit 19) added, NET_RAW (bit 13) dropped: 0xa80425fb + 0x80000 - 0x2000
    assert (
        sh(kctl, "caps", "ptrace", status).stdout == "CapEff:\t00000000a80c05fb\nCapBnd:\t00000000a80c05fb\n"
    )
    assert sh(kctl, "caps", "ptrace", "ping -c 1 -W 1 127.0.0.1 >/dev/null 2>&1; echo $?").stdout != "0\n"


def test_read_only_root_file_system(kctl):
    run = sh(kctl, "caps", "readonly", "touch /x /tmp/x 2>&1; echo > /dev/shm/ok && echo shm-ok")
    assert run.stdout == (
        "touch: /x: Read-only file system\ntouch: /tmp/x: Read-only file system\nshm-ok\n"
    ), run.stdout


def test_run_as_non_root_with_a_root_image_is_the_kubelets_config_error(kctl):
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: app, image: busybox:1.36, command: [sleep, infinity]}
"""
    assert kctl("apply", "-n", "demo", "-f", "-", input=manifest).returncode == 0
    uid = kctl("get", "pod", "nonroot", "-n", "demo", "-o", "jsonpath={.metadata.uid}").stdout
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        waiting = kctl("get", "pod", "nonroot", "-n", "demo", "-o",
                       "jsonpath={.status.containerStatuses[0].state.waiting}").stdout  # fmt: skip
        if "CreateContainerConfigError" in waiting:
            break
        time.sleep(0.2)
    assert (
        f'"message":"container has runAsNonRoot and image will run as root (pod: \\"nonroot_demo({uid})\\", '
        'container: app)","reason":"CreateContainerConfigError"'
    ) in waiting, waiting


def test_a_pod_that_meets_restricted_runs_as_asked(kctl):
    assert kctl("create", "namespace", "strict").returncode == 0
    kctl("label", "namespace", "strict", "pod-security.kubernetes.io/enforce=restricted")
    manifest = """
apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, infinity]
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
"""
    created = kctl("apply", "-n", "strict", "-f", "-", input=manifest)
    assert created.returncode == 0, created.stderr
    ready = kctl("wait", "-n", "strict", "--for=condition=Ready", "pod/good", "--timeout=20s")
    assert ready.returncode == 0, ready.stderr
    run = kctl("exec", "-n", "strict", "good", "--", "sh", "-c", "id; grep NoNewPrivs /proc/self/status")
    assert run.stdout == "uid=1000 gid=0(root) groups=0(root)\nNoNewPrivs:\t1\n"
