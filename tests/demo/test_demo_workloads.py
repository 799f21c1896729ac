"""Workloads and their controllers (``k8sterm_widget/demo/controllers``) through real kubectl: what the
Kubernetes Basics tutorial and the workload pages of kubernetes.io do, and what kubectl prints for them.

A cluster of its own (an empty scenario), so nothing here changes what the shared cluster's tests see.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from kubectl_runner import Kubectl

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.scenario import parse
from k8sterm_widget.demo.tables import parse_time

SCENARIO = {
    "namespace": "default",
    "users": [
        {
            "name": "admin",
            "rules": [{"verbs": ["*"], "resources": ["*"]}, {"verbs": ["*"], "nonResourceURLs": ["*"]}],
        }
    ],
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    c = DemoCluster(parse(SCENARIO), state_dir=tmp_path_factory.mktemp("workloads-cluster"))
    c.start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def k(cluster: DemoCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("workloads-kubectl-home"))


def wait_for(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def names(k: Kubectl, *args: str) -> list[str]:
    return k("get", *args, "-o", "name").stdout.split()


def ok(r) -> str:  # type: ignore[no-untyped-def]
    assert r.returncode == 0, r.stderr
    return str(r.stdout)


def test_deployment_scale_update_undo_restart(k: Kubectl) -> None:
    assert (
        ok(k("create", "deployment", "bootcamp", "--image=nginx:1.27"))
        == "deployment.apps/bootcamp created\n"
    )
    out = ok(k("rollout", "status", "deployment/bootcamp", "--timeout=30s"))
    assert out.endswith('deployment "bootcamp" successfully rolled out\n')
    rows = ok(k("get", "deployments")).splitlines()
    assert rows[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert rows[1].split()[:4] == ["bootcamp", "1/1", "1", "1"]
    pods = names(k, "pods", "-l", "app=bootcamp")
    assert len(pods) == 1 and pods[0].startswith("pod/bootcamp-")
    assert ok(k("scale", "deployments/bootcamp", "--replicas=4")) == "deployment.apps/bootcamp scaled\n"
    assert wait_for(
        lambda: ok(k("get", "deploy", "bootcamp", "-o", "jsonpath={.status.readyReplicas}")) == "4"
    )
    assert ok(k("set", "image", "deployments/bootcamp", "nginx=nginx:stable")) == (
        "deployment.apps/bootcamp image updated\n"
    )
    ok(k("rollout", "status", "deployment/bootcamp", "--timeout=30s"))
    images = ok(k("get", "pods", "-l", "app=bootcamp", "-o", "jsonpath={.items[*].spec.containers[0].image}"))
    assert wait_for(
        lambda: (
            set(
                ok(
                    k(
                        "get",
                        "pods",
                        "-l",
                        "app=bootcamp",
                        "-o",
                        "jsonpath={.items[*].spec.containers[0].image}",
                    )
                ).split()
            )
            == {"nginx:stable"}
        )
    ), images
    history = ok(k("rollout", "history", "deployment/bootcamp")).splitlines()
    assert history[1].split() == ["REVISION", "CHANGE-CAUSE"] and [h.split()[0] for h in history[2:4]] == [
        "1",
        "2",
    ]
    assert ok(k("rollout", "undo", "deployments/bootcamp")) == "deployment.apps/bootcamp rolled back\n"
    ok(k("rollout", "status", "deployment/bootcamp", "--timeout=30s"))
    image = ok(k("get", "deploy", "bootcamp", "-o", "jsonpath={.spec.template.spec.containers[0].image}"))
    assert image == "nginx:1.27"
    assert ok(k("rollout", "restart", "deployment/bootcamp")) == "deployment.apps/bootcamp restarted\n"
    ok(k("rollout", "status", "deployment/bootcamp", "--timeout=30s"))
    described = ok(k("describe", "deployment", "bootcamp"))
    assert "Scaled up replica set bootcamp-" in described and "deployment-controller" in described
    assert "NewReplicaSetAvailable" in described
    rs = ok(k("get", "rs", "-o", "json"))
    revisions = sorted(int(i["metadata"]["annotations"]["deployment.kubernetes.io/revision"])
                       for i in json.loads(rs)["items"])  # fmt: skip
    assert revisions == [2, 3, 4]  # undo renumbered revision 1 as 3
    assert ok(k("delete", "deployment", "bootcamp")).startswith('deployment.apps "bootcamp" deleted')
    assert wait_for(lambda: not names(k, "pods", "-l", "app=bootcamp") and not names(k, "rs"))


def test_pod_events_and_describe(k: Kubectl) -> None:
    ok(k("run", "probe-me", "--image=busybox:1.36", "--", "sleep", "infinity"))
    assert wait_for(lambda: ok(k("get", "pod", "probe-me", "-o", "jsonpath={.status.phase}")) == "Running")
    described = ok(k("describe", "pod", "probe-me"))
    for reason, text in (
        ("Scheduled", "Successfully assigned default/probe-me to demo-control-plane"),
        ("Pulled", 'Container image "busybox:1.36" already present on machine'),
        ("Created", "Created container: probe-me"),
        ("Started", "Started container probe-me"),
    ):
        assert any(reason in line and text in line for line in described.splitlines()), (reason, described)
    # deletion: SIGTERM, at most the grace period, then SIGKILL; kubectl waits until the pod is gone
    started = time.monotonic()
    ok(k("delete", "pod", "probe-me", "--grace-period=2"))
    assert time.monotonic() - started < 10
    assert k("get", "pod", "probe-me").returncode == 1
    events = ok(k("get", "events", "--field-selector", "involvedObject.name=probe-me"))
    assert "Stopping container probe-me" in events


def test_unschedulable_pod_says_why(k: Kubectl) -> None:
    manifest = """apiVersion: v1
