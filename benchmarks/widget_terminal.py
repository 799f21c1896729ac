"""The terminal widget beside JupyterLab's own terminal, in one run, one browser, one machine.

``python -m benchmarks.widget_terminal`` starts the demo cluster in its own process, then for each comm mode
(JupyterLab's ``commsOverSubshells`` default, and ``disabled`` through a user settings file) a JupyterLab
server with ``--LabApp.expose_app_in_browser=True`` and the cluster's KUBECONFIG in its environment, and
drives Debian's Chromium. One page per mode and renderer holds the contenders:

* **JupyterLab's terminal** (``terminal:create-new``; its xterm is ``<widget>.content._term``, private but
  fine for a benchmark), split below the notebook;
* **JupyterLab's terminal running** ``kubectl exec -it`` into the same pod, in a tab beside it (not a goal,
  the way to the same shell without our widget);
* **our widget** (``k8sterm_widget.shell("web-0", "demo")``; its xterm is ``.k8sterm`` → ``terminal``),
  given the same rows as JupyterLab's terminal, twice: on the lane and on the comm (``lane=False``);
* **the comm floor**: a bare anywidget ping-pong in the same kernel (model.send → on_msg → send →
  ``msg:custom``), the least any widget's keystroke echo can cost.

All use the same renderer (``--renderer dom webgl``; for DOM, JupyterLab's WebGL addon is disposed so xterm
falls back to its DOM renderer), or each its own default (``auto``: JupyterLab's terminal uses WebGL
wherever the browser has it; ours only where a GPU runs it, else the DOM renderer, see js/terminal.js).

* **Echo latency** at the xterm layer: ``term.input("x", true)`` (the path of a real keystroke) to the
  ``onWriteParsed`` after which the cell left of the cursor is the echoed ``x``; samples 20 ms apart after a
  warm-up, the line cleared (Ctrl-U) every 20 keys so it never wraps; rounds alternate the contenders, so a
  burst of load on this shared machine hits all of them alike.
* **Throughput**: ``head -c N /dev/zero | base64 -w 120; echo END''MARK-<tag>`` (the quotes keep the typed
  command from matching; a fresh tag per run, so the previous run's line does not count), timed until a line
  reads ``ENDMARK-<tag>`` (checked in ``onWriteParsed``); MB of base64 text per second, median of
  ``--repeat``.
* **Kernel RSS growth** (psutil, the kernel process), in the first mode, while ``--flood-mb`` of base64
  text streams through our terminal.

The table quotes ratios (ours / JupyterLab's terminal) against the goals of issue 4: echo p50 ≤ 2x,
throughput ≥ 3x, RSS growth ≤ 32 MB. The machine is shared and noisy: compare within one run.

Not part of ``make bench`` (it needs Chromium and takes minutes); run it with
``.venv/bin/python -m benchmarks.widget_terminal [--renderer dom webgl auto]``.

Where an echo's time goes (timestamps at each hop, browser, server and kernel on one clock; one traced run,
default mode, medians in ms after ``term.input``; tracing itself adds a few tenths):

====  =====  ===================================================================================
 at   +       hop
====  =====  ===================================================================================
 0.3   0.3   the page sends the comm message (our input path, ipywidgets, JupyterLab's kernel client)
 1.2   0.9   Jupyter Server has it (WebSocket)
 2.0   0.8   the kernel's shell-channel thread has it (ZeroMQ)
 2.4   0.4   the comm's subshell thread dispatches it
 2.9   0.5   our handler runs (ipykernel deserialized it and published ``busy``)
 3.0   0.1   the keystroke is queued on the exec session (our code: 3 µs of it)
 3.8   0.8   the session's I/O thread has sent it (its wake-up competes for the GIL with ipykernel's
             post-handler flushes; 0.1 ms in an idle process)
 4.6   0.8   the echo is back from the pod (demo API server, container pty)
 4.8   0.2   handed to ipykernel (our output path: 4 µs; comm, serialization, signing)
 5.0   0.15  the IOPub thread sends it
 5.7   0.7   Jupyter Server has it (ZeroMQ)
 6.1   0.4   the page has it (WebSocket)
 6.2   0.1   JupyterLab, ipywidgets, anywidget, our controller: ``term.write``
 6.5   0.3   xterm.js has parsed it (``onWriteParsed``; the write right after user input is synchronous)
====  =====  ===================================================================================

Before the server extension untracked comm messages' ``busy``/``idle`` in the page, the page took the echo
at 10-11 ms: each of those status messages changed the kernel status (favicon, toolbar, status bar, a
layout and paint), and the echo waited behind that work on the page's main thread.

JupyterLab's terminal echoes in about 1.8 ms: browser → server → pty → browser. The comm floor adds ZeroMQ
both ways and three kernel threads (~2.5 ms), the pod adds the exec round trip (~1 ms). Hence the lane
(k8sterm_widget/lane): terminal bytes on a WebSocket of our server extension (Jupyter's auth) relayed to a
Unix socket the kernel connected to, read on a thread of its own and written from the session's I/O thread:
no ZeroMQ, no ipykernel dispatch, no busy/idle. The table has both: our widget on the lane (what a page
served with our extension gets) and on the comm (``lane=False``: what VS Code, Colab or a remote kernel get).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import psutil

from k8sterm_widget.demo.external import ExternalCluster

MB = 1_000_000  # throughput in decimal MB/s, as the baseline figures in the design notes
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MODES = ("default", "disabled")
GOALS = {"echo": 2.0, "throughput": 3.0, "rss_mb": 32.0}
EXTENSION_LOG_LINE = "k8sterm_widget: TCP_NODELAY on"  # k8sterm_widget.server_extension logs it when loaded
SETTLE_AFTER_FLOOD_MS = 1500  # our widget checkpoints the screen 1 s after output settles: not in a figure


# ---- JupyterLab -----------------------------------------------------------------------------------------


@dataclass
class Lab:
    """A JupyterLab server in a subprocess, with its own config, settings, workspaces and root."""

    home: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> Path:
        return self.home / "root"

    def start(self, timeout: float = 60.0) -> Lab:
        self.root.mkdir(parents=True, exist_ok=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        env = {
            **os.environ,
            **self.env,
            "JUPYTER_CONFIG_DIR": str(self.home / "config"),  # ~/.jupyter out, the venv's config in
            "JUPYTER_RUNTIME_DIR": str(self.home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(self.home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(self.home / "workspaces"),
            "IPYTHONDIR": str(self.home / "ipython"),
        }
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            "--IdentityProvider.token=", "--ServerApp.password=", "--LabApp.news_url=None",
            "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={self.root}", *self.args,
        ]  # fmt: skip
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        log = (self.home / "lab.log").open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.root)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited:\n{self.log()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}api/status", timeout=2):
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"JupyterLab not ready after {timeout:.0f} s:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return (self.home / "lab.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kernel_process(self, kernel_id: str) -> psutil.Process:
        """The kernel's process: the server's child started with ``kernel-<id>.json``."""
        assert self.proc is not None
        for child in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                if any(f"kernel-{kernel_id}" in arg for arg in child.cmdline()):
                    return child
            except psutil.Error:
                continue
        raise RuntimeError(f"no process for kernel {kernel_id}")


def start_lab(home: Path, mode: str, kubeconfig: str) -> Lab:
    """A Lab for one comm mode: ``disabled`` comes from a user settings file, as a user would set it."""
    if mode == "disabled":
        path = home / "settings/@jupyterlab/apputils-extension/kernels-settings.jupyterlab-settings"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"commsOverSubshells": "disabled"}))
    return Lab(home=home, env={"KUBECONFIG": kubeconfig}).start()


# ---- the page -------------------------------------------------------------------------------------------

PING_CELL = '''\
import anywidget

class Ping(anywidget.AnyWidget):
    """A bare comm ping-pong: the floor under any widget's round trip."""
    _esm = """
    export default { render({ model, el }) {
      el.className = "bench-ping";
      let waiting = null;
      model.on("msg:custom", (msg) => { if (waiting && msg.pong === waiting.seq) waiting.done(); });
      const once = (seq) => new Promise((resolve) => {
        const t0 = performance.now(), timer = setTimeout(() => resolve(null), 5000);
        waiting = { seq, done: () => { clearTimeout(timer); resolve(performance.now() - t0); } };
        model.send({ ping: seq });
      });
      el.measure = async (warmup, samples, gap) => {
        const out = [];
        for (let i = 0; i < warmup + samples; i++) {
          const rtt = await once(i);
          if (i >= warmup && rtt !== null) out.push(rtt);
          await new Promise((r) => setTimeout(r, gap));
        }
        return out;
      };
    } };
    """

    def __init__(self):
        super().__init__()
        self.on_msg(lambda w, content, buffers: w.send({"pong": content["ping"]}))

