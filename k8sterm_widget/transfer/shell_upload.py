r"""Uploads without ``tar``: raw bytes through ``cat`` or ``head``, else base64 or printf through ``sh``.

Images without tar are common (ubi-micro, many distroless-with-shell builds) and ``kubectl cp`` fails on them
(kubernetes/kubernetes#58512). The methods, in the order ``auto`` tries them after tar, and what each needs
in the container besides ``sh``:

* ``cat`` — one file: ``cat >FILE`` fed raw bytes, one exec.
* ``head`` — a tree (or a file): raw bytes framed by one header line per entry. A short shell loop given
  as argv reads each header with ``read`` (which, by POSIX, never reads past the newline) and hands the
  file's bytes to ``dd iflag=count_bytes,fullblock count=SIZE``, which reads exactly that many (busybox's
  ``head -c`` reads ahead through stdio and would swallow what follows). Data never passes through the
  shell's parser — bash parses a script arriving on a pipe one byte per system call, about 2 MB/s — and
  nothing is inflated. Directories are created and modes set 200 paths per ``mkdir``/``chmod``.
* ``base64`` — one file: ``base64 -d >FILE``; a tree: a script on ``sh -s`` carrying each file as 768 KiB
  here-doc chunks for ``base64 -d >>FILE`` (fast with dash or busybox, slow where ``sh`` is bash).
* ``printf`` — anything, with nothing but the shell: each chunk becomes ``printf '\ooo…' >>FILE``.

Paths in scripts are quoted with :func:`shlex.quote` and given a ``./`` prefix when relative, so a name
starting with ``-`` is never an option; names inside data streams are :func:`~.remote.name_line`\ s;
argv needs no quoting. Scripts use ``set -e``: the first failure (a read-only file system, a missing
tool) ends them with the shell's message, which :func:`~.remote.failure` turns into a typed error.
Permission bits are set with ``chmod`` (directories last, so a read-only one does not block its own
contents), modification times are not kept, symlinks are recreated with ``ln -s``.
"""

from __future__ import annotations

import binascii
import hashlib
import shlex
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from ..errors import SessionClosed, TransferError
from .local import Entry
from .progress import Progress
from .remote import DECODE, arg, failure, join, name_line, quote
from .streams import Collector, Conn, SessionWriter
from .verify import Hasher

READ_CHUNK = 4 << 20  # few, large writes and hash updates (see SessionReader.read)
B64_LINE = 3072  # raw bytes per base64 line (4 KiB of text)
B64_HEREDOC = 256 * B64_LINE  # 768 KiB raw per here-doc, i.e. one base64 process per MiB of script
PRINTF_CHUNK = 48 * 1024
MARK = "K8STERM_EOF"  # cannot occur in base64 text (no underscore in its alphabet)

# No "-" (a format starting with it is an option to printf), "%", "\\" or "'".
_PRINTF_SAFE = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._/,:=+")
_PRINTF = [chr(b) if b in _PRINTF_SAFE else f"\\{b:03o}" for b in range(256)]


def _chunks(path: Path, progress: Progress, hasher: Hasher, size: int = READ_CHUNK) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(size):
            hasher.update(chunk)
            progress.update(len(chunk))
            yield chunk


def b64_lines(chunk: bytes) -> bytes:
    return (
        b"\n".join(
            binascii.b2a_base64(chunk[i : i + B64_LINE], newline=False)
            for i in range(0, len(chunk), B64_LINE)
        )
        + b"\n"
    )


def _feed(conn: Conn, command: list[str], pieces: Iterable[bytes], target: str) -> None:
    """Run ``command`` with ``pieces`` as its stdin, then EOF; a non-zero exit raises the typed write error.

    A command that exits early (a full disk) ends the session while we still write: its exit code and
    stderr, not our broken pipe, say what happened.
    """
    out = Collector()
    session = conn.open(command, stdin=True, on_output=out)
    try:
        try:
            writer = SessionWriter(session)
            for piece in pieces:
                writer.write(piece)
            session.close_stdin()
        except SessionClosed:
            pass
        code = session.wait()
    finally:
        if not session.ended:
            session.close()
    if code != 0:
        raise failure(out.stderr.text, code, target, writing=True)


def upload_file(conn: Conn, entry: Entry, target: str, method: str, progress: Progress) -> dict[str, str]:
    """One file, one exec: raw bytes into ``cat``, or base64 text into ``base64 -d``."""
    decode = "cat" if method == "cat" else "base64 -d"
    script = f'{decode} >"$1" || exit; chmod "$2" "$1" 2>/dev/null; exit 0'
    hasher = hashlib.sha256()
    size = READ_CHUNK if method == "cat" else B64_HEREDOC
    chunks = _chunks(entry.path, progress, hasher, size)
    pieces = chunks if method == "cat" else map(b64_lines, chunks)
    _feed(conn, ["sh", "-c", script, "sh", arg(target), f"{entry.mode:o}"], pieces, target)
    return {target.rpartition("/")[2]: hasher.hexdigest()}