kind: Pod
metadata: {name: greedy}
spec:
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, infinity], resources: {requests: {cpu: "500"}}}
"""
    ok(k("apply", "-f", "-", input=manifest))
    text = "0/1 nodes are available: 1 Insufficient cpu."
    assert wait_for(lambda: text in ok(k("describe", "pod", "greedy")))
    assert "FailedScheduling" in ok(k("get", "events", "--field-selector", "reason=FailedScheduling"))
    ok(k("delete", "pod", "greedy"))


def test_job_runs_to_completion_and_cronjob_makes_jobs(k: Kubectl) -> None:
    ok(k("create", "job", "once", "--image=busybox:1.36", "--", "sh", "-c", "echo hello from the job"))
    ok(k("wait", "--for=condition=complete", "job/once", "--timeout=30s"))
    rows = ok(k("get", "job", "once")).splitlines()
    assert rows[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows[1].split()[:3] == ["once", "Complete", "1/1"]
    assert ok(k("logs", "job/once")) == "hello from the job\n"
    parallel = """apiVersion: batch/v1
kind: Job
metadata: {name: many}
spec:
  completions: 4
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: busybox:1.36, command: [sh, -c, "exit 0"]}]
"""
    ok(k("apply", "-f", "-", input=parallel))
    ok(k("wait", "--for=condition=complete", "job/many", "--timeout=30s"))
    assert ok(k("get", "job", "many", "-o", "jsonpath={.status.succeeded}")) == "4"
    failing = (
        parallel.replace("many", "fails")
        .replace("exit 0", "exit 3")
        .replace("completions: 4", "backoffLimit: 0")
    )
    ok(k("apply", "-f", "-", input=failing))
    ok(k("wait", "--for=condition=failed", "job/fails", "--timeout=30s"))
    described = ok(k("describe", "job", "fails"))
    assert "BackoffLimitExceeded" in described and "Job has reached the specified backoff limit" in described
    ok(k("create", "cronjob", "tick", "--image=busybox:1.36", "--schedule=* * * * *", "--", "true"))
    rows = ok(k("get", "cronjob", "tick")).splitlines()
    assert rows[0].split()[:6] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST"]
    ok(k("create", "job", "from-cron", "--from=cronjob/tick"))
    ok(k("wait", "--for=condition=complete", "job/from-cron", "--timeout=30s"))
    ok(k("delete", "jobs", "--all"))
    assert wait_for(lambda: not names(k, "pods", "-l", "batch.kubernetes.io/job-name"))
    ok(k("delete", "cronjob", "tick"))


def test_every_schedule_ticks_from_the_creation_time(k: Kubectl) -> None:
    # robfig/cron's ConstantDelaySchedule: "@every 2s" ticks at creation + 2 s, + 4 s, ... (not on the
    # clock's even seconds); Jobs are named by the tick's minute, so later ticks of the same minute find
    # their Job there and re-adopt it: lastScheduleTime advances without a new Job, as upstream.
    cronjob = """apiVersion: batch/v1
