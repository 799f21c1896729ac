"""SPDY/3.1 framing, as much as Kubernetes' port-forward streams use (``moby/spdystream``'s framer).

kubectl 1.37 port-forwards over a WebSocket whose binary messages carry a SPDY/3.1 byte stream
(subprotocol ``SPDY/3.1+portforward.k8s.io``).  No maintained Python SPDY library exists (SPDY was
superseded by HTTP/2), so the few frames are read and written here: SYN_STREAM/SYN_REPLY with their
zlib-compressed header blocks (a shared compression context per direction, primed with the SPDY/3
dictionary), DATA with FIN, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass, field

VERSION = 3
SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01

# The SPDY/3 header-compression dictionary (draft-mbelshe-httpbis-spdy-00 §2.6.10.1): length-prefixed words,
# then a run of status lines, dates and media types.
_WORDS = [
    "options",
    "head",
    "post",
    "put",
    "delete",
    "trace",
    "accept",
    "accept-charset",
    "accept-encoding",
    "accept-language",
    "accept-ranges",
    "age",
    "allow",
    "authorization",
    "cache-control",
    "connection",
    "content-base",
    "content-encoding",
    "content-language",
    "content-length",
    "content-location",
    "content-md5",
    "content-range",
    "content-type",
    "date",
    "etag",
    "expect",
    "expires",
    "from",
    "host",
    "if-match",
    "if-modified-since",
    "if-none-match",
    "if-range",
    "if-unmodified-since",
    "last-modified",
    "location",
    "max-forwards",
    "pragma",
    "proxy-authenticate",
    "proxy-authorization",
    "range",
    "referer",
    "retry-after",
    "server",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "user-agent",
    "vary",
    "via",
    "warning",
    "www-authenticate",
    "method",
    "get",
    "status",
    "200 OK",
    "version",
    "HTTP/1.1",
    "url",
    "public",
    "set-cookie",
    "keep-alive",
    "origin",
]
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505203 "
    "Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized403 "
    "Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr "
    "May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,"
    "image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,text/javascript,"
    "publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TAIL.encode()
assert (
    hashlib.sha256(DICTIONARY).hexdigest()
    == "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02"
)


class ProtocolError(Exception):
    pass


@dataclass
class Frame:
    control: bool
    type: int  # control frame type, 0 for data
    flags: int
    stream_id: int = 0
    data: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    value: int = 0  # PING id, RST_STREAM status, WINDOW_UPDATE delta


class Reader:
    """Parses a SPDY byte stream fed in arbitrary chunks."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= 8:
            length = int.from_bytes(self._buffer[5:8], "big")
            if len(self._buffer) < 8 + length:
                break
            head, body = bytes(self._buffer[:8]), bytes(self._buffer[8 : 8 + length])
            del self._buffer[: 8 + length]
            frames.append(self._frame(head, body))
        return frames

    def _headers(self, block: bytes) -> dict[str, str]:
        raw = self._inflate.decompress(block)
        count = struct.unpack_from(">I", raw, 0)[0]
        pos, out = 4, {}
        for _ in range(count):
            n = struct.unpack_from(">I", raw, pos)[0]
            name = raw[pos + 4 : pos + 4 + n].decode().lower()
            pos += 4 + n
            n = struct.unpack_from(">I", raw, pos)[0]
            out[name] = raw[pos + 4 : pos + 4 + n].decode(errors="replace")
            pos += 4 + n
        return out

    def _frame(self, head: bytes, body: bytes) -> Frame:
        flags = head[4]
        if not head[0] & 0x80:
            return Frame(False, 0, flags, int.from_bytes(head[:4], "big") & 0x7FFFFFFF, body)
        version = int.from_bytes(head[:2], "big") & 0x7FFF
        if version != VERSION:
            raise ProtocolError(f"unsupported SPDY version {version}")
        kind = int.from_bytes(head[2:4], "big")
        frame = Frame(True, kind, flags)
        if kind in (SYN_STREAM, SYN_REPLY, HEADERS, RST_STREAM, WINDOW_UPDATE):
            frame.stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF
        if kind == SYN_STREAM:
            frame.headers = self._headers(body[10:])
        elif kind in (SYN_REPLY, HEADERS):
            frame.headers = self._headers(body[4:])
        elif kind in (RST_STREAM, WINDOW_UPDATE):
            frame.value = int.from_bytes(body[4:8], "big")
        elif kind == PING:
            frame.value = int.from_bytes(body[:4], "big")
        elif kind == GOAWAY:
            frame.stream_id = int.from_bytes(body[:4], "big") & 0x7FFFFFFF
        return frame


class Writer:
    """Encodes frames; one compression context for every header block of the connection."""

    def __init__(self) -> None:
        self._deflate = zlib.compressobj(
            9, zlib.DEFLATED, zlib.MAX_WBITS, 8, zlib.Z_DEFAULT_STRATEGY, DICTIONARY
        )

    @staticmethod
    def _control(kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, (flags << 24) | len(body)) + body

    def _block(self, headers: dict[str, str]) -> bytes:
        raw = struct.pack(">I", len(headers))
        for name, value in headers.items():
            raw += struct.pack(">I", len(name)) + name.lower().encode()
            raw += struct.pack(">I", len(value.encode())) + value.encode()
        return self._deflate.compress(raw) + self._deflate.flush(zlib.Z_SYNC_FLUSH)

    def syn_reply(self, stream_id: int, headers: dict[str, str] | None = None, fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._block(headers or {})
        return self._control(SYN_REPLY, FLAG_FIN if fin else 0, body)

    def rst_stream(self, stream_id: int, status: int) -> bytes:
        return self._control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    def ping(self, ping_id: int) -> bytes:
        return self._control(PING, 0, struct.pack(">I", ping_id))

    def goaway(self, last_stream: int, status: int = 0) -> bytes:
        return self._control(GOAWAY, 0, struct.pack(">II", last_stream, status))

    @staticmethod
    def data(stream_id: int, payload: bytes, fin: bool = False) -> bytes:
        return (
            struct.pack(">II", stream_id & 0x7FFFFFFF, ((FLAG_FIN if fin else 0) << 24) | len(payload))
            + payload
        )
