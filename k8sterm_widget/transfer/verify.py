r"""The end-to-end check: the sha256 of every transferred file, computed in the container, must match ours.

Ours is computed while the bytes pass through this process (reading for an upload, writing for a
download), so no file is read twice here. In the container one exec hashes the list of files, which is
sent on stdin (argv is part of the exec URL and has a size limit), one :func:`~.remote.name_line` per file.
The shell loop collects names as positional parameters without forking and hashes them 200 at a time
with one process (``sha256sum ./a ./b …``: a thousand files cost a handful of processes, not a thousand);
when a batch fails (a file vanished or is unreadable) its files are hashed one by one, so every file gets
exactly one answer line, in order. Names containing a backslash or a newline are hashed on their own.

The hashing tool is the first that works of :data:`HASHERS`: ``sha256sum`` (coreutils and busybox),
``busybox sha256sum`` (a busybox without the applet link), ``openssl dgst -sha256 -r``. When the container
has none of them, only the byte count of each file can be compared (``wc -c``); the result then says
``verified="size"`` and a warning is issued — the data still travelled over a lossless, length-checked
stream, but a corruption that keeps the size would go unseen. With neither ``wc`` the check is skipped
(``verified="none"``, warning).
"""

from __future__ import annotations

import hashlib
import shlex
import warnings
from typing import Protocol

from ..errors import ChecksumMismatch, TransferError
from .remote import DECODE, arg, name_line
from .streams import Conn

HASHERS: tuple[str, ...] = ("sha256sum", "busybox sha256sum", "openssl dgst -sha256 -r")

BATCH = 200

_LOOP = r"""echo "hasher ${H:-none}"
one() { if [ -n "$H" ]; then $H <"$1" 2>/dev/null || echo -
else s=$(wc -c <"$1" 2>/dev/null) || s=-; echo "size $s"; fi; }
many() { [ $# -gt 0 ] || return 0
if [ -n "$H" ] && o=$($H "$@" 2>/dev/null); then printf '%s\n' "$o"; return; fi
for f; do one "$f"; done; }
set --
while IFS= read -r f; do
case $f in *\\*) many "$@"; set --; DECODE; one "$f"; continue;; esac
set -- "$@" "$f"; [ $# -lt BATCH ] || { many "$@"; set --; }
done
many "$@"
""".replace("DECODE", DECODE).replace("BATCH", str(BATCH))


class Hasher(Protocol):
    """What a transfer feeds its bytes to: a ``hashlib`` sha256, or :class:`_NoHash`."""

    def update(self, data: bytes | memoryview, /) -> None: ...
    def hexdigest(self) -> str: ...


class _NoHash:
    """Stands in for a sha256 object when nothing will be checked (hashing 200 MB costs ~0.2 s)."""

    def update(self, data: bytes | memoryview, /) -> None:
        pass

    def hexdigest(self) -> str:
        return ""


def new_hash(enabled: bool = True) -> Hasher:
    return hashlib.sha256() if enabled else _NoHash()


def script() -> str:
    picks = "\n".join(
        f'[ -z "$H" ] && command -v {shlex.quote(cmd.split()[0])} >/dev/null 2>&1 && '
        f"{cmd} </dev/null >/dev/null 2>&1 && H={shlex.quote(cmd)}"
        for cmd in HASHERS
    )
    return 'cd "$1" || exit 3\nH=\n' + picks + "\n" + _LOOP


def verify(conn: Conn, root: str, expected: dict[str, str], sizes: dict[str, int]) -> str:
    """Compare ``expected`` (name relative to ``root`` -> sha256 hex) with the container's view.

    Returns how far the check went: ``"sha256"``, ``"size"`` or ``"none"``. Raises ChecksumMismatch.
    """
    if not expected:
        return "sha256"
    names = list(expected)
    listing = b"".join(name_line(n) + b"\n" for n in names)
    code, out, err = conn.run(["sh", "-c", script(), "sh", arg(root)], input=listing)
    lines = out.decode("utf-8", "replace").splitlines()
    if code != 0 or not lines or not lines[0].startswith("hasher "):
        raise TransferError(
            f"the checksum step failed in the container (exit code {code}): {err.strip()[-300:]}"
        )
    hasher, answers = lines[0][len("hasher ") :], lines[1:]
    if len(answers) != len(names):
        raise TransferError(f"the checksum step answered for {len(answers)} of {len(names)} files")
    if hasher != "none":
        got = [(a.split() or ["-"])[0].lower() for a in answers]  # "HASH  ./name", "HASH *./name", "-"
        bad = [n for n, h in zip(names, got, strict=True) if h != expected[n]]
        if bad:
            raise ChecksumMismatch(_describe(bad, "sha256"), path=bad[0])
        return "sha256"
    if all(a.split()[-1].isdigit() for a in answers):
        bad = [n for n, a in zip(names, answers, strict=True) if int(a.split()[-1]) != sizes.get(n)]
        if bad:
            raise ChecksumMismatch(_describe(bad, "size"), path=bad[0])
        warnings.warn(
            "the container has no sha256 tool (sha256sum, busybox, openssl): only file sizes were compared",
            stacklevel=3,
        )
        return "size"
    warnings.warn(
        "the container has neither a sha256 tool nor wc: the transfer was not verified", stacklevel=3
    )
    return "none"


def _describe(bad: list[str], what: str) -> str:
    shown = ", ".join(repr(n) for n in bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return f"{what} differs between this machine and the container for {shown}"
