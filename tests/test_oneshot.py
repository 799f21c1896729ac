"""One-shot exec on the demo cluster: exit codes, streams, input, binary safety, timeouts, typed errors."""

import hashlib
import os
import threading
import time

import pytest

import k8sterm_widget
from k8sterm_widget.errors import CommandFailed, CommandNotFound, ExecTimeout


@pytest.fixture
def kc(demo_cluster):
    return {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin"}


@pytest.mark.parametrize("code", [0, 1, 3, 127])
def test_exit_codes(kc, code):
    r = k8sterm_widget.exec("web-0", f"exit {code}", "demo", **kc)
    assert r.exit_code == code and r.returncode == code


def test_missing_command_run_by_a_shell_is_127(kc):
    r = k8sterm_widget.exec("web-1", "no-such-tool --version", "demo", **kc)
    assert r.exit_code == 127 and "not found" in r.stderr


def test_stdout_and_stderr_stay_apart(kc):
    r = k8sterm_widget.exec("web-0", ["sh", "-c", "echo out; echo err >&2; echo out2"], "demo", **kc)
    assert (r.stdout, r.stderr, r.exit_code) == ("out\nout2\n", "err\n", 0)
    assert r.container == "nginx" and r.notes == []  # annotation default: kubectl prints no note then


def test_argv_is_not_run_through_a_shell(kc):
    r = k8sterm_widget.exec("web-0", ["echo", "$HOME", "*"], "demo", **kc)
    assert r.stdout == "$HOME *\n"


def test_check_raises_with_exit_code_and_stderr_tail(kc):
    with pytest.raises(CommandFailed) as info:
        k8sterm_widget.exec("web-0", "echo doomed >&2; exit 3", "demo", check=True, **kc)
    assert info.value.exit_code == 3 and "doomed" in str(info.value)
    assert info.value.result.stderr == "doomed\n"


def test_command_not_found_is_typed(kc):
    with pytest.raises(CommandNotFound) as info:
        k8sterm_widget.exec("web-0", ["no-such-binary"], "demo", **kc)
    assert "executable file not found" in str(info.value)


def test_input_str_and_bytes_then_eof(kc):
    assert k8sterm_widget.exec("web-0", ["wc", "-c"], "demo", input="héllo", **kc).stdout.strip() == "6"
    assert (
        k8sterm_widget.exec("web-0", ["cat"], "demo", input=b"\x00\xff\x00", **kc).stdout_bytes
        == b"\x00\xff\x00"
    )


def test_sidecar_container_and_default_namespace_from_context(kc):
    r = k8sterm_widget.exec("web-0", "command -v bash || echo no-bash", container="sidecar", **kc)
    assert r.stdout == "no-bash\n" and r.namespace == "demo"


def test_timeout_keeps_partial_output(kc):
    started = time.monotonic()
    with pytest.raises(ExecTimeout) as info:
        k8sterm_widget.exec("web-0", "echo started; sleep 30", "demo", timeout=1.5, **kc)
    assert time.monotonic() - started < 6
    assert info.value.result.stdout == "started\n"


@pytest.mark.slow
def test_100_megabytes_round_trip_binary_safe(kc):
    data = os.urandom(100 * 1024 * 1024)
    r = k8sterm_widget.exec("web-0", ["cat"], "demo", input=data, timeout=300, **kc)
    assert r.exit_code == 0
    assert len(r.stdout_bytes) == len(data)
    assert hashlib.sha256(r.stdout_bytes).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_50_concurrent_execs_from_one_process(kc):
    results, errors = {}, []

    def run(i):
        try:
            results[i] = k8sterm_widget.exec(
                "web-1" if i % 2 else "web-0",
                f"echo {i}; sleep 0.5; echo done-{i}",
                "demo",
                timeout=120,
                **kc,
            )
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors
    assert sorted(results) == list(range(50))
    assert all(r.stdout == f"{i}\ndone-{i}\n" and r.exit_code == 0 for i, r in results.items())
