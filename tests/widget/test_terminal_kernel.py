"""The Terminal widget driven in-process on the demo cluster: its comm is a recorder, its front end is us.

These cover the kernel side without a browser: the secrets audit over every synced trait and every message
of real sessions, the first-size rule, exit status, the cleared-output rule, reconnect, garbage from the
front end, and the atexit cleanup.
"""

from __future__ import annotations

import json
import random
import re
import sys
import textwrap
import time
from pathlib import Path

import anywidget
import pytest
import yaml
from helpers import LanePeer, secrets_of, wait_until

import k8sterm_widget
from k8sterm_widget import errors
from k8sterm_widget.widget import _widget
from k8sterm_widget.widget._widget import Terminal, shell

SYNCED = {
    # names and state only; anything added here must be reviewed for secrets
    "pod", "namespace", "container", "context", "status", "status_detail", "exit_code", "notes",
    "renderer", "font_size", "rows", "scrollback", "_uid",
    # issue 6: a label ("debug container · image"), offered action names, the screen kept in the notebook
    # (what the terminal showed, which the user already sees; never credentials)
    "badge", "offers", "transcript",
    # the shared front end's model (a reference to the kernel's one bundle model: code, never state)
    "_bundle",
    # which widget of that bundle this is ("terminal": a constant of the class)
    "_part",
}  # fmt: skip


@pytest.fixture
def kc(demo_cluster):
    return {"kubeconfig": demo_cluster.kubeconfig, "context": "demo-admin"}


class FrontEnd:
    """Numbers messages like js/transport.js does (input, resize and views carry id and seq)."""

    def __init__(self, w: Terminal, id: str = "fe1"):
        self.w, self.id, self.seq = w, id, {}

    def send(self, content: dict, buffers=()):
        kind = content["type"]
        if kind in ("input", "resize", "views"):
            content = {**content, "id": self.id, "seq": self.seq.get(kind, 0)}
            self.seq[kind] = content["seq"] + 1
        self.w._on_custom_msg(self.w, content, list(buffers))


def handshake(w: Terminal, size=(100, 30), fe="fe1"):
    """What the browser does at start-up: probe, size, replay request."""
    w._fe = FrontEnd(w, fe)
    w._fe.send({"type": "ready", "id": fe}, [b"\0"])
    w._fe.send({"type": "resize", "cols": size[0], "rows": size[1]})
    w._fe.send({"type": "replay", "id": fe, "b64": False})


def type_(w: Terminal, text: str):
    if not hasattr(w, "_fe"):
        w._fe = FrontEnd(w)
    w._fe.send({"type": "input"}, [text.encode()])


def connected(w):
    return wait_until(lambda: w.status != "connecting", 20, "the session to open") and w.status == "connected"


def test_synced_traits_are_names_and_state_only(rec, kc):
    w = Terminal("web-0", "demo", connect=False, **kc)
    base = anywidget.AnyWidget()
    assert set(w.keys) - set(base.keys) - {"_css"} == SYNCED  # _css: the bundled stylesheet
    w.close(keep_view=False)
    base.close()


def exec_plugin_kubeconfig(demo_cluster, tmp_path) -> tuple[str, str]:
    """A copy of the demo kubeconfig whose user gets the admin token from an exec plugin."""
    config = yaml.safe_load(Path(demo_cluster.kubeconfig).read_text())
    token = next(u["user"]["token"] for u in config["users"] if u["name"] == "admin")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        textwrap.dedent(f"""
        import json
        print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                          "status": {{"token": {token!r}}}}}))
        """)
    )
    config["users"] = [
        {
            "name": "plugged",
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1",
                    "command": sys.executable,
                    "args": [str(plugin)],
                    "interactiveMode": "Never",
                }
            },
        }
    ]
    config["contexts"] = [{"name": "plugged", "context": {"cluster": "k8sterm-demo", "user": "plugged"}}]
    config["current-context"] = "plugged"
    path = tmp_path / "plugged.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path), token


