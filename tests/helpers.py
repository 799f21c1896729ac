"""Helpers for every test directory: a fake clock, a recording comm, waits, and probes of a terminal in a
JupyterLab page.

Imported by the test modules as ``helpers`` (pytest puts tests/, the directory of the root conftest, on
``sys.path``).
"""

from __future__ import annotations


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Recorder:
    """Every message a widget's comm publishes (comm_open with the state, updates, custom messages).

    Use through the ``recorded`` fixture pattern: ``monkeypatch.setattr(comm, "create_comm", rec.create)``.
    """

    def __init__(self) -> None:
        import threading

        self.messages: list[tuple[str, dict, list[bytes]]] = []
        self.comm_ids: list[str] = []  # the comm (widget model id) of each message
        self.lock = threading.Lock()

    def create(self, *args, **kwargs):
        from comm.base_comm import BaseComm

        recorder = self

        class RecordingComm(BaseComm):
            def publish_msg(self, msg_type, data=None, metadata=None, buffers=None, **keys):
                with recorder.lock:
                    recorder.messages.append((msg_type, data or {}, [bytes(b) for b in buffers or []]))
                    recorder.comm_ids.append(self.comm_id)

        return RecordingComm(*args, **kwargs)

    def custom(self, kind: str | None = None, widget=None) -> list[tuple[dict, list[bytes]]]:
        """Custom messages (optionally of one ``type``, of one widget) as (content, buffers)."""
        with self.lock:
            found = [
                (data["content"], buffers)
                for (msg_type, data, buffers), comm_id in zip(self.messages, self.comm_ids, strict=True)
                if msg_type == "comm_msg"
                and data.get("method") == "custom"
                and (widget is None or comm_id == widget.model_id)
            ]
        return [(c, b) for c, b in found if kind is None or c.get("type") == kind]

    def output(self, widget=None) -> bytes:
        """A terminal's output stream as sent (output messages in order, checked to be contiguous)."""
        out = bytearray()
        for content, buffers in self.custom("output", widget):
            assert content["offset"] == len(out), (content["offset"], len(out))
            out += buffers[0]
        return bytes(out)

    def states(self) -> list[dict]:
        """The synced state: the comm_open state, then every update."""
        with self.lock:
            return [
                data.get("state", {})
                for msg_type, data, _ in self.messages
                if msg_type == "comm_open" or (msg_type == "comm_msg" and data.get("method") == "update")
            ]


def notebook_text(*cells: str) -> str:
    """A Python 3 notebook with these code cells, as saved (nbformat 4)."""
    import nbformat

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in cells],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    return nbformat.writes(nb)


