"""The kernel's end of a lane: a Unix socket to the Jupyter Server's relay, and a thread reading it.

One :class:`Lane` per front end of a terminal.

**Sending never blocks the caller.** Output is sent from the session's I/O thread while the output pipe's
lock is held, so a browser that reads slowly (a frozen background tab, a half-open connection) must not
stall it, nor the other viewers. A message goes straight into the socket when it fits
(``MSG_DONTWAIT``); what does not fit waits in a backlog that a writer thread drains. A backlog beyond
``MAX_BACKLOG`` breaks the lane: its front end goes back to the comm and asks for a replay, and flow
control over there takes care of it.

**Reading** happens on a thread of its own, which hands every message to the widget exactly as the comm
would. That thread also owns the socket's file descriptor: :meth:`Lane.close` only shuts the socket
down (waking both threads), and the reader closes the descriptor once the writer is done with it, so a
descriptor number is never reused under a thread still using it.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import struct
import threading
from collections import deque
from collections.abc import Callable

from . import ENV, FrameError, decode, encode, frame_length, stream_frame

log = logging.getLogger("k8sterm_widget.lane")

CONNECT_TIMEOUT = 0.5
SEND_TIMEOUT = 10  # seconds one blocking send of the writer thread may take
MAX_BACKLOG = 8 << 20  # bytes waiting for a slow browser before the lane gives up


class Lane:
    """A registered lane. ``on_open(lane)`` once the browser has attached; ``on_message(lane, content,
    buffers)`` for every message from the browser; ``on_close(lane)`` once, when it ends for any reason."""

    def __init__(
        self,
        path: str,
        *,
        on_message: Callable[[Lane, dict, list[bytes]], None],
        on_open: Callable[[Lane], None],
        on_close: Callable[[Lane], None],
    ) -> None:
        self.id = secrets.token_hex(16)
        self.is_open = False
        self._on_message, self._on_open, self._on_close = on_message, on_open, on_close
        self._lock = threading.Condition()
        self._closed = False
        self._backlog: deque[bytes] = deque()
        self._backlog_bytes = 0
        self._writing = False  # the writer thread holds a frame taken from the backlog
        self._writer: threading.Thread | None = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(CONNECT_TIMEOUT)
            self._sock.connect(path)
            self._sock.sendall(stream_frame(encode({"lane": self.id})))
            self._sock.settimeout(None)  # blocking: the reader waits in recv, the writer in sendall
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", SEND_TIMEOUT, 0))
        except OSError:
            self._sock.close()
            raise
        self._reader = threading.Thread(target=self._read, name="k8sterm-lane", daemon=True)
        self._reader.start()

    @classmethod
    def connect(
        cls,
        *,
        on_message: Callable[[Lane, dict, list[bytes]], None],
        on_open: Callable[[Lane], None],
        on_close: Callable[[Lane], None],
    ) -> Lane | None:
        """A new lane through the server named by ``K8STERM_LANE``, or None (no server, or it is gone)."""
        path = os.environ.get(ENV)
        if not path:
            return None
        try:
            return cls(path, on_message=on_message, on_open=on_open, on_close=on_close)
        except OSError as e:
            log.info("k8sterm: no lane (%s: %s); the terminal uses the comm", path, e)
            return None

    # ------------------------------------------------------------------ sending

    def send(self, content: dict, buffers: list | tuple = ()) -> bool:
        """Queue one message for the browser; False (and the lane closes) if it cannot be delivered."""
        frame = stream_frame(encode(content, buffers))
        with self._lock:
            if self._closed:
                return False
            if not self._backlog and not self._writing:
                try:
                    sent = self._sock.send(frame, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    sent = 0
                except OSError as e:
                    return self._broke(f"sending failed ({e})")
                if sent == len(frame):
                    return True
                frame = frame[sent:]
            if self._backlog_bytes + len(frame) > MAX_BACKLOG:
                return self._broke(f"the browser is {self._backlog_bytes} bytes behind")
            self._backlog.append(frame)
            self._backlog_bytes += len(frame)
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="k8sterm-lane-writer", daemon=True)
                self._writer.start()
            else:
                self._lock.notify()
        return True

    def _broke(self, why: str) -> bool:
        """(lock held) Close from a sending thread; the close callback runs on a thread of its own."""
        log.info("k8sterm: lane %s closed: %s; its front end goes back to the comm", self.id[:8], why)
        threading.Thread(target=self.close, name="k8sterm-lane-close", daemon=True).start()
        self._closed = True  # nothing more is queued; close() still runs (it checks _ended, not this)
        return False

    def _write(self) -> None:
        while True:
            with self._lock:
                while not self._backlog and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                frame = self._backlog.popleft()
                self._backlog_bytes -= len(frame)
                self._writing = True
            try:
                self._sock.sendall(frame)
            except OSError as e:
                with self._lock:
                    self._writing = False
                    if not self._closed:
                        self._broke(f"sending failed ({e})")
                return
            with self._lock:
                self._writing = False

    # ------------------------------------------------------------------ closing

    _ended = False

    def close(self) -> None:
        """End the lane (idempotent): shut the socket down and tell the owner, once."""
        with self._lock:
            if self._ended:
                return
            self._ended = self._closed = True
            self.is_open = False
            self._backlog.clear()
            self._lock.notify_all()
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._on_close(self)
        except Exception:
            log.exception("k8sterm: lane close handler failed")

    # ------------------------------------------------------------------ reader thread

    def _recv_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            chunk = self._sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _read(self) -> None:
        try:
            while True:
                prefix = self._recv_exact(4)
                if prefix is None:
                    break
                body = self._recv_exact(frame_length(prefix))
                if body is None:
                    break
                content, buffers = decode(body)
                if content.get("type") == "lane_open" and not buffers and not self.is_open:
                    self.is_open = True
                    self._on_open(self)
                    continue
                try:
                    self._on_message(self, content, buffers)
                except Exception:  # the widget validates and never raises; belt and braces
                    log.exception("k8sterm: handling a lane message failed")
        except FrameError as e:
            log.warning("k8sterm: lane %s sent a bad frame (%s); closing it", self.id[:8], e)
        except OSError:
            pass
        finally:
            self.close()
            writer = self._writer
            if writer is not None:
                writer.join(SEND_TIMEOUT + 1)  # it fails fast on a shut-down socket
            self._sock.close()