FRAMED = r"""cd "$1" || exit 3
set -e
run() { [ $# -gt 0 ] || return 0; case $b in D*) mkdir -p "$@";; M*) chmod "${b#M}" "$@";; esac; }
b=; set --
while IFS= read -r h; do
k=${h%% *}; r=${h#* }; m=${r%% *}; r=${r#* }; n=${r%% *}; f=${r#* }
DECODE
if [ "$k$m" != "$b" ] || [ $# -ge 200 ]; then run "$@"; set --; b=$k$m; fi
case $k in
D|M) set -- "$@" "$f";;
F) dd bs=65536 count="$n" iflag=count_bytes,fullblock 2>/dev/null >"$f";;
L) t=$f; IFS= read -r f; DECODE; rm -f "$t"; ln -s -- "$f" "$t";;
*) echo "bad header: $h" >&2; exit 5;;
esac
done
run "$@"
""".replace("DECODE", DECODE)


def upload_framed(
    conn: Conn, entries: Sequence[Entry], parent: str, base: str, progress: Progress
) -> dict[str, str]:
    """A tree as raw bytes, framed by one header line per entry, into a shell loop given as argv.

    The loop reads each header with ``read`` (which, by POSIX, never reads past the newline, so it is the
    one place a shell reads a pipe byte by byte) and hands the file's bytes to ``dd`` counting bytes, which
    reads exactly that many. So data never passes through the shell's parser — bash parses a script
    arriving on a pipe one byte per system call, about 2 MB/s — and nothing is base64-inflated.
    """
    manifest: dict[str, str] = {}
    pieces = _frames(entries, base, progress, manifest)
    _feed(conn, ["sh", "-c", FRAMED, "sh", arg(parent)], pieces, join(parent, base))
    return manifest


def _frames(
    entries: Sequence[Entry], base: str, progress: Progress, manifest: dict[str, str]
) -> Iterator[bytes]:
    """Header lines ``KIND MODE SIZE NAME``: every directory first (created 200 per ``mkdir -p``), then
    files (``F``, followed by exactly SIZE raw bytes) and links (``L``, the target on the next line), then
    the modes (``M``, sorted so one ``chmod`` sets up to 200 paths)."""
    modes: list[tuple[int, bytes]] = []
    named = [(e, f"{base}/{e.rel}" if e.rel else base) for e in entries]
    for e, name in named:
        if e.kind == "dir":
            yield b"D 0 0 " + name_line(name) + b"\n"
            modes.append((e.mode, name_line(name)))
    for e, name in named:
        if e.kind == "symlink":
            yield b"L 0 0 " + name_line(name) + b"\n" + name_line(e.linkname)[2:] + b"\n"
        elif e.kind == "file":
            yield f"F 0 {e.size} ".encode() + name_line(name) + b"\n"
            hasher, sent = hashlib.sha256(), 0
            for chunk in _chunks(e.path, progress, hasher):
                chunk = chunk[: e.size - sent]
                sent += len(chunk)
                yield chunk
                if sent == e.size:
                    break
            if sent != e.size:  # the header promised e.size bytes: the stream cannot continue
                raise TransferError(f"{e.path} shrank while it was being sent", path=name)
            manifest[name] = hasher.hexdigest()
            modes.append((e.mode, name_line(name)))
    for mode, line in sorted(modes):
        yield f"M {mode:o} 0 ".encode() + line + b"\n"


def upload_script(
    conn: Conn, entries: Sequence[Entry], parent: str, base: str, method: str, progress: Progress
) -> dict[str, str]:
    """A tree (or a file) as a script streamed into ``sh -s``: for containers without ``head``.

    Slow where ``sh`` is bash (it parses a piped script byte by byte), fast with dash or busybox.
    """
    manifest: dict[str, str] = {}
    _feed(conn, ["sh", "-s"], _script(entries, parent, base, method, progress, manifest), join(parent, base))
    return manifest


def _script(
    entries: Sequence[Entry],
    parent: str,
    base: str,
    method: str,
    progress: Progress,
    manifest: dict[str, str],
) -> Iterator[bytes]:
    yield b"set -e\n"
    dirs: list[tuple[str, int]] = []
    for e in entries:
        name = f"{base}/{e.rel}" if e.rel else base
        path = quote(join(parent, name))
        if e.kind == "dir":
            yield f"mkdir -p {path}\n".encode()
            dirs.append((path, e.mode))
        elif e.kind == "symlink":
            yield f"ln -sf {shlex.quote(e.linkname)} {path}\n".encode()
        elif e.kind == "file":
            yield f": >{path}\n".encode()
            hasher = hashlib.sha256()
            if method == "printf":
                for chunk in _chunks(e.path, progress, hasher, PRINTF_CHUNK):
                    yield f"printf '{''.join(map(_PRINTF.__getitem__, chunk))}' >>{path}\n".encode()
            else:
                for chunk in _chunks(e.path, progress, hasher, B64_HEREDOC):
                    yield (
                        f"base64 -d >>{path} <<'{MARK}'\n".encode() + b64_lines(chunk) + f"{MARK}\n".encode()
                    )
            yield f"chmod {e.mode:o} {path}\n".encode()
            manifest[name] = hasher.hexdigest()
    for path, mode in reversed(dirs):
        yield f"chmod {mode:o} {path}\n".encode()
