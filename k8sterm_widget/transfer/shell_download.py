"""Downloads without ``tar``: ``cat`` or ``base64`` for one file, a shell walker for a directory.

* ``cat`` — one file: ``cat <FILE``, raw bytes back.
* ``base64`` — one file: ``base64 <FILE``, decoded here as it streams. A directory: :data:`WALKER`, a shell
  function that recurses with globs (ubi-micro has no ``find``) and prints one record per entry — kind,
  mode (``stat``, else guessed from ``-x``), name ended by a NUL byte (``printf`` prints one without a
  fork, and no file name can contain it), then a file's data as base64 lines closed by a ``.`` line, or a
  link's target (``readlink``). base64 keeps the framing intact even if a file grows or shrinks meanwhile.

Everything decoded here goes through the :class:`~.safe_extract.Extractor`, exactly as tar's members do: a
hostile pod gains nothing by faking the walker's output. Modification times are not kept.
"""

from __future__ import annotations

import binascii

from ..errors import TransferError
from .remote import arg, failure, octal_mode
from .safe_extract import Extractor, Sink
from .streams import Conn, SessionReader

READ_CHUNK = 4 << 20  # few, large writes and hash updates (see SessionReader.read)


class B64Decoder:
    """Incremental base64 decoding of line-wrapped text (whitespace ignored, 4-character groups kept)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, data: bytes) -> bytes:
        data = self._rest + data.translate(None, b" \t\r\n")
        cut = len(data) - len(data) % 4
        self._rest = data[cut:]
        return binascii.a2b_base64(data[:cut]) if cut else b""

    def end(self) -> None:
        if self._rest:
            raise TransferError("the container's base64 output ended in the middle of a group")


def download_file(conn: Conn, source: str, method: str, sink: Sink) -> None:
    """One file: ``cat <FILE`` (raw) or ``base64 <FILE`` (decoded here), streamed into ``sink``."""
    tool = "cat" if method == "cat" else "base64"
    session = conn.open(["sh", "-c", f'exec {tool} <"$1"', "sh", arg(source)], stdin=False)
    reader = SessionReader(session)
    decoder = B64Decoder() if method == "base64" else None
    try:
        while chunk := reader.read(READ_CHUNK):
            sink.write(decoder.feed(chunk) if decoder else chunk)
        if decoder:
            decoder.end()
        code = session.wait()
    finally:
        if not session.ended:
            session.close()
    if code != 0:
        raise failure(reader.stderr.text, code, source, writing=False)


WALKER = r"""cd "$1" || exit 3
if command -v stat >/dev/null 2>&1; then m() { stat -c %a "$1"; }
else m() { if [ -x "$1" ]; then echo 755; else echo 644; fi; }; fi
w() { for e in "$1"/* "$1"/.[!.]* "$1"/..?*; do
if [ -L "$e" ] && t=$(readlink "$e"); then printf 'L 0 %s\0%s\0' "$e" "$t"
elif [ -L "$e" ]; then printf 'S 0 %s\0' "$e"
elif [ -d "$e" ]; then printf 'D %s %s\0' "$(m "$e")" "$e"; w "$e"
elif [ -f "$e" ]; then printf 'F %s %s\0' "$(m "$e")" "$e"; base64 <"$e" || exit 4; echo .
elif [ -e "$e" ]; then printf 'S 0 %s\0' "$e"; fi
done; }
printf 'D %s .\0' "$(m .)"; w ."""


def download_tree(conn: Conn, source: str, extractor: Extractor) -> None:
    """A directory without tar: the walker's records, parsed as they stream, into ``extractor``."""
    session = conn.open(["sh", "-c", WALKER, "sh", arg(source)], stdin=False)
    reader = SessionReader(session)
    parser = _Records(extractor)
    try:
        while chunk := reader.read(READ_CHUNK):
            parser.feed(chunk)
        code = session.wait()
    finally:
        if not session.ended:
            session.close()
    if code != 0:
        raise failure(reader.stderr.text, code, source, writing=False)
    parser.end()


class _Records:
    """Parser for the walker's records: ``KIND MODE NAME`` ended by a NUL byte (names cannot contain one,
    and ``printf`` prints it without a fork).

    ``F`` (file) is followed by its data as base64 lines and a ``.`` line; ``L`` (symlink) by its target and
    a NUL; ``D`` (directory) and ``S`` (skipped: a link without readlink, a device) by nothing.
    """

    def __init__(self, extractor: Extractor) -> None:
        self.ex = extractor
        self.buf = b""
        self.state = "header"
        self.link_name = ""
        self.sink: Sink | None = None
        self.decoder = B64Decoder()

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self.buf:
            if self.state == "content":
                end = self.buf.find(b".")
                if end < 0:
                    self._content(self.buf)
                    self.buf = b""
                    return
                self._content(self.buf[:end])
                self.decoder.end()
                assert self.sink is not None
                self.sink.close()
                self.sink, self.state = None, "header"
                self.buf = self.buf[end + 1 :]
                continue
            nul = self.buf.find(b"\0")
            if nul < 0:
                if len(self.buf) > 1 << 20:
                    raise TransferError("the container's directory walker printed an overlong record")
                return
            field, self.buf = self.buf[:nul], self.buf[nul + 1 :]
            self._field(field.decode("utf-8", "surrogateescape"))

    def _content(self, text: bytes) -> None:
        assert self.sink is not None
        if data := self.decoder.feed(text):
            self.sink.write(data)

    def _field(self, text: str) -> None:
        if self.state == "target":
            self.state = "header"
            self.ex.symlink(self.link_name, linkname=text)
            return
        kind, word, name = [*text.lstrip("\n").split(" ", 2), "", ""][:3]
        mode = octal_mode(word)
        if kind not in ("D", "F", "L", "S") or mode is None or not name:
            raise TransferError(
                f"the container's directory walker printed an unexpected record: {text[:80]!r}"
            )
        if kind == "D":
            self.ex.directory(name, mode)
        elif kind == "F":
            self.sink = self.ex.open_file(name, mode)
            self.state = "content"
        elif kind == "L":
            self.link_name, self.state = name, "target"
        else:
            self.ex.check_name(name)  # refuse names that escape, even for entries we skip
            self.ex.skip(name, "a symlink or special file: not copied without tar")

    def end(self) -> None:
        if self.state != "header" or self.buf.strip():
            raise TransferError("the container's directory listing ended in the middle of a record")
