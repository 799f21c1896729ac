"""Scripting: run one command in a container and get its output and exit code, like ``subprocess.run``.

Built on :class:`~k8sterm_widget.session.ExecSession` without a tty, so stdout and stderr stay apart and
bytes arrive untouched (no per-frame decoding: a character split across frames is reassembled here, when
the whole output is decoded once). ``input`` is written while output is being read on the I/O thread, so a
command that echoes a large input back (``cat``) cannot deadlock, and it is followed by a v5 stdin close.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from .errors import CommandFailed, ExecTimeout, ProtocolError
from .session import ExecSession


@dataclass
class ExecResult:
    """What one command did. ``stdout``/``stderr`` are UTF-8 decoded with replacement; the bytes are exact."""

    pod: str
    namespace: str
    container: str
    command: list[str]
    exit_code: int | None
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    duration: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def stdout(self) -> str:
        return self.stdout_bytes.decode("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_bytes.decode("utf-8", errors="replace")

    @property
    def returncode(self) -> int | None:
        """Alias for people coming from ``subprocess``."""
        return self.exit_code

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def check_returncode(self) -> ExecResult:
        """Raise :class:`CommandFailed` when the exit code is not 0; return self otherwise."""
        if self.exit_code != 0:
            raise CommandFailed(self.command, self.exit_code or -1, _tail(self.stderr), result=self)
        return self

    def __repr__(self) -> str:
        return (
            f"ExecResult(pod={self.pod!r}, container={self.container!r}, command={self.command!r}, "
            f"exit_code={self.exit_code}, stdout={_preview(self.stdout_bytes)}, "
            f"stderr={_preview(self.stderr_bytes)})"
        )


def _preview(data: bytes, limit: int = 60) -> str:
    text = data[:limit].decode("utf-8", "replace")
    return repr(text) + (f"…(+{len(data) - limit} bytes)" if len(data) > limit else "")


def _tail(text: str, lines: int = 5, chars: int = 500) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])[-chars:]


def exec(
    pod: str,
    command: Sequence[str] | str,
    namespace: str | None = None,
    container: str | None = None,
    *,
    input: bytes | str | None = None,
    timeout: float | None = None,
    check: bool = False,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
) -> ExecResult:
    """Run ``command`` in a container of ``pod`` and wait for it.

    ``command`` is an argv list (no shell) or a string run by ``sh -c``. ``input`` (bytes or str) is sent
    to stdin, then stdin is closed (needs the v5 protocol, Kubernetes 1.30+). ``timeout`` bounds the whole
    call, connection included; on expiry :class:`ExecTimeout` carries the partial result. ``check=True``
    raises :class:`CommandFailed` (exit code and the tail of stderr) on a non-zero exit. Pre-flight and
    stream failures raise the typed errors of :mod:`k8sterm_widget.errors`.
    """
    argv = ["sh", "-c", command] if isinstance(command, str) else [str(a) for a in command]
    if not argv:
        raise ValueError("command must not be empty")
    data = input.encode("utf-8") if isinstance(input, str) else input
    # Views of the received frames, joined once at the end: growing a bytearray instead cost more CPU
    # than the whole transport (reallocation copies), halving download throughput.
    out: list[memoryview] = []
    err: list[memoryview] = []

    def collect(stream: int, payload: memoryview) -> None:
        (out if stream == 1 else err).append(payload)

    started = time.monotonic()
    deadline = None if timeout is None else started + timeout

    def remaining() -> float | None:
        return None if deadline is None else max(0.0, deadline - time.monotonic())

    session = ExecSession.open(
        pod,
        argv,
        namespace,
        container,
        tty=False,
        stdin=data is not None,
        on_output=collect,
        context=context,
        kubeconfig=kubeconfig,
    )

    def result() -> ExecResult:
        return ExecResult(
            session.pod,
            session.namespace,
            session.container,
            argv,
            session.exit_code,
            b"".join(out),
            b"".join(err),
            time.monotonic() - started,
            session.notes,
        )

    try:
        if data is not None:
            if session.protocol != "v5.channel.k8s.io":
                raise ProtocolError(
                    f"sending input needs stdin close, which {session.protocol} cannot do (Kubernetes 1.30+)"
                )
            try:
                session.write(data, timeout=remaining())
            except TimeoutError:
                raise ExecTimeout(argv, timeout or 0, result()) from None
            session.close_stdin()
        try:
            session.wait(remaining())
        except TimeoutError:
            raise ExecTimeout(argv, timeout or 0, result()) from None
    finally:
        if not session.ended:
            session.close()
    res = result()
    if check and res.exit_code != 0:
        raise CommandFailed(
            argv, res.exit_code if res.exit_code is not None else -1, _tail(res.stderr), result=res
        )
    return res