def wait_until(predicate, timeout: float = 10.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy (for kernel-side threads; no fixed sleeps)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def secrets_of(kubeconfig: str, *, whole_file: bool = False) -> list[str]:
    """Credentials of a kubeconfig (tokens, keys, certificates), whole and as recognisable fragments.

    ``whole_file`` adds the CA data as written and the file's whole text: for audits of messages that carry
    no kubeconfig names (a widget that shows contexts and namespaces would match fragments of plain YAML).
    """
    import base64
    from pathlib import Path

    import yaml

    text = Path(kubeconfig).read_text()
    config = yaml.safe_load(text)
    found = []
    for user in config["users"]:
        for key, value in user["user"].items():
            if isinstance(value, str):
                found.append(value)
                if key.endswith("-data"):
                    found.append(base64.b64decode(value).decode(errors="replace"))
    for cluster in config["clusters"]:
        data = cluster["cluster"].get("certificate-authority-data")
        if data:
            if whole_file:
                found.append(data)
            found += [line for line in base64.b64decode(data).decode().splitlines() if len(line) > 40]
    if whole_file:
        found.append(text)
    fragments = []
    for secret in found:
        fragments.append(secret)
        if len(secret) > 24:
            fragments += [secret[i : i + 24] for i in range(0, len(secret) - 24, 12)]
    return fragments


# ---- browser side ----------------------------------------------------------------------------------------
# The widget root `.k8sterm` exposes the live xterm Terminal as `.terminal` (js/widget.js); these read it.
# Terminals are named by index among the page's `.k8sterm` roots, or (the `*_at` helpers) by a Playwright
# Locator of the root, which also finds one inside a shadow root (marimo renders widgets in one).

_LINES = """(root, from) => {
    const term = root && root.terminal;
    if (!term) return null;
    const buffer = term.buffer.active, lines = [];
    for (let i = from || 0; i < buffer.length; i++) lines.push(buffer.getLine(i).translateToString(true));
    return lines;
}"""
_HAS_LINE = """(root, text, exact) => {
    const term = root && root.terminal;
    if (!term) return false;
    const buffer = term.buffer.active;
    for (let i = 0; i < buffer.length; i++) {
        const line = buffer.getLine(i).translateToString(true);
        if (exact ? line === text : line.includes(text)) return true;
    }
    return false;
}"""
_NTH = "document.querySelectorAll('.k8sterm')[index]"
JS_LINES = f"([index, from]) => ({_LINES})({_NTH}, from)"
JS_HAS_LINE = f"([index, text, exact]) => ({_HAS_LINE})({_NTH}, text, exact)"
# The root's own document or shadow root has its textarea focused.
_FOCUSED = "(root) => !!root?.terminal && root.getRootNode().activeElement === root.terminal.textarea"


def open_notebook(lab, page, *cells: str) -> str:
    """A new notebook with these code cells, opened in a fresh workspace with its kernel idle."""
    import time

    name = f"s-{time.monotonic_ns()}.ipynb"
    lab.write_notebook(name, *cells)
    lab.open_notebook(page, name)
    return name


def open_in_notebook7(lab, page, name: str) -> None:
    """Open notebook ``name`` in Notebook 7 (``/notebooks/``) and wait until its kernel is connected and idle.

    The status indicators say "idle" before the session has a kernel, and a cell run then is dropped (a
    Notebook 7 smoke test once waited 60 s for a terminal that way): with the app exposed (`start_lab`
    does), ask it, as `Lab.open_notebook` does.
    """
    page.goto(f"{lab.url}notebooks/{name}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
    page.wait_for_function(
        """() => {
            if (window.jupyterapp) {
                const context = window.jupyterapp.shell.currentWidget?.sessionContext;
                return context?.session?.kernel?.connectionStatus === "connected"
                    && context.kernelDisplayStatus === "idle";
            }
            const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
            const status = document.querySelector('#jp-kernel-status, .jp-KernelStatus');
            return indicator?.dataset.status === 'idle' || status?.textContent?.includes('Idle');
        }""",
        timeout=60_000,
    )


def output_text(page, index: int) -> str:
    return page.evaluate(
        "i => document.querySelectorAll('.jp-Notebook .jp-Cell')[i]"
        "?.querySelector('.jp-OutputArea')?.textContent ?? ''",
        index,
    )


def run_until(lab, page, index: int, text: str, timeout: float = 30.0) -> str:
    """Run cell ``index`` and wait until its output contains ``text``; returns the output."""
    lab.run_cell(page, index)
    page.wait_for_function(
        """([i, text]) => (document.querySelectorAll('.jp-Notebook .jp-Cell')[i]
            ?.querySelector('.jp-OutputArea')?.textContent ?? '').includes(text)""",
        arg=[index, text],
        timeout=timeout * 1000,
    )
    return output_text(page, index)


def term_lines(page, index: int = 0) -> list[str]:
    return page.evaluate(JS_LINES, [index, 0]) or []


def term_lines_at(root) -> list[str]:
    """The buffer lines of the terminal whose root is the Locator ``root``."""
    return root.evaluate(_LINES) or []


def wait_line(page, text: str, *, index: int = 0, exact: bool = False, timeout: float = 15.0) -> None:
    """Wait until a buffer line of terminal ``index`` contains (or equals) ``text``."""
    try:
        page.wait_for_function(JS_HAS_LINE, arg=[index, text, exact], timeout=timeout * 1000)
    except Exception as e:
        lines = [line for line in term_lines(page, index) if line.strip()]
        raise AssertionError(f"{text!r} never appeared in terminal {index}; last lines: {lines[-12:]}") from e


def wait_line_at(page, root, text: str, *, exact: bool = False, timeout: float = 15.0) -> None:
    """`wait_line` for the terminal whose root is the Locator ``root``."""
    handle = root.element_handle(timeout=timeout * 1000)
    try:
        page.wait_for_function(
            f"([root, text, exact]) => ({_HAS_LINE})(root, text, exact)",
            arg=[handle, text, exact],
            timeout=timeout * 1000,
        )
    except Exception as e:
        lines = [line for line in term_lines_at(root) if line.strip()]
        raise AssertionError(f"{text!r} never appeared in the terminal; last lines: {lines[-12:]}") from e


def wait_status(page, prefix: str, *, index: int = 0, timeout: float = 20.0) -> str:
    """Wait until the header status of widget ``index`` starts with ``prefix``; return its text."""
    js = """([index, prefix]) => {
        const el = document.querySelectorAll('.k8sterm .k8sterm-status-text')[index];
        return !!el && el.textContent.startsWith(prefix);
    }"""
    try:
        page.wait_for_function(js, arg=[index, prefix], timeout=timeout * 1000)
    except Exception as e:
        raise AssertionError(f"status never became {prefix!r}: it is {status_text(page, index)!r}") from e
    return status_text(page, index)


def status_text(page, index: int = 0) -> str:
    return page.evaluate(
        "i => document.querySelectorAll('.k8sterm .k8sterm-status-text')[i]?.textContent ?? null", index
    )


def focus_terminal(page, index: int = 0) -> None:
    page.locator(".k8sterm .xterm-screen").nth(index).click()
    page.wait_for_function(f"index => ({_FOCUSED})({_NTH})", arg=index)


def type_line(page, text: str, index: int = 0) -> None:
    """Type into terminal ``index`` as a user would (keyboard events), then Enter."""
    focus_terminal(page, index)
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def type_line_at(page, root, text: str) -> None:
    """`type_line` for the terminal whose root is the Locator ``root``."""
    root.locator(".xterm-screen").click()
    page.wait_for_function(f"root => ({_FOCUSED})(root)", arg=root.element_handle())
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def live_shell_at(page, root, word: str, timeout: float = 90.0) -> None:
    """The terminal at Locator ``root`` (a shell in demo/web-0) renders, connects, shows the shell's prompt
    and echoes a typed command: ``echo <word>-$((6*7))`` prints ``<word>-42``."""
    import re

    root.locator(".xterm").wait_for(timeout=timeout * 1000)
    root.locator(".k8sterm-status-text", has_text=re.compile("^connected")).wait_for(timeout=60_000)
    wait_line_at(page, root, "root@web-0:/# ", timeout=30)
    type_line_at(page, root, f"echo {word}-$((6*7))")
    wait_line_at(page, root, f"{word}-42", exact=True, timeout=30)


def browser_and_player_live(page, played: str) -> None:
    """The page's pod browser lists demo/web-0, live, and its player has played a cast (`cast_text`) whose
    first line is ``played``."""
    page.locator(".k8sterm-browse[data-state=live] tr.k8sterm-browse-pod[data-pod=web-0]").wait_for(
        timeout=30_000
    )
    page.locator(".k8sterm-player[data-state=ended]").wait_for(timeout=30_000)
    first = page.locator(".k8sterm-player").evaluate(
        "e => e.terminal.buffer.active.getLine(0).translateToString(true)"
    )
    assert first == played


def cast_text(line: str) -> str:
    """An asciicast v2 recording (60x8) that prints ``line``."""
    import io

    from k8sterm_widget.recording import CastWriter

    out = io.StringIO()
    writer = CastWriter(out, 60, 8, title="a cast")
    writer.event("o", f"{line}\r\n", 0.05)
    writer.close()
    return out.getvalue()


class Relay:
    """A TCP relay on loopback that a test can cut: the network between the kernel and the cluster.

    Stopping a demo cluster kills its containers first (exit 137, like a dying node), so a *lost
    connection* is simulated here instead: ``cut()`` drops every relayed connection and refuses new ones,
    ``restore()`` listens again on the same port.
    """

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        import socket
        import threading

        self.host, self.target_port = host, target_port
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        with socket.socket() as s:
            s.bind((host, 0))
            self.port = s.getsockname()[1]
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        import socket
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        import contextlib
        import socket

        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src, dst) -> None:
        import contextlib
        import socket

        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def kubeconfig(self, source: str, dest) -> str:
        """A copy of ``source`` whose server URL goes through this relay."""
        import re
        from pathlib import Path

        text = Path(source).read_text()
        text = re.sub(r"(server: https://127\.0\.0\.1:)\d+", rf"\g<1>{self.port}", text)
        Path(dest).write_text(text)
        return str(dest)


# ---- the server's end of lanes ---------------------------------------------------------------------------


class LanePeer:
    """Stands where the Jupyter Server's relay and a browser stand (k8sterm_widget/lane): listens on a Unix
    socket, takes the kernel's lane connections, and speaks the browser's side of each one.

    Set ``K8STERM_LANE`` to ``path`` (monkeypatch.setenv) and the kernel's lanes connect here.
    """

    def __init__(self, directory) -> None:
        import socket
        import threading

        self.path = str(directory / "lane.sock")
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(8)
        self.lanes: dict[str, socket.socket] = {}  # id -> the kernel's connection
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        from k8sterm_widget.lane import decode

        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            content, _ = decode(self._read(conn))
            with self.lock:
                self.lanes[content["lane"]] = conn

    @staticmethod
    def _read(conn) -> bytes:
        def exact(n: int) -> bytes:
            buf = b""
            while len(buf) < n:
                chunk = conn.recv(n - len(buf))
                if not chunk:
                    raise EOFError("the kernel closed the lane")
                buf += chunk
            return buf

        return exact(int.from_bytes(exact(4), "big"))

    def conn(self, lane: str):
        return wait_until(lambda: self.lanes.get(lane), 5, f"lane {lane[:8]} to register")

    def open(self, lane: str) -> None:
        """The browser attached."""
        self.send(lane, {"type": "lane_open"})

    def send(self, lane: str, content: dict, buffers=()) -> None:
        from k8sterm_widget.lane import encode, stream_frame

        self.conn(lane).sendall(stream_frame(encode(content, list(buffers))))

    def recv(self, lane: str, timeout: float = 10.0) -> tuple[dict, list[bytes]]:
        from k8sterm_widget.lane import decode

        conn = self.conn(lane)
        conn.settimeout(timeout)
        return decode(self._read(conn))

    def close(self, lane: str) -> None:
        import socket

        conn = self.lanes.pop(lane)
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def stop(self) -> None:
        self.listener.close()
        for conn in self.lanes.values():
            conn.close()
