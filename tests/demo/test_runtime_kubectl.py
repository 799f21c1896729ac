"""Issue 10's containers, through the real kubectl: what a tutorial shows must print what kind prints.

Each test cites the code of the component whose behaviour it asserts. One cluster of its own for the
module (its pods get restarted and edited here); tests that need namespaces skip where the probe finds
none, saying so.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import pexpect
import psutil
import pytest
from demo_helpers import ADMIN_SCENARIO
from kubectl_runner import Kubectl

from k8sterm_widget.demo import cluster
from k8sterm_widget.demo.runtime.isolation import probe

ISOLATION = probe()
needs_pod_network = pytest.mark.skipif(
    ISOLATION.mode != "namespaces" or not ISOLATION.network,
    reason=f"no namespaces or pod networks on this machine: {ISOLATION.reason}",
)

SCENARIO = (
    ADMIN_SCENARIO
    + """  - apiVersion: v1
    kind: Pod
    metadata: {name: web-0, namespace: demo}
    spec:
      containers:
        - {name: nginx, image: "nginx:1.27"}
        - name: sidecar
          image: "busybox:1.36"
          command: [sleep, infinity]
          env:
            - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
            - {name: POD_NAMESPACE, valueFrom: {fieldRef: {fieldPath: metadata.namespace}}}
            - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
  - apiVersion: v1
    kind: Pod
    metadata: {name: web-1, namespace: demo}
    spec:
      containers:
        - {name: nginx, image: "nginx:1.27"}
  - apiVersion: v1
    kind: Pod
    metadata: {name: tools, namespace: demo}
    spec:
      containers:
        - {name: bb, image: "busybox:1.28", command: [sleep, infinity]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: term, namespace: demo}
    spec:
      containers:
        - {name: bb, image: "busybox:1.36", command: [sleep, infinity]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: alpine, namespace: demo}
    spec:
      containers:
        - {name: main, image: "alpine:3.20", command: [sleep, infinity]}
  - apiVersion: v1
    kind: Pod
    metadata: {name: client, namespace: demo}
    spec:
      containers:
        - {name: py, image: "python:3.12-slim", command: [sleep, infinity]}
