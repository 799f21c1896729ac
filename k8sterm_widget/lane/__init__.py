"""The direct lane: terminal bytes between the browser and the kernel without the Jupyter message path.

**Why.** A widget's comm message crosses the Jupyter Server, ZeroMQ and the kernel's shell (or subshell)
and IOPub threads, with a JSON envelope and an HMAC signature at every hop: a bare comm round trip costs
2-3 times the echo of JupyterLab's own terminal, whose bytes never leave the server (docs/performance.md,
"The terminal widget beside JupyterLab's terminal"). Typing is the one place where those milliseconds show.
So when the notebook is served by a Jupyter Server with this package's extension, each front end of a
terminal also gets a *lane*: a WebSocket to the server, relayed byte for byte to a Unix socket that the
kernel connected to.

**How it is put together** (three parts, one per process):

* the server (:mod:`.server`): at start, listens on a Unix socket in a fresh 0700 directory and puts its
  path in the environment variable ``K8STERM_LANE``, which the kernels it starts inherit; serves
  ``{base_url}k8sterm/lane/<id>`` as an authenticated WebSocket (Jupyter's own login and authorizer, the
  ``kernels`` resource as for kernel WebSockets) and pairs it with the kernel connection that registered
  that id. It is a dumb pipe: it reads frame lengths, nothing else.
* the kernel (:mod:`.kernel`): when a front end says ``ready`` on the comm, the widget connects a lane,
  registers a random 128-bit id and tells that front end the id in ``hello``.
* the front end (``js/lane.js``): opens the WebSocket; once it is open, it sends everything on the lane,
  and receives output there. The comm stays up for everything else (synced state, other front ends).

**Never worse than the comm.** No extension (VS Code, Colab, a remote kernel from a gateway, a headless
run), an unreachable socket, a WebSocket that does not open: the terminal simply stays on the comm. A lane
that breaks mid-session sends the front end back to the comm and it asks for a replay, so no byte is lost
(output carries offsets; duplicates are skipped). Output goes on the comm as well as long as some front
end of the terminal is known to be on the comm only. Credentials are not involved: the lane carries the
same messages as the comm (:mod:`k8sterm_widget.widget.protocol`, validated the same way), and the id is
useless without a Jupyter login to the same server.

**Frames.** A message is ``u32 header length | header (UTF-8 JSON, the comm message's content, plus
"sizes": the byte length of each buffer) | the buffers, concatenated``: one binary WebSocket message. On the
Unix socket each message is preceded by its own ``u32`` length. Big-endian throughout. The first message
of a kernel connection is ``{"lane": id}``; the server sends ``{"type": "lane_open"}`` when the browser
has attached.
"""

from __future__ import annotations

import json
import struct

ENV = "K8STERM_LANE"
MAX_FRAME = 16 << 20  # a replay (8 MiB checkpoint + tail) is the largest message
ID_LENGTH = 32  # hex characters of the lane id

_U32 = struct.Struct(">I")


class FrameError(ValueError):
    """A lane message that is not a frame (the connection is dropped; the comm takes over)."""


def encode(content: dict, buffers: list | tuple = ()) -> bytes:
    """One lane message (what a WebSocket message carries)."""
    parts = [bytes(memoryview(b).cast("B")) if not isinstance(b, bytes) else b for b in buffers]
    header = dict(content)
    if parts:
        header["sizes"] = [len(p) for p in parts]
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join([_U32.pack(len(head)), head, *parts])


def decode(message: bytes | memoryview) -> tuple[dict, list[bytes]]:
    """``(content, buffers)`` of one lane message; :class:`FrameError` if it is not one."""
    view = memoryview(message)
    if len(view) < 4:
        raise FrameError("message shorter than its header length")
    (hlen,) = _U32.unpack_from(view)
    if hlen > len(view) - 4:
        raise FrameError("header longer than the message")
    try:
        content = json.loads(bytes(view[4 : 4 + hlen]))
    except ValueError:
        raise FrameError("header is not JSON") from None
    except RecursionError:  # json's C scanner recurses per nesting level; a peer can send 100,000
        raise FrameError("header nested too deep") from None
    if not isinstance(content, dict):
        raise FrameError("header is not an object")
    sizes = content.pop("sizes", [])
    if not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes):
        raise FrameError("'sizes' is not a list of lengths")
    pos, buffers = 4 + hlen, []
    for size in sizes:
        if pos + size > len(view):
            raise FrameError("buffers longer than the message")
        buffers.append(bytes(view[pos : pos + size]))
        pos += size
    if pos != len(view):
        raise FrameError("bytes after the last buffer")
    return content, buffers


def stream_frame(message: bytes) -> bytes:
    """A lane message as it travels on the Unix socket: with its length in front."""
    return _U32.pack(len(message)) + message


def frame_length(prefix: bytes) -> int:
    (length,) = _U32.unpack(prefix)
    if length > MAX_FRAME:
        raise FrameError(f"frame of {length} bytes exceeds {MAX_FRAME}")
    return length


__all__ = ["ENV", "ID_LENGTH", "MAX_FRAME", "FrameError", "decode", "encode", "frame_length", "stream_frame"]