def test_no_secret_in_any_trait_or_message_of_real_sessions(rec, demo_cluster, tmp_path):
    plugged, token = exec_plugin_kubeconfig(demo_cluster, tmp_path)
    terminals = [
        shell("web-0", "demo", kubeconfig=demo_cluster.kubeconfig, context="demo-admin"),
        shell("web-0", "demo", kubeconfig=plugged),  # credentials from an exec plugin
        shell("no-such-pod", "demo", kubeconfig=demo_cluster.kubeconfig),  # pre-flight error text
        shell("web-0", "demo", kubeconfig=demo_cluster.kubeconfig, context="demo-viewer"),  # RBAC refusal
    ]
    for i, w in enumerate(terminals):
        handshake(w, fe=f"fe{i}")
    for w in terminals[:2]:
        assert connected(w), w
        type_(w, "echo $((6*7)); env | grep -ci token; exit 0\n")
        wait_until(lambda w=w: w.status == "exited", 10, "exit")
        w._on_custom_msg(w, {"type": "checkpoint", "offset": 0, "cols": 100, "rows": 30}, [b"screen"])
        w._on_custom_msg(w, {"type": "reconnect"}, [])
        assert connected(w)
        w._on_custom_msg(w, {"type": "replay", "id": "again", "b64": True}, [])
        w.close()
    assert wait_until(lambda: terminals[2].status == "error")
    assert wait_until(lambda: terminals[3].status == "error")
    assert isinstance(terminals[3].error, errors.Forbidden)

    blob = json.dumps([(t, d) for t, d, _ in rec.messages], default=str)
    blob += "".join(b.decode("latin-1") for _, _, bufs in rec.messages for b in bufs)
    blob += json.dumps([w.get_state() for w in terminals], default=str)
    assert all(b"42" in rec.output(w) for w in terminals[:2])  # the sessions did run
    assert len(rec.messages) > 20
    secrets = secrets_of(demo_cluster.kubeconfig, whole_file=True)
    for secret in [*secrets, token, demo_cluster.kubeconfig, plugged]:
        assert secret not in blob, f"a credential fragment reached the front end: {secret[:12]}…"


def test_a_terminal_on_a_lane_works_there_and_no_secret_crosses_it(rec, demo_cluster, tmp_path, monkeypatch):
    """The kernel's side of the lane end to end: the front end says ``ready`` on the comm, gets a lane id in
    ``hello``, and from then on types, resizes and reads on the lane; the comm carries no output."""
    peer = LanePeer(tmp_path)
    monkeypatch.setenv("K8STERM_LANE", peer.path)
    w = shell("web-0", "demo", kubeconfig=demo_cluster.kubeconfig, context="demo-admin")
    FrontEnd(w, "fe1").send({"type": "ready", "id": "fe1"}, [b"\0"])
    lane = wait_until(lambda: rec.custom("hello", w), 5, "hello")[0][0]["lane"]
    peer.open(lane)
    wait_until(lambda: w._routes.on_lane("fe1"), 5, "the lane to open")
    peer.send(lane, {"type": "resize", "id": "fe1", "seq": 0, "cols": 91, "rows": 21})
    peer.send(lane, {"type": "replay", "id": "fe1", "b64": False})
    assert connected(w)
    peer.send(lane, {"type": "input", "id": "fe1", "seq": 0}, [b"stty size; echo $((6*7))\n"])
    peer.send(lane, {"type": "input", "id": "fe1", "seq": 1}, [b"env | grep -ci token; exit 0\n"])
    frames, out = [], b""
    # 42, then grep's count (after the shell's invisible OSC 133 mark, where bash prints one), then exit
    while not re.search(rb"\n42\r\n.*\r(?:\x1b\]133;[^\x07]*\x07)?\d+\r\nexit", out, re.S):
        content, buffers = peer.recv(lane)
        frames.append((content, buffers))
        if content["type"] == "output":
            assert content["offset"] == len(out)
            out += buffers[0]
        elif content["type"] == "replay":
            assert content["to"] == "fe1"
            out = buffers[1]
    wait_until(lambda: w.status == "exited", 10, "exit")
    assert b"21 91" in out and w.exit_code == 0
    assert rec.custom("output", w) == [] and rec.custom("replay", w) == []  # nothing on the comm
    blob = json.dumps([c for c, _ in frames]) + "".join(b.decode("latin-1") for _, bs in frames for b in bs)
    for secret in secrets_of(demo_cluster.kubeconfig, whole_file=True):
        assert secret not in blob, f"a credential fragment crossed the lane: {secret[:12]}…"
    w.close(keep_view=False)
    with pytest.raises(EOFError):  # closing the widget closes its lanes
        while True:
            peer.recv(lane, timeout=5)
    peer.stop()


