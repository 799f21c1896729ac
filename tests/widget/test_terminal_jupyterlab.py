"""The terminal widget end to end: a real JupyterLab on loopback, Debian's Chromium, the demo cluster.

One JupyterLab per comm mode (``commsOverSubshells`` default, and ``disabled`` through a per-server user
settings dir), one browser, a fresh notebook (and kernel) per test. The terminal's screen is read through
the automation hook (``.k8sterm`` → ``terminal``, the live xterm ``Terminal``), and every wait is a
``wait_for_function``, never a fixed sleep. Terminals use the DOM renderer (``renderer="dom"``) so that
headless Chromium without a GPU behaves like any browser.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import time

import nbformat
import pytest
from helpers import (
    Relay,
    focus_terminal,
    open_in_notebook7,
    status_text,
    term_lines,
    type_line,
    wait_line,
    wait_status,
)

from k8sterm_widget.demo import DemoCluster

pytestmark = pytest.mark.chromium

MODES = ["default", "disabled"]
SHELL = 'import k8sterm_widget\nt = k8sterm_widget.shell("web-0", "demo", renderer="dom")\nt'
SHELL_COMM = SHELL.replace('renderer="dom"', 'renderer="dom", lane=False')  # bytes on the comm, as without
# our server extension (the lane is what a server with it gives every terminal: k8sterm_widget/lane)
# (mode, transport): both comm modes on the lane, and the comm carrying the bytes itself.
PATHS = [("default", "lane"), ("disabled", "lane"), ("default", "comm")]
TERM = "document.querySelector('.k8sterm').terminal"  # the automation hook, in page scripts


@pytest.fixture(scope="module")
def labs(start_lab, demo_cluster, tmp_path_factory):
    """``labs(mode)``: the module's JupyterLab for a comm mode, started on first use.

    The Lab server (and so every kernel) gets the demo cluster's KUBECONFIG in its environment.
    """
    started = {}

    def get(mode: str):
        if mode not in started:
            args = []
            if mode == "disabled":
                settings = tmp_path_factory.mktemp("lab-settings-disabled")
                path = settings / "@jupyterlab/apputils-extension/kernels-settings.jupyterlab-settings"
                path.parent.mkdir(parents=True)
                path.write_text(json.dumps({"commsOverSubshells": "disabled"}))
                args.append(f"--LabApp.user_settings_dir={settings}")
            started[mode] = start_lab(*args, env={"KUBECONFIG": demo_cluster.kubeconfig})
        return started[mode]

    return get


def open_shell(lab, page, *cells: str, name: str | None = None, mode: str = "default", transport=None):
    """Write a notebook with these cells, open it, run the first one, wait for the shell to connect
    (and, with ``transport``, for the front end to settle on it: "lane" or "comm")."""
    name = name or f"t-{time.monotonic_ns()}.ipynb"
    lab.write_notebook(name, *cells)
    lab.open_notebook(page, name)
    want = "disabled" if mode == "disabled" else "perCommTarget"
    assert page.evaluate("() => jupyterapp.serviceManager.kernels.commsOverSubshells") == want
    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").first.wait_for()
    wait_status(page, "connected")
    if transport is not None:
        wait_transport(page, transport)
    return name


def wait_transport(page, transport: str) -> None:
    page.wait_for_function(
        "t => document.querySelector('.k8sterm')?.dataset.transport === t", arg=transport, timeout=10_000
    )


def cell_count(page) -> int:
    return page.locator(".jp-Notebook .jp-Cell").count()


def execution_counts(page) -> list[str]:
    return page.locator(".jp-Notebook .jp-Cell .jp-InputPrompt").all_inner_texts()


def run_and_wait(lab, page, index: int, text: str, timeout: float = 30.0) -> float:
    """Run cell ``index`` and wait until its output contains ``text``; returns the seconds it took."""
    start = time.monotonic()
    lab.run_cell(page, index)
    page.wait_for_function(
        """([i, text]) => {
            const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
            return !!cell && (cell.querySelector('.jp-OutputArea')?.textContent ?? '').includes(text);
        }""",
        arg=[index, text],
        timeout=timeout * 1000,
    )
    return time.monotonic() - start


# ---- core behaviour, in both comm modes --------------------------------------------------------------------


@pytest.mark.parametrize("mode, transport", PATHS)
def test_shell_echo_size_and_exit_code(labs, page, mode, transport):
    lab = labs(mode)
    open_shell(lab, page, SHELL if transport == "lane" else SHELL_COMM, mode=mode, transport=transport)
    type_line(page, "echo hi")
    wait_line(page, "hi", exact=True)

    type_line(page, "stty size")
    size = page.evaluate(f"() => [{TERM}.rows, {TERM}.cols]")
    wait_line(page, f"{size[0]} {size[1]}", exact=True)
    assert size[1] > 100  # the width of the cell, not a default 80

    type_line(page, "exit 3")
    wait_status(page, "exited with code 3")
    wait_line(page, "hi", exact=True)  # the last screen stays


@pytest.mark.parametrize("mode", MODES)
def test_keys_go_to_the_terminal_not_the_notebook(labs, page, mode):
    lab = labs(mode)
    open_shell(lab, page, SHELL, "1 + 1", mode=mode)
    cells, counts = cell_count(page), execution_counts(page)
    focus_terminal(page)
    page.keyboard.type("echo X")
    for key in ["a", "b", "m", "d", "d", "z", "Shift+Enter"]:  # notebook command-mode keys
        page.keyboard.press(key)
    wait_line(page, "Xabmddz", exact=True)  # Shift+Enter ran the command in the shell
    assert cell_count(page) == cells and execution_counts(page) == counts  # no cell added, deleted or re-run
    assert page.locator(".jp-Notebook .jp-Cell").first.get_attribute("class").count("jp-CodeCell") == 1

    # Escape twice leaves the terminal (no keyboard trap); Enter on the viewport goes back in.
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.classList.contains('xterm-viewport')")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.activeElement === document.querySelector('.k8sterm').terminal.textarea"
    )
    page.keyboard.type("echo back")
    page.keyboard.press("Enter")
    wait_line(page, "back", exact=True)


NOTEBOOK_DIRTY = "() => window.jupyterapp.shell.currentWidget.context.model.dirty"


@pytest.mark.parametrize("mode", MODES)
def test_leaving_and_coming_back_eats_no_key_and_ctrl_s_saves_the_notebook(labs, page, mode):
    """JupyterLab's terminal sends the first of the two Escapes to the shell, where readline takes it as a
    Meta prefix: back in the terminal, the next key is eaten (`cho ccc`: command not found). Here the
    first Escape waits for the second; alone, it still reaches the program. And with the terminal left,
    the notebook's own shortcuts work again: Ctrl+S saves it."""
    lab = labs(mode)
    name = open_shell(lab, page, SHELL, "1 + 1", name=f"focus-{mode}.ipynb", mode=mode)
    run_and_wait(lab, page, 1, "2")
    focus_terminal(page)
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.classList.contains('xterm-viewport')")
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.activeElement === {TERM}.textarea")
    page.keyboard.type("echo ccc")
    page.keyboard.press("Enter")
    wait_line(page, "ccc", exact=True)
    assert not any("command not found" in line for line in term_lines(page))

    # A lone Escape still reaches the program (vi needs it): `cat -v` shows it as ^[
    type_line(page, "cat -v")
    page.keyboard.press("Escape")
    wait_line(page, "^[")  # the tty echoes it once it arrives, without a second key
    page.keyboard.type("x")
    page.keyboard.press("Enter")
    wait_line(page, "^[x", exact=True)
    page.keyboard.press("Control+C")

    # Left, the terminal gives the notebook its keys back: Ctrl+S saves it
    page.wait_for_function(NOTEBOOK_DIRTY)  # running the cells changed it
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.activeElement?.classList.contains('xterm-viewport')")
    page.keyboard.press("Control+s")
    page.wait_for_function(f"() => !({NOTEBOOK_DIRTY})()")
    saved = nbformat.read(lab.root / name, as_version=4)
    assert saved.cells[1].outputs and saved.cells[1].outputs[0]["data"]["text/plain"] == "2"


