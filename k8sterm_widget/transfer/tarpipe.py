"""Transfers through ``tar`` in the container, streamed: the ``kubectl cp`` way, without its temp buffers.

Upload: ``tarfile`` in stream mode (``w|``) writes straight into the session's stdin while the container
runs ``tar -xof - -C PARENT``; members are named ``BASE/...`` exactly as ``kubectl cp`` names them, so the
target is created (or merged into) by the container's own tar. ``-o`` keeps the files owned by whoever
runs the exec, and the headers carry uid/gid 0 with empty names so no local user name leaks into the
pod; modes and modification times travel in the headers (tar applies modes fully as root, minus the
umask otherwise).

Download: the container runs ``tar -cf - -C DIR .`` (a directory) or ``tar -chf - -C PARENT ./NAME``
(a file; ``-h`` so a symlinked file arrives as its content); :class:`~.tarstream.TarReader` splits the
stream into members (``tarfile``'s own stream reader copies every byte four times) and hands each to the
:class:`~.safe_extract.Extractor`, which decides what may be written where.

Both directions hash file contents on the way through for the final sha256 check.
"""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from typing import BinaryIO

from ..errors import SessionClosed, TransferError, UnsafeArchive
from .local import Entry
from .progress import Progress
from .remote import arg, failure
from .safe_extract import Extractor
from .streams import Collector, Conn, SessionReader, SessionWriter
from .tarstream import TarReader
from .verify import new_hash

UPLOAD_BUFSIZE = 1 << 20  # tarfile's stream buffer: each flush is one session.write


class HashingReader:
    """A file wrapper that hashes and reports what ``tarfile`` reads from it."""

    def __init__(self, f: BinaryIO, progress: Progress, hashing: bool) -> None:
        self._f = f
        self._progress = progress
        self.hash = new_hash(hashing)

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self.hash.update(data)
        self._progress.update(len(data))
        return data


def upload(
    conn: Conn, entries: Sequence[Entry], parent: str, base: str, progress: Progress, hashing: bool = True
) -> dict[str, str]:
    """Send ``entries`` as ``parent/base/...``; return {name relative to parent: sha256} of the files."""
    out = Collector()
    session = conn.open(["tar", "-xof", "-", "-C", arg(parent)], stdin=True, on_output=out)
    manifest: dict[str, str] = {}
    try:
        try:
            # Stream mode only write()s to fileobj, and passes copybufsize on to TarFile; typeshed's
            # overloads want a seekable file and leave copybufsize out.
            with tarfile.open(  # type: ignore[call-overload]
                fileobj=SessionWriter(session),
                mode="w|",
                bufsize=UPLOAD_BUFSIZE,
                copybufsize=UPLOAD_BUFSIZE,  # tarfile's default reads files 16 KiB at a time
                format=tarfile.PAX_FORMAT,
            ) as tar:
                for e in entries:
                    _add(tar, e, f"{base}/{e.rel}" if e.rel else base, progress, manifest, hashing)
            session.close_stdin()
        except SessionClosed:
            pass  # tar in the container gave up; its exit status and stderr say why
        code = session.wait()
    finally:
        if not session.ended:
            session.close()
    if code != 0:
        raise failure(out.stderr.text, code, f"{parent}/{base}", writing=True)
    return manifest


def _add(
    tar: tarfile.TarFile, e: Entry, name: str, progress: Progress, manifest: dict[str, str], hashing: bool
) -> None:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime = e.mode, e.mtime
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    if e.kind == "dir":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
    elif e.kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, e.linkname
        tar.addfile(info)
    elif e.kind == "file":
        info.size = e.size
        with open(e.path, "rb") as f:
            reader = HashingReader(f, progress, hashing)
            tar.addfile(info, reader)
        manifest[name] = reader.hash.hexdigest()


def download(conn: Conn, source: str, is_dir: bool, extractor: Extractor) -> None:
    """Stream ``source`` out of the container into ``extractor`` (which checks every member)."""
    if is_dir:
        argv = ["tar", "-cf", "-", "-C", arg(source), "."]
    else:
        parent, _, name = source.rpartition("/")
        argv = [
            "tar",
            "-chf",
            "-",
            "-C",
            arg(parent or ("/" if source.startswith("/") else ".")),
            "./" + name,
        ]
    session = conn.open(argv, stdin=False)
    reader = SessionReader(session)
    try:
        try:
            tar = TarReader(reader)
            for info in tar:
                extractor.member(info, tar.data())
        except UnsafeArchive:
            raise  # stop reading at once: the session is closed below
        except TransferError:
            # A truncated or corrupt stream usually means tar failed: its message says more than ours.
            reader.drain()
            if session.wait() not in (0, None):
                raise failure(reader.stderr.text, session.exit_code, source, writing=False) from None
            raise
        reader.drain()  # tar pads the archive to a whole record after the end marker
        code = session.wait()
    finally:
        if not session.ended:
            session.close()
    if code != 0:
        raise failure(reader.stderr.text, code, source, writing=False)
