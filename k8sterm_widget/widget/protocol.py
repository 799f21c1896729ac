"""The comm protocol between the kernel (:class:`Terminal`) and the front end (``js/``), and its validation.

Every message is an anywidget custom message: a small JSON ``content`` dict plus optional binary
``buffers``. Terminal bytes always travel as buffers (no JSON escaping, no UTF-8 round trip, split
multibyte characters survive), or as base64 strings where a host drops buffers (Colab, Positron).
``js/protocol.js`` mirrors the names below.

**Offsets.** The widget's output is one byte stream across sessions (a reconnect continues it), and
every output byte has an offset in it. Offsets make replay, deduplication and flow control exact.

**Timing.** A lone chunk of output (an echo) is sent at once; a flood goes out in batches of up to 64 KiB
or 16 ms, never more than 125 messages/s (:mod:`.coalesce`; the server drops iopub messages beyond
1000/s). Reading from the pod pauses above 1 MiB unacked and resumes below 256 KiB (:mod:`.flow`).

Front end → kernel (``type``: fields; ``[buffers]``)

* ``ready``: ``id`` (a random id of this front-end model, ≤ 64 chars); ``[b"\\x00"]`` as a probe.
  The kernel answers ``hello``. If the probe buffer did not arrive, the host drops front-end buffers
  and the front end must send input and checkpoints as base64 from now on (``hello.binary_in``).
* ``replay``: ``id``, ``b64`` (bool: the ``hello`` buffer did not arrive, so the kernel must use base64
  for everything it sends from now on), ``have`` (optional offset: the front end's screen already shows
  the output up to there). The kernel answers ``replay`` and the stream is *live*: output messages flow
  from then on. Sent once after ``hello``, and again (with ``have``) whenever the front end finds a gap,
  is told ``detached``, or falls back from a lane.
* ``input``: ``id``, ``seq``; ``[bytes]`` or ``b64``. Keystrokes as UTF-8, ``onBinary`` data raw; pastes
  in chunks of at most 64 KiB. ``seq`` counts this front end's input messages from 0: two kernel threads
  may handle consecutive messages at once, and :mod:`.order` puts them back in order. Input typed while
  the session is still connecting is queued (bounded) and sent on open.
* ``resize``: ``id``, ``seq``, ``cols``, ``rows`` (2..1000). Sets the pty size (a stale one arriving
  late is ignored); the first one also opens the stream.
* ``ack``: ``offset``: xterm has *parsed* the output up to there (write callbacks, every ~128 KiB and
  when output goes idle). Drives flow control; see :mod:`.flow`.
* ``checkpoint``: ``offset``, ``cols``, ``rows``; ``[utf8]`` or ``b64``: xterm's serialize-addon output,
  exactly the screen after ``offset`` bytes. Sent ~1 s after output settles, only when it changed.
* ``views``: ``id``, ``seq``, ``count``: how many views this front end shows (the cleared-output rule,
  see :class:`Terminal`; a stale one arriving late is ignored).
* ``reconnect``: no fields. The header's reconnect button.
* ``snapshot``: ``id`` (of the kernel's request); ``[utf8]`` or ``b64``: xterm's ``serializeAsHTML`` of
  the screen, answering a kernel ``snapshot`` (``Terminal.snapshot()``; the kernel sanitizes it).
* ``debug``: no fields. The error line's "Debug with busybox" offer (``offers`` trait): switch this
  terminal to an ephemeral debug container.

Kernel → front end

* ``hello``: ``to`` (the ready ``id``), ``binary_in`` (bool), ``lane`` (optional: the id of a lane the
  kernel registered for this front end, see :mod:`k8sterm_widget.lane`); ``[b"\\x01"]`` as the reverse
  probe.
* ``replay``: ``to``, ``offset`` (where the tail starts), ``end`` (where it ends), ``checkpoint``
  (``{"offset", "cols", "rows"}`` or null), ``lossy`` (bytes between the checkpoint and the tail were
  dropped); ``[checkpoint_utf8, tail]`` or ``b64: [..., ...]``. Later ``output`` messages continue at
  ``end``; anything the front end received before the replay is overlapping and skipped by offset.
  With ``resume: true`` (the request's ``have`` was still in the buffer) there is no checkpoint,
  ``offset`` is ``have`` and the tail is what follows it: the front end appends it to the screen it has,
  scrollback intact, instead of redrawing from a checkpoint that keeps only a few thousand lines.
* ``output``: ``offset``; ``[bytes]`` or ``b64``. The byte range ``[offset, offset + len)``. A front end
  skips the part it already has and asks for a ``replay`` when it sees a gap.
* ``snapshot``: ``id``: render the screen as HTML and answer with a ``snapshot`` of the same ``id``
  (a front end without a view of the terminal does not answer; the kernel then renders it itself).
* ``detached``: ``offset``: acks stopped while the kernel was over the high-water mark (page closed,
  tab frozen), so the kernel stopped sending output and keeps reading into the replay buffer; a front
  end that is still alive answers with ``replay``.

Synced traits carry names and state only (pod, namespace, container, context name, status, exit code,
notes, display options): never a token, key, certificate, exec-plugin output or kubeconfig content.

**Validation.** :func:`parse` accepts only the types above with the right field types and sizes, after a
rate limit; anything else is dropped with a log line (never an exception in the kernel).
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("k8sterm_widget.widget")

MAX_INPUT = 256 * 1024  # per message; the front end sends at most 64 KiB
MAX_CHECKPOINT = 8 << 20  # serialized screen + scrollback; 5000 lines of colourful text stay far below
MAX_ID = 64
MIN_SIZE, MAX_SIZE = 2, 1000
MAX_OFFSET = 1 << 62

# Messages per second a front end may send, and the burst it may use at once. A 10 MB paste is 160
# input messages, a fast typist 20/s, acks at 30 MB/s about 240/s: far below; a broken or hostile
# front end hits it and its messages are dropped (with one log line per second at most).
RATE = 2000.0
BURST = 4000.0

CLIENT_TYPES = (
    "ready",
    "replay",
    "input",
    "resize",
    "ack",
    "checkpoint",
    "views",
    "reconnect",
    "snapshot",
    "debug",
)

KERNEL_TYPES = ("hello", "replay", "output", "detached", "snapshot")


@dataclass
class Message:
    """A validated front-end message. ``data`` holds the decoded buffer, if the type carries one."""

    type: str
    fields: dict = field(default_factory=dict)
    data: bytes | None = None
    binary: bool = True  # the payload came as a buffer (False: base64)
    lane: str | None = None  # the front end whose lane carried it (None: the comm)


class Invalid(ValueError):
    """A front-end message that does not follow the protocol; the text says why (for the log)."""


class RateLimiter:
    """Token bucket; ``clock`` is injectable for tests."""

    def __init__(self, rate: float = RATE, burst: float = BURST, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens = burst
        self.stamp = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class DropLog:
    """Logs dropped messages without letting a flood of bad messages flood the log: one line per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last = -1e9
        self.suppressed = 0

    def __call__(self, reason: str) -> None:
        now = self.clock()
        if now - self.last >= 1.0:
            more = f" ({self.suppressed} more dropped since the last report)" if self.suppressed else ""
            log.warning("k8sterm: dropped a front-end message: %s%s", reason, more)
            self.last, self.suppressed = now, 0
        else:
            self.suppressed += 1


