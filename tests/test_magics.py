"""``%load_ext k8sterm_widget`` and the ``%k8sterm`` magic in a real IPython shell, on the demo cluster."""

import comm
import pytest
from helpers import Recorder, wait_until
from IPython.core.interactiveshell import InteractiveShell

import k8sterm_widget
from k8sterm_widget.widget import Terminal


@pytest.fixture
def ip(monkeypatch):
    monkeypatch.setattr(comm, "create_comm", Recorder().create)
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "k8sterm_widget")
    return shell


def test_the_magic_opens_a_terminal_like_kubectl_exec(ip, demo_cluster):
    kc = demo_cluster.kubeconfig
    t = ip.run_line_magic("k8sterm", f"web-0 -n demo -c sidecar --context demo-admin --kubeconfig {kc}")
    assert isinstance(t, Terminal)
    assert (t.pod, t.namespace, t.context) == ("web-0", "demo", "demo-admin")
    wait_until(lambda: t.container == "sidecar", 10, "pre-flight")
    t.close()


def test_a_command_after_double_dash_runs_instead_of_the_shell(ip, demo_cluster, monkeypatch):
    from k8sterm_widget.widget import _widget

    monkeypatch.setattr(_widget, "FIRST_SIZE_WAIT", 0.1)
    kc = demo_cluster.kubeconfig
    t = ip.run_line_magic("k8sterm", f"web-0 -n demo --kubeconfig {kc} -- sh -c 'exit 4'")
    wait_until(lambda: t.status == "exited", 15, "the command to finish")
    assert t.exit_code == 4


def test_errors_show_in_the_widget_not_as_a_traceback(ip, demo_cluster):
    t = ip.run_line_magic("k8sterm", f"nope -n demo --kubeconfig {demo_cluster.kubeconfig}")
    wait_until(lambda: t.status == "error", 10)
    assert 'pod "nope" not found' in t.status_detail


def test_the_package_stays_light_until_the_widget_is_used():
    import subprocess
    import sys

    code = "import sys, k8sterm_widget; print('anywidget' in sys.modules, 'kubernetes' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
    assert callable(k8sterm_widget.shell) and k8sterm_widget.Terminal is Terminal
