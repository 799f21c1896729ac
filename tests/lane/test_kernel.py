"""The kernel's end of a lane (k8sterm_widget/lane/kernel.py) against a server end that stops reading."""

from __future__ import annotations

import logging
import socket
import threading
import time

from k8sterm_widget.lane import decode, stream_frame
from k8sterm_widget.lane.kernel import MAX_BACKLOG, Lane


def test_a_browser_that_stops_reading_never_blocks_the_sender_and_breaks_the_lane(tmp_path):
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    closed = threading.Event()
    lane = Lane(path, on_message=lambda *a: None, on_open=lambda _l: None, on_close=lambda _l: closed.set())
    chunk = b"x" * (16 << 10)  # well under a socket buffer: the first frames leave whole
    slowest, sent, results = 0.0, 0, []
    while not closed.is_set() and sent < 4 * MAX_BACKLOG:
        start = time.monotonic()
        results.append(lane.send({"type": "output", "offset": sent}, [chunk]))
        slowest = max(slowest, time.monotonic() - start)
        sent += len(chunk)
    assert closed.wait(5), "the lane never gave up on a browser that reads nothing"
    assert results[0] and not results[-1]  # accepted at first, refused once broken
    assert slowest < 2, f"a send blocked for {slowest:.2f} s"  # blocking would mean until the 5 s close
    assert not lane.send({"type": "output", "offset": sent}, [b"late"])
    # What was sent before it broke is intact on the wire: the first frame decodes.
    conn = accepted[0]
    conn.settimeout(5)

    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            got = conn.recv(n - len(buf))
            assert got, "the stream ended inside the first frames"
            buf += got
        return buf

    exact(int.from_bytes(exact(4), "big"))  # the registration
    content, buffers = decode(exact(int.from_bytes(exact(4), "big")))
    assert content == {"type": "output", "offset": 0} and buffers == [chunk]
    conn.close()
    listener.close()


def test_close_is_idempotent_and_reports_once(tmp_path):
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    closes = []
    lane = Lane(path, on_message=lambda *a: None, on_open=lambda _l: None, on_close=closes.append)
    lane.close()
    lane.close()
    lane._reader.join(5)
    assert closes == [lane] and not lane._reader.is_alive()
    assert lane._sock.fileno() == -1  # the reader closed the descriptor once it was done
    listener.close()


def test_a_frame_nested_too_deep_is_dropped_with_one_log_line_and_no_traceback(tmp_path, caplog, monkeypatch):
    """json.loads raises RecursionError (not ValueError) on deep nesting; on the reader thread that was an
    uncaught exception whose traceback the kernel printed into whichever cell was running."""
    uncaught: list = []
    monkeypatch.setattr(threading, "excepthook", uncaught.append)
    path = str(tmp_path / "s")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(listener.accept()[0]), daemon=True).start()
    messages, closed = [], threading.Event()
    caplog.set_level(logging.INFO, logger="k8sterm_widget.lane")
    lane = Lane(path, on_message=lambda *a: messages.append(a), on_open=lambda _l: None,
                on_close=lambda _l: closed.set())  # fmt: skip
    deadline = time.monotonic() + 5
    while not accepted and time.monotonic() < deadline:
        time.sleep(0.01)
    deep = b'{"type":"input","x":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    accepted[0].sendall(stream_frame(len(deep).to_bytes(4, "big") + deep))
    assert closed.wait(5)
    lane._reader.join(5)
    assert uncaught == [] and messages == []
    lines = [r for r in caplog.records if r.name == "k8sterm_widget.lane" and "bad frame" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None, [r.getMessage() for r in caplog.records]
    accepted[0].close()
    listener.close()