@pytest.mark.parametrize("mode, transport", PATHS)
def test_ten_megabytes_arrive_byte_exact_and_the_kernel_stays_responsive(labs, page, mode, transport):
    """Responsive: a cell runs to the end while the terminal floods (``yes`` until Ctrl-C, so "while" holds
    however slow the machine: a kernel blocked by the flood would never finish the cell). Byte-exact: 10 MB
    of base64, with another cell run meanwhile, all in the scrollback (a page slow to ack under load was
    once detached and redrawn from a checkpoint, losing most of it: tests/js/controller.test.mjs)."""
    lab = labs(mode)
    open_shell(
        lab,
        page,
        (SHELL if transport == "lane" else SHELL_COMM).replace(
            'renderer="dom"',
            'renderer="dom", scrollback=101000',  # keep all 100k lines
        ),
        "6 * 7",
        "6 * 9",
        mode=mode,
        transport=transport,
    )
    type_line(page, "yes FLO''OD")
    wait_line(page, "FLOOD", exact=True)
    busy = run_and_wait(lab, page, 1, "42", timeout=60)  # the flood only ends below
    focus_terminal(page)
    page.keyboard.press("Control+C")
    type_line(page, "echo STOP''PED")
    wait_line(page, "STOPPED", exact=True, timeout=60)

    big = "head -c 7500000 /dev/urandom | base64 -w 100 >/tmp/big"
    type_line(page, f"{big}; echo SU''M=$(sha256sum </tmp/big)")
    wait_line(page, "SUM=", timeout=60)
    expected = next(line for line in term_lines(page) if line.startswith("SUM="))[4:68]
    assert re.fullmatch(r"[0-9a-f]{64}", expected)
    type_line(page, "clear; echo BEG''IN; cat /tmp/big; echo EN''D")
    start = time.monotonic()
    run_and_wait(lab, page, 2, "54", timeout=60)  # another cell while the terminal streams
    wait_line(page, "END", exact=True, timeout=180)
    elapsed = time.monotonic() - start
    digest = page.evaluate(
        """async () => {
            const buffer = document.querySelector('.k8sterm').terminal.buffer.active;
            const lines = [];
            for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
            const body = lines.slice(lines.indexOf('BEGIN') + 1, lines.indexOf('END'));
            const bytes = new TextEncoder().encode(body.join('\\n') + '\\n');
            const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
            const hex = [...hash].map(b => b.toString(16).padStart(2, '0')).join('');
            return [lines.indexOf('BEGIN') >= 0, body.length, hex];
        }"""
    )
    assert digest == [True, 100_000, expected]
    print(f"\n[{mode}, {transport}] 10 MB in {elapsed:.2f} s; a cell during a flood took {busy:.2f} s")


