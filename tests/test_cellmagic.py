"""%%k8sexec through a real IPython InteractiveShell, against the demo cluster."""

import os
import signal
import sys
import threading
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

import k8sterm_widget
from k8sterm_widget.errors import CellFailed


class Recorder:
    """Stands in for sys.stdout/sys.stderr: keeps (time, stream, text) of every write."""

    def __init__(self, log: list, name: str) -> None:
        self.log, self.name = log, name

    def write(self, text: str) -> int:
        self.log.append((time.monotonic(), self.name, text))
        return len(text)

    def flush(self) -> None:
        pass


@pytest.fixture(scope="module")
def ip():
    shell = InteractiveShell.instance()
    shell.extension_manager.load_extension("k8sterm_widget")
    return shell


@pytest.fixture
def run(ip, demo_cluster, monkeypatch):
    """Run a %%k8sexec cell; returns (ExecutionResult, [(time, stream, text)], end time)."""
    conn = f"--kubeconfig {demo_cluster.kubeconfig} --context demo-admin"

    def run_cell(line: str, body: str, log: list | None = None):
        log = [] if log is None else log
        monkeypatch.setattr(sys, "stdout", Recorder(log, "out"))
        monkeypatch.setattr(sys, "stderr", Recorder(log, "err"))
        try:
            result = ip.run_cell(f"%%k8sexec {line} {conn}\n{body}", store_history=False)
        finally:
            monkeypatch.undo()
        return result, log, time.monotonic()

    return run_cell


def text(log, stream=None) -> str:
    return "".join(t for _, s, t in log if stream in (None, s))


def test_output_streams_as_it_comes_in_order(run):
    result, log, ended = run("web-0 -n demo", "echo one\nsleep 1\necho two >&2\nsleep 0.3\necho three")
    assert result.success, result.error_in_exec
    chunks = [(s, t) for _, s, t in log]
    assert chunks == [("out", "one\n"), ("err", "two\n"), ("out", "three\n")]
    first = log[0][0]
    assert ended - first > 1.0, "the first line was written only at the end"


def test_nonzero_exit_fails_the_cell_with_the_code(run):
    result, log, _ = run("web-0 -n demo -c sidecar", "echo before\nexit 3")
    assert not result.success
    err = result.error_in_exec
    assert isinstance(err, CellFailed) and err.exit_code == 3 and err.container == "sidecar"
    assert text(log, "out").startswith("before\n")
    shown = text(log).splitlines()[-1]
    assert shown == "CellFailed: cell script in demo/web-0 [sidecar] exited with code 3"


def test_preflight_error_is_one_readable_line(run):
    result, log, _ = run("nope -n demo", "echo hi")
    assert not result.success and type(result.error_in_exec).__name__ == "PodNotFound"
    lines = [line for line in text(log).splitlines() if line.strip()]
    assert lines == [
        'PodNotFound: pod "nope" not found in namespace "demo". List the pods with: kubectl get pods -n demo'
    ]


def test_body_commands_do_not_eat_the_script(run):
    result, log, _ = run("web-1 -n demo", "cat\nread x || echo 'stdin is empty'\necho after")
    assert result.success and text(log, "out") == "stdin is empty\nafter\n"


def test_a_body_far_beyond_url_limits(run):
    body = "".join(f"echo line-{i:05d}\n" for i in range(20000))  # ~320 KB; argv would not survive the URL
    result, log, _ = run("web-0 -n demo", body)
    out = text(log, "out").splitlines()
    assert result.success and len(out) == 20000 and out[-1] == "line-19999"


def test_shell_option_and_a_missing_shell(run):
    result, log, _ = run("web-0 -n demo --shell bash", 'echo "$BASH_VERSION" | cut -c1')
    assert result.success and text(log, "out").strip().isdigit()
    result, log, _ = run("web-0 -n demo -c sidecar --shell bash", "echo hi")
    assert type(result.error_in_exec).__name__ == "CommandNotFound"
    assert text(log).strip().startswith('CommandNotFound: cannot run "bash"')


@pytest.fixture
def sigint_raises():
    """Python turns SIGINT into KeyboardInterrupt only if SIGINT was not ignored when it started, and a shell
    starts background jobs (``make test &``) with SIGINT ignored: the cell then slept on until the test's
    timeout. A kernel always has the handler; so does the test that needs it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_interrupt_closes_the_session_and_ends_the_remote_command(run, demo_cluster, sigint_raises):
    kc = {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin", "namespace": "demo"}
    marker = "31337"
    fired = threading.Event()

    def interrupt_when_started(log_ref: list) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if "started" in text(log_ref):
                time.sleep(0.2)
                fired.set()
                os.kill(os.getpid(), signal.SIGINT)  # what the kernel's interrupt button does
                return
            time.sleep(0.02)

    log: list = []
    watcher = threading.Thread(target=interrupt_when_started, args=(log,), daemon=True)
    watcher.start()
    result, log, _ = run("web-0 -n demo", f"echo started\nsleep {marker}\necho never", log)
    assert fired.is_set()
    assert isinstance(result.error_in_exec, KeyboardInterrupt)
    assert ("out", "never\n") not in [(s, t) for _, s, t in log]
    assert "^C: closed the exec session to demo/web-0 [nginx], ending the remote command" in text(log, "err")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the demo kubelet kills the command's process tree
        ps = k8sterm_widget.exec("web-0", ["pgrep", "-f", f"sleep {marker}"], **kc)
        if ps.exit_code == 1:
            break
        time.sleep(0.1)
    assert ps.exit_code == 1, ps.stdout


def test_timeout_stops_a_chatty_command(run):
    result, log, _ = run("web-0 -n demo --timeout 1", "while :; do echo tick; sleep 0.05; done")
    err = result.error_in_exec
    assert type(err).__name__ == "ExecTimeout" and "within 1 s" in str(err)
    assert text(log, "out").startswith("tick\n")


def test_in_a_real_kernel_output_and_failure_land_in_the_cell(demo_cluster):
    """The notebook path: an ipykernel routes the cell thread's writes into that cell's outputs."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    conn = f"-n demo --kubeconfig {demo_cluster.kubeconfig} --context demo-admin"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext k8sterm_widget"),
        nbformat.v4.new_code_cell(f"%%k8sexec web-0 {conn}\necho hello from $(hostname)\necho oops >&2"),
        nbformat.v4.new_code_cell(f"%%k8sexec web-1 {conn}\nexit 3"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=60, allow_errors=True, kernel_name="python3")
    client.execute()
    streams = {o["name"]: o["text"] for o in nb.cells[1].outputs if o["output_type"] == "stream"}
    assert streams == {"stdout": "hello from web-0\n", "stderr": "oops\n"}
    (error,) = [o for o in nb.cells[2].outputs if o["output_type"] == "error"]
    assert error["ename"] == "CellFailed"
    assert error["traceback"] == ["CellFailed: cell script in demo/web-1 [nginx] exited with code 3"]