kind: CronJob
metadata: {name: every}
spec:
  schedule: "@every 2s"
  timeZone: Asia/Kolkata
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: c, image: busybox:1.36, command: [echo, tick]}]
"""
    ok(k("apply", "-f", "-", input=cronjob))
    created = parse_time(ok(k("get", "cronjob", "every", "-o", "jsonpath={.metadata.creationTimestamp}")))
    assert created is not None
    first = f"every-{int(created + 2) // 60}"
    assert wait_for(lambda: names(k, "job", first), timeout=10), ok(k("get", "events"))
    scheduled = ok(
        k(
            "get",
            "job",
            first,
            "-o",
            r"jsonpath={.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}",
        )
    )
    # the scheduled time in spec.timeZone, RFC 3339
    zone = datetime.timezone(datetime.timedelta(hours=5, minutes=30))
    assert scheduled == datetime.datetime.fromtimestamp(created + 2, zone).isoformat()
    ok(k("wait", "--for=condition=complete", f"job/{first}", "--timeout=15s"))
    assert ok(k("logs", f"job/{first}")) == "tick\n"

    def last_schedule() -> float:
        stamp = k("get", "cronjob", "every", "-o", "jsonpath={.status.lastScheduleTime}").stdout
        return parse_time(stamp) or 0.0

    last = wait_for(lambda: last_schedule() > created + 2 and last_schedule(), timeout=10)
    assert last and (last - created) % 2 == 0, (last, created)
    jobs = json.loads(ok(k("get", "jobs", "-o", "json")))["items"]
    ticks = [j for j in jobs if j["metadata"]["name"].startswith("every-")]
    assert ticks and len(ticks) <= 1 + int(last) // 60 - int(created + 2) // 60
    made = k(
        "get", "events", "--field-selector", "involvedObject.name=every,reason=SuccessfulCreate", "-o", "json"
    )
    messages = [e["message"] for e in json.loads(ok(made))["items"]]
    assert f"Created job {first}" in messages and len(messages) == len(ticks)
    ok(k("delete", "cronjob", "every"))
    assert wait_for(lambda: not names(k, "jobs", "-l", "batch.kubernetes.io/job-name"))


def test_daemonset_and_replication_controller(k: Kubectl) -> None:
    ds = """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: a, image: busybox:1.36, command: [sleep, infinity]}]
"""
    ok(k("apply", "-f", "-", input=ds))
    ok(k("rollout", "status", "ds/agent", "--timeout=30s"))
    rows = ok(k("get", "ds", "agent")).splitlines()
    assert rows[1].split()[:6] == ["agent", "1", "1", "1", "1", "1"]
    ok(k("delete", "ds", "agent"))
    rc = """apiVersion: v1
kind: ReplicationController
metadata: {name: legacy}
spec:
  replicas: 2
  selector: {app: legacy}
  template:
    metadata: {labels: {app: legacy}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: a, image: busybox:1.36, command: [sleep, infinity]}]
"""
    ok(k("apply", "-f", "-", input=rc))
    assert wait_for(lambda: ok(k("get", "rc", "legacy", "-o", "jsonpath={.status.readyReplicas}")) == "2")
    ok(k("scale", "rc", "legacy", "--replicas=1"))
    assert wait_for(lambda: len(names(k, "pods", "-l", "app=legacy")) == 1)
    ok(k("delete", "rc", "legacy"))
    assert wait_for(lambda: not names(k, "pods", "-l", "app=legacy"))


def test_owner_references_foreground_and_orphan(k: Kubectl) -> None:
    # A main process that handles SIGTERM: `sleep` as pid 1 ignores it and would take the 30 s grace period
    loop = "trap 'exit 0' TERM; while :; do sleep 0.2; done"
    ok(k("create", "deployment", "owned", "--image=busybox:1.36", "--replicas=2", "--", "sh", "-c", loop))
    assert wait_for(lambda: len(names(k, "pods", "-l", "app=owned")) == 2)
    ok(k("delete", "deployment", "owned", "--cascade=orphan"))
    assert wait_for(lambda: not names(k, "deployments"))
    rs = names(k, "rs", "-l", "app=owned")
    assert len(rs) == 1
    refs = ok(k("get", rs[0], "-o", "jsonpath={.metadata.ownerReferences}"))
    assert refs == ""  # orphaned: the reference to the deleted Deployment is gone
    ok(k("patch", rs[0], "-p", '{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":0}}}}'))
    ok(k("delete", rs[0], "--cascade=foreground", "--timeout=30s"))
    assert not names(k, "rs", "-l", "app=owned")


def test_services_endpoints_and_configuration(k: Kubectl) -> None:
    ok(k("create", "configmap", "conf", "--from-literal=GREETING=hello"))
    ok(k("create", "secret", "generic", "creds", "--from-literal=password=s3cret"))
    pod = """apiVersion: v1
