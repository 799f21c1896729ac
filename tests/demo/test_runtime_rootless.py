"""The demo cluster started by an unprivileged user: everything in one user namespace of that user.

Run as root (CI is), the test drops to ``nobody`` for a child Python that starts a cluster and drives it
with kubectl: that is the path a developer without root takes. It needs the host's ``/usr/bin/python3``
(``nobody`` cannot read a Python under ``/root``) of the same minor version as the venv's, whose
site-packages it borrows; where that is not so, or the kernel allows no unprivileged user namespaces, the
test is skipped and says which.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOST_PYTHON = "/usr/bin/python3"
KUBECTL = str(Path(sys.executable).parent / "kubectl")


def _host_python_matches() -> bool:
    try:
        out = subprocess.run(
            [HOST_PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return False
    return out == str(tuple(sys.version_info[:2]))


def _nobody_can_read(*paths: str) -> bool:
    check = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r"]
    return all(subprocess.run([*check, p], capture_output=True).returncode == 0 for p in paths)


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="drops to nobody, which needs root (CI runs as root)"),
    pytest.mark.skipif(
        not _host_python_matches(), reason=f"{HOST_PYTHON} is not Python {sys.version_info[:2]}"
    ),
    pytest.mark.skipif(
        os.geteuid() == 0
        and not _nobody_can_read(str(ROOT / "k8sterm_widget"), sysconfig.get_paths()["purelib"]),
        reason="nobody cannot read this checkout or its venv (a parent directory is private)",
    ),
]

SCRIPT = textwrap.dedent(
    """
    import json, subprocess, sys
    from k8sterm_widget.demo import DemoCluster

    state, kubectl = sys.argv[1], sys.argv[2]
    with DemoCluster(state_dir=state + "/cluster") as c:
        env = {"KUBECONFIG": c.kubeconfig, "HOME": state, "PATH": "/usr/bin:/bin"}

        def run(*args):
            p = subprocess.run([kubectl, "--cache-dir", state + "/cache", *args], capture_output=True,
                               text=True, env=env, timeout=60)
            return p.stdout + p.stderr

        print(json.dumps({
            "isolation": c.isolation,
            "notice": c.notice,
            "pods": run("get", "pods", "-o", "wide"),
            "inside": run("exec", "web-0", "-c", "sidecar", "--", "sh", "-c",
                          "id -u; hostname; wget -qO- localhost | grep -c '<title>Welcome to nginx'; "
                          "grep CapEff /proc/self/status; touch /bin/busybox 2>&1; "
                          "echo ok > /etc/x && cat /etc/x; "
                          "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace"),
            "logs": run("logs", "web-0", "-c", "nginx"),
        }))
    """
)


def test_an_unprivileged_user_gets_isolated_containers() -> None:
    state = Path(tempfile.mkdtemp(prefix="k8sterm-nobody-"))  # pytest's tmp_path is root's only
    os.chown(state, 65534, 65534)
    try:
        _check_as_nobody(state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _check_as_nobody(state: Path) -> None:
    site = sysconfig.get_paths()["purelib"]
    env = {"PYTHONPATH": f"{ROOT}:{site}", "PATH": "/usr/bin:/bin", "HOME": str(state), "LANG": "C.UTF-8"}
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", HOST_PYTHON, "-c", SCRIPT,
         str(state), KUBECTL],
        capture_output=True, text=True, env=env, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["isolation"] != "namespaces":
        pytest.skip(f"no unprivileged user namespaces here: {result['notice']}")
    # one user namespace of nobody's: only uid 0 inside, and the start notice says so
    assert "uid 0 only" in result["notice"]
    assert "web-0        2/2     Running" in result["pods"], result["pods"]
    inside = result["inside"].splitlines()
    assert inside[:3] == ["0", "web-0", "1"], result["inside"]
    assert inside[3] == "CapEff:\t00000000a80425fb"
    assert "Read-only file system" in inside[4] and inside[5] == "ok"
    assert inside[6] == "demo"  # the kube-api-access volume, written through the node helper's mounts
    assert "/docker-entrypoint.sh: Configuration complete; ready for start up" in result["logs"]