def _int(content: dict, name: str, low: int, high: int) -> int:
    value = content.get(name)
    if type(value) is not int or not low <= value <= high:  # bool is not an int here
        raise Invalid(f"{name!r} must be an integer in [{low}, {high}], got {_short(value)}")
    return value


def _str(content: dict, name: str, limit: int) -> str:
    value = content.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= limit:
        raise Invalid(f"{name!r} must be a string of 1..{limit} characters, got {_short(value)}")
    return value


def _bool(content: dict, name: str) -> bool:
    value = content.get(name, False)
    if not isinstance(value, bool):
        raise Invalid(f"{name!r} must be a boolean, got {_short(value)}")
    return value


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _payload(content: dict, buffers: Sequence, limit: int) -> tuple[bytes, bool]:
    """The message's bytes: the first buffer, else the ``b64`` field."""
    if buffers:
        if len(buffers) != 1:
            raise Invalid(f"expected one buffer, got {len(buffers)}")
        try:
            view = memoryview(buffers[0])
        except TypeError:
            raise Invalid(f"buffer of type {type(buffers[0]).__name__}") from None
        if view.nbytes > limit:
            raise Invalid(f"buffer of {view.nbytes} bytes exceeds {limit}")
        return view.cast("B").tobytes(), True
    encoded = content.get("b64")
    if not isinstance(encoded, str):
        raise Invalid("no buffer and no 'b64' field")
    if len(encoded) > (limit * 4) // 3 + 4:
        raise Invalid(f"base64 payload of {len(encoded)} characters is too large")
    try:
        return base64.b64decode(encoded, validate=True), False
    except (binascii.Error, ValueError):
        raise Invalid("'b64' is not valid base64") from None


