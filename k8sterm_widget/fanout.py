"""Fan-out: run one command on every matching pod at once and compare what came back.

    res = k8sterm_widget.exec_many("nginx -v 2>&1", selector="app=web", namespace="demo")
    res            # in a notebook: a table, one row per pod (exit code, time, stdout, stderr)
    res.ok         # True when every pod ran it with exit code 0
    res.groups()   # {stdout: [pods]} — which replicas agree

Pods come from a label ``selector`` (one list call, as ``kubectl get pods -l``) or an explicit ``pods``
list. A pod that cannot run the command — not running, finished, crash-looping, no such pod or container,
exec forbidden, command missing — gets a row with its typed error instead of being dropped, and never
stops the others: each pod runs in its own thread through :func:`k8sterm_widget.exec` (each exec is one
WebSocket with its own I/O thread, so threads are all the concurrency needed). Results keep the order of
the pod list, whatever order the pods finish in.

Pod output is untrusted text: the HTML table escapes every value, and long outputs are cut (the full text
stays in ``stdout``/``stderr``). Ctrl-C stops pods that have not started yet; the ones already running
finish on their own (bounded by ``timeout``).
"""

from __future__ import annotations

import concurrent.futures
import html
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from kubernetes import client

from .errors import ExecTimeout, FanoutFailed, K8stermError, UsageError
from .kube.config import Cluster, resolve
from .kube.preflight import check_pod, choose_container
from .kube.rest import json_body, rest_error
from .kube.status import Context
from .oneshot import ExecResult
from .oneshot import exec as exec_one

HTML_OUTPUT_LIMIT = 4000  # characters of stdout/stderr shown per cell in the HTML table
TEXT_OUTPUT_LIMIT = 60


@dataclass
class PodResult:
    """One pod's outcome. ``error`` is set when the command did not end with an exit code (or timed out)."""

    pod: str
    namespace: str
    container: str | None
    exit_code: int | None
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    duration: float = 0.0
    error: K8stermError | None = None
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_exec(cls, r: ExecResult, error: K8stermError | None = None) -> PodResult:
        return cls(
            r.pod, r.namespace, r.container, r.exit_code, r.stdout_bytes, r.stderr_bytes, r.duration, error,
            list(r.notes),
        )  # fmt: skip

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0

    @property
    def status(self) -> str:
        """A short word for tables: ``ok``, ``exit 3``, ``timeout``, or the error's type name."""
        if isinstance(self.error, ExecTimeout):
            return "timeout"
        if self.error is not None:
            return type(self.error).__name__
        return "ok" if self.exit_code == 0 else f"exit {self.exit_code}"

    def __repr__(self) -> str:
        detail = f"error={str(self.error)!r}" if self.error else f"exit_code={self.exit_code}"
        return (
            f"PodResult(pod={self.pod!r}, container={self.container!r}, {detail}, "
            f"stdout={_cut(self.stdout, TEXT_OUTPUT_LIMIT)!r}, "
            f"stderr={_cut(self.stderr, TEXT_OUTPUT_LIMIT)!r})"
        )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _first_line(text: str, limit: int = 40) -> str:
    lines = text.strip("\n").splitlines()
    first = lines[0] if lines else ""
    more = len(first) > limit or len(lines) > 1
    return first[:limit] + ("…" if more else "")