def test_garbage_on_a_lane_is_dropped_like_garbage_on_the_comm(rec, kc, tmp_path, monkeypatch, caplog):
    peer = LanePeer(tmp_path)
    monkeypatch.setenv("K8STERM_LANE", peer.path)
    w = Terminal("web-0", "demo", connect=False, **kc)
    FrontEnd(w, "fe1").send({"type": "ready", "id": "fe1"}, [b"\0"])
    lane = wait_until(lambda: rec.custom("hello", w), 5, "hello")[0][0]["lane"]
    peer.open(lane)
    wait_until(lambda: w._routes.on_lane("fe1"), 5, "the lane to open")
    with caplog.at_level("WARNING", "k8sterm_widget.widget"):
        peer.send(lane, {"type": "resize", "id": "fe1", "seq": 0, "cols": "wide", "rows": 20})
        peer.send(lane, {"type": "nonsense"}, [b"x" * 10])
        wait_until(lambda: "dropped a front-end message" in caplog.text, 5, "the drop log line")
    assert w._routes.on_lane("fe1") and w.size is None  # dropped, the lane lives on
    peer.send(lane, {"type": "resize", "id": "fe1", "seq": 1, "cols": 77, "rows": 20})
    wait_until(lambda: w.size == (77, 20), 5, "a good message after the bad ones")
    w.close(keep_view=False)
    peer.stop()


def test_a_bad_pod_is_one_readable_line_and_a_typed_error(rec, kc):
    w = shell("web-9", "demo", **kc)
    wait_until(lambda: w.status == "error", 10)
    assert isinstance(w.error, errors.PodNotFound)
    assert "\n" not in w.status_detail and 'pod "web-9" not found' in w.status_detail
    assert "Traceback" not in w.status_detail
    assert w.session is None


def test_the_stream_opens_at_the_first_size_a_view_reports(rec, kc):
    w = shell("web-0", "demo", **kc)
    wait_until(lambda: w.container == "nginx", 10, "pre-flight")  # pre-flight is done, but no size yet
    assert w.status == "connecting" and w.session is None
    handshake(w, size=(123, 45))
    assert connected(w)
    assert w.session.size == (123, 45) == w.size
    type_(w, "stty size\n")
    wait_until(lambda: b"45 123" in rec.output(), 10, "stty output")
    w.close()


def test_headless_terminals_open_after_the_wait_at_80x24(rec, kc, monkeypatch):
    monkeypatch.setattr(_widget, "FIRST_SIZE_WAIT", 0.3)
    w = shell("web-0", "demo", **kc)
    assert connected(w)
    assert w.session.size == (80, 24)
    assert rec.custom("output") == []  # nobody asked: nothing sent, all kept for a replay
    type_(w, "echo headless-$((1+1))\n")
    wait_until(lambda: b"headless-2" in w._pipe.replay.snapshot().tail, 10)
    w.close()


def test_exit_code_and_the_last_output_comes_before_the_status(rec, kc):
    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    type_(w, "echo bye; exit 3\n")
    wait_until(lambda: w.status == "exited", 10)
    assert w.exit_code == 3 and w.status_detail == ""
    order = [
        "out" if d.get("method") == "custom" else d.get("state", {}).get("status")
        for t, d, _ in rec.messages
        if t == "comm_msg"
    ]
    assert order.index("exited") > max(i for i, o in enumerate(order) if o == "out")
    assert b"bye" in rec.output()