kind: Pod
metadata: {name: env-pod, labels: {app: env}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, infinity]
    ports: [{containerPort: 8080, name: http}]
    envFrom: [{configMapRef: {name: conf}}]
    env:
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: creds, key: password}}}
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: BOTH, value: "$(GREETING)-$(POD_NAME)"}
"""
    ok(k("apply", "-f", "-", input=pod))
    ok(k("expose", "pod", "env-pod", "--port=80", "--target-port=http", "--name=env-svc"))
    ok(k("wait", "--for=condition=Ready", "pod/env-pod", "--timeout=30s"))
    env = ok(k("exec", "env-pod", "--", "env"))
    assert "GREETING=hello" in env and "PASSWORD=s3cret" in env and "BOTH=hello-env-pod" in env
    assert "ENV_SVC_SERVICE_HOST=" not in env  # the service came after the pod
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in env
    ip = ok(k("get", "pod", "env-pod", "-o", "jsonpath={.status.podIP}"))
    assert wait_for(
        lambda: ok(k("get", "endpoints", "env-svc", "-o", "jsonpath={.subsets[0].addresses[0].ip}")) == ip
    )
    assert ok(k("get", "endpoints", "env-svc", "-o", "jsonpath={.subsets[0].ports[0].port}")) == "8080"
    described = ok(k("describe", "service", "env-svc"))
    assert f"Endpoints:         {ip}:8080" in described or f"{ip}:8080" in described
    missing = pod.replace("env-pod", "needs-cm").replace("name: conf", "name: absent")
    ok(k("apply", "-f", "-", input=missing))
    assert wait_for(lambda: "CreateContainerConfigError" in ok(k("get", "pod", "needs-cm")))
    assert 'configmap "absent" not found' in ok(k("describe", "pod", "needs-cm"))
    ok(k("delete", "pod", "env-pod", "needs-cm"))
    ok(k("delete", "svc", "env-svc"))


def test_probes_drive_ready_and_restarts(k: Kubectl) -> None:
    pod = """apiVersion: v1
kind: Pod
metadata: {name: probed}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, infinity]
    readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1}
    livenessProbe: {exec: {command: [test, '!', -e, /tmp/dead]}, periodSeconds: 1, failureThreshold: 1}
"""
    ok(k("apply", "-f", "-", input=pod))
    assert wait_for(
        lambda: "Readiness probe failed:" in ok(k("get", "events", "--field-selector", "reason=Unhealthy"))
    )
    assert ok(k("get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[0].ready}")) == "false"
    ok(k("exec", "probed", "--", "touch", "/tmp/ready"))
    ok(k("wait", "--for=condition=Ready", "pod/probed", "--timeout=20s"))
    ok(k("exec", "probed", "--", "touch", "/tmp/dead"))
    assert wait_for(
        lambda: (
            ok(k("get", "pod", "probed", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")) == "1"
        )
    )
    assert "Container c failed liveness probe, will be restarted" in ok(k("describe", "pod", "probed"))
    ok(k("delete", "pod", "probed"))


def test_deleting_a_running_job_removes_its_pods(k: Kubectl) -> None:
    # a main process that handles SIGTERM: `sleep` as pid 1 ignores it and would hold the pod for the whole
    # 30 s grace period (real, but nothing this test is about)
    loop = "trap 'exit 0' TERM; while :; do sleep 0.2; done"
    ok(k("create", "job", "long", "--image=busybox:1.36", "--", "sh", "-c", loop))
    assert wait_for(lambda: len(names(k, "pods", "-l", "job-name=long")) == 1)
    assert wait_for(lambda: "Running" in ok(k("get", "pods", "-l", "job-name=long")))
    ok(k("delete", "job", "long", "--wait=false"))
    # the pods carry the job-tracking finalizer: the controller releases them once their Job is gone
    assert wait_for(lambda: not names(k, "pods", "-l", "job-name=long"), timeout=60)


# --- probes, as the kubelet's prober and its sync loop run them ---------------------------------------------
#
# Texts are the kubelet's: pkg/kubelet/prober/prober.go records Unhealthy "%s probe failed: %s" with the
# probe's output (pkg/probe/http/http.go: "HTTP probe failed with statuscode: %d"); kuberuntime_manager.go
# (computePodActions) kills a container that failed liveness or startup with "Container %s failed %s probe,
# will be restarted"; doBackOff records BackOff "Back-off restarting failed container %s in pod %s" with
# format.Pod's NAME_NAMESPACE(UID).  The prober (pkg/kubelet/prober/worker.go) runs no liveness or readiness
# probe until the startup probe has succeeded.

PROBE_PODS = """apiVersion: v1
kind: Pod
metadata: {name: web-ready}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: web
    image: busybox:1.36
    command: [sh, -c, "mkdir -p /www && exec httpd -f -p 8080 -h /www"]
    ports: [{containerPort: 8080, name: http}]
    readinessProbe: {httpGet: {path: /ready, port: http}, periodSeconds: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: slow-start}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, infinity]
    startupProbe: {exec: {command: [cat, /tmp/started]}, periodSeconds: 1, failureThreshold: 60}
    livenessProbe: {exec: {command: [cat, /tmp/alive]}, periodSeconds: 1, failureThreshold: 1}
