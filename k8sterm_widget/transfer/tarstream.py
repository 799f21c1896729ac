"""Reading a tar stream member by member, with file data handed straight through.

Why not ``tarfile`` in ``r|`` mode: its stream layer joins and slices a buffer on every read, and its file
objects copy again into a bytearray and once more into ``bytes`` — four copies of every byte, which halved
download throughput. Here each 512-byte header is parsed by :meth:`tarfile.TarInfo.frombuf` (the standard
library's parser, which also checks the header checksum), and a member's data comes out of the session's
reader in large pieces, copied once.

Handled: ustar/GNU/pax headers, GNU long names and link names (``L``/``K``), pax extended headers (``x``,
and ``g`` global ones) for ``path``, ``linkpath``, ``size`` and ``mtime`` — what GNU tar and busybox tar
produce with ``-c``. GNU sparse members (only made with ``-S``) are refused. The names are *not* checked
here: that is :class:`~.safe_extract.Extractor`'s job, whatever the transport.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from typing import Protocol

from ..errors import TransferError

BLOCK = 512
CHUNK = 4 << 20
_EXTENDED = (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_GNU_LONG = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)


class Readable(Protocol):
    def read(self, n: int = -1) -> bytes: ...


def _pad(size: int) -> int:
    return -size % BLOCK


def parse_pax(data: bytes) -> dict[str, str]:
    """Records ``"LEN key=value\\n"``; values decoded as UTF-8 (bytes that are not survive as surrogates)."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos)
        if space < 0 or not data[pos:space].isdigit():
            raise TransferError("the container's tar sent a malformed pax header")
        length = int(data[pos:space])
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise TransferError("the container's tar sent a malformed pax record")
        key, value = record[:-1].split(b"=", 1)
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class TarReader:
    """Iterate over ``TarInfo`` headers; while positioned on a member, :meth:`data` yields its bytes."""

    def __init__(self, source: Readable) -> None:
        self._read = source.read  # returns at most the bytes asked for, b"" at the end
        self._remaining = 0  # data bytes of the current member not consumed yet
        self._padding = 0

    def _exact(self, n: int, *, eof_ok: bool = False) -> bytes | None:
        parts, got = [], 0
        while got < n:
            chunk = self._read(n - got)
            if not chunk:
                if eof_ok and got == 0:
                    return None
                raise TransferError("the container's tar stream ended in the middle of a member")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        while n:
            chunk = self._read(min(n, CHUNK))
            if not chunk:
                raise TransferError("the container's tar stream ended in the middle of a member")
            n -= len(chunk)

    def data(self) -> Iterator[bytes]:
        """The current member's data, in pieces of up to 4 MiB."""
        while self._remaining:
            chunk = self._read(min(self._remaining, CHUNK))
            if not chunk:
                raise TransferError("the container's tar stream ended in the middle of a file")
            self._remaining -= len(chunk)
            yield chunk

    def _header(self) -> tarfile.TarInfo | None:
        block = self._exact(BLOCK, eof_ok=True)
        if block is None or block == bytes(BLOCK):
            return None  # end-of-archive marker (or a bare end of stream)
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError as e:
            raise TransferError(f"the container's tar sent a corrupt header: {e}") from None

    def __iter__(self) -> Iterator[tarfile.TarInfo]:
        global_pax: dict[str, str] = {}
        while True:
            self._skip(self._remaining + self._padding)  # whatever the consumer left of the last member
            self._remaining = self._padding = 0
            info = self._header()
            if info is None:
                return
            pax, long_name, long_link = dict(global_pax), None, None
            while info.type in _EXTENDED or info.type in _GNU_LONG:
                payload = self._exact(info.size) or b""
                self._skip(_pad(info.size))
                if info.type == tarfile.XGLTYPE:
                    global_pax.update(parse_pax(payload))
                    pax.update(global_pax)
                elif info.type in _EXTENDED:
                    pax.update(parse_pax(payload))
                else:
                    text = payload.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                    long_name, long_link = (text, long_link) if info.type == tarfile.GNUTYPE_LONGNAME else (
                        long_name, text
                    )  # fmt: skip
                nxt = self._header()
                if nxt is None:
                    raise TransferError("the container's tar stream ended after an extended header")
                info = nxt
            self._apply(info, pax, long_name, long_link)
            has_data = info.isreg() or info.type not in tarfile.SUPPORTED_TYPES
            self._remaining = info.size if has_data else 0
            self._padding = _pad(self._remaining)
            yield info

    @staticmethod
    def _apply(
        info: tarfile.TarInfo, pax: dict[str, str], long_name: str | None, long_link: str | None
    ) -> None:
        if info.type == tarfile.GNUTYPE_SPARSE or any(k.startswith("GNU.sparse.") for k in pax):
            raise TransferError(
                f"the container's tar sent a sparse file ({info.name!r}), which is not supported"
            )
        if long_name is not None:
            info.name = long_name
        if long_link is not None:
            info.linkname = long_link
        if "path" in pax:
            info.name = pax["path"]
        if "linkpath" in pax:
            info.linkname = pax["linkpath"]
        try:
            if "size" in pax:
                info.size = int(pax["size"])
            if "mtime" in pax:
                info.mtime = float(pax["mtime"])
        except ValueError:
            raise TransferError("the container's tar sent a malformed pax size or mtime") from None
        if info.size < 0:
            raise TransferError("the container's tar sent a negative size")
        if info.isdir():
            info.name = info.name.rstrip("/") or info.name