"""
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    path = tmp_path_factory.mktemp("runtime-kubectl") / "scenario.yaml"
    path.write_text(SCENARIO)
    with cluster(path) as c:
        yield c


@pytest.fixture(scope="module")
def kctl(lab, kubectl, tmp_path_factory):
    return Kubectl(kubeconfig=lab.kubeconfig, home=tmp_path_factory.mktemp("kubectl-runtime"))


def sh(kctl, pod: str, script: str, container: str | None = None, timeout: float = 30):
    args = ["exec", pod] + (["-c", container] if container else []) + ["--", "sh", "-c", script]
    return kctl(*args, timeout=timeout)


def pod_ip(kctl, pod: str) -> str:
    return kctl("get", "pod", pod, "-o", "jsonpath={.status.podIP}").stdout


# -- network ---------------------------------------------------------------------------------------------


@needs_pod_network
def test_each_pod_has_its_ip_on_eth0_and_pods_reach_each_other(kctl):
    wide = kctl("get", "pods", "-o", "wide").stdout
    ip0, ip1 = pod_ip(kctl, "web-0"), pod_ip(kctl, "web-1")
    assert re.search(rf"\nweb-0 +2/2 +Running +0 +\S+ +{re.escape(ip0)} +demo-control-plane ", wide), wide
    assert ip0 != ip1 and ip0.startswith("10.244.0.")
    # the pod's own network: lo and eth0 with the pod IP (CNI's bridge plugin; no host interface)
    links = sh(kctl, "tools", "ip -o addr show").stdout
    ip = pod_ip(kctl, "tools")
    assert f"eth0    inet {ip}/24" in links
    assert {line.split()[1] for line in links.splitlines()} == {"lo", "eth0"}, links
    # the sidecar reaches nginx on localhost (one network per pod), another pod reaches it by IP
    assert "<title>Welcome to nginx!</title>" in sh(kctl, "web-0", "wget -qO- localhost", "sidecar").stdout
    page = sh(kctl, "tools", f"wget -qO- http://{ip1}/").stdout
    assert "<title>Welcome to nginx!</title>" in page
    assert sh(kctl, "tools", f"ping -c 1 -W 2 {ip0}").returncode == 0
    # nginx logs an access line per request on stdout (the official image's access.log -> /dev/stdout)
    logs = kctl("logs", "web-1").stdout
    assert re.search(rf'^{re.escape(ip)} - - \[.*\] "GET / HTTP/1.1" 200 \d+ "-" "Wget" "-"$', logs, re.M), (
        logs
    )
    # two pods can both listen on :80, and nothing of a pod listens on the host
    listen = "timeout 1 nc -l -p 80 >/dev/null 2>&1 & sleep 0.3; netstat -ltn | grep -c ':80 '"
    assert sh(kctl, "tools", listen).stdout == "1\n"


@needs_pod_network
def test_etc_hosts_hostname_and_resolv_conf_are_the_kubelets(kctl):
    ip = pod_ip(kctl, "web-0")
    # kubelet_pods.go managedHostsFileContent; containerd parseDNSOptions (search, nameserver, options)
    assert sh(kctl, "web-0", "cat /etc/hostname").stdout == "web-0\n"
    hosts = sh(kctl, "web-0", "cat /etc/hosts").stdout
    assert hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n")
    assert hosts.endswith(f"fe00::2\tip6-allrouters\n{ip}\tweb-0\n")
    assert sh(kctl, "web-0", "hostname -f").stdout == "web-0\n"
    assert sh(kctl, "web-0", "cat /etc/resolv.conf").stdout == (
        "search demo.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )
    # edits succeed (the writable layer) ...
    assert (
        sh(kctl, "web-0", "echo 10.0.0.9 extra >> /etc/hosts && tail -1 /etc/hosts").stdout
        == "10.0.0.9 extra\n"
    )
    assert sh(kctl, "web-0", "echo edited > /etc/motd && cat /etc/motd").stdout == "edited\n"


@needs_pod_network
def test_in_cluster_client_is_a_service_account_with_no_rights_until_bound(kctl):
    # the kubelet's kube-api-access projected volume and the kubernetes Service's variables
    listing = sh(kctl, "client", "ls /var/run/secrets/kubernetes.io/serviceaccount").stdout.split()
    assert listing == ["ca.crt", "namespace", "token"]
    env = sh(kctl, "client", "env").stdout.splitlines()
    assert {"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443"} <= set(env)
    script = (
        "from kubernetes import client, config\n"
        "config.load_incluster_config()\n"
        "try:\n"
        "    print(len(client.CoreV1Api().list_namespaced_pod('demo').items))\n"
        "except client.ApiException as e:\n"
        "    print(e.status, e.reason)\n"
    )
    run = kctl("exec", "client", "--", "python", "-c", script)
    assert run.stdout == "403 Forbidden\n", run.stderr
    who = kctl("exec", "client", "--", "python", "-c", script.replace(
        "print(len(client.CoreV1Api().list_namespaced_pod('demo').items))",
        "print(client.AuthenticationV1Api().create_self_subject_review({}).status.user_info.username)",
    ))  # fmt: skip
    assert who.stdout == "system:serviceaccount:demo:default\n", who.stderr
    bound = kctl("create", "rolebinding", "read", "--clusterrole=view", "--serviceaccount=demo:default")
    assert bound.returncode == 0, bound.stderr
    assert kctl("exec", "client", "--", "python", "-c", script).stdout == "6\n"


def test_downward_api_env(kctl):
    env = set(kctl("exec", "web-0", "-c", "sidecar", "--", "env").stdout.splitlines())
    assert {"POD_NAME=web-0", "POD_NAMESPACE=demo", f"POD_IP={pod_ip(kctl, 'web-0')}"} <= env


# -- processes -----------------------------------------------------------------------------------------


@needs_pod_network
def test_main_process_is_pid_1_and_owns_the_logs(kctl):
    assert (
        sh(kctl, "web-0", "tr '\\0' ' ' < /proc/1/cmdline").stdout
        == "nginx: master process nginx -g daemon off; "
    )
    assert sh(kctl, "tools", "cat /proc/1/comm").stdout == "sleep\n"
    # what anything writes to /proc/1/fd/1 is the container's log (the runtime logs pid 1's stdio)
    sh(kctl, "web-0", "echo written-by-exec > /proc/1/fd/1; echo to-stderr > /proc/1/fd/2")
    logs = kctl("logs", "web-0", "-c", "nginx").stdout
    assert "written-by-exec\n" in logs and "to-stderr\n" in logs
    assert "/docker-entrypoint.sh: Configuration complete; ready for start up" in logs


@needs_pod_network
def test_kill_1_restarts_with_the_kubelets_last_state(kctl):
    sh(kctl, "web-1", "echo gone-after-restart > /etc/marker")
    sh(kctl, "web-1", "kill 1")  # nginx handles SIGTERM: a fast shutdown, exit 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = kctl("get", "pod", "web-1", "-o", "jsonpath={.status.containerStatuses[0].restartCount} "
                      "{.status.containerStatuses[0].lastState.terminated.reason} "
                      "{.status.containerStatuses[0].lastState.terminated.exitCode} "
                      "{.status.containerStatuses[0].ready}").stdout  # fmt: skip
        if status == "1 Completed 0 true":
            break
        time.sleep(0.2)
    assert status == "1 Completed 0 true"  # containerd: exit 0 -> "Completed" (else "Error")
    assert sh(kctl, "web-1", "cat /etc/marker").returncode != 0  # edits vanished with the container
    # `kill 1` on a pid 1 without a handler does nothing, as in any PID namespace (pid_namespaces(7))
    assert sh(kctl, "tools", "kill 1; kill -9 1; sleep 0.3; cat /proc/1/comm").stdout == "sleep\n"


def test_background_job_outlives_its_exec_and_holds_its_output(kctl):
    began = time.monotonic()
    run = sh(kctl, "tools", "sleep 2 & echo started")
    assert run.stdout == "started\n" and time.monotonic() - began >= 1.8  # containerd waits for the streams
    # (Debian's busybox-static has no nohup applet; without a tty nothing sends SIGHUP anyway)
    assert sh(kctl, "tools", "sleep 321 >/dev/null 2>&1 & echo ok").stdout == "ok\n"
    assert "sleep 321" in sh(kctl, "tools", "ps").stdout  # a later exec still sees it


def test_exiting_a_tty_shell_hangs_up_its_foreground_process_group(kctl):
    """``kubectl exec -it`` makes the shell the session leader with the pty as its controlling terminal
    (runc's setns_init_linux.go: setsid, then ``system.Setctty()`` on the console). When it exits, the
    kernel sends SIGHUP to the terminal's foreground process group, and to nothing else
    (drivers/tty/tty_jobctrl.c ``disassociate_ctty``, called from ``do_exit`` for a session leader):
    the same busybox ash on the host's own pty does exactly this."""
    child = pexpect.spawn(kctl.path, [*kctl.base_args[1:], "exec", "-it", "term", "--", "sh"],
                          env=kctl.env, timeout=20, dimensions=(30, 120))  # fmt: skip
    try:
        child.expect_exact("/ # ")
        jobs = [
            # an interactive ash has job control: a background job gets a process group of its own
            "sh -c 'trap \"echo hup > /tmp/hup-job\" HUP; sleep 4101' &",
            # without it (set +m) the job stays in the shell's group, the terminal's foreground one
            "set +m; sh -c 'trap \"echo hup > /tmp/hup-fg\" HUP; sleep 4102' &",
            "sh -c 'trap \"\" HUP; exec sleep 4103' &",  # what nohup does: SIGHUP ignored
            "setsid sleep 4104 &",  # a session of its own: the terminal is not its controlling one
        ]
        for job in jobs:
            child.sendline(job)
            child.expect_exact("/ # ")
        # kubectl ends with the shell though the jobs still hold the terminal: containerd's shim shuts the
        # console down when the exec's process exits (process/exec.go setExited -> ShutdownConsole)
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    # the foreground job's trap runs once its sleep has died of the same SIGHUP
    hup = sh(kctl, "term", "until [ -e /tmp/hup-fg ]; do sleep 0.05; done; cat /tmp/hup-fg", timeout=10)
    assert hup.stdout == "hup\n"
    ps = sh(kctl, "term", "ps").stdout
    assert [f"sleep {n}" in ps for n in (4101, 4102, 4103, 4104)] == [True, False, True, True], ps
    assert sh(kctl, "term", "ls /tmp/hup-job").returncode != 0  # the job-control job heard nothing


@needs_pod_network
def test_busybox_is_a_real_busybox_with_its_prompt(kctl):
    child = pexpect.spawn(kctl.path, [*kctl.base_args[1:], "exec", "-it", "tools", "--", "sh"],
                          env=kctl.env, timeout=20, dimensions=(30, 100))  # fmt: skip
    try:
        child.expect_exact("/ # ")
        child.sendline("busybox | head -1; tty")
        child.expect(r"BusyBox v1\.\d+")
        child.expect_exact("/dev/pts/0")  # the container's own devpts
        child.sendline("exit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    for applet in ("wget", "nc", "nslookup", "ping", "ip"):
        assert sh(kctl, "tools", f"command -v {applet}").stdout.strip(), applet
    assert sh(kctl, "tools", "command -v bash").returncode != 0


@needs_pod_network
def test_busybox_wget_is_the_hosts_timeout_bug_included(kctl):
    """The image's busybox is the host's. Debian's busybox-static before 1:1.36.1-5 is built without
    FEATURE_WGET_TIMEOUT, so getopt32 stores ``-T``'s number through a null pointer (networking/wget.c
    ``"T:+"`` with ``IF_NOT_FEATURE_WGET_TIMEOUT(NULL)``): ``wget -T 2 …`` dies of SIGSEGV, on the host too,
    where upstream's (docker.io's image) sets a network timeout. A wrapper cannot mend it: busybox's ash
    runs its applets before PATH (FEATURE_SH_STANDALONE). docs/demo-cluster.md gives the workaround."""
    host = subprocess.run(["busybox", "wget", "--help"], capture_output=True, text=True)
    upstream_like = "-T SEC" in host.stdout + host.stderr
    ip = pod_ip(kctl, "web-0")
    crash = sh(kctl, "term", f"wget -T 2 -qO- http://{ip}/")
    assert crash.returncode == (0 if upstream_like else 139), crash.stderr
    for workaround in (f"wget -qO- http://{ip}/", f"timeout 2 wget -qO- http://{ip}/"):
        page = sh(kctl, "term", workaround)
        assert page.returncode == 0 and "<title>Welcome to nginx!</title>" in page.stdout, workaround
    # a server that accepts and never answers: `timeout` ends the transfer, with SIGTERM's status
    stalled = sh(
        kctl,
        "term",
        "{ sleep 5 | nc -l -p 9099; } >/dev/null 2>&1 &"
        " until netstat -ltn | grep -q ':9099 '; do sleep 0.05; done;"
        " timeout 1 wget -qO- http://127.0.0.1:9099/",
    )
    assert stalled.returncode == 143 and stalled.stdout == "", stalled.stderr


def test_alpine_apk_says_there_is_no_network(kctl):
    run = kctl("exec", "alpine", "--", "apk", "add", "curl")
    assert run.returncode == 1 and "no network" in run.stderr
    assert "Alpine Linux" in sh(kctl, "alpine", "cat /etc/os-release").stdout


def test_unknown_image_keeps_err_image_pull(kctl):
    assert kctl("run", "typo", "--image=nginx:1.161").returncode == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        reason = kctl(
            "get", "pod", "typo", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}"
        )
        if reason.stdout in ("ErrImagePull", "ImagePullBackOff"):
            break
        time.sleep(0.2)
    assert reason.stdout in ("ErrImagePull", "ImagePullBackOff")
    kctl("delete", "pod", "typo", "--now")


# -- a root process in a container cannot change the host ---------------------------------------------


@needs_pod_network
def test_root_in_a_container_cannot_touch_the_host(kctl, lab):
    """Deliberate attacks from uid 0 inside (containerd's default capabilities, no_new_privs)."""
    caps = sh(kctl, "tools", "grep -E 'Cap(Eff|Bnd)|NoNewPrivs' /proc/self/status").stdout
    assert (
        "CapEff:\t00000000a80425fb" in caps
        and "CapBnd:\t00000000a80425fb" in caps
        and "NoNewPrivs:\t1" in caps
    )
    attacks = {
        "mount -o remount,rw /usr && touch /usr/pwned": "",
        "mount -t tmpfs none /mnt": "",
        "touch /usr/bin/pwned": "Read-only file system",
        "umount /proc/sys": "",
        "echo c > /proc/sysrq-trigger": "",  # would crash the host's kernel: read-only, or absent
        "echo 3 > /proc/sys/vm/drop_caches": "Read-only file system",
        "head -c 1 /proc/kcore | wc -c | grep -qx 1": "",  # masked by /dev/null: nothing to read
        "ls /sys/firmware | grep -q .": "",  # masked by an empty tmpfs
        "ip link add dummy0 type dummy": "",  # no CAP_NET_ADMIN
    }
    for attack, text in attacks.items():
        run = sh(kctl, "web-0", attack, "nginx")
        assert run.returncode != 0, attack
        assert text in run.stderr, (attack, run.stderr)
    assert not Path("/usr/pwned").exists() and not Path("/usr/bin/pwned").exists()
    # device nodes: creating one is allowed (CAP_MKNOD), using it is not (nodev, no device cgroup needed)
    disk = sh(kctl, "tools", "mknod /tmp/sda b 8 0 2>&1; head -c 1 /tmp/sda >/dev/null 2>&1 && echo READ")
    assert "READ" not in disk.stdout
    mem = sh(kctl, "tools", "mknod /tmp/mem c 1 1 2>&1; head -c 1 /tmp/mem >/dev/null 2>&1 && echo READ")
    assert "READ" not in mem.stdout
    # what a container may take from the machine (runtime/limits.py): the node's bounded disk (not a tmpfs
    # of half the machine's memory), the pod's process limit, the kubelet's OOM score for BestEffort
    size_kib = int(sh(kctl, "tools", "df -k / | tail -1").stdout.split()[1])
    assert size_kib <= 2 << 20, size_kib
    limits = sh(kctl, "tools", "cat /proc/self/oom_score_adj; grep 'Max processes' /proc/self/limits").stdout
    assert limits.startswith("1000\nMax processes             1024                 1024 "), limits
    # host secrets and terminals are not there; /proc/1/root is the container's own root
    shadow = sh(kctl, "web-0", "cat /etc/shadow", "nginx").stdout
    host_shadow = Path("/etc/shadow").read_text() if os.access("/etc/shadow", os.R_OK) else ""
    assert shadow.startswith("root:*:") and shadow != host_shadow
    assert sh(kctl, "tools", "ls /dev/pts").stdout.split() == ["ptmx"]
    assert sh(kctl, "tools", "ls /proc/1/root/").stdout.split() == sh(kctl, "tools", "ls /").stdout.split()
    pids = sh(kctl, "tools", "ls -d /proc/[0-9]*").stdout.split()
    assert len(pids) < 10, pids  # its own processes only
    # the host's loopback (where the API server and Jupyter listen) is not the pod's
    run = sh(kctl, "tools", f"nc -w 2 127.0.0.1 {lab.port} </dev/null && echo CONNECTED")
    assert "CONNECTED" not in run.stdout
    # a nested user namespace gives back CAP_SYS_ADMIN there, but nothing of the host becomes writable
    nested = sh(
        kctl,
        "tools",
        "unshare -Urm sh -c 'mount -o remount,rw /bin/busybox; echo x > /bin/busybox' 2>&1; echo done",
    )
    assert nested.stdout.endswith("done\n")
    assert subprocess.run(["/bin/busybox", "true"]).returncode == 0


def _processes_of(pod: str) -> list[psutil.Process]:
    """The host's processes of pod ``pod`` (a name no other cluster on the machine uses): each container
    process carries ``HOSTNAME=<pod>`` (the runtime's env) or, where it rewrote its environment (nginx's
    process titles), sees ``<pod>`` in its ``/etc/hostname`` (the kubelet's file); what they start descends
    from them."""

    def of_pod(process: psutil.Process) -> bool:
        if process.environ().get("HOSTNAME") == pod:
            return True
        with contextlib.suppress(OSError):
            return Path(f"/proc/{process.pid}/root/etc/hostname").read_text() == f"{pod}\n"
        return False

    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if of_pod(process):
                found[process.pid] = process
                found.update((child.pid, child) for child in process.children(recursive=True))
    return list(found.values())


def _name(process: psutil.Process) -> str | None:
    """The process's name, or None once it has ended (a pod's short-lived helpers, e.g. nginx's entrypoint
    scripts, may end between the listing and this look)."""
    try:
        return process.name()
    except psutil.NoSuchProcess:
        return None


def _writable_layer(pid: int) -> str:
    """Where a container's writable layer lives on the node: the upperdir of the overlay mounted as its
    root, from the host's view of the container's mount table (containerd's overlayfs snapshot)."""
    for line in Path(f"/proc/{pid}/mountinfo").read_text().splitlines():
        fields, _, fs = line.partition(" - ")
        if fields.split()[4] == "/" and fs.startswith("overlay "):
            options = dict(o.partition("=")[::2] for o in fs.split()[2].split(","))
            return str(Path(options["upperdir"]).parent)
    raise AssertionError(f"no overlay root for pid {pid}")


def _run_pod(kctl, image: str, *command: str) -> str:
    """``kubectl run`` a pod of a name of its own; its name once it is Ready."""
    name = f"p-{uuid.uuid4().hex[:8]}"
    assert kctl("run", name, f"--image={image}", *(["--", *command] if command else [])).returncode == 0
    ready = kctl("wait", "--for=condition=Ready", f"pod/{name}", "--timeout=30s")
    assert ready.returncode == 0, ready.stderr
    return name


def test_a_deleted_pod_leaves_nothing_running(kctl):
    """The kubelet's KillPod (pkg/kubelet/kuberuntime/kuberuntime_manager.go) stops every container and
    the sandbox, and removing a container removes its snapshot (the writable layer): seen from the host,
    nothing of the pod remains — no process (the main one, a job an exec left behind) and no file it
    wrote."""
    pod = _run_pod(kctl, "busybox:1.36", "sleep", "infinity")
    assert sh(kctl, pod, "sleep 7321 >/dev/null 2>&1 & echo x > /tmp/marker").returncode == 0
    processes = _processes_of(pod)
    names = sorted(n for n in map(_name, processes) if n)
    assert names.count("sleep") == 2, names  # the main process and the exec's job (each with its sh gone)
    layer, viewers = "", []
    if ISOLATION.mode == "namespaces":  # process mode has no writable layer: containers write the host's
        main = next(p for p in processes if p.cmdline() == ["sleep", "infinity"])
        layer = _writable_layer(main.pid)
        # the node's disk is mounted in its helper's mount namespace only: look through that process
        viewers = [p for p in psutil.Process().children(recursive=True)
                   if Path(f"/proc/{p.pid}/root{layer}/upper/tmp/marker").exists()]  # fmt: skip
        assert viewers, layer
    assert kctl("delete", "pod", pod, "--now").returncode == 0
    _, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == [] and _processes_of(pod) == []
    deadline = time.monotonic() + 10  # the layer is removed once the container has ended
    while any(Path(f"/proc/{v.pid}/root{layer}").exists() for v in viewers):
        assert time.monotonic() < deadline, layer
        time.sleep(0.05)
    assert all(v.is_running() for v in viewers)  # the node's helper lives on: it is the layer that went


@needs_pod_network
def test_nothing_of_a_pod_listens_on_the_hosts_interfaces(kctl):
    """A pod's sockets live in its own network namespace (the CNI's veth pair; the pod IP is on no host
    interface): nginx's ``listen 80`` binds there, and the host's socket table (``/proc/net/tcp`` of its
    namespace, which psutil reads) has nothing of the pod's."""
    pod = _run_pod(kctl, "nginx:1.27")
    try:
        processes = _processes_of(pod)
        pids = {p.pid for p in processes}
        nginx = [p for p in processes if _name(p) == "nginx"]
        master = min(nginx, key=lambda p: p.create_time())  # and its workers
        sockets = {os.readlink(f"/proc/{master.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{master.pid}/fd")}
        listening = [
            line.split()
            for table in ("tcp", "tcp6")
            for line in Path(f"/proc/{master.pid}/net/{table}").read_text().splitlines()[1:]
        ]
        # the pod's own table: nginx listens on :80 (state 0A) with a socket the master holds
        assert [
            f for f in listening if f[1].endswith(":0050") and f[3] == "0A" and f"socket:[{f[9]}]" in sockets
        ]
        on_host = [c for c in psutil.net_connections("inet") if c.pid in pids]
        assert on_host == []
        addresses = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs}
        assert pod_ip(kctl, pod) not in addresses
    finally:
        kctl("delete", "pod", pod, "--now", "--wait=false")
