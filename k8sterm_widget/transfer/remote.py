"""The container side of a transfer: one probe exec, remote path arithmetic, failures as typed errors.

The probe is a single ``sh -c`` exec that reports which tools exist (``command -v`` for tar, cat, base64,
stat, du) and, for each path given as an argument, whether it is a directory, a file, a dangling link,
something else or missing, and whether it is writable (``test -w`` uses ``access(2)``, which also answers
"no" on a read-only file system). Paths travel as argv, never inside the script, so spaces, quotes and
non-ASCII names need no quoting at all; the scripts here stay short because argv is part of the exec URL.

A container without ``sh`` (distroless, scratch) cannot take part: the probe then raises
:class:`~k8sterm_widget.errors.NoTransferTool` (``kubectl cp`` fails there too, it needs ``tar``).
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from ..errors import (
    CommandNotFound,
    NoTransferTool,
    RemoteNotADirectory,
    RemotePathNotFound,
    RemoteWriteError,
    TransferError,
)
from .streams import Conn

TOOLS = ("tar", "cat", "head", "dd", "base64", "stat", "du")

PROBE = r"""for t in TOOLS; do command -v $t >/dev/null 2>&1 && echo "tool $t"; done
m=$1; shift
for p; do
if [ -d "$p" ]; then k=dir; elif [ -f "$p" ]; then k=file; elif [ -L "$p" ]; then k=link
elif [ -e "$p" ]; then k=other; else k=missing; fi
w=0; [ -w "$p" ] && w=1
s=- a=-
[ "$m" = size ] && a=$(stat -c %a "$p" 2>/dev/null)
if [ "$m" = size ] && [ $k = file ]; then s=$(stat -c %s "$p" 2>/dev/null || wc -c <"$p")
elif [ "$m" = size ] && [ $k = dir ]; then
s=$(du -sb "$p" 2>/dev/null) && s=${s%%[!0-9]*} ||
{ s=$(du -sk "$p" 2>/dev/null) && s=$((${s%%[!0-9]*}*1024)); }
fi
m=
echo "path $k $w ${s:--} ${a:--}"
done""".replace("TOOLS", " ".join(TOOLS))


@dataclass(frozen=True)
class PathInfo:
    kind: str  # dir | file | link (dangling) | other | missing
    writable: bool
    size: int | None = None  # bytes (a directory's is du's estimate); only asked for the first path
    mode: int | None = None  # permission bits, when the container has stat


@dataclass(frozen=True)
class Probe:
    tools: frozenset[str]
    paths: tuple[PathInfo, ...]


def octal_mode(text: str) -> int | None:
    """Permission bits as ``stat -c %a`` prints them (1 to 4 octal digits), or None for anything else."""
    return int(text, 8) if re.fullmatch(r"[0-7]{1,4}", text, re.ASCII) else None


def probe(conn: Conn, paths: list[str], *, size_of_first: bool = False) -> Probe:
    """One exec: the container's tools and what each path is. Pre-flight errors propagate typed."""
    argv = ["sh", "-c", PROBE, "sh", "size" if size_of_first else "-", *paths]
    try:
        code, out, err = conn.run(argv)
    except CommandNotFound as e:
        raise NoTransferTool(
            f'container "{conn.container or "?"}" of pod "{conn.pod}" has no shell ({e.detail}); '
            "files cannot be copied in or out without one (kubectl cp needs tar as well)",
            hint="Copy through an ephemeral debug container that shares the pod's process namespace: "
            f"kubectl debug -it {conn.pod} --image=busybox --target=<container>, then use /proc/1/root/.",
        ) from None
    if code != 0:
        raise TransferError(f"probing the container failed (exit code {code}): {err.strip()[-300:]}")
    tools: set[str] = set()
    infos: list[PathInfo] = []
    for line in out.decode("utf-8", "replace").splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "tool":
            tools.add(words[1])
        elif len(words) == 5 and words[0] == "path":
            size = int(words[3]) if words[3].isascii() and words[3].isdigit() else None
            mode = octal_mode(words[4])
            infos.append(PathInfo(words[1], words[2] == "1", size, mode))
    if len(infos) != len(paths):
        raise TransferError(f"the container's shell answered the probe unexpectedly: {out[:200]!r}")
    return Probe(frozenset(tools), tuple(infos))


# -------------------------------------------------------------------- remote paths


def normalize(path: str) -> str:
    """``posixpath.normpath`` that refuses an empty path (``kubectl cp`` does too)."""
    if not path:
        raise ValueError("the remote path must not be empty")
    return posixpath.normpath(path)


def join(directory: str, name: str) -> str:
    return posixpath.join(directory, name)


def parent(path: str) -> str:
    return posixpath.dirname(path) or "."


def arg(path: str) -> str:
    """A path safe to put where a command expects an operand: relative ones get ``./`` (no leading ``-``)."""
    return path if path.startswith(("/", "./")) or path == "." else "./" + path


def quote(path: str) -> str:
    return shlex.quote(arg(path))


def name_line(name: str) -> bytes:
    """``./name`` as one line a shell loop can read back exactly (see :data:`DECODE`).

    Only a backslash and a newline are escaped (``\\\\``, ``\\n``), so most names need no decoding at all,
    and a name that does is turned back by ``printf %b`` — the only fork, and a rare one. ``./`` keeps a
    name starting with ``-`` from being read as an option. Bytes that are not UTF-8 pass through unchanged.
    """
    raw = ("./" + name).encode("utf-8", "surrogateescape")
    return raw.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


#: Shell: turn the variable ``f``, read with ``IFS= read -r``, back into the name :func:`name_line` encoded.
DECODE = "case $f in *\\\\*) f=$(printf '%b' \"$f\");; esac"


# -------------------------------------------------------------------- failures


def failure(stderr: str, code: int | None, path: str, *, writing: bool) -> TransferError:
    """The typed error for a failed remote command, chosen from what the tool printed."""
    text = stderr.strip()
    tail = "\n".join(text.splitlines()[-3:])[-400:]
    lowered = text.lower()
    where = f"{path} in the container"
    if "read-only file system" in lowered:
        return RemoteWriteError(f"cannot write {where}: read-only file system", path=path)
    if "no space left" in lowered:
        return RemoteWriteError(f"cannot write {where}: no space left on device", path=path)
    if "permission denied" in lowered:
        cls = RemoteWriteError if writing else TransferError
        return cls(f"cannot {'write' if writing else 'read'} {where}: permission denied ({tail})", path=path)
    if "not a directory" in lowered:
        return RemoteNotADirectory(f"a part of {path} is not a directory ({tail})", path=path)
    if "no such file or directory" in lowered:
        return RemotePathNotFound(f"{where} does not exist ({tail})", path=path)
    return TransferError(
        f"the transfer of {path} failed (exit code {code}): {tail or 'no message'}", path=path
    )