# ---- the rest, in the default mode -------------------------------------------------------------------------


def test_cjk_and_emoji_have_the_right_widths(labs, page):
    lab = labs("default")
    open_shell(lab, page, SHELL)
    # 中文 😀 x, as octal escapes so the keyboard only types ASCII
    type_line(page, r"printf '\344\270\255\346\226\207 \360\237\230\200 x\n'")
    wait_line(page, "中文 😀 x", exact=True)
    cells = page.evaluate(
        """() => {
            const buffer = document.querySelector('.k8sterm').terminal.buffer.active;
            for (let i = 0; i < buffer.length; i++) {
                const line = buffer.getLine(i);
                if (line.translateToString(true) !== '中文 😀 x') continue;
                const out = [];
                for (let x = 0; x < 9; x++) {
                    const cell = line.getCell(x);
                    out.push([cell.getChars(), cell.getWidth()]);
                }
                return out;
            }
        }"""
    )
    assert cells == [
        ["中", 2], ["", 0], ["文", 2], ["", 0], [" ", 1], ["😀", 2], ["", 0], [" ", 1], ["x", 1],
    ]  # fmt: skip
    # typed (not only printed) wide characters survive the round trip and the shell's line editor
    type_line(page, "echo 漢字 ok")
    wait_line(page, "root@web-0:/# echo 漢字 ok", exact=True)
    wait_line(page, "漢字 ok", exact=True)


