"""The local side of an upload: walk a file or directory tree into entries, without following links.

The source itself may be a symlink (``upload("latest/", …)`` means the directory it points to, as with
``cp -r``); links *inside* a directory are sent as links, like ``tar`` and ``kubectl cp`` do. Sockets,
fifos and devices cannot travel through an archive of plain files: they are listed as skipped.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    path: Path  # on this machine
    rel: str  # POSIX path below the source ("" for the source itself)
    kind: str  # "dir" | "file" | "symlink" | "other"
    mode: int  # permission bits (0o7777)
    size: int = 0
    mtime: int = 0
    linkname: str = ""


def _entry(path: Path, rel: str, st: os.stat_result) -> Entry:
    mode = stat.S_IMODE(st.st_mode)
    mtime = int(st.st_mtime)
    if stat.S_ISDIR(st.st_mode):
        return Entry(path, rel, "dir", mode, 0, mtime)
    if stat.S_ISREG(st.st_mode):
        return Entry(path, rel, "file", mode, st.st_size, mtime)
    if stat.S_ISLNK(st.st_mode):
        return Entry(path, rel, "symlink", mode, 0, mtime, os.readlink(path))
    return Entry(path, rel, "other", mode, 0, mtime)


def walk(source: Path) -> Iterator[Entry]:
    """The source, then (for a directory) everything below it, parents before children, names sorted."""
    top = _entry(source, "", source.stat())  # follows a symlinked source, as cp -r does
    yield top
    if top.kind != "dir":
        return
    pending = [(source, "")]
    while pending:
        directory, rel = pending.pop()
        with os.scandir(directory) as it:
            children = sorted(it, key=lambda d: d.name)
        subdirs = []
        for child in children:
            child_rel = f"{rel}/{child.name}" if rel else child.name
            entry = _entry(Path(child.path), child_rel, child.stat(follow_symlinks=False))
            yield entry
            if entry.kind == "dir":
                subdirs.append((entry.path, child_rel))
        pending.extend(reversed(subdirs))


def scan(source: Path) -> tuple[list[Entry], int]:
    """All entries and the total size of the regular files (the progress bar's 100 %)."""
    entries = list(walk(source))
    return entries, sum(e.size for e in entries if e.kind == "file")