def parse(content: object, buffers: Sequence | None) -> Message:
    """Validate one front-end message; raise :class:`Invalid` with the reason."""
    if not isinstance(content, dict):
        raise Invalid(f"content is a {type(content).__name__}, not an object")
    kind = content.get("type")
    if kind not in CLIENT_TYPES:
        raise Invalid(f"unknown message type {_short(kind)}")
    buffers = list(buffers or [])
    if kind == "input":
        fields = {"id": _str(content, "id", MAX_ID), "seq": _int(content, "seq", 0, MAX_OFFSET)}
        data, binary = _payload(content, buffers, MAX_INPUT)
        return Message(kind, fields, data=data, binary=binary)
    if kind == "checkpoint":
        data, binary = _payload(content, buffers, MAX_CHECKPOINT)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("checkpoint is not UTF-8") from None
        fields = {
            "offset": _int(content, "offset", 0, MAX_OFFSET),
            "cols": _int(content, "cols", MIN_SIZE, MAX_SIZE),
            "rows": _int(content, "rows", MIN_SIZE, MAX_SIZE),
        }
        return Message(kind, fields, data=data, binary=binary)
    if kind == "snapshot":
        data, binary = _payload(content, buffers, MAX_CHECKPOINT)
        return Message(kind, {"id": _str(content, "id", MAX_ID)}, data=data, binary=binary)
    if buffers and kind != "ready":
        raise Invalid(f"unexpected buffers on a {kind!r} message")
    if kind == "ready":
        return Message(kind, {"id": _str(content, "id", MAX_ID)}, binary=len(buffers) == 1)
    if kind == "replay":
        fields = {"id": _str(content, "id", MAX_ID), "b64": _bool(content, "b64"), "have": None}
        if content.get("have") is not None:
            fields["have"] = _int(content, "have", 0, MAX_OFFSET)
        return Message(kind, fields)
    if kind == "resize":
        fields = {"id": _str(content, "id", MAX_ID), "seq": _int(content, "seq", 0, MAX_OFFSET)}
        fields["cols"] = _int(content, "cols", MIN_SIZE, MAX_SIZE)
        fields["rows"] = _int(content, "rows", MIN_SIZE, MAX_SIZE)
        return Message(kind, fields)
    if kind == "ack":
        return Message(kind, {"offset": _int(content, "offset", 0, MAX_OFFSET)})
    if kind == "views":
        fields = {"id": _str(content, "id", MAX_ID), "seq": _int(content, "seq", 0, MAX_OFFSET)}
        fields["count"] = _int(content, "count", 0, 10_000)
        return Message(kind, fields)
    return Message(kind)  # reconnect, debug


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


__all__ = ["CLIENT_TYPES", "KERNEL_TYPES", "DropLog", "Invalid", "Message", "RateLimiter", "b64", "parse"]
