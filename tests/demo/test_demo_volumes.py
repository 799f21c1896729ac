"""Pod volumes (:mod:`k8sterm_widget.demo.volumes`, the runtime's binds in ``runtime/rootfs.py`` and
``runtime/securejoin.py``): what a container sees of configMap, secret, emptyDir, downwardAPI, projected and
hostPath volumes, through real kubectl, as a kubelet lays them out (``pkg/volume/util/atomic_writer.go``,
``pkg/volume/configmap``, ``pkg/volume/hostpath``), and that no symlink a container leaves in a volume leads
a mount to the host.

The kubectl tests need namespace isolation (volumes are binds into a container's own root); where the
probe finds none they skip and say why — CI has it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubectl_runner import Kubectl

from k8sterm_widget.demo import DemoCluster
from k8sterm_widget.demo.runtime.securejoin import open_in_root
from k8sterm_widget.demo.volumes import MountError, Volumes

NS = "vol"


# --- units: the atomic writer and the resolver ---------------------------------------------------------


class _Runtime:
    """The runtime as the volume manager uses it: ownership (nobody else's here)."""

    owner = None

    def give(self, path: Path) -> None:
        pass


class _Store:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict] = {}

    def get(self, resource: str, namespace: str, name: str) -> dict | None:
        return self.objects.get((resource, namespace, name))


def _pod(volumes: list[dict], labels: dict | None = None) -> dict:
    return {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": labels or {}},
        "spec": {"volumes": volumes, "containers": [{"name": "c"}]},
    }