---
apiVersion: v1
kind: Pod
metadata: {name: never-starts}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, infinity]
    startupProbe: {exec: {command: ["false"]}, periodSeconds: 1, failureThreshold: 2}
---
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: crash, image: busybox:1.36, command: [sh, -c, "echo crashing; exit 1"]}
"""


@pytest.fixture(scope="module")
def probe_pods(k: Kubectl) -> Iterator[Kubectl]:
    """The four pods of the probe tests, created at once so that their probes run side by side."""
    ok(k("apply", "-f", "-", input=PROBE_PODS))
    yield k
    k("delete", "pod", "web-ready", "slow-start", "never-starts", "crasher", "--wait=false")


def events(k: Kubectl, pod: str, reason: str) -> list[dict]:
    selector = f"involvedObject.name={pod},reason={reason}"
    return list(json.loads(ok(k("get", "events", "--field-selector", selector, "-o", "json")))["items"])


def container_status(k: Kubectl, pod: str) -> dict:
    return dict(json.loads(ok(k("get", "pod", pod, "-o", "jsonpath={.status.containerStatuses[0]}"))))


def test_http_readiness_probe_drives_ready(probe_pods: Kubectl) -> None:
    k = probe_pods
    # httpd answers 404 until /www/ready exists: not Ready, with the prober's text for a status >= 400
    assert wait_for(
        lambda: any(
            e["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 404"
            for e in events(k, "web-ready", "Unhealthy")
        )
    )
    assert container_status(k, "web-ready")["ready"] is False
    # the apiserver's defaults for a probe (timeoutSeconds 1, thresholds 1 and 3, scheme HTTP)
    jsonpath = "jsonpath={.spec.containers[0].readinessProbe}"
    probe = json.loads(ok(k("get", "pod", "web-ready", "-o", jsonpath)))
    assert probe == {
        "httpGet": {"path": "/ready", "port": "http", "scheme": "HTTP"},
        "periodSeconds": 1, "timeoutSeconds": 1, "successThreshold": 1, "failureThreshold": 3,
    }  # fmt: skip
    ok(k("exec", "web-ready", "--", "touch", "/www/ready"))
    ok(k("wait", "--for=condition=Ready", "pod/web-ready", "--timeout=30s"))
    ok(k("exec", "web-ready", "--", "rm", "/www/ready"))
    # three failures in a row (failureThreshold) take Ready away again; the container is not restarted
    ok(k("wait", "--for=condition=Ready=false", "pod/web-ready", "--timeout=30s"))
    assert container_status(k, "web-ready")["restartCount"] == 0
    described = ok(k("describe", "pod", "web-ready"))
    assert "http-get http://:http/ready delay=0s timeout=1s period=1s" in described
    assert "Readiness probe failed: HTTP probe failed with statuscode: 404" in described


def test_startup_probe_holds_liveness_off_until_it_succeeds(probe_pods: Kubectl) -> None:
    k = probe_pods
    missing = "cat: can't open '/tmp/started': No such file or directory"
    # the startup probe has failed three times; a liveness probe that ran would have failed (threshold 1)

    def startup_failures() -> int:
        unhealthy = events(k, "slow-start", "Unhealthy")
        return sum(e["count"] for e in unhealthy if e["message"] == f"Startup probe failed: {missing}")

    assert wait_for(lambda: startup_failures() >= 3)
    status = container_status(k, "slow-start")
    assert (status["started"], status["ready"], status["restartCount"]) == (False, False, 0)
    assert not [e for e in events(k, "slow-start", "Unhealthy") if e["message"].startswith("Liveness")]
    ok(k("exec", "slow-start", "--", "touch", "/tmp/started"))
    # started: liveness runs, fails once, and the kubelet kills and restarts the container
    assert wait_for(lambda: container_status(k, "slow-start")["restartCount"] == 1)
    assert [e["message"] for e in events(k, "slow-start", "Killing")] == [
        "Container app failed liveness probe, will be restarted"
    ]
    assert "Liveness probe failed: cat: can't open '/tmp/alive': No such file or directory" in [
        e["message"] for e in events(k, "slow-start", "Unhealthy")
    ]


def test_failed_startup_probe_restarts_the_container(probe_pods: Kubectl) -> None:
    k = probe_pods
    assert wait_for(lambda: events(k, "never-starts", "Killing"))
    killing = events(k, "never-starts", "Killing")[0]
    assert killing["message"] == "Container app failed startup probe, will be restarted"
    assert killing["source"] == {"component": "kubelet", "host": "demo-control-plane"}
    assert killing["involvedObject"]["fieldPath"] == "spec.containers{app}"
    # `false` prints nothing: the event's message ends after the colon, as the prober formats it
    assert "Startup probe failed: " in [e["message"] for e in events(k, "never-starts", "Unhealthy")]
    assert wait_for(lambda: container_status(k, "never-starts")["restartCount"] >= 1)
    last = container_status(k, "never-starts")["lastState"]["terminated"]
    assert (last["exitCode"], last["reason"]) == (137, "Error")  # sleep ignores SIGTERM as pid 1: SIGKILL


def test_crash_loop_back_off_event(probe_pods: Kubectl) -> None:
    k = probe_pods
    uid = ok(k("get", "pod", "crasher", "-o", "jsonpath={.metadata.uid}"))
    text = f"Back-off restarting failed container crash in pod crasher_default({uid})"
    # the first exit restarts at once; the second finds the container in its back-off window
    assert wait_for(lambda: [e["message"] for e in events(k, "crasher", "BackOff")] == [text])
    backoff = events(k, "crasher", "BackOff")[0]
    assert backoff["type"] == "Warning" and backoff["involvedObject"]["fieldPath"] == "spec.containers{crash}"
    status = container_status(k, "crasher")
    assert status["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert status["state"]["waiting"]["message"] == (
        f"back-off 10s restarting failed container=crash pod=crasher_default({uid})"
    )
    assert status["lastState"]["terminated"]["exitCode"] == 1
    # the count is the exited container's (restarted once); it moves when the back-off has run out
    assert status["restartCount"] == 1
    assert ok(k("get", "pod", "crasher")).splitlines()[1].split()[1:4] == ["0/1", "CrashLoopBackOff", "1"]
    described = ok(k("describe", "pod", "crasher"))
    assert any("BackOff" in line and text in line for line in described.splitlines()), described
    assert ok(k("logs", "crasher")) == "crashing\n"


def test_describe_node(k: Kubectl) -> None:
    described = ok(k("describe", "node", "demo-control-plane"))
    lines = described.splitlines()
    assert lines[0].split() == ["Name:", "demo-control-plane"]
    assert lines[1].split() == ["Roles:", "control-plane"]
    assert "kubernetes.io/hostname=demo-control-plane" in described
    # the kubelet's node lease (kube-node-lease/<node>), renewed every 10 s of its 40 s duration
    lease = lines[lines.index("Lease:") + 1 : lines.index("Lease:") + 4]
    assert [line.split(":")[0].strip() for line in lease] == ["HolderIdentity", "AcquireTime", "RenewTime"]
    assert lease[0].split() == ["HolderIdentity:", "demo-control-plane"]
    assert "Failed to get lease" not in described
    ready = next(line for line in lines if line.strip().startswith("Ready "))
    assert ready.split()[1] == "True" and "KubeletReady  " in ready
    assert ready.endswith("kubelet is posting ready status")
    for section in ("Addresses:", "Capacity:", "Allocatable:", "System Info:", "Non-terminated Pods:",
                    "Allocated resources:", "Events:"):  # fmt: skip
        assert any(line.startswith(section) for line in lines), (section, described)
    assert "Kubelet Version:            v1.37.1" in described
    # the kubelet's own events at start, on the node (recorded in "default": Nodes have no namespace)
    assert "Starting kubelet." in described
    assert "Node demo-control-plane status is now: NodeReady" in described


# --- a rolling update, watched pod by pod -------------------------------------------------------------------


class PodWatch:
    """``kubectl get pods -w`` on one label selector: the pods as each watch event leaves them, and after
    every event how many are active (not terminating, not finished) and available (active and Ready)."""

    FORMAT = (
        "jsonpath={.type} {.object.metadata.name} {.object.metadata.deletionTimestamp}"
        ' {.object.status.phase} {.object.status.conditions[?(@.type=="Ready")].status}'
        ' {.object.spec.containers[0].image}{"\\n"}'
    )

    def __init__(self, k: Kubectl, selector: str) -> None:
        argv = k.argv("get", "pods", "-l", selector, "-w", "--output-watch-events", "-o", self.FORMAT)
        self._proc = subprocess.Popen(argv, env=k.env, stdout=subprocess.PIPE, text=True)
        self.pods: dict[str, dict[str, str]] = {}
        self.counts: list[tuple[int, int]] = []  # (active, available) after each event
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._follow, daemon=True)
        self._reader.start()

    def _follow(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            kind, name, *rest = line.split(" ")
            deleting, phase, ready, image = (rest + [""] * 4)[:4]
            with self._changed:
                if kind == "DELETED":
                    self.pods.pop(name, None)
                else:
                    self.pods[name] = {"deleting": deleting, "phase": phase, "ready": ready,
                                       "image": image.strip()}  # fmt: skip
                active = [p for p in self.pods.values() if self._active(p)]
                self.counts.append((len(active), sum(p["ready"] == "True" for p in active)))
                self._changed.notify_all()

    @staticmethod
    def _active(pod: dict[str, str]) -> bool:
        return not pod["deleting"] and pod["phase"] not in ("Succeeded", "Failed")

    def wait(self, done: Callable[[list[dict[str, str]]], bool], timeout: float = 60) -> bool:
        """Wait until ``done(active pods)`` holds."""
        with self._changed:
            return self._changed.wait_for(
                lambda: done([p for p in self.pods.values() if self._active(p)]), timeout
            )

    def stop(self) -> None:
        self._proc.terminate()
        self._proc.wait(10)
        self._reader.join(10)


ROLLING = """apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 4
  selector: {matchLabels: {app: NAME}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: SURGE, maxUnavailable: UNAVAILABLE}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      terminationGracePeriodSeconds: 0
      containers: [{name: app, image: busybox:1.36, command: [sleep, infinity]}]
