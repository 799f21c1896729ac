"""Pod Security admission (``demo/podsecurity.py``): a pod that asks for the host is refused, in the
apiserver's words, before anything is stored — through the real kubectl.

The texts are pod-security-admission's (``staging/src/k8s.io/pod-security-admission/policy/check_*.go``,
joined as ``AggregateCheckResult.ForbiddenDetail`` does); the restricted one is the example of the
Kubernetes documentation's "Enforce Pod Security Standards with Namespace Labels" tutorial.
"""

from __future__ import annotations

import re
import time

import pytest
from demo_helpers import ADMIN_SCENARIO
from kubectl_runner import Kubectl

from k8sterm_widget.demo import cluster
from k8sterm_widget.demo.podsecurity import evaluate, level_of, violation

SCENARIO = (
    ADMIN_SCENARIO
    + """  - apiVersion: v1
    kind: Pod
    metadata: {name: web-0, namespace: demo}
    spec:
      containers:
        - {name: nginx, image: "nginx:1.27"}
"""
)

HOSTILE = """
apiVersion: v1
kind: Pod
metadata: {name: evil}
spec:
  hostNetwork: true
  hostPID: true
  hostIPC: true
  containers:
  - name: main
    image: busybox:1.36
    command: [sleep, infinity]
    ports: [{containerPort: 80, hostPort: 8080}]
    securityContext:
      privileged: true
      capabilities: {add: [SYS_ADMIN, SYS_PTRACE, NET_ADMIN, CHOWN]}
      procMount: Unmasked
    volumeMounts: [{name: host, mountPath: /host}]
  volumes:
  - name: host
    hostPath: {path: /}
"""


@pytest.fixture(scope="module")
def kctl(kubectl, tmp_path_factory):
    path = tmp_path_factory.mktemp("podsecurity") / "scenario.yaml"
    path.write_text(SCENARIO)
    with cluster(path) as c:
        yield Kubectl(kubeconfig=c.kubeconfig, home=tmp_path_factory.mktemp("kubectl-podsecurity"))


def test_a_pod_that_asks_for_the_host_is_refused_and_not_stored(kctl):
    run = kctl("apply", "-f", "-", input=HOSTILE)
    assert run.returncode == 1
    assert run.stderr == (
        'Error from server (Forbidden): error when creating "STDIN": pods "evil" is forbidden: violates '
        'PodSecurity "baseline:latest": host namespaces (hostNetwork=true, hostPID=true, hostIPC=true), '
        'hostPort (container "main" uses hostPort 8080), '
        'privileged (container "main" must not set securityContext.privileged=true), '
        'procMount (container "main" must not set securityContext.procMount to "Unmasked"), '
        'non-default capabilities (container "main" must not include "NET_ADMIN", "SYS_ADMIN" '
        'in securityContext.capabilities.add), hostPath volumes (volume "host")\n'
    )
    assert kctl("get", "pod", "evil").stderr == 'Error from server (NotFound): pods "evil" not found\n'
    # one thing at a time, as a tutorial reader would try it
    only_volume = HOSTILE.replace("  hostNetwork: true\n  hostPID: true\n  hostIPC: true\n", "")
    for line in ("ports:", "privileged:", "capabilities:", "procMount:"):
        only_volume = "\n".join(x for x in only_volume.split("\n") if line not in x)
    run = kctl("apply", "-f", "-", input=only_volume)
    assert run.stderr.endswith('violates PodSecurity "baseline:latest": hostPath volumes (volume "host")\n')


def test_kubectl_debug_of_the_node_or_as_sysadmin_is_refused(kctl):
    node = kctl("debug", "node/demo-control-plane", "--image=busybox:1.36", "--", "true")
    assert re.search(
        r'pods "node-debugger-demo-control-plane-\w+" is forbidden: violates PodSecurity "baseline:latest": '
        r"host namespaces \(hostNetwork=true, hostPID=true, hostIPC=true\), "
        r'hostPath volumes \(volume "host-root"\)\n$',
        node.stderr,
    ), node.stderr
    debug = kctl("debug", "web-0", "--image=busybox:1.36", "--profile=sysadmin", "--", "true")
    assert re.search(
        r'Error from server \(Forbidden\): pods "web-0" is forbidden: '
        r'violates PodSecurity "baseline:latest": privileged '
        r'\(container "debugger-\w+" must not set securityContext.privileged=true\)\n$',
        debug.stderr,
    ), debug.stderr
    # the default profile is what baseline allows
    general = kctl("debug", "web-0", "--image=busybox:1.36", "--", "true")
    assert general.returncode == 0, general.stderr


def test_namespace_labels_may_make_it_stricter_not_looser(kctl):
    for name, level in (("loose", "privileged"), ("strict", "restricted")):
        assert kctl("create", "namespace", name).returncode == 0
        label = kctl("label", "namespace", name, f"pod-security.kubernetes.io/enforce={level}")
        assert label.returncode == 0, label.stderr
    loose = kctl("apply", "-n", "loose", "-f", "-", input=HOSTILE)
    assert 'pods "evil" is forbidden: violates PodSecurity "baseline:latest": host namespaces' in loose.stderr
    strict = kctl("run", "x", "-n", "strict", "--image=busybox:1.36", "--", "sleep", "1d")
    assert strict.stderr == (
        'Error from server (Forbidden): pods "x" is forbidden: violates PodSecurity "restricted:latest": '
        "allowPrivilegeEscalation != false "
        '(container "x" must set securityContext.allowPrivilegeEscalation=false), '
        'unrestricted capabilities (container "x" must set securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "x" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "x" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")\n'
    )
    # an ordinary pod runs where the label is looser than the floor
    assert kctl("run", "ok", "-n", "loose", "--image=busybox:1.36", "--", "sleep", "1d").returncode == 0