def test_a_bad_pod_shows_the_preflight_error_line(labs, page):
    lab = labs("default")
    name = f"bad-{time.monotonic_ns()}.ipynb"
    lab.write_notebook(name, 'import k8sterm_widget\nk8sterm_widget.shell("web-9", "demo", renderer="dom")')
    lab.open_notebook(page, name)
    lab.run_cell(page, 0)
    text = wait_status(page, "error — ")
    message = page.locator(".k8sterm .k8sterm-message")
    message.wait_for()
    assert 'pod "web-9" not found in namespace "demo"' in message.inner_text()
    assert "web-0" in message.inner_text()  # the suggestion
    assert "\n" not in message.inner_text().strip() and "Traceback" not in text
    assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    assert page.locator(".k8sterm .k8sterm-body").is_hidden()  # nothing printed yet: just the line


CHECKPOINTED = """import time
for _ in range(200):  # the front end checkpoints ~1 s after output settles
    c = t._pipe.replay.checkpoint
    if c is not None and c.offset == t._pipe.replay.end:
        break
    time.sleep(0.05)
print("checkpointed", c is not None and c.offset == t._pipe.replay.end)"""


def test_second_view_and_page_reload_replay_the_screen(labs, page):
    lab = labs("default")
    open_shell(lab, page, SHELL, "t", CHECKPOINTED)
    type_line(page, "echo first-$((6*7))")
    wait_line(page, "first-42", exact=True)
    lab.run_cell(page, 1)  # a second view of the same widget
    page.locator(".k8sterm").nth(1).locator(".xterm").wait_for()
    wait_line(page, "first-42", exact=True, index=1)
    type_line(page, "echo second-$((7*7))", index=1)  # typed in view 2, seen in view 1
    wait_line(page, "second-49", exact=True, index=0)

    # a full-screen app: the alternate screen must come back as a screen, not as a byte log
    type_line(page, r"printf '\033[?1049h\033[2J\033[HFULL''SCREEN\n'; sleep 600")
    wait_line(page, "FULLSCREEN", exact=True)
    page.wait_for_function(f"() => {TERM}.buffer.active.type === 'alternate'")
    run_and_wait(lab, page, 2, "checkpointed True")  # the kernel holds the screen as of now
    page.evaluate("() => jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !jupyterapp.shell.currentWidget.context.model.dirty")
    page.reload()
    page.locator(".k8sterm .xterm").first.wait_for(timeout=60_000)
    page.wait_for_function(
        """() => { const t = document.querySelector('.k8sterm')?.terminal;
                   return t && t.buffer.active.type === 'alternate'
                       && t.buffer.active.getLine(0).translateToString(true) === 'FULLSCREEN'; }""",
        timeout=30_000,
    )
    wait_status(page, "connected")
    focus_terminal(page)
    page.keyboard.press("Control+C")  # still the same live shell
    type_line(page, r"printf '\033[?1049l'; echo after-reload-$((2+2))")
    wait_line(page, "after-reload-4", exact=True)
    wait_line(page, "first-42", exact=True)  # the normal screen came back too


