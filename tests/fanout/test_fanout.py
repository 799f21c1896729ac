"""exec_many on the demo cluster: selectors, explicit pods, failures that never hide others, rendering."""

import sys
import uuid

import pytest

import k8sterm_widget
from k8sterm_widget.errors import (
    CommandNotFound,
    ContainerNotRunning,
    ExecTimeout,
    FanoutFailed,
    Forbidden,
    PodNotFound,
    PodNotRunning,
)
from k8sterm_widget.fanout import FanoutResult


def test_selector_runs_on_every_matching_pod(kc):
    res = k8sterm_widget.exec_many("hostname", selector="app=web", **kc)
    assert isinstance(res, FanoutResult) and len(res) == 2 and res.ok
    assert [(r.pod, r.container, r.exit_code, r.stdout) for r in res] == [
        ("web-0", "nginx", 0, "web-0\n"),
        ("web-1", "nginx", 0, "web-1\n"),
    ]
    assert (
        res.by_pod["web-1"].stdout == "web-1\n" and res[0].pod == "web-0" and res.pods == ["web-0", "web-1"]
    )
    assert isinstance(res[:1], FanoutResult) and len(res[:1]) == 1
    assert res.groups() == {"web-0\n": ["web-0"], "web-1\n": ["web-1"]}


def test_selected_pods_that_do_not_run_are_reported_not_dropped(kc):
    res = k8sterm_widget.exec_many("echo hi", selector="app in (web, batch, flaky)", **kc)
    assert res.pods == ["completed", "crashloop", "pending", "web-0", "web-1"]
    by = res.by_pod
    assert isinstance(by["pending"].error, PodNotRunning) and "host assigned" in str(by["pending"].error)
    assert isinstance(by["completed"].error, PodNotRunning)
    assert isinstance(by["crashloop"].error, ContainerNotRunning)
    assert [r.pod for r in res.succeeded] == ["web-0", "web-1"] and not res.ok
    assert res.failed.pods == ["completed", "crashloop", "pending"]


def test_explicit_pods_with_failures_of_every_kind(kc):
    pods = ["web-0", "web-1", "nope", "pending", "distroless"]
    res = k8sterm_widget.exec_many(
        ["sh", "-c", 'test "$(hostname)" = web-1 && exit 3; echo fine'], pods=pods, **kc
    )
    assert res.pods == pods  # pod-list order, whatever finished first
    by = res.by_pod
    assert by["web-0"].ok and by["web-0"].stdout == "fine\n"
    assert (by["web-1"].exit_code, by["web-1"].error, by["web-1"].status) == (3, None, "exit 3")
    assert isinstance(by["nope"].error, PodNotFound)
    assert isinstance(by["pending"].error, PodNotRunning)
    assert (
        isinstance(by["distroless"].error, CommandNotFound) and by["distroless"].status == "CommandNotFound"
    )


def test_pods_run_concurrently(kc):
    """Three execs per pod meet at a barrier in the pod's /tmp: run one after another, the first would
    wait for the others until its timeout. No wall-clock bound, so a loaded machine cannot fail it."""
    barrier = f"/tmp/barrier-{uuid.uuid4().hex}"
    script = (
        f"mkdir -p {barrier} && mktemp -p {barrier} >/dev/null"
        f" && until [ $(ls {barrier} | wc -l) -ge 3 ]; do sleep 0.05; done && echo met"
    )
    res = k8sterm_widget.exec_many(script, pods=["web-0", "web-1"] * 3, parallel=6, timeout=60, **kc)
    assert [r.error for r in res if r.error] == [] and res.ok and len(res) == 6
    assert {r.stdout for r in res} == {"met\n"}


def test_timeout_keeps_partial_output(kc):
    res = k8sterm_widget.exec_many("echo started; sleep 5", pods=["web-0"], timeout=0.8, **kc)
    r = res[0]
    assert isinstance(r.error, ExecTimeout) and r.status == "timeout" and r.stdout == "started\n"


def test_forbidden_exec_is_a_row_per_pod(demo_cluster):
    kc = {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-viewer", "namespace": "demo"}
    res = k8sterm_widget.exec_many("true", selector="app=web", **kc)  # viewers may list pods, not exec
    assert len(res) == 2 and all(isinstance(r.error, Forbidden) for r in res)


def test_check_raises_with_the_whole_result(kc):
    with pytest.raises(FanoutFailed, match="1 of 2 pods failed: web-1") as info:
        k8sterm_widget.exec_many('[ "$(hostname)" = web-0 ]', selector="app=web", check=True, **kc)
    assert info.value.result.by_pod["web-0"].ok


def test_html_table_escapes_pod_output(kc):
    res = k8sterm_widget.exec_many(
        "echo '<script>alert(1)</script>'; echo '<img src=x onerror=alert(2)>' >&2", selector="app=web", **kc
    )
    html = res._repr_html_()
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    assert html.count("<tr>") == 3  # header + two pods
    text = repr(res)
    assert "web-0" in text and "ok" in text and "<script>alert(1)</script>" in text


def test_long_output_is_cut_in_html_only(kc):
    res = k8sterm_widget.exec_many("head -c 10000 /dev/zero | tr '\\0' x", pods=["web-0"], **kc)
    assert len(res[0].stdout) == 10000 and "6000 more characters" in res._repr_html_()


def test_to_dataframe(kc):
    pd = pytest.importorskip("pandas")
    df = k8sterm_widget.exec_many("hostname", pods=["web-0", "nope"], **kc).to_dataframe()
    assert isinstance(df, pd.DataFrame) and list(df["pod"]) == ["web-0", "nope"]
    assert list(df["ok"]) == [True, False] and "not found" in df.loc[1, "error"]


def test_to_dataframe_without_pandas_says_how_to_get_it(kc, monkeypatch):
    res = k8sterm_widget.exec_many("true", pods=["web-0"], **kc)
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        res.to_dataframe()


def test_arguments_are_checked():
    # neither selector= nor pods=: a typed error of one line (IPython shows it without a traceback)
    with pytest.raises(k8sterm_widget.UsageError, match="exactly one") as neither:
        k8sterm_widget.exec_many("true")
    assert isinstance(neither.value, ValueError)  # what it was before, for code that catches that
    shown = neither.value._render_traceback_()
    assert len(shown) == 1 and "\n" not in shown[0] and shown[0].startswith("UsageError: give exactly one")
    with pytest.raises(k8sterm_widget.UsageError, match="exactly one"):
        k8sterm_widget.exec_many("true", selector="app=web", pods=["web-0"])
    with pytest.raises(k8sterm_widget.UsageError, match="parallel"):
        k8sterm_widget.exec_many("true", pods=["web-0"], parallel=0)
    with pytest.raises(TypeError, match="list of pod names"):
        k8sterm_widget.exec_many("true", pods="web-0")