def test_typed_ahead_keys_reach_the_shell(rec, kc):
    w = shell("web-0", "demo", **kc)
    type_(w, "echo early-$((2+3))\n")  # before the stream exists
    handshake(w)
    assert connected(w)
    wait_until(lambda: b"early-5" in rec.output(), 10)
    w.close()


def test_reconnect_continues_the_same_stream(rec, kc):
    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    type_(w, "exit 7\n")
    wait_until(lambda: w.status == "exited")
    w._on_custom_msg(w, {"type": "reconnect"}, [])
    assert connected(w)
    type_(w, "echo again-$((4*4))\n")
    wait_until(lambda: b"again-16" in rec.output(), 10)
    assert b"[reconnecting to demo/web-0]" in rec.output()  # offsets contiguous: checked by output()
    w.close()
    assert w.status == "closed" and w.session is None


def test_clearing_the_output_closes_the_session_after_a_grace_period(rec, kc, monkeypatch):
    monkeypatch.setattr(_widget, "CLEARED_GRACE", 0.3)
    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    w._fe.send({"type": "views", "count": 1})
    w._fe.send({"type": "views", "count": 0})
    w._fe.send({"type": "views", "count": 1})  # re-rendered: comes back
    session = w.session
    time.sleep(0.5)  # longer than the grace period: nothing may happen
    assert w.status == "connected"
    w._fe.send({"type": "views", "count": 0})
    wait_until(lambda: w.status == "closed", 5, "the grace period to end the session")
    assert session.ended


def test_garbage_from_the_front_end_is_dropped_and_the_terminal_keeps_working(rec, kc, caplog):
    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    rng = random.Random(4)
    junk = [
        None, 42, "input", [], {"type": None}, {"type": "input"}, {"type": "input", "b64": 5},
        {"type": "resize", "cols": -5, "rows": 10**9}, {"type": "ack", "offset": "1"},
        {"type": "ack", "offset": 10**30}, {"type": "checkpoint", "offset": 0}, {"type": "views"},
        {"type": "__init__"}, {"type": "_on_input"}, {"type": "ready", "id": {"x": 1}},
        {"type": "input", "id": "fe1", "seq": -1, "b64": "eA=="}, {"type": "resize", "cols": 80, "rows": 24},
    ]  # fmt: skip
    with caplog.at_level("WARNING", logger="k8sterm_widget.widget"):
        for content in junk:
            w._on_custom_msg(w, content, [])
        for _ in range(300):
            content = {rng.choice(["type", "b64", "offset", "x"]): rng.choice([None, 1, "ack", [], {}])}
            buffers = rng.choice([[], [b"\xff" * rng.randrange(10)], [object()], None, [b"a", b"b"]])
            w._on_custom_msg(w, content, buffers)
        w._on_custom_msg(w, {"type": "ack", "offset": 10**12}, [])  # well-formed but beyond the stream
    assert caplog.records, "drops must be logged"
    assert w.status == "connected"
    type_(w, "echo still-$((3*3))\n")
    wait_until(lambda: b"still-9" in rec.output(), 10)
    w.close()


def test_rate_limit_drops_a_flood_of_messages(rec, kc, caplog):
    w = Terminal("web-0", "demo", connect=False, **kc)
    with caplog.at_level("WARNING", logger="k8sterm_widget.widget"):
        for _ in range(10_000):
            w._on_custom_msg(w, {"type": "ack", "offset": 0}, [])
    assert any("rate limit" in r.getMessage() for r in caplog.records)
    w.close(keep_view=False)


def test_kernel_exit_closes_every_live_session(rec, kc):
    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    session = w.session
    _widget._close_all_at_exit()
    assert session.ended and w.status == "closed"