def test_theme_follows_jupyterlab_light_and_dark(labs, page):
    lab = labs("default")
    open_shell(lab, page, SHELL)
    background = "() => document.querySelector('.k8sterm').terminal.options.theme.background"
    light = page.evaluate(background)
    page.evaluate("() => jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function(f"() => ({background})() !== {json.dumps(light)}", timeout=20_000)
    dark = page.evaluate(background)
    assert dark.lower() in ("#111111", "#111"), dark
    page.evaluate("() => jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    page.wait_for_function(f"() => ({background})() === {json.dumps(light)}", timeout=20_000)


def test_clearing_the_output_ends_the_remote_shell(labs, page):
    lab = labs("default")
    cells = (
        "import k8sterm_widget\nimport k8sterm_widget.widget._widget as w\nw.CLEARED_GRACE = 0.5\n"
        't = k8sterm_widget.shell("web-0", "demo", renderer="dom")\nt',
        "import time\nfor _ in range(100):\n    if t.status != 'connected':\n        break\n"
        "    time.sleep(0.05)\nt.status",
    )
    open_shell(lab, page, *cells)
    page.evaluate("() => jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.locator(".k8sterm").wait_for(state="detached")
    run_and_wait(lab, page, 1, "'closed'")


def test_notebook7_smoke(labs, page):
    lab = labs("default")
    name = f"nb7-{time.monotonic_ns()}.ipynb"
    lab.write_notebook(name, SHELL)
    open_in_notebook7(lab, page, name)
    assert page.evaluate("() => !!window.jupyterapp")  # so the kernel's connection was waited for
    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").wait_for(timeout=60_000)
    wait_status(page, "connected")
    counts = execution_counts(page)
    type_line(page, "echo nb7-$((5*5))")
    wait_line(page, "nb7-25", exact=True)
    focus_terminal(page)
    page.keyboard.type("echo shift-enter")
    page.keyboard.press("Shift+Enter")  # Notebook 7's Lumino listens first: must not re-run the cell
    wait_line(page, "shift-enter", exact=True)
    assert execution_counts(page) == counts


# ---- lost connection and reconnect (a private cluster, reached through a relay the test can cut) ----------


def test_lost_connection_shows_disconnected_and_reconnect_works_after_a_restart(labs, page, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    state = tmp_path / "cluster"
    cluster = DemoCluster(port=port, state_dir=state).start()
    relay = Relay(port)
    try:
        kubeconfig = relay.kubeconfig(cluster.kubeconfig, tmp_path / "relayed.kubeconfig")
        lab = labs("default")
        open_shell(
            lab,
            page,
            f'import k8sterm_widget\nk8sterm_widget.shell("web-0", "demo", kubeconfig={kubeconfig!r}, '
            'renderer="dom")',
        )
        type_line(page, "echo before-$((1+1))")
        wait_line(page, "before-2", exact=True)

        relay.cut()  # the network drops
        text = wait_status(page, "disconnected — ", timeout=40)
        assert len(text) > len("disconnected — ") + 5, text  # with a reason
        cluster.stop()  # the cluster goes down too: reconnecting now fails with a readable line
        page.locator(".k8sterm button[data-action='reconnect']").click()
        text = wait_status(page, "error — ", timeout=40)
        assert "cannot reach the Kubernetes API server" in text, text
        wait_line(page, "before-2", exact=True)  # the old screen stays

        cluster = DemoCluster(port=port, state_dir=state).start()  # same URL, same credentials
        relay.restore()
        page.locator(".k8sterm button[data-action='reconnect']").click()
        wait_status(page, "connected", timeout=30)
        type_line(page, "echo after-$((2+2))")
        wait_line(page, "after-4", exact=True)
        wait_line(page, "before-2", exact=True)
        assert status_text(page) == "connected"
    finally:
        relay.cut()
        cluster.stop()


# ---- more of what a daily user does ----------------------------------------------------------------------


def test_resizing_the_page_resizes_the_pty(labs, page):
    lab = labs("default")
    open_shell(lab, page, SHELL)
    before = page.evaluate(f"() => {TERM}.cols")
    page.set_viewport_size({"width": 900, "height": 900})
    page.wait_for_function(f"cols => {TERM}.cols < cols", arg=before)
    size = page.evaluate(f"() => [{TERM}.rows, {TERM}.cols]")
    type_line(page, "stty size")
    wait_line(page, f"{size[0]} {size[1]}", exact=True)


def test_ctrl_c_stops_a_flood_promptly(labs, page):
    lab = labs("default")
    open_shell(lab, page, SHELL)
    type_line(page, "yes flood-line")
    wait_line(page, "flood-line", exact=True)
    page.wait_for_function(f"() => {TERM}.buffer.active.length >= 5000")  # a full scrollback: a real flood
    start = time.monotonic()
    page.keyboard.press("Control+C")
    page.wait_for_function(
        f"""() => {{ const b = {TERM}.buffer.active;
                    return b.getLine(b.baseY + b.cursorY).translateToString(true).endsWith('# '); }}""",
        timeout=30_000,
    )
    elapsed = time.monotonic() - start
    # ~1 s on an idle machine; a terminal that queued the flood would take minutes (loose: noisy machines)
    assert elapsed < 10, f"the prompt came back {elapsed:.1f} s after Ctrl+C"
    print(f"\nprompt back {elapsed * 1000:.0f} ms after Ctrl+C during a flood")


def test_find_and_copy(labs, page):
    lab = labs("default")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=lab.url.rstrip("/"))
    open_shell(lab, page, SHELL)
    type_line(page, "echo needle-one; echo hay; echo needle-two")
    wait_line(page, "needle-two", exact=True)

    page.locator(".k8sterm button[data-action='find']").click()
    page.locator(".k8sterm .k8sterm-query").fill("needle-")
    page.wait_for_function(
        "() => /^\\d+\\/\\d+$/.test(document.querySelector('.k8sterm .k8sterm-count').textContent)"
    )
    total = int(page.locator(".k8sterm .k8sterm-count").inner_text().split("/")[1])
    assert total >= 4  # two commands typed, two lines printed
    page.keyboard.press("Escape")
    assert page.locator(".k8sterm .k8sterm-search").is_hidden()

    page.locator(".k8sterm button[data-action='copy']").click()  # nothing selected: the whole terminal
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.includes('needle-two'))")
    page.evaluate("() => navigator.clipboard.writeText('')")

    focus_terminal(page)
    page.evaluate(f"() => {TERM}.select(0, {TERM}.buffer.active.cursorY - 1, 10)")
    page.keyboard.press("Control+C")  # with a selection: copies, and sends nothing to the shell
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.length === 10)")
    type_line(page, "echo still-$((3*4))")
    wait_line(page, "still-12", exact=True)
    assert "^C" not in "\n".join(term_lines(page))


def test_base64_fallback_and_a_big_paste_when_the_host_drops_buffers(labs, page):
    """Colab and Positron drop comm buffers (and have no lane): simulate a host that drops them both ways,
    then paste 300 KB."""
    lab = labs("default")
    cell = (
        "import k8sterm_widget\n"
        't = k8sterm_widget.shell("web-0", "demo", renderer="dom", lane=False)\n'
        "_send, _recv = t._comm_send, t._on_custom_msg\n"
        "t._routes._comm_send = lambda content, buffers: _send(content, [])  # kernel -> browser: dropped\n"
        "t.on_msg(_recv, remove=True)\n"
        "t.on_msg(lambda w, content, buffers: _recv(w, content, []))  # browser -> kernel: dropped\n"
        "t"
    )
    open_shell(lab, page, cell, transport="comm")
    type_line(page, "echo b64-$((8*8))")
    wait_line(page, "b64-64", exact=True)
    lines = [f"{i:06d} " + "x" * 93 for i in range(3000)]  # 300 kB in lines a tty accepts
    text = "\n".join(lines) + "\n"
    type_line(page, "stty -echo; cat > /tmp/paste; stty echo; sha256sum /tmp/paste")
    page.wait_for_function(f"() => !{TERM}.modes.bracketedPasteMode")  # bash has run the line: cat reads
    page.evaluate(f"text => {TERM}.paste(text)", text)
    page.keyboard.press("Control+D")
    wait_line(page, hashlib.sha256(text.encode()).hexdigest(), timeout=30)


def test_auto_renderer_uses_webgl_only_where_a_gpu_runs_it(labs, page):
    """ "auto" leaves WebGL out where the browser emulates it in software (this headless Chromium:
    SwiftShader); "webgl" insists. What the browser has is read from it, not assumed."""
    lab = labs("default")
    auto = SHELL.replace('renderer="dom"', 'renderer="auto"')
    forced = 'k8sterm_widget.shell("web-0", "demo", renderer="webgl")'
    open_shell(lab, page, auto, forced)
    lab.run_cell(page, 1)
    page.wait_for_function("() => document.querySelectorAll('.k8sterm .xterm').length === 2")
    gl = page.evaluate(
        """() => { const gl = document.createElement('canvas').getContext('webgl2');
            const info = gl?.getExtension('WEBGL_debug_renderer_info');
            const caveat = !document.createElement('canvas')
                .getContext('webgl2', { failIfMajorPerformanceCaveat: true });
            const name = gl && info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : '';
            return { any: !!gl, caveat, name }; }"""
    )
    assert gl["any"], "this browser has no WebGL at all: the test cannot tell the renderers apart"
    software = gl["caveat"] or re.search(r"SwiftShader|llvmpipe|softpipe", gl["name"], re.I) is not None
    renderers = page.evaluate(
        """() => [...document.querySelectorAll('.k8sterm')].map((r) =>
            r.terminal.element.querySelector('canvas') ? 'webgl' : 'dom')"""
    )
    assert renderers == ["dom" if software else "webgl", "webgl"], gl
    if os.environ.get("CI") == "true" or shutil.which("chromium") == "/usr/bin/chromium":
        assert software, f"Debian's Chromium without a GPU renders WebGL in software: {gl}"
    type_line(page, "echo auto-$((6*7))")
    wait_line(page, "auto-42", exact=True)


# ---- the lane --------------------------------------------------------------------------------------------


def test_a_lane_that_breaks_mid_stream_loses_nothing_and_the_comm_takes_over(labs, page):
    lab = labs("default")
    open_shell(
        lab,
        page,
        SHELL.replace('renderer="dom"', 'renderer="dom", scrollback=60000'),
        "t._routes.open_lanes",
        "t._routes.close()",
        transport="lane",
    )
    run_and_wait(lab, page, 1, "1")  # the kernel sees one open lane
    type_line(page, "seq 1 50000 | sha256sum; echo C''S")
    wait_line(page, "CS", exact=True)
    expected = next(line.split()[0] for line in term_lines(page) if re.fullmatch(r"[0-9a-f]{64}  -", line))
    chunks = "for i in 1 2 3 4 5; do seq $((i*10000-9999)) $((i*10000)); sleep 0.3; done"
    type_line(page, f"clear; echo BEG''IN; {chunks}; echo EN''D")
    wait_line(page, "BEGIN", exact=True)
    lab.run_cell(page, 2)  # the lane breaks while the output flows
    wait_transport(page, "comm")
    wait_line(page, "END", exact=True, timeout=30)
    body = page.evaluate(
        """() => {
            const buffer = document.querySelector('.k8sterm').terminal.buffer.active;
            const lines = [];
            for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
            return lines.slice(lines.indexOf('BEGIN') + 1, lines.indexOf('END')).join('\\n') + '\\n';
        }"""
    )
    assert hashlib.sha256(body.encode()).hexdigest() == expected  # every line once, in order
    type_line(page, "echo after-$((6*7))")
    wait_line(page, "after-42", exact=True)


# ---- beside JupyterLab's own terminal ----------------------------------------------------------------------

# Computed styles of the parts of an xterm that xterm.css lays out, keyed by selector within its element.
JS_XTERM_STYLES = """(term) => {
    const props = ["position", "overflow-y", "z-index", "opacity", "left", "top", "width", "height",
                   "visibility", "cursor", "user-select", "background-color", "display", "font-family",
                   "transform-origin"];
    const out = { size: [term.rows, term.cols] };
    for (const sel of [".xterm", ".xterm-viewport", ".xterm-screen", ".xterm-helpers",
                       ".xterm-helper-textarea", ".xterm-char-measure-element",
                       ".xterm-accessibility-tree", ".xterm-accessibility-tree > div"]) {
        const el = term.element.matches(sel) ? term.element : term.element.querySelector(sel);
        if (!el) { out[sel] = null; continue; }
        const style = getComputedStyle(el);
        out[sel] = Object.fromEntries(props.map((p) => [p, style.getPropertyValue(p)]));
    }
    return out;
}"""

# Every selector of our stylesheet (the one anywidget injected: it styles `.k8sterm-header`).
JS_OUR_SELECTORS = """() => {
    const ours = (sheet) => sheet.ownerNode?.textContent.includes(".k8sterm-header");
    const sheets = [...document.styleSheets].filter(ours);
    const selectors = [];
    const walk = (rules) => { for (const rule of rules) {
        if (rule.selectorText !== undefined && !(rule.parentRule instanceof CSSKeyframesRule)) {
            selectors.push(...rule.selectorText.split(",").map((s) => s.trim()));
        }
        if (rule.cssRules) walk(rule.cssRules);
    } };
    for (const sheet of sheets) walk(sheet.cssRules);
    return { sheets: sheets.length, selectors };
}"""


def test_xterm_css_is_scoped_and_jupyterlabs_terminal_is_left_alone(labs, page):
    """anywidget puts our CSS into the whole page; JupyterLab's terminal (its own xterm.js and xterm.css) must
    look and size the same with our widget beside it, and ours must still get xterm's layout rules."""
    lab = labs("default")
    name = f"t-{time.monotonic_ns()}.ipynb"
    lab.write_notebook(name, SHELL)
    lab.open_notebook(page, name)
    lab_term = page.evaluate_handle(
        """async () => {
            const notebook = jupyterapp.shell.currentWidget;
            const w = await jupyterapp.commands.execute("terminal:create-new");
            jupyterapp.shell.add(w, "main", { mode: "split-bottom", ref: notebook.id });
            jupyterapp.shell.activateById(notebook.id);
            while (!(w.content._term && w.content._termOpened)) await new Promise((r) => setTimeout(r, 50));
            // Screen-reader mode adds the accessibility tree, which xterm 6's CSS styles unlike xterm 5's.
            w.content._term.options.screenReaderMode = true;
            return w.content._term;
        }"""
    )
    prompt = """(t) => t.buffer.active.getLine(0).translateToString(true).trim() !== ''
                       && !!t.element.querySelector('.xterm-accessibility-tree > div')"""
    page.wait_for_function(prompt, arg=lab_term)
    before = page.evaluate(JS_XTERM_STYLES, lab_term)
    assert page.evaluate(JS_OUR_SELECTORS)["sheets"] == 0  # nothing of ours in the page yet

    lab.run_cell(page, 0)
    page.locator(".k8sterm .xterm").first.wait_for()
    wait_status(page, "connected")
    ours = page.evaluate(JS_OUR_SELECTORS)
    assert ours["sheets"] >= 1 and len(ours["selectors"]) > 50, ours
    assert [s for s in ours["selectors"] if not s.startswith(".k8sterm")] == []

    # JupyterLab's terminal: the same styles and size as before our CSS came; its shell agrees on the size.
    assert page.evaluate(JS_XTERM_STYLES, lab_term) == before
    rows, cols = before["size"]
    page.evaluate("(t) => t.input('stty size\\r', true)", lab_term)
    page.wait_for_function(
        """([t, text]) => { const b = t.buffer.active;
            for (let i = 0; i < b.length; i++) if (b.getLine(i).translateToString(true) === text) return true;
            return false; }""",
        arg=[lab_term, f"{rows} {cols}"],
    )
    fits = page.evaluate(
        """(t) => { const panel = t.element.closest(".jp-Terminal").getBoundingClientRect();
                    const screen = t.element.querySelector(".xterm-screen").getBoundingClientRect();
                    return [screen.width <= panel.width + 1, screen.height <= panel.height + 1,
                            screen.width > panel.width * 0.8, screen.height > panel.height * 0.8]; }""",
        lab_term,
    )
    assert fits == [True, True, True, True], fits

    # Ours: xterm's rules apply inside .k8sterm (the helper textarea is hidden, the viewport overlays the
    # screen), and the pty size matches the xterm.
    styles = page.evaluate(JS_XTERM_STYLES, page.evaluate_handle(f"() => {TERM}"))
    assert styles[".xterm-helper-textarea"]["opacity"] == "0"
    assert styles[".xterm-helper-textarea"]["position"] == "absolute"
    assert styles[".xterm-viewport"]["position"] == "absolute"
    assert styles[".xterm-char-measure-element"]["visibility"] == "hidden"
    type_line(page, "stty size")
    wait_line(page, f"{styles['size'][0]} {styles['size'][1]}", exact=True)


def test_restarting_the_kernel_with_a_terminal_on_screen_leaves_no_uncaught_error(labs, page):
    """The kernel goes away under a live terminal (its comm, its lane): the view says so in its status line;
    the page's console shows no uncaught error (a widget model torn down under a pending promise, a lane
    message to a closed socket …)."""
    lab = labs("default")
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    open_shell(lab, page, SHELL, "1 + 1", transport="lane")
    type_line(page, "echo before-restart")
    wait_line(page, "before-restart", exact=True)
    page.evaluate("() => jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    page.wait_for_function(
        "() => jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'", timeout=60_000
    )
    run_and_wait(lab, page, 1, "2")  # the new kernel works
    page.wait_for_timeout(2000)  # let late callbacks of the old widget's transports run
    assert errors == [], errors
    wait_line(page, "before-restart", exact=True)  # the last screen stays
