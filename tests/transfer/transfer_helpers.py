"""Helpers shared by the transfer tests (imported by module name, like ``demo_helpers``)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path


def tree(root: Path) -> dict[str, tuple]:
    """Everything below ``root``: kind, permission bits and content hash (or link target) per path."""
    found: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", oct(path.stat().st_mode & 0o777))
            else:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                found[rel] = ("file", oct(path.stat().st_mode & 0o777), digest)
    return found


def crafted(*members: tuple) -> bytes:
    """A tar stream of (kind, name, payload-or-linkname) members, written as a hostile pod would."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, extra in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(extra)
                info.mode = 0o4755
                tar.addfile(info, io.BytesIO(extra))
            elif kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, extra
                tar.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, extra
                tar.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                tar.addfile(info)
    return buf.getvalue()
