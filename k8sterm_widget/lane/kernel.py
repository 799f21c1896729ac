"""The kernel's end of a lane: a Unix socket to the Jupyter Server's relay, and a thread reading it.

One :class:`Lane` per front end of a terminal. Sending happens on the caller's thread (the session's I/O
thread, for output): a blocking ``sendall`` on a local socket, which is also the back-pressure when the
browser reads slowly; a send that cannot finish within ``SEND_TIMEOUT`` breaks the lane (the front end
goes back to the comm and asks for a replay) rather than stall the exec stream. Reading happens on a
thread of its own, which hands every message to the widget exactly as the comm would.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import struct
import threading
from collections.abc import Callable

from . import ENV, FrameError, decode, encode, frame_length, stream_frame

log = logging.getLogger("k8sterm_widget.lane")

CONNECT_TIMEOUT = 0.5
SEND_TIMEOUT = 10.0


def available() -> bool:
    """Whether this kernel was started by a Jupyter Server that relays lanes."""
    return bool(os.environ.get(ENV))


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
        self._wlock = threading.Lock()
        self._closed = False
        self._close_lock = threading.Lock()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._sock.settimeout(CONNECT_TIMEOUT)
            self._sock.connect(path)
            self._sock.sendall(stream_frame(encode({"lane": self.id})))
        except OSError:
            self._sock.close()
            raise
        self._sock.settimeout(None)  # the reader blocks; sends time out through SO_SNDTIMEO alone
        sec = int(SEND_TIMEOUT)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", sec, 0))
        self._reader = threading.Thread(target=self._read, name="k8sterm-lane", daemon=True)
        self._reader.start()

    @classmethod
    def connect(cls, **callbacks) -> Lane | None:
        """A new lane through the server named by ``K8STERM_LANE``, or None (no server, or it is gone)."""
        path = os.environ.get(ENV)
        if not path:
            return None
        try:
            return cls(path, **callbacks)
        except OSError as e:
            log.info("k8sterm: no lane (%s: %s); the terminal uses the comm", path, e)
            return None

    def send(self, content: dict, buffers: list | tuple = ()) -> bool:
        """Send one message; False (and the lane closes) if it cannot be delivered."""
        if self._closed:
            return False
        frame = stream_frame(encode(content, buffers))
        try:
            with self._wlock:
                self._sock.sendall(frame)
            return True
        except OSError as e:
            log.info("k8sterm: lane %s broke while sending (%s); back to the comm", self.id[:8], e)
            self.close()
            return False

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
            self.is_open = False
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
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
                if content.get("type") == "lane_open" and not buffers:
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