class FanoutResult(Sequence[PodResult]):
    """The per-pod results of :func:`exec_many`, in pod-list order. Indexing, ``len`` and iteration work.

    Slices, :attr:`succeeded` and :attr:`failed` are FanoutResults too, so they render as tables.
    """

    def __init__(
        self, results: Sequence[PodResult], command: Sequence[str] | str, namespace: str, selector: str | None
    ) -> None:
        self._results = tuple(results)
        self.command = command
        self.namespace = namespace
        self.selector = selector

    def _derive(self, results: Sequence[PodResult]) -> FanoutResult:
        return FanoutResult(results, self.command, self.namespace, self.selector)

    @overload
    def __getitem__(self, index: int) -> PodResult: ...
    @overload
    def __getitem__(self, index: slice) -> FanoutResult: ...
    def __getitem__(self, index: int | slice) -> PodResult | FanoutResult:
        if isinstance(index, slice):
            return self._derive(self._results[index])
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[PodResult]:
        return iter(self._results)

    # ---------------------------------------------------------------- helpers

    @property
    def ok(self) -> bool:
        """True when at least one pod ran the command and every pod exited 0."""
        return bool(self._results) and all(r.ok for r in self._results)

    @property
    def succeeded(self) -> FanoutResult:
        return self._derive([r for r in self._results if r.ok])

    @property
    def failed(self) -> FanoutResult:
        """Pods with a non-zero exit or an error (not running, forbidden, timeout …)."""
        return self._derive([r for r in self._results if not r.ok])

    @property
    def by_pod(self) -> dict[str, PodResult]:
        return {r.pod: r for r in self._results}

    @property
    def pods(self) -> list[str]:
        return [r.pod for r in self._results]

    def groups(self) -> dict[str, list[str]]:
        """Pods grouped by identical stdout (only pods that ran the command), largest group first."""
        found: dict[str, list[str]] = {}
        for r in self._results:
            if r.error is None:
                found.setdefault(r.stdout, []).append(r.pod)
        return dict(sorted(found.items(), key=lambda kv: -len(kv[1])))

    def check(self) -> FanoutResult:
        """Raise :class:`FanoutFailed` unless :attr:`ok`; return self otherwise (for chaining)."""
        if not self.ok:
            raise FanoutFailed([r.pod for r in self.failed] or ["(no pods matched)"], len(self), self)
        return self

    def to_dataframe(self) -> Any:
        """A pandas DataFrame, one row per pod. Needs pandas (``pip install pandas``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "FanoutResult.to_dataframe() needs pandas, which is not installed: pip install pandas"
            ) from None
        rows = [
            {
                "pod": r.pod,
                "namespace": r.namespace,
                "container": r.container,
                "exit_code": r.exit_code,
                "ok": r.ok,
                "duration": r.duration,
                "stdout": r.stdout,
                "stderr": r.stderr,
                "error": str(r.error) if r.error else None,
            }
            for r in self._results
        ]
        columns = [
            "pod",
            "namespace",
            "container",
            "exit_code",
            "ok",
            "duration",
            "stdout",
            "stderr",
            "error",
        ]
        return pd.DataFrame(rows, columns=columns)

    # ---------------------------------------------------------------- display

    def _title(self) -> str:
        cmd = self.command if isinstance(self.command, str) else " ".join(self.command)
        where = (
            f"selector {self.selector!r} in {self.namespace}" if self.selector is not None else self.namespace
        )
        n_ok = sum(r.ok for r in self._results)
        return f"`{cmd}` on {len(self)} pods ({where}): {n_ok} ok, {len(self) - n_ok} failed"

    def __repr__(self) -> str:
        rows = [("POD", "CONTAINER", "STATUS", "TIME", "STDOUT", "STDERR / ERROR")]
        for r in self._results:
            rows.append(
                (
                    r.pod,
                    r.container or "-",
                    r.status,
                    f"{r.duration:.2f}s",
                    _first_line(r.stdout),
                    _first_line(str(r.error) if r.error else r.stderr),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        return f"FanoutResult: {self._title()}\n" + "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        td = 'style="text-align:left;vertical-align:top;padding:2px 8px"'

        def pre(text: str) -> str:
            shown = text if len(text) <= HTML_OUTPUT_LIMIT else text[:HTML_OUTPUT_LIMIT]
            more = (
                f'<div style="opacity:.6">… {len(text) - HTML_OUTPUT_LIMIT} more characters</div>'
                if len(text) > HTML_OUTPUT_LIMIT
                else ""
            )
            return f'<pre style="margin:0;white-space:pre-wrap">{esc(shown)}</pre>{more}'

        body = []
        for r in self._results:
            colour = "#2e7d32" if r.ok else "#c62828"
            err = f'<div style="color:#c62828">{esc(str(r.error))}</div>' if r.error else ""
            body.append(
                "<tr>"
                f"<td {td}><b>{esc(r.pod)}</b></td>"
                f"<td {td}>{esc(r.container or '')}</td>"
                f'<td {td}><span style="color:{colour}">{esc(r.status)}</span></td>'
                f"<td {td}>{r.duration:.2f}s</td>"
                f"<td {td}>{pre(r.stdout)}</td>"
                f"<td {td}>{err}{pre(r.stderr)}</td>"
                "</tr>"
            )
        head = "".join(
            f"<th {td}>{h}</th>" for h in ("pod", "container", "status", "time", "stdout", "stderr")
        )
        return (
            f'<div class="k8sterm-fanout"><div>{esc(self._title())}</div>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )


# -------------------------------------------------------------------- running


def _list_pods(cluster: Cluster, namespace: str, selector: str) -> list[dict]:
    api_client = cluster.new_api_client()
    try:
        resp = client.CoreV1Api(api_client).list_namespaced_pod(
            namespace,
            label_selector=selector,
            _preload_content=False,
            _request_timeout=cluster.request_timeout,
        )
        return json_body(resp).get("items") or []
    except Exception as e:
        raise rest_error(e, cluster, Context(server=cluster.server, namespace=namespace)) from None
    finally:
        api_client.close()


def _not_runnable(pod: dict, container: str | None) -> PodResult | None:
    """A result for a listed pod that cannot run an exec now (checked locally: no request needed)."""
    meta = pod.get("metadata") or {}
    name, ns = meta.get("name", ""), meta.get("namespace", "")
    chosen = container
    try:
        chosen, _ = choose_container(pod, container)
        check_pod(pod, chosen)
    except K8stermError as e:
        return PodResult(name, ns, chosen, None, error=e)
    return None


def exec_many(
    command: Sequence[str] | str,
    *,
    selector: str | None = None,
    pods: Sequence[str] | None = None,
    namespace: str | None = None,
    container: str | None = None,
    parallel: int = 16,
    timeout: float | None = None,
    input: bytes | str | None = None,
    check: bool = False,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
) -> FanoutResult:
    """Run ``command`` in every pod matching ``selector`` (or named in ``pods``), ``parallel`` at a time.

    ``command`` is an argv list or a string run by ``sh -c``, as for :func:`k8sterm_widget.exec`;
    ``timeout`` and ``input`` apply to each pod. Pods the selector matches that are not running get a row
    with a :class:`~k8sterm_widget.errors.PodNotRunning` error and no exec. ``check=True`` raises
    :class:`~k8sterm_widget.errors.FanoutFailed` (carrying the whole result) when any pod failed.
    Only the listing itself can raise (forbidden, cluster unreachable): per-pod failures are results.
    """
    if (selector is None) == (pods is None):
        given = "both" if selector is not None else "neither"
        raise UsageError(
            f"give exactly one of selector= (a label selector) or pods= (a list of pod names), not {given}",
            hint='For example exec_many("hostname", selector="app=web", namespace="demo").',
        )
    if parallel < 1:
        raise UsageError(f"parallel must be at least 1, got {parallel}")
    if isinstance(pods, str):
        raise TypeError("pods= takes a list of pod names, not a string")
    cluster = resolve(context=context, kubeconfig=kubeconfig)
    ns = namespace or cluster.namespace

    slots: list[PodResult | str] = []  # a finished result, or a pod name still to run
    if selector is not None:
        for pod in _list_pods(cluster, ns, selector):
            early = _not_runnable(pod, container)
            slots.append(early if early is not None else pod["metadata"]["name"])
    else:
        slots.extend(pods or [])

    def run(pod: str) -> PodResult:
        started = time.monotonic()
        try:
            r = exec_one(
                pod,
                command,
                ns,
                container,
                input=input,
                timeout=timeout,
                context=context,
                kubeconfig=kubeconfig,
            )
            return PodResult.from_exec(r)
        except ExecTimeout as e:
            if isinstance(e.result, ExecResult):
                return PodResult.from_exec(e.result, e)
            return PodResult(pod, ns, container, None, duration=time.monotonic() - started, error=e)
        except K8stermError as e:
            return PodResult(pod, ns, container, None, duration=time.monotonic() - started, error=e)
        except Exception as e:  # a bug or an unexpected failure in one pod must not hide the others
            wrapped = K8stermError(f"{type(e).__name__}: {e}")
            return PodResult(pod, ns, container, None, duration=time.monotonic() - started, error=wrapped)

    names = [s for s in slots if isinstance(s, str)]
    done: dict[int, PodResult] = {}
    if names:
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(parallel, len(names)), thread_name_prefix="k8sterm-fanout"
        )
        try:
            futures = {i: pool.submit(run, s) for i, s in enumerate(slots) if isinstance(s, str)}
            for i, future in futures.items():
                done[i] = future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
    results = [done[i] if isinstance(s, str) else s for i, s in enumerate(slots)]
    result = FanoutResult(results, command, ns, selector)
    return result.check() if check else result


__all__ = ["FanoutResult", "PodResult", "exec_many"]
