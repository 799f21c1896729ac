"""Write what a pod sends into a local destination, and never anywhere else.

The pod is untrusted: whoever controls the container controls what its ``tar`` (or our shell walker)
prints, and a crafted archive is the classic way out of a destination (CVE-2018-1002100, -1002101 and
CVE-2019-1002101/-11246/-11249 were all ``kubectl cp`` escapes). So every name is checked here, whatever
method carried it:

* absolute names, names with a ``..`` component and, for a single-file download, any name but the
  expected one raise :class:`~k8sterm_widget.errors.UnsafeArchive` (a well-formed archive of the requested
  path never contains them, so the transfer stops);
* nothing is ever written *through* a symlink: the parent directory of each entry must resolve (``realpath``)
  inside the destination, and a file is opened with ``O_NOFOLLOW`` after removing any link in its place;
* symlinks are created only when their target stays inside the destination, both lexically when created
  and physically once everything is extracted (links can be chained); others are skipped and reported,
  as ``kubectl cp`` skips all links — an absolute target such as ``/etc/nginx`` is legitimate *inside*
  the container but would point at this machine's files here;
* hard links must name a regular file already extracted inside the destination, else UnsafeArchive;
* devices, fifos and sockets are skipped and reported;
* permission bits are kept except setuid, setgid and sticky; owners are not (files belong to the local
  user), nor are extended attributes or ACLs. Directory modes are applied last, so a read-only directory
  from the pod does not block its own contents.

Each regular file's sha256 is computed while it is written, for the end-to-end check.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from collections.abc import Iterable
from pathlib import Path

from ..errors import TransferError, UnsafeArchive
from .progress import NoProgress, Progress
from .verify import new_hash

_OPEN_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
)


class Sink:
    """One regular file being written: hashes and counts what passes through."""

    def __init__(self, owner: Extractor, path: Path, key: str, mode: int, mtime: float | None) -> None:
        self._owner = owner
        self._file = os.fdopen(os.open(path, _OPEN_FLAGS, 0o600), "wb", buffering=0)
        self._hash = new_hash(owner.hashing)
        self.path, self.key, self.mode, self.mtime = path, key, mode, mtime
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            n = self._file.write(view)
            view = view[n:]
        self._hash.update(data)
        self.size += len(data)
        self._owner.bytes += len(data)
        self._owner.progress.update(len(data))

    def close(self) -> None:
        self._file.close()
        os.chmod(self.path, self.mode & 0o777)
        if self.mtime is not None:
            os.utime(self.path, (self.mtime, self.mtime))
        self._owner.manifest[self.key] = self._hash.hexdigest()
        self._owner.sizes[self.key] = self.size
        self._owner.files += 1


class Extractor:
    """Creates entries below ``target`` from remote names.

    ``single``: for a one-file download, the only name the archive may contain (written to ``target``
    itself); None: ``target`` is a directory and names are relative to the remote directory.
    """

    def __init__(
        self,
        target: Path,
        *,
        single: str | None = None,
        progress: Progress | None = None,
        hashing: bool = True,
    ) -> None:
        self.hashing = hashing
        self.target = target
        self.single = single
        self.root = os.path.realpath(target.parent if single is not None else target)
        self.created = not os.path.lexists(target)
        self.progress = progress or NoProgress()
        self.manifest: dict[str, str] = {}  # remote name relative to the source -> sha256 hex
        self.sizes: dict[str, int] = {}
        self.skipped: list[tuple[str, str]] = []
        self.files = 0
        self.bytes = 0
        self._dirs: list[tuple[Path, int, float | None]] = []
        self._links: list[tuple[Path, str]] = []

    # ---------------------------------------------------------------- names and places

    def check_name(self, name: str) -> list[str]:
        """The name's components; raises UnsafeArchive for names that would leave the destination."""
        if name.startswith("/"):
            raise UnsafeArchive(f"the pod sent an archive member with an absolute path: {name!r}", path=name)
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise UnsafeArchive(
                f"the pod sent an archive member that climbs out with '..': {name!r}", path=name
            )
        if self.single is not None and parts != [self.single]:
            raise UnsafeArchive(f"the pod sent {name!r} where only {self.single!r} was asked for", path=name)
        return parts

    def _local(self, parts: list[str]) -> Path:
        return self.target if self.single is not None else self.target.joinpath(*parts)

    def _inside(self, path: Path | str) -> bool:
        real = os.path.realpath(path)
        return real == self.root or real.startswith(self.root.rstrip(os.sep) + os.sep)

    def _parent_ready(self, path: Path, name: str) -> None:
        """Make the parent directory exist, and refuse when it resolves outside the destination."""
        parent = path.parent
        if not self._inside(parent):
            raise UnsafeArchive(
                f"the pod sent {name!r}, which would be written outside {self.root} through a symlink",
                path=name,
            )
        parent.mkdir(parents=True, exist_ok=True)
        if not self._inside(parent):
            raise UnsafeArchive(f"the pod sent {name!r}, which resolves outside {self.root}", path=name)

    @staticmethod
    def _clear_link(path: Path) -> None:
        if os.path.islink(path):
            os.unlink(path)

    # ---------------------------------------------------------------- entries

    def directory(self, name: str, mode: int, mtime: float | None = None) -> None:
        parts = self.check_name(name)
        path = self._local(parts)
        if parts:
            self._parent_ready(path, name)
            self._clear_link(path)
        if not path.is_dir():
            if os.path.lexists(path):
                raise NotADirectoryError(f"{path} exists and is not a directory")
            path.mkdir(mode=0o700)
        self._dirs.append((path, mode & 0o777, mtime))

    def open_file(self, name: str, mode: int, mtime: float | None = None) -> Sink:
        parts = self.check_name(name)
        path = self._local(parts)
        self._parent_ready(path, name)
        self._clear_link(path)
        return Sink(self, path, "/".join(parts), mode, mtime)

    def symlink(self, name: str, linkname: str) -> None:
        parts = self.check_name(name)
        if self.single is not None:
            self.skip(name, f"a symlink to {linkname!r}, not a file")
            return
        resolved = posixpath.normpath(posixpath.join(*parts[:-1], linkname)) if parts[:-1] else linkname
        resolved = posixpath.normpath(resolved)
        if linkname.startswith("/") or resolved == ".." or resolved.startswith("../"):
            self.skip(name, f"symlink to {linkname!r} points outside the destination")
            return
        path = self._local(parts)
        self._parent_ready(path, name)
        if os.path.lexists(path):
            if path.is_dir() and not path.is_symlink():
                raise IsADirectoryError(f"{path} is a directory; the pod sent a symlink in its place")
            os.unlink(path)
        os.symlink(linkname, path)
        self._links.append((path, name))

    def hardlink(self, name: str, linkname: str) -> None:
        parts = self.check_name(name)
        source = self.target.joinpath(*self._link_parts(linkname))
        if not source.is_file() or source.is_symlink() or not self._inside(source):
            raise UnsafeArchive(
                f"the pod sent a hard link {name!r} to {linkname!r}, which is not a file it sent", path=name
            )
        path = self._local(parts)
        self._parent_ready(path, name)
        if os.path.lexists(path):
            os.unlink(path)
        try:
            os.link(source, path)
        except OSError:
            shutil.copy2(source, path)
        key, source_key = "/".join(parts), "/".join(self._link_parts(linkname))
        self.manifest[key] = self.manifest.get(source_key, "")
        self.sizes[key] = self.sizes.get(source_key, 0)
        self.files += 1

    def _link_parts(self, linkname: str) -> list[str]:
        single, self.single = self.single, None
        try:
            return self.check_name(linkname)
        finally:
            self.single = single

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append((name, reason))

    def member(self, info: tarfile.TarInfo, data: Iterable[bytes] = ()) -> None:
        """One archive member (from :class:`~.tarstream.TarReader`); ``data`` yields a file's bytes."""
        if info.isdir():
            self.directory(info.name, info.mode, info.mtime)
        elif info.isreg():
            sink = self.open_file(info.name, info.mode, info.mtime)
            try:
                for chunk in data:
                    sink.write(chunk)
            finally:
                sink.close()
        elif info.issym():
            self.symlink(info.name, info.linkname)
        elif info.islnk():
            self.hardlink(info.name, info.linkname)
        else:
            self.check_name(info.name)
            self.skip(info.name, "a device, fifo or socket: not copied")

    # ---------------------------------------------------------------- end

    def finish(self) -> None:
        """Drop links that resolve outside now that everything exists; then apply directory modes."""
        if self.single is not None and self.files == 0:
            raise TransferError(f"the container sent no file for {self.single!r}", path=self.single)
        for path, name in self._links:
            if os.path.islink(path) and not self._inside(path):
                target = os.readlink(path)
                os.unlink(path)
                self.skip(name, f"symlink to {target!r} resolves outside the destination")
        for path, mode, mtime in reversed(self._dirs):
            os.chmod(path, mode)
            if mtime is not None:
                os.utime(path, (mtime, mtime))

    def abort(self) -> None:
        """Remove the destination if this transfer created it (a failed download leaves nothing half-done)."""
        if not self.created or not os.path.lexists(self.target):
            return
        if self.target.is_dir() and not self.target.is_symlink():
            for path, _mode, _mtime in self._dirs:  # read-only directories would block removal
                if path.is_dir():
                    os.chmod(path, 0o700)
            shutil.rmtree(self.target, ignore_errors=True)
        else:
            os.unlink(self.target)