"""


@pytest.mark.parametrize(
    ("surge", "unavailable", "most", "fewest"),
    [
        ("1", "0", 5, 4),  # one extra pod at a time, never one less available
        ("0", "50%", 4, 2),  # no extra pod; half may go (a percentage rounds down: 4 * 50% = 2)
    ],
)
def test_rolling_update_keeps_within_max_surge_and_max_unavailable(
    k: Kubectl, surge: str, unavailable: str, most: int, fewest: int
) -> None:
    """The deployment controller's rolloutRolling (pkg/controller/deployment/rolling.go): the new ReplicaSet
    grows while all pods stay within replicas + maxSurge (NewRSNewReplicas), old ones shrink while
    replicas - maxUnavailable stay available (reconcileOldReplicaSets), so a watch of the pods never sees
    more active pods or fewer available ones — and sees both bounds reached."""
    name = f"roll-{surge}-{unavailable.rstrip('%')}"
    manifest = ROLLING.replace("NAME", name).replace("SURGE", surge).replace("UNAVAILABLE", unavailable)
    ok(k("apply", "-f", "-", input=manifest))
    ok(k("rollout", "status", f"deployment/{name}", "--timeout=60s"))
    watch = PodWatch(k, f"app={name}")
    try:
        assert watch.wait(lambda pods: len(pods) == 4 and all(p["ready"] == "True" for p in pods))
        start = len(watch.counts)
        ok(k("set", "image", f"deployment/{name}", "app=busybox:1.37"))
        assert watch.wait(
            lambda pods: (
                len(pods) == 4 and all(p["image"] == "busybox:1.37" and p["ready"] == "True" for p in pods)
            )
        ), watch.pods
        ok(k("rollout", "status", f"deployment/{name}", "--timeout=60s"))
    finally:
        watch.stop()
    during = watch.counts[start:]
    assert max(active for active, _ in during) == most, during
    assert min(available for _, available in during) == fewest, during
    ok(k("delete", "deployment", name))


SLICED_POD = """---
apiVersion: v1
kind: Pod
metadata: {name: NAME, labels: {app: sliced}}
spec:
  terminationGracePeriodSeconds: GRACE
  containers:
  - name: app
    image: busybox:1.36
    command: [sleep, infinity]
    ports: [{containerPort: 8080, name: http}]
    readinessProbe: {exec: {command: [cat, /tmp/ready]}, periodSeconds: 1}
