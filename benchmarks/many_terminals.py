"""A page with 50 terminals: does one terminal still echo as fast as a lone one, and what does it cost?

``python -m benchmarks.many_terminals`` starts the demo cluster in its own process, one JupyterLab (default
comm mode, our server extension on, so every view gets a lane) and Debian's Chromium, then in one notebook:

1. **lone**: one terminal (``shell("web-0", "demo")``); its echo is measured as in
   ``benchmarks.widget_terminal`` (``term.input("x", true)`` to the ``onWriteParsed`` that shows it, samples
   20 ms apart, rounds of 20 after a warm-up), with the page's and the kernel's memory;
2. **fifty**: the next cells display 49 more terminals below it, 7 per cell (each a live bash in web-0, on
   its own lane; JupyterLab shows at most 50 outputs per cell, ``maxNumberOutputs``, and each terminal is
   two: the widget and its static face); once all 50 are connected and quiet, the first one's echo is
   measured again, same way, with memory;
3. **lone again**: the 49 are closed (``close(keep_view=False)``) and the first one is measured once more,
   so that drift on this shared machine shows instead of hiding in the ratio.

The ratio is fifty's p50 over the lone p50 (the mean of the two lone runs); the goal is <= 1.5x. Memory:
the page's JavaScript heap (Chromium's ``Performance.getMetrics``, after a garbage collection), the RSS of
the page's renderer process, the kernel's RSS and the Jupyter Server's (which relays the lanes).

Not part of ``make bench``: it needs Chromium and a few minutes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from k8sterm_widget.demo.external import ExternalCluster

from .widget_terminal import (
    CHROMIUM_FLAGS,
    EXTENSION_LOG_LINE,
    JS_ECHO,
    JS_SETTLE,
    Lab,
    find_chromium,
    load,
    machine,
    now,
    open_notebook,
    percentile,
    run_cell,
    start_lab,
)

GOAL = 1.5
MB = 1 << 20
LONE_CELL = """import k8sterm_widget as k8s
from IPython.display import display
first = k8s.shell("web-0", "demo", renderer="dom", rows={rows})
first"""
PER_CELL = 7
MANY_CELL = """others = globals().setdefault("others", [])
for _ in range({count}):
    others.append(k8s.shell("web-0", "demo", renderer="dom", rows={rows}))
    display(others[-1])"""
CLOSE_CELL = """for t in others:
    t.close(keep_view=False)
others.clear()"""
JS_STATES = """() => [...document.querySelectorAll('.k8sterm')].map(
    (r) => `${r.dataset.status}/${r.dataset.transport}/${r.terminal?.buffer.active.cursorX}`)"""
KERNEL_ID = "() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.id"
JS_CONNECTED = """(n) => {
    const roots = [...document.querySelectorAll('.k8sterm')];
    return roots.length === n && roots.every((r) => r.dataset.status === 'connected'
        && r.dataset.transport === 'lane' && r.terminal.buffer.active.cursorX > 0);
}"""


@dataclass
class Stage:
    """Figures for one stage: the first terminal's echo, and memory."""

    name: str
    terminals: int
    echo: list[float] = field(default_factory=list)
    lost: int = 0
    heap_mb: float = 0.0
    renderer_mb: float = 0.0
    kernel_mb: float = 0.0
    server_mb: float = 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.echo)

    @property
    def p90(self) -> float:
        return percentile(self.echo, 90)


def renderer_rss(browser_pid: int) -> float:
    """RSS of Chromium's renderer processes (one page: its renderer, plus a spare at most), in MiB."""
    total = 0
    for child in psutil.Process(browser_pid).children(recursive=True):
        try:
            if "--type=renderer" in child.cmdline():
                total += child.memory_info().rss
        except psutil.Error:
            continue
    return total / MB


def measure_stage(page, cdp, stage: Stage, lab: Lab, kernel: psutil.Process, browser_pid: int, args) -> None:
    first = page.evaluate_handle("() => document.querySelector('.k8sterm').terminal")
    page.evaluate("(t) => t.element.scrollIntoView({block: 'center'})", first)
    page.evaluate(JS_SETTLE, [first, 500])
    for _ in range(args.rounds):
        got = page.evaluate(JS_ECHO, [first, args.warmup, args.samples, args.gap_ms, 20])
        stage.echo += got["samples"]
        stage.lost += got["lost"]
    cdp.send("HeapProfiler.collectGarbage")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    stage.heap_mb = metrics["JSHeapUsedSize"] / MB
    stage.renderer_mb = renderer_rss(browser_pid)
    stage.kernel_mb = kernel.memory_info().rss / MB
    assert lab.proc is not None
    stage.server_mb = psutil.Process(lab.proc.pid).memory_info().rss / MB