def test_a_workload_is_stored_but_its_pods_are_refused_with_an_event(kctl):
    deployment = kctl(
        "create", "deployment", "priv", "--image=busybox:1.36", "--dry-run=client", "-o", "json"
    )
    manifest = deployment.stdout.replace(
        '"name": "busybox",', '"name": "busybox", "securityContext": {"privileged": true},'
    )
    assert kctl("apply", "-f", "-", input=manifest).returncode == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = kctl(
            "get", "events", "--field-selector", "reason=FailedCreate", "-o", "jsonpath={.items[*].message}"
        )
        if events.stdout:
            break
        time.sleep(0.2)
    assert re.match(
        r'Error creating: pods "priv-\w+-\w+" is forbidden: violates PodSecurity "baseline:latest": '
        r'privileged \(container "busybox" must not set securityContext.privileged=true\)',
        events.stdout,
    ), events.stdout
    assert kctl("get", "pods", "-l", "app=priv", "-o", "name").stdout == ""


@pytest.mark.parametrize(
    ("spec", "failed"),
    [
        ({"securityContext": {"sysctls": [{"name": "kernel.shm_rmid_forced"}, {"name": "kernel.msgmax"},
                                          {"name": "net.core.somaxconn"}]}},
         [("forbidden sysctls", "kernel.msgmax, net.core.somaxconn")]),
        ({"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
         [("seccompProfile", 'pod must not set securityContext.seccompProfile.type to "Unconfined"')]),
        ({"containers": [
            {"name": "a", "livenessProbe": {"httpGet": {"host": "127.0.0.1", "port": 8888}}},
            {"name": "b", "lifecycle": {"preStop": {"tcpSocket": {"host": "10.0.0.1", "port": 1}}}},
        ]},
         [("probe or lifecycle host",
           'containers "a", "b" use probe or lifecycle hosts "10.0.0.1", "127.0.0.1"')]),
        ({"containers": [
            {"name": "a", "securityContext": {"seLinuxOptions": {"type": "spc_t", "user": "u"}}},
        ]},
         [("seLinuxOptions",
           'container "a" set forbidden securityContext.seLinuxOptions: type "spc_t"; user may not be set')]),
        ({"volumes": [{"name": "g", "gitRepo": {"repository": "x"}}, {"name": "e", "emptyDir": {}}]},
         [("restricted volume types", 'volume "g" uses restricted volume type "gitRepo"')]),
        ({"containers": [{"name": "a", "securityContext": {"windowsOptions": {"hostProcess": True}}}]},
         [("hostProcess", 'container "a" must not set securityContext.windowsOptions.hostProcess=true')]),
        ({"containers": [
            {"name": "a", "securityContext": {"capabilities": {"add": ["NET_BIND_SERVICE", "CHOWN"]}}},
        ]},
         []),  # the default set may be added back
    ],
)  # fmt: skip
def test_baseline_checks_as_upstream_words_them(spec, failed):
    assert evaluate({"metadata": {}, "spec": spec}, "baseline") == failed


def test_the_floor_and_the_version_label():
    assert level_of(None) == ("baseline", "latest", True)
    ns = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    assert level_of(ns) == ("baseline", "latest", True)
    ns["metadata"]["labels"] |= {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "v1.30",
    }
    assert level_of(ns) == ("restricted", "v1.30", False)
    # SYS_PTRACE (kubectl debug's default profile) passes the floor, not a namespace labelled baseline
    debugger = {"metadata": {}, "spec": {"ephemeralContainers": [
        {"name": "debugger-x", "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}}}]}}  # fmt: skip
    assert evaluate(debugger, "baseline", ptrace=True) == []
    refused = 'container "debugger-x" must not include "SYS_PTRACE" in securityContext.capabilities.add'
    assert evaluate(debugger, "baseline") == [("non-default capabilities", refused)]


def test_a_privileged_namespace_may_use_host_path_volumes_and_nothing_else():
    """hostPath is the node's own file system in the demo (demo/volumes.py), so a namespace labelled
    privileged gets it; host namespaces and privileged containers stay refused there."""
    volumes = [{"name": "data", "hostPath": {"path": "/data"}}]
    host_path = {"metadata": {}, "spec": {"containers": [{"name": "c"}], "volumes": volumes}}
    refused = 'violates PodSecurity "baseline:latest": hostPath volumes (volume "data")'
    assert violation(host_path, None) == refused
    for level in ("baseline", "restricted"):
        ns = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": level}}}
        assert violation(host_path, ns) is not None
    privileged = {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "privileged"}}}
    assert violation(host_path, privileged) is None
    host_path["spec"]["hostPID"] = True
    assert violation(host_path, privileged) == (
        'violates PodSecurity "baseline:latest": host namespaces (hostPID=true)'
    )