"""
SLICED = (
    """apiVersion: v1
kind: Service
metadata: {name: sliced, labels: {tier: web}}
spec:
  selector: {app: sliced}
  ports: [{name: web, port: 80, targetPort: http}]
"""
    + SLICED_POD.replace("NAME", "sliced-a").replace("GRACE", "30")
    + SLICED_POD.replace("NAME", "sliced-b").replace("GRACE", "0")
)


def test_endpoint_slices_follow_readiness_and_termination(k: Kubectl) -> None:
    """The EndpointSlice controller (staging/src/k8s.io/endpointslice: reconciler.go, utils.go podToEndpoint):
    one slice per Service, labelled with the Service's labels plus kubernetes.io/service-name and managed-by,
    owned by the Service; every pod with an IP is an endpoint, ready = the pod is Ready and not terminating,
    serving = the pod is Ready, terminating = it has a deletionTimestamp; a named targetPort resolves to the
    pods' containerPort under the Service port's name."""
    ok(k("apply", "-f", "-", input=SLICED))
    selector = ["-l", "kubernetes.io/service-name=sliced"]

    def endpoints() -> dict[str, dict]:
        items = json.loads(ok(k("get", "endpointslices", *selector, "-o", "json")))["items"]
        assert len(items) == 1, items
        return {e["targetRef"]["name"]: e for e in items[0].get("endpoints") or []}

    assert wait_for(lambda: set(endpoints()) == {"sliced-a", "sliced-b"})
    es = json.loads(ok(k("get", "endpointslices", *selector, "-o", "json")))["items"][0]
    svc_uid = ok(k("get", "service", "sliced", "-o", "jsonpath={.metadata.uid}"))
    assert es["addressType"] == "IPv4" and es["metadata"]["generateName"] == "sliced-"
    assert es["metadata"]["labels"] == {
        "tier": "web",
        "kubernetes.io/service-name": "sliced",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    assert es["metadata"]["ownerReferences"] == [
        {"apiVersion": "v1", "kind": "Service", "name": "sliced", "uid": svc_uid,
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    assert es["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    generation = es["metadata"]["generation"]  # 1 at create, +1 for every change of endpoints or ports
    a = endpoints()["sliced-a"]
    ip_a = ok(k("get", "pod", "sliced-a", "-o", "jsonpath={.status.podIP}"))
    assert a["addresses"] == [ip_a] and a["nodeName"] == "demo-control-plane"
    assert a["targetRef"]["kind"] == "Pod" and a["targetRef"]["namespace"] == "default"
    assert a["conditions"] == {"ready": False, "serving": False, "terminating": False}
    # Ready: the endpoint becomes ready, and the Endpoints object moves it to addresses
    ok(k("exec", "sliced-a", "--", "touch", "/tmp/ready"))
    assert wait_for(lambda: endpoints()["sliced-a"]["conditions"]["ready"])
    assert endpoints()["sliced-b"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    rows = ok(k("get", "endpointslices", *selector)).splitlines()
    assert rows[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    assert rows[1].split()[1:3] == ["IPv4", "8080"]
    subsets = json.loads(ok(k("get", "endpoints", "sliced", "-o", "jsonpath={.subsets}")))
    assert [a["ip"] for a in subsets[0]["addresses"]] == [ip_a]
    assert [a["targetRef"]["name"] for a in subsets[0]["notReadyAddresses"]] == ["sliced-b"]
    later = json.loads(ok(k("get", "endpointslices", *selector, "-o", "json")))["items"][0]
    assert later["metadata"]["generation"] > generation
    # terminating (sleep ignores SIGTERM, so sliced-a waits out its grace period): no longer ready, still
    # serving while its Ready condition holds; the Endpoints object drops it at once
    ok(k("delete", "pod", "sliced-a", "--wait=false"))
    assert wait_for(lambda: endpoints()["sliced-a"]["conditions"]["terminating"])
    assert endpoints()["sliced-a"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    assert "addresses" not in json.loads(ok(k("get", "endpoints", "sliced", "-o", "jsonpath={.subsets}")))[0]
    ok(k("delete", "pod", "sliced-a", "sliced-b", "--grace-period=0", "--force"))
    assert wait_for(lambda: endpoints() == {})
    # the slice goes with its Service (owner reference, background garbage collection)
    ok(k("delete", "service", "sliced"))
    assert wait_for(lambda: not names(k, "endpointslices", *selector))