def test_atomic_writer_layout_and_update(tmp_path: Path) -> None:
    store = _Store()
    store.objects[("configmaps", "ns", "app")] = {"data": {"a": "1", "b": "2"}}
    volumes = Volumes(store, _Runtime())
    pod = _pod([{"name": "cfg", "configMap": {"name": "app", "defaultMode": 0o640}}])
    setup = volumes.setup(pod, (tmp_path, "/node/kubelet"))
    assert setup is not None
    where = setup.dirs["cfg"]
    assert where == tmp_path / "pods/u1/volumes/kubernetes.io~configmap/cfg"
    assert setup.node_path("cfg") == "/node/kubelet/pods/u1/volumes/kubernetes.io~configmap/cfg"
    stamp = os.readlink(where / "..data")
    assert re.fullmatch(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+", stamp)
    assert {e: os.readlink(where / e) for e in os.listdir(where) if not e.startswith("..")} == {
        "a": "..data/a",
        "b": "..data/b",
    }
    assert (where / "a").read_text() == "1" and oct((where / stamp / "a").stat().st_mode & 0o777) == "0o640"
    # same payload: nothing is rewritten; a changed one: a new directory, the old one gone, b's link dropped
    volumes.refresh(pod, setup)
    assert os.readlink(where / "..data") == stamp
    store.objects[("configmaps", "ns", "app")] = {"data": {"a": "new"}}
    volumes.refresh(pod, setup)
    assert os.readlink(where / "..data") != stamp and not (where / stamp).exists()
    assert (where / "a").read_text() == "new" and not os.path.lexists(where / "b")


def test_payload_texts_match_the_kubelets(tmp_path: Path) -> None:
    store = _Store()
    store.objects[("configmaps", "ns", "app")] = {"data": {"k": "v"}, "binaryData": {"bin": "AAE="}}
    store.objects[("secrets", "ns", "s")] = {"data": {"u": base64.b64encode(b"admin").decode()}}
    volumes = Volumes(store, _Runtime())
    home = (tmp_path, "/node/kubelet")

    def error(volume: dict) -> str:
        with pytest.raises(MountError) as info:
            volumes.setup(_pod([volume]), home)
        return str(info.value)

    assert error({"name": "v", "configMap": {"name": "nope"}}) == (
        'MountVolume.SetUp failed for volume "v" : configmap "nope" not found'
    )
    assert error({"name": "v", "secret": {"secretName": "nope"}}) == (
        'MountVolume.SetUp failed for volume "v" : secret "nope" not found'
    )
    assert error({"name": "v", "configMap": {"name": "app", "items": [{"key": "x", "path": "x"}]}}) == (
        'MountVolume.SetUp failed for volume "v" : configmap references non-existent config key: x'
    )
    assert error({"name": "v", "secret": {"secretName": "s", "items": [{"key": "x", "path": "x"}]}}) == (
        'MountVolume.SetUp failed for volume "v" : references non-existent secret key: x'
    )
    assert error({"name": "v", "hostPath": {"path": "/missing", "type": "Directory"}}) == (
        'MountVolume.SetUp failed for volume "v" : hostPath type check failed: /missing is not a directory'
    )
    assert error({"name": "v", "persistentVolumeClaim": {"claimName": "c"}}).endswith(
        "the demo cluster's node has no persistentVolumeClaim volumes (no storage behind them)"
    )
    # optional sources may be missing; binaryData is decoded; labels are Go-quoted and sorted
    pod = _pod(
        [
            {"name": "o", "configMap": {"name": "nope", "optional": True}},
            {"name": "c", "configMap": {"name": "app"}},
            {
                "name": "d",
                "downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]},
            },
        ],
        labels={"b": 'say "hi"', "a": "1"},
    )
    setup = volumes.setup(pod, home)
    assert setup is not None
    assert [e for e in os.listdir(setup.dirs["o"]) if not e.startswith("..")] == []  # an empty payload
    assert (setup.dirs["c"] / "bin").read_bytes() == b"\x00\x01"
    assert (setup.dirs["d"] / "l").read_text() == 'a="1"\nb="say \\"hi\\""'


def test_the_atomic_writer_writes_nothing_outside_its_volume(tmp_path: Path) -> None:
    """A payload path with ``..`` is refused before anything is written, with ``validatePath``'s text
    (``pkg/volume/util/atomic_writer.go``) — even if a spec got past the API server's validation."""
    store = _Store()
    store.objects[("configmaps", "ns", "app")] = {"data": {"x": "pwned"}}
    volumes = Volumes(store, _Runtime())
    home = tmp_path / "a" / "b" / "c" / "d" / "e" / "f"
    home.mkdir(parents=True)
    escape = "../" * 12 + "escaped"
    for source, text in [
        ({"configMap": {"name": "app", "items": [{"key": "x", "path": escape}]}},
         f"must not contain '..': {escape}"),
        ({"downwardAPI": {"items": [{"path": "/abs", "fieldRef": {"fieldPath": "metadata.name"}}]}},
         "must be relative path: /abs"),
        ({"projected": {"sources": [{"downwardAPI": {"items": [
            {"path": "..data/x", "fieldRef": {"fieldPath": "metadata.name"}}]}}]}},
         "must not start with '..': ..data/x"),
    ]:  # fmt: skip
        with pytest.raises(MountError) as info:
            volumes.setup(_pod([{"name": "v", **source}]), (home, "/node/kubelet"))
        assert str(info.value) == f'MountVolume.SetUp failed for volume "v" : invalid path: {text}'
    assert not any(p.name == "escaped" for p in tmp_path.rglob("*")) and not Path("/escaped").exists()


def test_open_in_root_never_leaves_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    os.symlink("/", root / "abs")
    os.symlink("../../../..", root / "up")
    os.symlink("/dir", root / "indirect")
    outside = tmp_path / "outside"
    outside.mkdir()

    def where(path: str, create: str = "") -> str:
        fd = open_in_root(str(root), path, create=create)
        try:
            return os.path.relpath(os.readlink(f"/proc/self/fd/{fd}"), root)
        finally:
            os.close(fd)

    assert where("abs") == "." and where("up") == "." and where("../../..") == "."
    assert where("indirect") == "dir" and where("abs/dir/../indirect") == "dir"
    assert where("abs/outside", create="dir") == "outside"  # made inside the root, not next to it
    assert (root / "outside").is_dir() and not any(outside.iterdir())
    assert where("up/etc/passwd", create="file") == "etc/passwd" and (root / "etc/passwd").stat().st_size == 0
    os.symlink("loop", root / "loop")
    with pytest.raises(OSError, match="Too many levels of symbolic links"):
        where("loop")
    with pytest.raises(FileNotFoundError):
        where("abs/nothing")


# --- through kubectl ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kctl(demo_cluster: DemoCluster, kubectl: Kubectl) -> Iterator[Kubectl]:
    if demo_cluster.isolation != "namespaces":
        pytest.skip(
            f"volumes are binds into a container's own root, which needs namespaces: {demo_cluster.notice}"
        )
    assert kubectl("create", "namespace", NS).returncode == 0
    # Pod Security baseline (the demo's default) refuses hostPath volumes, as on a cluster that enforces it
    label = "pod-security.kubernetes.io/enforce=privileged"
    assert kubectl("label", "namespace", NS, label).returncode == 0
    yield kubectl
    kubectl("delete", "namespace", NS, "--wait=false")


def _apply(kubectl: Kubectl, text: str) -> None:
    r = kubectl("-n", NS, "apply", "-f", "-", input=text)
    assert r.returncode == 0, r.stderr


def _ready(kubectl: Kubectl, pod: str) -> None:
    r = kubectl("-n", NS, "wait", "--for=condition=Ready", f"pod/{pod}", "--timeout=60s")
    assert r.returncode == 0, r.stderr


def _sh(kubectl: Kubectl, pod: str, script: str, container: str = "") -> str:
    r = kubectl("-n", NS, "exec", pod, *(["-c", container] if container else []), "--", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _until(check, what: str, timeout: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


APP = """
apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {greeting: hello, app.conf: "level=info\\n"}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {user: admin, password: s3cret}
---
apiVersion: v1
kind: Pod
metadata: {name: app, labels: {app: web, tier: front}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: main
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts:
    - {name: cfg, mountPath: /etc/cfg}
    - {name: cfg, mountPath: /etc/app.conf, subPath: app.conf}
    - {name: creds, mountPath: /etc/creds, readOnly: true}
    - {name: scratch, mountPath: /scratch}
    - {name: info, mountPath: /etc/podinfo}
    - {name: all, mountPath: /etc/all}
  - name: side
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: scratch, mountPath: /shared}]
  volumes:
  - {name: cfg, configMap: {name: app}}
  - {name: creds, secret: {secretName: creds, defaultMode: 0400}}
  - {name: scratch, emptyDir: {}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
  - name: all
    projected:
      sources:
      - configMap: {name: app, items: [{key: greeting, path: config/greeting}]}
      - secret: {name: creds, items: [{key: user, path: user, mode: 0600}]}
      - downwardAPI: {items: [{path: namespace, fieldRef: {fieldPath: metadata.namespace}}]}
      - serviceAccountToken: {path: token, audience: vault, expirationSeconds: 7200}
"""


@pytest.fixture(scope="module")
def app(kctl: Kubectl) -> Kubectl:
    _apply(kctl, APP)
    _ready(kctl, "app")
    return kctl


def test_configmap_and_secret_files_as_the_kubelet_lays_them_out(app: Kubectl) -> None:
    listing = _sh(app, "app", "ls -A /etc/cfg").split()
    stamp = listing[0]
    assert re.fullmatch(r"\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.\d+", stamp), listing
    assert listing == [stamp, "..data", "app.conf", "greeting"]
    out = _sh(
        app, "app", "cd /etc/cfg && for f in ..data greeting app.conf; do readlink $f; done; cat greeting"
    )
    assert out == f"{stamp}\n..data/greeting\n..data/app.conf\nhello"
    # a secret's files have its defaultMode; every one of these volumes is read-only in the container
    assert _sh(app, "app", "stat -c '%a %U' /etc/creds/..data/password; cat /etc/creds/password") == (
        "400 root\ns3cret"
    )
    r = app("-n", NS, "exec", "app", "--", "sh", "-c", "echo x > /etc/cfg/new")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    described = app("-n", NS, "describe", "pod", "app").stdout
    assert re.search(r"/etc/cfg from cfg \(rw\)", described) and "/etc/creds from creds (ro)" in described
    assert re.search(r"/etc/app.conf from cfg \(rw,path=\"app.conf\"\)", described)


def test_emptydir_is_shared_by_the_pods_containers(app: Kubectl) -> None:
    _sh(app, "app", "echo from-main > /scratch/note", container="main")
    assert _sh(app, "app", "cat /shared/note; stat -c %a /shared", container="side") == "from-main\n777\n"
    # on the node's disk, with the containers' writable layers: the same bounded file system as their /
    sizes = _sh(app, "app", "stat -f -c '%T %b' /scratch; stat -f -c %b /", container="main").split()
    assert sizes[0] == "tmpfs" and sizes[1] == sizes[2], sizes


def test_downward_api_and_projected_volumes(app: Kubectl) -> None:
    assert _sh(app, "app", "cat /etc/podinfo/labels; echo; cat /etc/podinfo/name") == (
        'app="web"\ntier="front"\napp'
    )
    out = _sh(
        app,
        "app",
        "cd /etc/all; cat config/greeting; echo; cat namespace; echo; stat -c %a ..data/user; cat token",
    )
    greeting, namespace, mode, token = out.split("\n")
    assert (greeting, namespace, mode) == ("hello", NS, "600")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["aud"] == ["vault"] and claims["sub"] == f"system:serviceaccount:{NS}:default"
    assert 7000 < claims["exp"] - claims["iat"] <= 7200
    assert claims["kubernetes.io"]["pod"]["name"] == "app"


def test_updates_reach_volumes_but_not_subpath_mounts(app: Kubectl) -> None:
    r = app("-n", NS, "create", "configmap", "app", "--from-literal=greeting=bonjour",
            "--from-literal=app.conf=level=debug", "--dry-run=client", "-o", "yaml")  # fmt: skip
    assert app("-n", NS, "apply", "-f", "-", input=r.stdout).returncode == 0
    assert app("-n", NS, "label", "pod", "app", "tier=back", "--overwrite").returncode == 0
    _until(lambda: _sh(app, "app", "cat /etc/cfg/greeting") == "bonjour", "the new greeting")
    assert _sh(app, "app", "cat /etc/cfg/app.conf") == "level=debug"
    assert _sh(app, "app", "cat /etc/all/config/greeting") == "bonjour"
    # subPath: the file as it was when the container started (kubernetes/kubernetes#50345)
    assert _sh(app, "app", "cat /etc/app.conf") == "level=info\n"
    _until(lambda: 'tier="back"' in _sh(app, "app", "cat /etc/podinfo/labels"), "the new label")


def test_volumes_of_a_non_root_pod_with_a_read_only_root(kctl: Kubectl) -> None:
    """The security context and volumes together: a user that is not root reads a configMap (0644) and
    writes its emptyDir (0777, the kubelet's mode), while the root file system refuses writes."""
    _apply(kctl, """
apiVersion: v1
kind: ConfigMap
metadata: {name: locked}
data: {greeting: hi}
---
apiVersion: v1
kind: Pod
metadata: {name: locked}
spec:
  terminationGracePeriodSeconds: 0
  securityContext: {runAsUser: 1000, runAsGroup: 1000}
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    securityContext: {readOnlyRootFilesystem: true}
    volumeMounts: [{name: cfg, mountPath: /etc/cfg}, {name: scratch, mountPath: /scratch}]
  volumes:
  - {name: cfg, configMap: {name: locked}}
  - {name: scratch, emptyDir: {}}
""")  # fmt: skip
    _ready(kctl, "locked")
    script = "id -u; cat /etc/cfg/greeting; echo; echo w > /scratch/f && cat /scratch/f; touch /x 2>&1"
    r = kctl("-n", NS, "exec", "locked", "--", "sh", "-c", script)
    assert r.stdout == "1000\nhi\nw\ntouch: /x: Read-only file system\n", (r.stdout, r.stderr)


def test_a_missing_source_is_failed_mount_until_it_appears(kctl: Kubectl) -> None:
    _apply(kctl, """
apiVersion: v1
kind: Pod
metadata: {name: waits}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: later, mountPath: /etc/later}]
  volumes:
  - {name: later, configMap: {name: later}}
""")  # fmt: skip

    def event() -> str:
        selector = "--field-selector=involvedObject.name=waits,reason=FailedMount"
        return kctl("-n", NS, "get", "events", selector, "-o", "jsonpath={.items[*].message}").stdout

    _until(lambda: bool(event()), "a FailedMount event")
    assert event().startswith('MountVolume.SetUp failed for volume "later" : configmap "later" not found')
    row = kctl("-n", NS, "get", "pod", "waits", "--no-headers").stdout.split()
    assert row[1:3] == ["0/1", "ContainerCreating"]
    assert kctl("-n", NS, "create", "configmap", "later", "--from-literal=k=v").returncode == 0
    _ready(kctl, "waits")
    assert _sh(kctl, "waits", "cat /etc/later/k") == "v"


def test_host_path_is_the_nodes_file_system_not_the_machines(
    kctl: Kubectl, demo_cluster: DemoCluster
) -> None:
    """hostPath lives in the cluster's node root: shared by pods, never a path of the machine, and a symlink
    a pod leaves there (or in an emptyDir) leads nowhere outside it."""
    _apply(kctl, """
apiVersion: v1
kind: Pod
metadata: {name: planter}
spec:
  terminationGracePeriodSeconds: 0
  initContainers:
  - name: plant
    image: busybox:1.36
    command:
    - sh
    - -c
    - ln -s /etc /node/hostetc && ln -s / /node/root && ln -s / /scratch/up && echo shared > /node/file
    volumeMounts: [{name: node, mountPath: /node}, {name: scratch, mountPath: /scratch}]
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts:
    - {name: node, mountPath: /node}
    - {name: scratch, mountPath: /escape, subPath: up/etc}
    - {name: scratch, mountPath: /node/root/inside}
  volumes:
  - {name: node, hostPath: {path: /data, type: DirectoryOrCreate}}
  - {name: scratch, emptyDir: {}}
""")  # fmt: skip
    _ready(kctl, "planter")
    # the emptyDir's `up` -> / is resolved inside the volume: /escape is a new, empty up/etc... of the volume
    assert _sh(kctl, "planter", "ls -A /escape; ls /node") == "file\nhostetc\nroot\n"
    # /node/root -> / ends at the container's own root: the emptyDir (its etc and up) is mounted at /inside
    assert _sh(kctl, "planter", "ls -A /inside") == "etc\nup\n"
    _apply(kctl, """
apiVersion: v1
kind: Pod
metadata: {name: reader}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: etc, mountPath: /hostetc}, {name: data, mountPath: /data, readOnly: true}]
  volumes:
  - {name: etc, hostPath: {path: /data/hostetc, type: DirectoryOrCreate}}
  - {name: data, hostPath: {path: /data}}
""")  # fmt: skip
    _ready(kctl, "reader")
    # /data/hostetc -> /etc inside the node root: the node's (empty) /etc, not the machine's
    assert _sh(kctl, "reader", "ls -A /hostetc; cat /data/file") == "shared\n"
    r = kctl("-n", NS, "exec", "reader", "--", "touch", "/data/x")
    assert r.returncode == 1 and "Read-only file system" in r.stderr
    # what the pods made is in the node's own file system on its disk, not the machine's
    runtime = demo_cluster._runtime
    assert not (runtime._disk / "kubelet").exists()  # the host sees an empty mount point
    node_root = Path(f"/proc/{runtime._node.pid}/root{runtime._disk}/kubelet/node")  # the node's view
    assert sorted(os.listdir(node_root)) == ["data", "etc"] and not os.listdir(node_root / "etc")
    assert not Path("/etc/hostetc").exists() and not Path("/data/file").exists()


def test_volume_paths_that_leave_the_volume_are_refused(kctl: Kubectl, tmp_path: Path) -> None:
    """Item paths, subPaths and hostPaths with ``..`` or a leading ``/`` are refused by the API server with
    its texts (``pkg/apis/core/validation``: ``validateKeyToPath``, ``ValidateLocalNonReservedPath``,
    ``validateHostPathVolumeSource``, ``ValidateVolumeMounts`` — whose subPath errors name the list, not the
    entry). Nothing is created: no pod, and no file on the machine where a path pointed."""
    target = tmp_path / "pwned"
    escape = "../" * 30 + str(target).lstrip("/")
    r = kctl("-n", NS, "apply", "-f", "-", input=f"""
apiVersion: v1
kind: Pod
metadata: {{name: escaper}}
spec:
  containers:
  - name: c
    image: busybox:1.36
    volumeMounts:
    - {{name: ok, mountPath: /a, subPath: ../../etc}}
    - {{name: ok, mountPath: /a, subPathExpr: /$(HOME)}}
  volumes:
  - {{name: cm, configMap: {{name: app, items: [{{key: greeting, path: "{escape}"}}]}}}}
  - {{name: sec, secret: {{secretName: creds, defaultMode: 01777}}}}
  - name: dn
    downwardAPI: {{items: [{{path: ..data, fieldRef: {{fieldPath: metadata.name}}}}]}}
  - name: pr
    projected:
      sources:
      - serviceAccountToken: {{path: /etc/token}}
      - configMap: {{name: app, items: [{{key: k, path: same}}]}}
      - secret: {{name: creds, items: [{{key: k, path: same}}]}}
  - {{name: hp, hostPath: {{path: /data/../../etc}}}}
  - {{name: ok, emptyDir: {{}}}}
""")  # fmt: skip
    assert r.returncode == 1
    assert r.stderr == (
        'The Pod "escaper" is invalid: \n'
        f"* spec.volumes[0].configMap.items[0].path: Invalid value: \"{escape}\": must not contain '..'\n"
        "* spec.volumes[1].secret.defaultMode: Invalid value: 1023: must be a number between 0 and 0777 "
        "(octal), both inclusive\n"
        "* spec.volumes[2].downwardAPI.path: Invalid value: \"..data\": must not start with '..'\n"
        '* spec.volumes[3].projected.path: Invalid value: "/etc/token": must be a relative path\n'
        '* spec.volumes[3].projected: Invalid value: "creds": conflicting duplicate paths\n'
        "* spec.volumes[4].hostPath.path: Invalid value: \"/data/../../etc\": must not contain '..'\n"
        "* spec.containers[0].volumeMounts.subPath: Invalid value: \"../../etc\": must not contain '..'\n"
        '* spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique\n'
        '* spec.containers[0].volumeMounts.subPathExpr: Invalid value: "/$(HOME)": must be a relative '
        "path\n"
    )
    assert kctl("-n", NS, "get", "pod", "escaper").returncode == 1
    assert not target.exists()


def test_a_write_that_fails_keeps_the_old_files_and_the_api_working(kctl: Kubectl) -> None:
    """When the atomic writer cannot write a new payload (here a configMap key ``a`` and a downwardAPI file
    ``a/b`` in one projected volume, which the API server allows; a full node disk is the same), the kubelet
    logs it and the pod keeps its old files (``pkg/volume/util/atomic_writer.go``: ``..data`` moves only
    after the new directory is complete). The ConfigMap update itself succeeds, and no half-written
    directory stays in the volume."""
    _apply(kctl, """
apiVersion: v1
kind: ConfigMap
metadata: {name: grow}
data: {x: "1"}
---
apiVersion: v1
kind: Pod
metadata: {name: grower}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox:1.36
    command: [sleep, "3600"]
    volumeMounts: [{name: p, mountPath: /p}]
  volumes:
  - name: p
    projected:
      sources:
      - configMap: {name: grow}
      - downwardAPI: {items: [{path: a/b, fieldRef: {fieldPath: metadata.name}}]}
""")  # fmt: skip
    _ready(kctl, "grower")
    before = _sh(kctl, "grower", "ls -A /p")
    r = kctl("-n", NS, "patch", "configmap", "grow", "-p", '{"data": {"x": "2", "a": "file"}}')
    assert r.returncode == 0, r.stderr  # the node's refresh runs before the update returns
    assert _sh(kctl, "grower", "ls -A /p; cat /p/x /p/a/b") == before + "1grower"


def test_a_pod_whose_volumes_never_mounted_leaves_nothing_on_the_node(
    kctl: Kubectl, demo_cluster: DemoCluster
) -> None:
    """A pod stuck in FailedMount (its configMap is missing) already has its secret volume written; deleting
    it removes its whole directory, as the kubelet's ``cleanupOrphanedPodDirs``
    (``pkg/kubelet/kubelet_volumes.go``) removes the directories of pods it no longer runs."""
    assert kctl("-n", NS, "create", "secret", "generic", "kept", "--from-literal=pw=hunter2").returncode == 0
    _apply(kctl, """
apiVersion: v1
kind: Pod
metadata: {name: stuck}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - {name: c, image: busybox:1.36, command: [sleep, "3600"], volumeMounts: [{name: s, mountPath: /s}]}
  volumes:
  - {name: s, secret: {secretName: kept}}
  - {name: m, configMap: {name: never-made}}
""")  # fmt: skip
    uid = kctl("-n", NS, "get", "pod", "stuck", "-o", "jsonpath={.metadata.uid}").stdout
    runtime = demo_cluster._runtime
    home = Path(f"/proc/{runtime._node.pid}/root{runtime._disk}/kubelet/pods/{uid}")
    _until(lambda: (home / "volumes/kubernetes.io~secret/s/pw").exists(), "the secret volume is written")
    assert kctl("-n", NS, "delete", "pod", "stuck").returncode == 0
    _until(lambda: not home.exists(), "the pod's directory is removed")
