"""Session: one process in a container — bytes in and out, window size, exit status.

This is the layer the widget and the scripting API share. It knows nothing about notebooks or sockets:
it asks :mod:`.kube.preflight` whether the exec can work, opens a :class:`.kube.wsstream.ExecStream`,
and turns the stream's end into an exit code or a typed error (we parse channel 3 ourselves; the
official client's ``returncode`` raises on an InternalError).

Output goes either to a callback (the widget: called on the I/O thread with a zero-copy ``memoryview``,
must not block for long) or to
an internal queue that :meth:`ExecSession.read` and iteration drain (scripts). The queue is bounded: when
the reader falls behind, reading from the cluster pauses, so memory stays flat however chatty the pod.

With no command, the session starts the container's best shell in a *single* exec: ``sh -c`` picks the
first of bash, ash, sh that ``command -v`` finds and ``exec``s it with ``TERM=xterm-256color`` (and
``LC_CTYPE=C.UTF-8`` when the image sets no locale, so readline accepts typed UTF-8), and with the shell
integration that makes its prompts print OSC 133 marks (:mod:`.shell_integration`). Keys
typed meanwhile wait in the pty's input queue and reach the chosen shell, so nothing is lost; an image
without ``sh`` raises :class:`~k8sterm_widget.errors.NoShellFound`, which suggests a debug container.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence

from .errors import (
    CommandNotFound,
    ConnectionLost,
    K8stermError,
    NoShellFound,
    ProtocolError,
    SessionClosed,
)
from .kube.config import DEFAULT_CONNECT_TIMEOUT, Cluster, resolve
from .kube.preflight import Target, preflight
from .kube.status import Context, error_from_status, exit_code_of, parse_status
from .kube.wsstream import RESIZE, STDIN, ExecStream, StreamEnd
from .shell_integration import SHELLS, shell_command

# Prints the path of the shell the auto-detect script would start (what a recording names as $SHELL).
SHELL_PROBE = f'for s in {SHELLS}; do command -v "$s" && exit 0; done; exit 1'
QUEUE_HIGH = 4 << 20  # pause the cluster stream when a script has this much unread output
QUEUE_LOW = 1 << 20

OnOutput = Callable[[int, memoryview], None]  # (1 = stdout | 2 = stderr, read-only bytes-like view)
OnEnd = Callable[["ExecSession"], None]


class ExecSession:
    """A live exec into a container. Use :meth:`open`; thread-safe for one writer and one reader thread.

    Attributes a UI shows: ``pod``, ``namespace``, ``container``, ``command``, ``tty``, ``protocol`` and
    ``notes`` (kubectl's "Defaulted container …" line). After the end: ``exit_code`` (None when closed by
    us or lost), ``error`` (a typed error or None) and ``end_reason`` (a short sentence).
    """

    def __init__(
        self,
        cluster: Cluster,
        target: Target,
        command: list[str],
        *,
        tty: bool,
        stdin: bool,
        auto_shell: bool,
        on_output: OnOutput | None,
    ) -> None:
        self.cluster = cluster
        self.pod = target.pod
        self.namespace = target.namespace
        self.container = target.container
        self.notes = list(target.notes)
        self.command = command
        self.tty = tty
        self.stdin = stdin
        self.auto_shell = auto_shell
        self.protocol = ""
        self.exit_code: int | None = None
        self.error: K8stermError | None = None
        self.end_reason = ""
        self._on_output = on_output
        self._on_end: list[OnEnd] = []
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._readable = threading.Condition(self._lock)
        self._queue: deque[tuple[int, bytes]] = deque()
        self._queued = 0
        self._queue_paused = False
        self._size: tuple[int, int] | None = None
        self._stream: ExecStream | None = None

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        pod: str,
        command: Sequence[str] | str | None = None,
        namespace: str | None = None,
        container: str | None = None,
        *,
        tty: bool = True,
        stdin: bool = True,
        size: tuple[int, int] | None = None,
        on_output: OnOutput | None = None,
        context: str | None = None,
        kubeconfig: str | os.PathLike | None = None,
        ping_interval: float | None = 30.0,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        check: bool = True,
        subresource: str = "exec",
    ) -> ExecSession:
        """Pre-flight, then upgrade; returns once the stream is open (and the first size sent).

        ``command``: argv list, a string (run by ``sh -c``), or None for the auto-detected shell.
        ``size``: (cols, rows), sent before any input when ``tty``. ``check=False`` skips the REST
        pre-flight (the handshake still reports failures, typed the same way).
        """
        cluster = resolve(context=context, kubeconfig=kubeconfig, connect_timeout=connect_timeout)
        ns = namespace or cluster.namespace
        auto_shell = command is None and subresource == "exec"
        if auto_shell:
            argv = shell_command()
        elif isinstance(command, str):
            argv = ["sh", "-c", command]
        else:
            argv = [str(a) for a in command or ()]
        target = (
            preflight(cluster, pod, ns, container, subresource=subresource)
            if check
            else Target(pod, ns, container or "")
        )
        self = cls(cluster, target, argv, tty=tty, stdin=stdin, auto_shell=auto_shell, on_output=on_output)
        try:
            self._stream = ExecStream.connect(
                cluster,
                namespace=ns,
                pod=pod,
                container=target.container or None,
                command=argv if subresource == "exec" else None,
                stdin=stdin,
                stdout=True,
                stderr=True,
                tty=tty,
                subresource=subresource,
                on_message=self._deliver,
                on_end=self._ended,
                ping_interval=ping_interval,
            )
        except CommandNotFound as e:
            raise self._no_shell(e) from None
        self.protocol = self._stream.protocol
        if tty and size:
            self.resize(*size)
        return self

    # ------------------------------------------------------------------ input side

    def write(self, data: bytes | str, timeout: float | None = None) -> None:
        """Send to the process's stdin; blocks only while a megabyte is already queued."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not self.stdin:
            raise ProtocolError("this session was opened without stdin")
        if self._stream is None or not self._stream.send(STDIN, bytes(data), timeout):
            if self._done.is_set() or self._stream is None:
                raise SessionClosed(f"the session has ended ({self.end_reason or 'not open'})")
            raise TimeoutError("stdin is not being read by the process")

    def resize(self, cols: int, rows: int) -> None:
        """Set the terminal size (tty sessions); the same size twice sends nothing."""
        cols, rows = int(cols), int(rows)
        if not (0 < cols <= 0xFFFF and 0 < rows <= 0xFFFF):
            raise ValueError(f"terminal size out of range: {cols}x{rows}")
        if not self.tty or self._stream is None or (cols, rows) == self._size:
            return
        self._size = (cols, rows)
        self._stream.send(RESIZE, json.dumps({"Width": cols, "Height": rows}).encode())

    @property
    def size(self) -> tuple[int, int] | None:
        return self._size

    def close_stdin(self) -> None:
        """Signal EOF to the process (v5 only; raises ProtocolError on an older server)."""
        if self._stream is not None and not self._done.is_set():
            self._stream.close_channel(STDIN)

    def close(self, timeout: float = 2.0) -> None:
        """End the session from our side. Idempotent; returns when the I/O thread has stopped."""
        if self._stream is not None:
            self._stream.close(timeout)

    def pause_output(self) -> None:
        """Stop reading from the cluster (flow control); the pod's writes then block."""
        if self._stream is not None:
            self._stream.pause_reading()

    def resume_output(self) -> None:
        if self._stream is not None:
            self._stream.resume_reading()

    # ------------------------------------------------------------------ output side

    def _deliver(self, channel: int, payload: memoryview) -> None:
        if self._on_output is not None:
            self._on_output(channel, payload)
            return
        with self._readable:
            self._queue.append((channel, bytes(payload)))
            self._queued += len(payload)
            pause = self._queued > QUEUE_HIGH and not self._queue_paused
            if pause:
                self._queue_paused = True
            self._readable.notify_all()
        if pause and self._stream is not None:
            self._stream.pause_reading()

    def read(self, timeout: float | None = None) -> tuple[int, bytes] | None:
        """Next (stream, bytes) — stream 1 is stdout, 2 stderr — or None at the end.

        Raises TimeoutError when nothing arrives within ``timeout``. Only for sessions opened
        without ``on_output``.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._readable:
            while not self._queue:
                if self._done.is_set():
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError("no output within the timeout")
                self._readable.wait(remaining)
            item = self._queue.popleft()
            self._queued -= len(item[1])
            resume = self._queue_paused and self._queued < QUEUE_LOW
            if resume:
                self._queue_paused = False
        if resume and self._stream is not None:
            self._stream.resume_reading()
        return item

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        while (item := self.read()) is not None:
            yield item

    # ------------------------------------------------------------------ end

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    def add_end_callback(self, callback: OnEnd) -> None:
        """Call ``callback(session)`` once the session ended (at once if it already has)."""
        with self._lock:
            if not self._done.is_set():
                self._on_end.append(callback)
                return
        callback(self)

    def wait(self, timeout: float | None = None) -> int | None:
        """Wait for the end; return the exit code, or raise the typed error that ended the session.

        Returns None when we closed the session ourselves. Raises TimeoutError on timeout.
        """
        if not self._done.wait(timeout):
            raise TimeoutError("the process is still running")
        if self.error is not None:
            raise self.error
        return self.exit_code

    def _ended(self, end: StreamEnd) -> None:
        code, error, reason = self._conclude(end)
        with self._readable:
            self.exit_code, self.error, self.end_reason = code, error, reason
            self._done.set()
            self._readable.notify_all()
            callbacks, self._on_end = self._on_end, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logging.getLogger(__name__).exception("session end callback failed")

    def _conclude(self, end: StreamEnd) -> tuple[int | None, K8stermError | None, str]:
        ctx = Context(self.cluster.server, self.pod, self.namespace, self.container, self.command)
        if end.status is not None:
            status = parse_status(end.status)
            if status is None:  # pre-v4 protocols: plain text, only on failure
                text = end.status.decode("utf-8", "replace").strip()
                if not text:
                    return 0, None, "exited with code 0"
                return None, self._no_shell(error_from_status(None, text, None, ctx)), text
            if status.get("status") == "Success":
                return 0, None, "exited with code 0"
            if status.get("reason") == "NonZeroExitCode":
                code = exit_code_of(status)
                if code is not None:
                    return code, None, f"exited with code {code}"
            error = self._no_shell(error_from_status(status, "", status.get("code"), ctx))
            return None, error, str(error)
        if end.by_client:
            return None, None, "closed"
        if end.clean:
            lost = ConnectionLost("the stream ended without an exit status")
            return None, lost, lost.reason
        return None, ConnectionLost(end.reason), end.reason

    def _no_shell(self, error: K8stermError) -> K8stermError:
        """``sh`` missing while auto-detecting means the image has no shell at all."""
        if self.auto_shell and isinstance(error, CommandNotFound) and not isinstance(error, NoShellFound):
            return NoShellFound(self.pod, self.container, self.namespace, error.detail)
        return error

    # ------------------------------------------------------------------ conveniences

    def __enter__(self) -> ExecSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self.end_reason or ("open" if self._stream else "opening")
        return (
            f"<ExecSession {self.namespace}/{self.pod} container={self.container!r} "
            f"command={self.command!r} {state}>"
        )


__all__ = ["ExecSession", "shell_command"]