def report(stages: list[Stage], info: dict) -> str:
    lone = [s for s in stages if s.terminals == 1]
    fifty = next(s for s in stages if s.terminals > 1)
    base = statistics.mean(s.p50 for s in lone)
    ratio = fifty.p50 / base
    lines = [
        f"{info['date']}, {info['machine']}, load {info['load_before']} -> {load()}; "
        f"server extension loaded: {info['extension']}; {info['samples']} samples x {info['rounds']} rounds",
        "",
        "| stage | terminals on the page | echo p50 | echo p90 | lost | page JS heap | renderer RSS "
        "| kernel RSS | server RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in stages:
        lines.append(
            f"| {s.name} | {s.terminals} | {s.p50:.1f} ms | {s.p90:.1f} ms | {s.lost} | {s.heap_mb:.0f} MB "
            f"| {s.renderer_mb:.0f} MB | {s.kernel_mb:.0f} MB | {s.server_mb:.0f} MB |"
        )
    n = fifty.terminals
    per = lambda attr: (getattr(fifty, attr) - statistics.mean(getattr(s, attr) for s in lone)) / (n - 1)  # noqa: E731
    lines += [
        "",
        f"echo p50 with {n} terminals / lone: **{ratio:.2f}x** "
        f"({'PASS' if ratio <= GOAL else 'FAIL'}, goal <= {GOAL}x)",
        f"each further terminal: +{per('heap_mb'):.1f} MB page JS heap, "
        f"+{per('renderer_mb'):.1f} MB renderer, +{per('kernel_mb'):.2f} MB kernel, "
        f"+{per('server_mb'):.2f} MB server",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.many_terminals", description="50 terminals")
    parser.add_argument("--terminals", type=int, default=50, help="terminals on the page in the big stage")
    parser.add_argument("--rows", type=int, default=10, help="rows of each terminal")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--gap-ms", type=int, default=20)
    args = parser.parse_args(argv)
    executable = find_chromium()
    if executable is None:
        return 2
    from playwright.sync_api import sync_playwright

    info = {
        "date": now(),
        "machine": machine(),
        "load_before": load(),
        "rounds": args.rounds,
        "samples": args.samples,
    }
    many = Stage(f"{args.terminals} on the page", args.terminals)
    stages = [Stage("lone", 1), many, Stage("lone again", 1)]
    work = Path(tempfile.mkdtemp(prefix="k8sterm-many-"))
    try:
        with ExternalCluster() as cluster, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            browser_pid = next(  # the browser process: Chromium's, without a --type= of a helper
                c.pid
                for c in psutil.Process().children(recursive=True)
                if "chrom" in c.name() and "--type=" not in " ".join(c.cmdline())
            )
            lab = start_lab(work / "lab", "default", cluster.kubeconfig)
            info["extension"] = EXTENSION_LOG_LINE in lab.log()
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                cdp = page.context.new_cdp_session(page)
                cdp.send("Performance.enable")
                more = args.terminals - 1
                counts = [min(PER_CELL, more - i) for i in range(0, more, PER_CELL)]
                many = [MANY_CELL.format(rows=args.rows, count=n) for n in counts]
                open_notebook(page, lab, LONE_CELL.format(rows=args.rows), *many, CLOSE_CELL)
                kernel_id = page.evaluate(KERNEL_ID)
                kernel = lab.kernel_process(kernel_id)
                run_cell(page, 0)
                page.wait_for_function(JS_CONNECTED, arg=1, timeout=60_000)
                measure_stage(page, cdp, stages[0], lab, kernel, browser_pid, args)
                started = time.monotonic()
                for i in range(len(many)):
                    run_cell(page, 1 + i)
                try:
                    page.wait_for_function(JS_CONNECTED, arg=args.terminals, timeout=300_000)
                except Exception:
                    print("not all connected:", page.evaluate(JS_STATES), file=sys.stderr)
                    raise
                info["open_s"] = time.monotonic() - started
                measure_stage(page, cdp, stages[1], lab, kernel, browser_pid, args)
                run_cell(page, 1 + len(many))
                page.wait_for_function("() => document.querySelectorAll('.k8sterm').length === 1")
                measure_stage(page, cdp, stages[2], lab, kernel, browser_pid, args)
                page.evaluate("async () => { await jupyterapp.serviceManager.sessions.shutdownAll(); }")
                page.close()
            finally:
                lab.stop()
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report(stages, info))
    print(f"opening {args.terminals - 1} more terminals took {info['open_s']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