def test_a_page_too_slow_to_ack_is_detached_and_resumes_without_losing_a_byte(rec, kc):
    """What the 10 MB browser test met under load: a living page, acks late, taken for gone (``detached``).
    It asks for a replay from what it has (``have``) and gets exactly the bytes after, however many
    times that happens; js/controller.js appends them (tests/js/controller.test.mjs)."""
    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    w._pipe.flow.min_stall = 0.2  # this page never acks: gone after 0.2 s each time it is paused
    type_(w, "seq 1 300000; echo EN''D\n")
    stream, seen, detaches = bytearray(), 0, 0  # what the page has, as js/controller.js assembles it

    def take() -> bool:
        nonlocal seen, detaches
        messages = rec.custom(None, w)[seen:]
        seen += len(messages)
        for content, buffers in messages:
            if content["type"] == "output":
                assert content["offset"] <= len(stream), "a gap in live output"
                stream.extend(buffers[0][len(stream) - content["offset"] :])
            elif content["type"] == "detached":
                detaches += 1
                w._fe.send({"type": "replay", "id": "fe1", "b64": False, "have": len(stream)})
            elif content["type"] == "replay" and content["to"] == "fe1" and detaches:
                assert content["resume"] and content["offset"] == len(stream) and buffers[0] == b""
                stream.extend(buffers[1])
        return b"\r\nEND\r\n" in stream

    wait_until(take, 60, "the end of the output")
    assert detaches >= 1
    numbers = re.findall(rb"(?<=[\n\x07])(\d+)\r\n", bytes(stream))  # the first after bash's C mark
    assert numbers == [str(i).encode() for i in range(1, 300001)]
    w.close()


def test_input_handled_by_two_threads_reaches_the_shell_in_order(rec, kc):
    """JupyterLab sends to the main shell until the subshell exists: two threads, one keystroke stream."""
    import threading

    w = shell("web-0", "demo", **kc)
    handshake(w)
    assert connected(w)
    text = "echo " + "".join(f"{i % 10}" for i in range(200)) + "\n"
    messages = [({"type": "input", "id": "fe1", "seq": i}, [ch.encode()]) for i, ch in enumerate(text)]
    odd, even = messages[1::2], messages[0::2]
    threads = [
        threading.Thread(target=lambda ms=ms: [w._on_custom_msg(w, c, b) for c, b in reversed(ms)])
        for ms in (odd, even)
    ]  # each thread even delivers its half backwards
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    digits = "".join(f"{i % 10}" for i in range(200))
    printed = re.compile(rb"\r(?:\x1b\]133;C;k8s\x07)?" + digits.encode() + rb"\r\n")  # after bash's C mark
    wait_until(lambda: printed.search(rec.output(w)), 10, "the digits in order")
    w.close()


def test_a_password_in_the_server_url_shows_nowhere(rec, demo_cluster, tmp_path):
    """``server: https://user:pw@host`` in a kubeconfig: not in error texts, synced state, messages or the
    text a cell shows — for a cluster that answers and for one that is down."""
    config = yaml.safe_load(Path(demo_cluster.kubeconfig).read_text())
    up = config["clusters"][0]["cluster"]["server"].replace("https://", "https://alice:pw-SECRET@")
    shown = []
    for name, server in (("up", up), ("down", "https://alice:pw-SECRET@127.0.0.1:1")):
        config["clusters"][0]["cluster"]["server"] = server
        path = tmp_path / f"{name}.kubeconfig"
        path.write_text(yaml.safe_dump(config))
        w = shell("web-0", "demo", kubeconfig=str(path))
        handshake(w, fe=f"fe-{name}")
        wait_until(lambda w=w: w.status != "connecting", 20, "the session to open or fail")
        shown += [w.status_detail, *w.notes, repr(w.error), str(w._repr_mimebundle_())]
        try:
            k8sterm_widget.exec("web-0", "true", namespace="demo", kubeconfig=str(path))
            result = k8sterm_widget.exec_many("true", pods=["web-0"], namespace="demo", kubeconfig=str(path))
            shown += [str(result), result._repr_html_()]
        except errors.K8stermError as e:
            shown += [str(e), repr(e)]
        w.close()
    assert any("alice:xxxxx@127.0.0.1:1" in s for s in shown), shown  # the down cluster was named
    blob = json.dumps([(t, d) for t, d, _ in rec.messages], default=str) + "".join(shown)
    assert "pw-SECRET" not in blob