Ping()
'''

SHELL_CELL = """import k8sterm_widget
from IPython.display import display
display(k8sterm_widget.shell("web-0", "demo", renderer={renderer!r}, rows={rows}))
k8sterm_widget.shell("web-0", "demo", renderer={renderer!r}, rows={rows}, lane=False)"""
JS_OURS_READY = """() => {
    const roots = document.querySelectorAll('.k8sterm');
    return roots.length === 2 && [...roots].every((r) => r.dataset.status === 'connected')
        && roots[0].dataset.transport === 'lane' && roots[1].dataset.transport === 'comm';
}"""

JS_OPEN_LAB_TERMINAL = """async ([renderer, beside]) => {
    // Below the notebook, or as a tab beside another terminal (then only the active one is drawn).
    const nb = (window.__benchNotebook ??= jupyterapp.shell.currentWidget);
    const w = await jupyterapp.commands.execute("terminal:create-new");
    const where = beside ? { mode: "tab-after", ref: beside.id } : { mode: "split-bottom", ref: nb.id };
    jupyterapp.shell.add(w, "main", where);
    await new Promise((resolve) => {
        const poll = () => (w.content._term && w.content._termOpened ? resolve() : setTimeout(poll, 50));
        poll();
    });
    const term = w.content._term;
    if (renderer === "dom") {
        // JupyterLab loads the WebGL addon when the browser has WebGL; without it xterm draws with the DOM.
        for (const { instance } of term._addonManager._addons.slice()) {
            if ("onContextLoss" in instance) instance.dispose();
        }
    }
    return w;
}"""

JS_ON_CURSOR_LINE = """([term, text]) => {
    const b = term.buffer.active;
    return !!b.getLine(b.baseY + b.cursorY)?.translateToString(true).includes(text);
}"""

JS_RENDERER = """(term) => {
    const el = term.element;
    return el.querySelector("canvas") ? "webgl" : el.querySelector(".xterm-rows") ? "dom" : "?";
}"""

JS_SETTLE = """async ([term, quietMs]) => {
    // Wait until nothing has been parsed for quietMs (the shell has finished talking).
    let last = performance.now();
    const sub = term.onWriteParsed(() => { last = performance.now(); });
    while (performance.now() - last < quietMs) await new Promise((r) => setTimeout(r, quietMs / 4));
    sub.dispose();
}"""

JS_ECHO = """async ([term, warmup, samples, gap, clearEvery]) => {
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const where = () => { const b = term.buffer.active; return [b.baseY, b.cursorY, b.cursorX].join(); };
    const echoed = () => {
        const b = term.buffer.active;
        return b.cursorX > 0 && b.getLine(b.baseY + b.cursorY)?.getCell(b.cursorX - 1)?.getChars() === "x";
    };
    const once = () => new Promise((resolve) => {
        const from = where();
        let timer;
        const sub = term.onWriteParsed(() => {
            if (where() === from || !echoed()) return;
            sub.dispose(); clearTimeout(timer); resolve(performance.now() - t0);
        });
        timer = setTimeout(() => { sub.dispose(); resolve(null); }, 5000);
        const t0 = performance.now();
        term.input("x", true);
    });
    const out = [];
    let lost = 0;
    for (let i = 0; i < warmup + samples; i++) {
        if (i % clearEvery === 0) { term.input("\\x15", true); await sleep(150); }
        const ms = await once();
        if (ms === null) lost++;
        else if (i >= warmup) out.push(ms);
        await sleep(gap);
    }
    term.input("\\x15", true);
    return { samples: out, lost };
}"""

JS_FLOOD = """([term, command, mark, timeoutMs]) => new Promise((resolve) => {
    const marked = () => {
        const b = term.buffer.active, y = b.baseY + b.cursorY;
        for (let i = Math.max(0, y - 3); i <= y; i++) {
            if (b.getLine(i)?.translateToString(true) === mark) return true;
        }
        return false;
    };
    let timer;
    const sub = term.onWriteParsed(() => {
        if (!marked()) return;
        sub.dispose(); clearTimeout(timer); resolve(performance.now() - t0);
    });
    timer = setTimeout(() => { sub.dispose(); resolve(null); }, timeoutMs);
    const t0 = performance.now();
    term.input(command + "\\r", true);
})"""


def flood_command(nbytes: int) -> tuple[str, str, int]:
    """The shell command that prints about ``nbytes`` of base64 lines, the line it ends with, the size."""
    raw = nbytes * 3 // 4 // 90 * 90  # whole 120-character lines
    text = raw * 4 // 3
    tag = uuid.uuid4().hex[:6]
    command = f"head -c {raw} /dev/zero | base64 -w 120; echo END''MARK-{tag}"
    return command, f"ENDMARK-{tag}", text + text // 120


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


@dataclass
class Contender:
    """Figures for one terminal."""

    name: str
    geometry: str = ""
    renderer: str = ""
    echo: list[float] = field(default_factory=list)
    lost: int = 0
    mb_s: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return statistics.median(self.echo)

    @property
    def p90(self) -> float:
        return percentile(self.echo, 90)

    @property
    def throughput(self) -> float:
        return statistics.median(self.mb_s)


@dataclass
class Run:
    """Everything measured for one comm mode and one renderer."""

    mode: str
    renderer: str
    lab: Contender
    kubectl: Contender
    ours: Contender
    ours_comm: Contender
    floor: list[float] = field(default_factory=list)


def echo_round(page, term, c: Contender, args: argparse.Namespace) -> None:
    echo = page.evaluate(JS_ECHO, [term, args.warmup, args.samples, args.gap_ms, 20])
    c.echo += echo["samples"]
    c.lost += echo["lost"]


def flood(page, term, c: Contender, nbytes: int) -> None:
    command, mark, size = flood_command(nbytes)
    page.evaluate(JS_SETTLE, [term, 300])
    ms = page.evaluate(JS_FLOOD, [term, command, mark, 600_000])
    if ms is None:
        raise RuntimeError(f"{c.name}: {mark} never appeared")
    c.mb_s.append(size / MB / (ms / 1000))
    page.wait_for_timeout(SETTLE_AFTER_FLOOD_MS)


def open_notebook(page, lab: Lab, *cells: str) -> None:
    # Like tests/conftest.py's Lab.open_notebook, on purpose: the benchmarks run without pytest or tests/.
    name = f"bench-{uuid.uuid4().hex[:8]}.ipynb"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, lab.root / name)
    page.goto(f"{lab.url}lab/workspaces/bench-{uuid.uuid4().hex[:8]}/tree/{name}")
    page.locator(".jp-Notebook").wait_for()
    page.wait_for_function(
        """() => {
            const context = window.jupyterapp?.shell.currentWidget?.sessionContext;
            return context?.session?.kernel?.connectionStatus === "connected"
                && context.kernelDisplayStatus === "idle";
        }""",
        timeout=120_000,
    )


def run_cell(page, index: int) -> None:
    page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def set_cell(page, index: int, source: str) -> None:
    page.evaluate(
        "([i, s]) => window.__benchNotebook.content.model.cells.get(i).sharedModel.setSource(s)",
        [index, source],
    )


def measure(browser, lab: Lab, mode: str, renderer: str, args: argparse.Namespace, rss_bytes: int = 0):
    """One page: a notebook with our terminal and the comm probe; below it JupyterLab's terminal, with a tab
    beside it where JupyterLab's terminal runs ``kubectl exec -it`` into the same pod.

    Latency first (rounds alternate the contenders, so a burst of load on this shared machine hits all of
    them alike), then throughput (alternating too), then, if ``rss_bytes``, the kernel RSS figure.
    Returns ``(Run, rss)``; kernels and terminals are shut down afterwards.
    """
    page = browser.new_page(viewport={"width": 1600, "height": 1100})
    try:
        open_notebook(page, lab, "# k8sterm shell", PING_CELL)
        want = "disabled" if mode == "disabled" else "perCommTarget"
        got = page.evaluate("() => jupyterapp.serviceManager.kernels.commsOverSubshells")
        if got != want:
            raise RuntimeError(f"comm mode is {got!r}, expected {want!r}")

        lab_widget = page.evaluate_handle(JS_OPEN_LAB_TERMINAL, [renderer, None])
        kubectl_widget = page.evaluate_handle(JS_OPEN_LAB_TERMINAL, [renderer, lab_widget])
        lab_term = page.evaluate_handle("(w) => w.content._term", lab_widget)
        kubectl_term = page.evaluate_handle("(w) => w.content._term", kubectl_widget)
        kubectl = f"{Path(sys.executable).with_name('kubectl')} --cache-dir {lab.home / 'kubectl-cache'}"
        page.evaluate(
            "([t, c]) => t.input(c + '\\r', true)",
            [kubectl_term, f"exec {kubectl} exec -it -n demo web-0 -- bash"],
        )
        page.wait_for_function(JS_ON_CURSOR_LINE, arg=[kubectl_term, "web-0"], timeout=60_000)

        rows = page.evaluate("(t) => t.rows", lab_term)
        set_cell(page, 0, SHELL_CELL.format(renderer=renderer, rows=rows))
        run_cell(page, 0)
        page.wait_for_function(JS_OURS_READY, timeout=60_000)
        ours_root = page.evaluate_handle("() => document.querySelectorAll('.k8sterm')[0]")
        comm_root = page.evaluate_handle("() => document.querySelectorAll('.k8sterm')[1]")
        ours_term = page.evaluate_handle("(r) => r.terminal", ours_root)
        comm_term = page.evaluate_handle("(r) => r.terminal", comm_root)
        run_cell(page, 1)
        page.locator(".bench-ping").wait_for(state="attached")

        run = Run(
            mode, renderer, Contender("JupyterLab terminal"), Contender("JupyterLab terminal, kubectl exec"),
            Contender("k8sterm widget, lane"), Contender("k8sterm widget, comm"),
        )  # fmt: skip
        terms = (
            (lab_widget, lab_term, run.lab),
            (kubectl_widget, kubectl_term, run.kubectl),
            (ours_root, ours_term, run.ours),
            (comm_root, comm_term, run.ours_comm),
        )
        for widget, term, c in terms:
            activate(page, widget)
            c.renderer = page.evaluate(JS_RENDERER, term)
            c.geometry = page.evaluate("(t) => `${t.cols}x${t.rows}`", term)
            page.evaluate(JS_SETTLE, [term, 500])
        for _ in range(args.rounds):
            for widget, term, c in terms:
                activate(page, widget)
                echo_round(page, term, c, args)
            run.floor += page.evaluate(
                "([w, n, g]) => document.querySelector('.bench-ping').measure(w, n, g)",
                [args.warmup, args.samples, args.gap_ms],
            )
        for _ in range(args.repeat):
            for widget, term, c in terms:
                activate(page, widget)
                flood(page, term, c, args.size_mb * MB)
        rss = None
        if rss_bytes:
            kernel_id = page.evaluate("() => window.__benchNotebook.sessionContext.session.kernel.id")
            rss = kernel_rss_growth(page, ours_term, lab.kernel_process(kernel_id), rss_bytes)
        page.evaluate(
            """async () => {
                await jupyterapp.serviceManager.sessions.shutdownAll();
                await jupyterapp.serviceManager.terminals.shutdownAll();
            }"""
        )
        return run, rss
    finally:
        page.close()


def activate(page, widget) -> None:
    """Bring a JupyterLab terminal's tab to the front, or show one of ours (scrolled into view: xterm skips
    rendering while a terminal is out of sight, which would flatter its throughput).

    Only one of our two terminals is shown at a time (the lane one while JupyterLab's are measured), so
    each page has as many live terminals as before the comm one was added: with WebGL in software (no GPU
    here) a second canvas costs every frame.
    """
    ours = page.evaluate("(w) => w instanceof Element", widget)
    page.evaluate(
        """([w, ours]) => { const roots = [...document.querySelectorAll('.k8sterm')];
            const shown = ours ? w : roots[0];
            for (const r of roots) r.style.display = r === shown ? '' : 'none'; }""",
        [widget, ours],
    )
    if ours:
        page.evaluate("(w) => w.scrollIntoView({ block: 'nearest' })", widget)
        page.wait_for_function(
            """(w) => { const r = w.getBoundingClientRect(); const n = w.closest('.jp-WindowedPanel-outer')
                ?? document.documentElement; const v = n.getBoundingClientRect();
                return r.top < v.bottom && r.bottom > v.top; }""",
            arg=widget,
        )
    else:
        page.evaluate("(w) => jupyterapp.shell.activateById(w.id)", widget)
        page.wait_for_function("(w) => w.isVisible", arg=widget)
    page.evaluate("() => new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))")


def kernel_rss_growth(page, term, proc: psutil.Process, nbytes: int) -> tuple[float, float, float]:
    """Stream ``nbytes`` of base64 lines through ``term``; return (baseline MB, peak growth MB, MB/s).

    The baseline is taken after the other measurements, so the first-use allocations of the output path
    (buffers, replay ring, checkpoint) are already in it: the growth is what a long flood adds.
    """
    command, mark, size = flood_command(nbytes)
    page.evaluate(JS_SETTLE, [term, 500])
    baseline = proc.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            try:
                peak[0] = max(peak[0], proc.memory_info().rss)
            except psutil.Error:
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        ms = page.evaluate(JS_FLOOD, [term, command, mark, 1_800_000])
    finally:
        done.set()
        sampler.join()
    if ms is None:
        raise RuntimeError("the RSS flood never finished")
    return baseline / 2**20, (peak[0] - baseline) / 2**20, size / MB / (ms / 1000)


# ---- report ---------------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, {psutil.virtual_memory().total / 2**30:.0f} GiB"


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def now() -> str:
    """The run's date and time, as every browser benchmark's report header shows it."""
    return datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")


def find_chromium() -> str | None:
    """Debian's Chromium (Playwright's own download is not reachable here), or None after saying so."""
    executable = shutil.which("chromium")
    if executable is None:
        print("Debian's Chromium not found (apt-get install chromium)", file=sys.stderr)
    return executable


def xterm_versions() -> str:
    """xterm.js in JupyterLab's build (its license list) and in ours (node_modules, when present)."""
    lab = ours = "?"
    try:
        licenses = Path(sys.prefix, "share/jupyter/lab/static/third-party-licenses.json").read_text()
        lab = next(p["versionInfo"] for p in json.loads(licenses)["packages"] if p["name"] == "@xterm/xterm")
    except (OSError, ValueError, KeyError, StopIteration):
        pass
    try:
        package = Path(__file__).resolve().parent.parent / "node_modules/@xterm/xterm/package.json"
        ours = json.loads(package.read_text())["version"]
    except (OSError, ValueError, KeyError):
        pass
    return f"xterm.js {lab} (JupyterLab) / {ours} (ours)"


def versions(browser) -> str:
    from importlib.metadata import version

    names = ("jupyterlab", "jupyter_server", "ipykernel", "anywidget")
    return f"Chromium {browser.version}, " + ", ".join(f"{n} {version(n)}" for n in names)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def report(runs: list[Run], rss: tuple[float, float, float] | None, info: dict) -> str:
    rows = [("mode", "renderer", "terminal", "echo p50", "echo p90", "throughput", "cols x rows")]
    for r in runs:
        for c in (r.lab, r.kubectl, r.ours, r.ours_comm):
            lost = f" ({c.lost} lost)" if c.lost else ""
            rows.append((
                r.mode, c.renderer, c.name, f"{c.p50:.1f} ms", f"{c.p90:.1f} ms{lost}",
                f"{c.throughput:.2f} MB/s", c.geometry,
            ))  # fmt: skip
        floor = (statistics.median(r.floor), percentile(r.floor, 90))
        rows.append((r.mode, "", "bare comm round trip", f"{floor[0]:.1f} ms", f"{floor[1]:.1f} ms", "", ""))
        for c in (r.ours, r.ours_comm):
            echo, tput = c.p50 / r.lab.p50, c.throughput / r.lab.throughput
            rows.append((
                r.mode, r.renderer, f"ours ({c.name.split(', ')[1]}) / JupyterLab",
                f"{echo:.2f}x {verdict(echo <= GOALS['echo'])}", "",
                f"{tput:.2f}x {verdict(tput >= GOALS['throughput'])}", "",
            ))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        f"k8sterm widget vs JupyterLab's terminal — {info['date']}",
        f"machine: {info['machine']}; load average {info['load_before']} before, {info['load_after']} after",
        f"stack: {info['stack']}; {info['xterm']}",
        "server extension k8sterm_widget (TCP_NODELAY, comm status untracked in the page): "
        + ("loaded" if info.get("extension") else "NOT LOADED (run `make`): figures are not representative"),
        f"echo: {info['rounds']} rounds x {info['samples']} samples {info['gap_ms']} ms apart (after "
        f"{info['warmup']} warm-up each); throughput: {info['size_mb']} MB of base64 lines, median of "
        f"{info['repeat']}; goals: echo p50 <= {GOALS['echo']:g}x, throughput >= {GOALS['throughput']:g}x",
        "",
    ]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if rss is not None:
        baseline, growth, rate = rss
        lines += [
            "",
            f"kernel RSS while {info['flood_mb']} MB stream through one terminal ({runs[0].mode} mode, "
            f"{runs[0].renderer}): +{growth:.1f} MB over {baseline:.0f} MB, "
            f"{verdict(growth <= GOALS['rss_mb'])} (goal <= {GOALS['rss_mb']:g} MB); {rate:.2f} MB/s",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="latency rounds (contenders alternate)")
    parser.add_argument("--samples", type=int, default=20, help="echo samples per terminal and round")
    parser.add_argument("--warmup", type=int, default=5, help="samples dropped at the start of each round")
    parser.add_argument("--gap-ms", type=int, default=20)
    parser.add_argument("--size-mb", type=int, default=10, help="MB of base64 per throughput run")
    parser.add_argument("--repeat", type=int, default=3, help="throughput runs per terminal")
    parser.add_argument("--flood-mb", type=int, default=200, help="MB streamed for the RSS figure (0: skip)")
    parser.add_argument(
        "--renderer",
        nargs="+",
        choices=("dom", "webgl", "auto"),
        default=["dom"],
        help="dom or webgl: that renderer in every terminal; auto: each terminal's own default",
    )
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    args = parser.parse_args(argv)
    renderers = args.renderer

    executable = find_chromium()
    if executable is None:
        return 2
    from playwright.sync_api import sync_playwright

    info = {
        "date": now(),
        "machine": machine(),
        "load_before": load(),
        "xterm": xterm_versions(),
        **{k: getattr(args, k) for k in ("rounds", "samples", "gap_ms", "warmup", "size_mb", "repeat")},
        "flood_mb": args.flood_mb,
    }
    runs: list[Run] = []
    rss = None
    work = Path(tempfile.mkdtemp(prefix="k8sterm-bench-"))
    try:
        with ExternalCluster() as cluster, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
            info["stack"] = versions(browser)
            for mode in args.modes:
                lab = start_lab(work / mode, mode, cluster.kubeconfig)
                info["extension"] = EXTENSION_LOG_LINE in lab.log()
                try:
                    for renderer in renderers:
                        flood_bytes = args.flood_mb * MB if rss is None else 0
                        run, got = measure(browser, lab, mode, renderer, args, flood_bytes)
                        runs.append(run)
                        rss = rss or got
                        print(f"measured {mode} / {renderer}", file=sys.stderr)
                finally:
                    lab.stop()
            browser.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    info["load_after"] = load()
    print(report(runs, rss, info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
