"""Files in and out of containers: ``upload`` and ``download``, like ``kubectl cp`` but streaming.

    k8sterm_widget.upload("web-0", "site/", "/usr/share/nginx/html", namespace="demo")
    k8sterm_widget.download("web-0", "/var/log/nginx", "logs", namespace="demo")

Where things land (``kubectl cp`` and ``cp -r`` agree on uploads):

* upload — when ``remote_path`` is an existing directory, the source goes *inside* it under its own name;
  otherwise ``remote_path`` is the new name, and its parent directory must exist. A trailing ``/`` on
  ``remote_path`` demands an existing directory. An existing file is replaced; a directory is merged into.
* download — the same rule on this machine: an existing local directory receives the source under its
  own name; otherwise ``local_path`` is the new name. ``kubectl cp`` differs here: it pours a remote
  directory's *contents* into an existing local directory and fails for a file; we follow ``cp -r`` so
  the two directions mirror each other.

How (``method``): ``"auto"`` sends one probe exec (``command -v tar`` and friends, plus what the paths are)
and picks ``tar`` when the container has it (:mod:`.tarpipe`: ``tarfile`` writing into the exec's stdin,
:mod:`.tarstream` reading its stdout, so no archive is ever held in memory or on disk). Without tar
(:mod:`.shell_upload`, :mod:`.shell_download`): ``cat`` for a single file; for a directory upload
``head`` (raw bytes framed by header lines that a shell loop reads), for a directory download ``base64``
(a shell walker's records); then chunked ``base64`` through ``sh``; and for uploads, as a last resort,
``printf`` with nothing but the shell. Any of them can be forced.

The check (``verify``): one more exec compares the sha256 of every file in the container with what passed
through here (:mod:`.verify`; without a sha256 tool there, sizes). By default (``verify=None``) it runs for
the tar-free methods, whose framing and encoding are ours, and not for ``tar``, whose format carries its own
framing — like ``kubectl cp``, which checks nothing; hashing 200 MB in the pod costs about as much as moving
it. ``verify=True`` checks any method, ``verify=False`` none.

Kept: file contents byte for byte, permission bits (downloads drop setuid/setgid/sticky), modification
times with ``tar``. Not kept: owners and groups (files belong to whoever the exec or this process runs as —
and no local user name is sent), extended attributes, ACLs, hard-link sharing on upload. Symlinks are
copied as links (on download only when they point inside the destination, see :mod:`.safe_extract`);
devices and fifos are skipped and listed in ``TransferResult.skipped``.

Failures are typed: :class:`~k8sterm_widget.errors.RemotePathNotFound`,
:class:`~k8sterm_widget.errors.RemoteNotADirectory`, :class:`~k8sterm_widget.errors.RemoteWriteError`
(read-only file system, no permission), :class:`~k8sterm_widget.errors.UnsafeArchive`,
:class:`~k8sterm_widget.errors.ChecksumMismatch`, :class:`~k8sterm_widget.errors.NoTransferTool`; local
problems are the usual ``FileNotFoundError``/``NotADirectoryError``. A failed download removes what it
created.
"""

from __future__ import annotations

import os
import posixpath
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import (
    NoTransferTool,
    RemoteNotADirectory,
    RemotePathNotFound,
    RemoteWriteError,
    TransferError,
)
from . import progress as progress_bars
from . import shell_download, shell_upload, tarpipe
from .local import scan
from .remote import join, normalize, parent, probe
from .safe_extract import Extractor
from .streams import Conn
from .verify import verify as verify_remote

UPLOAD_METHODS = ("auto", "tar", "cat", "head", "base64", "printf")
DOWNLOAD_METHODS = ("auto", "tar", "cat", "base64")


@dataclass
class TransferResult:
    """What a transfer did.

    ``verified``: ``"sha256"``, ``"size"`` (the pod has no sha256 tool) or ``"none"`` (not checked).
    """

    direction: str  # "upload" | "download"
    pod: str
    namespace: str
    container: str
    local: Path  # the file or directory read or written here
    remote: str  # the file or directory written or read in the container
    method: str  # "tar" | "cat" | "head" | "base64" | "printf"
    files: int
    bytes: int
    duration: float
    verified: str
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        """MB/s (10^6 bytes) over the whole call, probe and check included."""
        return self.bytes / 1e6 / self.duration if self.duration else 0.0

    def __repr__(self) -> str:
        arrow = (
            f"{self.local} -> {self.pod}:{self.remote}"
            if self.direction == "upload"
            else (f"{self.pod}:{self.remote} -> {self.local}")
        )
        skipped = f", {len(self.skipped)} skipped" if self.skipped else ""
        return (
            f"<TransferResult {self.direction} {arrow} [{self.container}] via {self.method}: "
            f"{self.files} files, {self.bytes} bytes in {self.duration:.2f}s, "
            f"verified={self.verified}{skipped}>"
        )


def _choose(method: str, tools: frozenset[str], is_dir: bool, upload: bool) -> str:
    allowed = UPLOAD_METHODS if upload else DOWNLOAD_METHODS
    if method not in allowed:
        raise ValueError(f"method must be one of {', '.join(allowed)}, not {method!r}")
    if method == "auto":
        order = ["tar", "cat", "head", "base64", "printf"] if upload else ["tar", "cat", "base64"]
        for candidate in order:
            if candidate == "cat" and is_dir:
                continue
            if candidate == "head" and "dd" not in tools:  # the framed stream cuts files with dd
                continue
            if candidate in tools or candidate == "printf":
                return candidate
        lacking = "tar nor base64 (cat copies single files only)" if is_dir else "tar, cat nor base64"
        raise NoTransferTool(
            f"the container has neither {lacking}, so this cannot be read out of it",
            hint="Copy through an ephemeral debug container (kubectl debug --target=…) that has them.",
        )
    if method == "cat" and is_dir:
        raise ValueError("method='cat' copies single files; use 'tar', 'head' or 'base64' for a directory")
    if method != "printf" and method not in tools:
        raise NoTransferTool(f"method={method!r} needs {method} in the container, and it has none")
    return method


def _checks(verify: bool | None, method: str) -> bool:
    return method != "tar" if verify is None else verify


def _warn_skipped(skipped: list[tuple[str, str]]) -> None:
    if skipped:
        listed = "; ".join(f"{name}: {why}" for name, why in skipped[:5])
        more = f" (and {len(skipped) - 5} more)" if len(skipped) > 5 else ""
        warnings.warn(f"{len(skipped)} entries not copied: {listed}{more}", stacklevel=3)


def upload(
    pod: str,
    local_path: str | os.PathLike,
    remote_path: str,
    *,
    namespace: str | None = None,
    container: str | None = None,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    progress: bool = True,
    method: str = "auto",
    verify: bool | None = None,
) -> TransferResult:
    """Copy a local file or directory into a container; returns a :class:`TransferResult`.

    ``remote_path``: an existing directory receives the source under its own name, anything else is the
    new name (its parent must exist); a trailing ``/`` demands an existing directory. ``method``: ``auto``
    (tar when the container has it, else the tar-free methods), or one of ``tar``, ``cat`` (one file),
    ``head``, ``base64``, ``printf``. ``verify``: None checks sha256s for the tar-free methods only, True
    always, False never. ``progress``: a tqdm bar (notebook or terminal) on stderr. The connection keywords
    are those of :func:`k8sterm_widget.exec`.
    """
    started = time.monotonic()
    source = Path(local_path)
    if not source.exists():
        raise FileNotFoundError(f"{source} does not exist on this machine")
    entries, total = scan(source)
    top = entries[0]
    if top.kind not in ("dir", "file"):
        raise ValueError(f"{source} is neither a regular file nor a directory")
    name = Path(os.path.abspath(source)).name
    remote = normalize(remote_path)
    conn = Conn(pod, namespace, container, context, kubeconfig)
    info = probe(conn, [remote, join(remote, name), parent(remote)])
    here, child, up = info.paths
    if here.kind == "dir":
        directory, base, existing, directory_writable = remote, name, child, here.writable
    elif remote_path.endswith("/") or remote in ("/", "."):
        raise (RemotePathNotFound if here.kind == "missing" else RemoteNotADirectory)(
            f"{remote} is not a directory in the container", path=remote
        )
    elif up.kind == "missing":
        raise RemotePathNotFound(
            f"directory {parent(remote)} does not exist in the container", path=parent(remote)
        )
    elif up.kind != "dir":
        raise RemoteNotADirectory(
            f"{parent(remote)} is not a directory in the container", path=parent(remote)
        )
    else:
        directory, base, existing, directory_writable = (
            parent(remote),
            posixpath.basename(remote),
            here,
            up.writable,
        )
    target = join(directory, base)
    if top.kind == "file" and existing.kind == "dir":
        raise RemoteWriteError(
            f"{target} is a directory in the container; a file cannot replace it", path=target
        )
    if top.kind == "dir" and existing.kind not in ("dir", "missing"):
        raise RemoteNotADirectory(f"{target} exists in the container and is not a directory", path=target)
    writable = existing.writable if existing.kind == "dir" else directory_writable
    if not writable:
        where = target if existing.kind == "dir" else directory
        raise RemoteWriteError(
            f"cannot write to {where} in the container: read-only file system or no permission", path=where
        )
    chosen = _choose(method, info.tools, top.kind == "dir", upload=True)
    skipped = [(e.rel, "a device, fifo or socket: not copied") for e in entries if e.kind == "other"]
    bar = progress_bars.make(progress, total, f"upload {pod}:{target}")
    try:
        if chosen == "tar":
            manifest = tarpipe.upload(conn, entries, directory, base, bar, hashing=_checks(verify, chosen))
        elif chosen in ("cat", "base64") and top.kind == "file":
            manifest = shell_upload.upload_file(conn, top, target, chosen, bar)
        elif chosen == "head":
            manifest = shell_upload.upload_framed(conn, entries, directory, base, bar)
        else:
            manifest = shell_upload.upload_script(conn, entries, directory, base, chosen, bar)
        bar.finish()
    finally:
        bar.close()
    sizes = {(f"{base}/{e.rel}" if e.rel else base): e.size for e in entries if e.kind == "file"}
    checked = verify_remote(conn, directory, manifest, sizes) if _checks(verify, chosen) else "none"
    _warn_skipped(skipped)
    return TransferResult(
        "upload", pod, conn.namespace or "", conn.container or "", source, target, chosen, len(manifest),
        total, time.monotonic() - started, checked, skipped,
    )  # fmt: skip


def download(
    pod: str,
    remote_path: str,
    local_path: str | os.PathLike,
    *,
    namespace: str | None = None,
    container: str | None = None,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    progress: bool = True,
    method: str = "auto",
    verify: bool | None = None,
) -> TransferResult:
    """Copy a file or directory out of a container; returns a :class:`TransferResult`.

    ``local_path``: an existing local directory receives the source under its own name, anything else is
    the new name (its parent must exist; a trailing separator demands an existing directory).
    ``method``: ``auto``, ``tar``, ``cat`` (one file) or ``base64``. Everything the pod sends is checked
    before it is written (:mod:`.safe_extract`); a failed download removes what it created. Other keywords
    as for :func:`upload`.
    """
    started = time.monotonic()
    remote = normalize(remote_path)
    conn = Conn(pod, namespace, container, context, kubeconfig)
    info = probe(conn, [remote], size_of_first=True)
    src = info.paths[0]
    if src.kind in ("missing", "link"):
        dangling = " (a dangling symlink)" if src.kind == "link" else ""
        raise RemotePathNotFound(f"{remote} does not exist in the container{dangling}", path=remote)
    if src.kind == "other":
        raise TransferError(
            f"{remote} is neither a regular file nor a directory in the container", path=remote
        )
    is_dir = src.kind == "dir"
    name = posixpath.basename(remote)
    local = Path(local_path)
    if local.is_dir():
        target = local / name if name not in ("", ".") else local
    elif str(local_path).endswith(os.sep):
        raise FileNotFoundError(f"directory {local} does not exist on this machine")
    elif not local.parent.is_dir():
        raise FileNotFoundError(f"directory {local.parent} does not exist on this machine")
    else:
        target = local
    if is_dir and os.path.lexists(target) and not target.is_dir():
        raise NotADirectoryError(f"{target} exists on this machine and is not a directory")
    if not is_dir and target.is_dir():
        raise IsADirectoryError(f"{target} is a directory on this machine; a file cannot replace it")
    chosen = _choose(method, info.tools, is_dir, upload=False)
    bar = progress_bars.make(progress, src.size, f"download {pod}:{remote}")
    checks = _checks(verify, chosen)
    extractor = Extractor(target, single=None if is_dir else name, progress=bar, hashing=checks)
    try:
        try:
            if chosen == "tar":
                tarpipe.download(conn, remote, is_dir, extractor)
            elif is_dir:
                shell_download.download_tree(conn, remote, extractor)
            else:
                sink = extractor.open_file(name, src.mode if src.mode is not None else 0o644)
                try:
                    shell_download.download_file(conn, remote, chosen, sink)
                finally:
                    sink.close()
            extractor.finish()
            bar.finish()
        finally:
            bar.close()
        root = remote if is_dir else parent(remote)
        checked = verify_remote(conn, root, extractor.manifest, extractor.sizes) if checks else "none"
    except BaseException:
        extractor.abort()
        raise
    _warn_skipped(extractor.skipped)
    return TransferResult(
        "download", pod, conn.namespace or "", conn.container or "", target, remote, chosen, extractor.files,
        extractor.bytes, time.monotonic() - started, checked, extractor.skipped,
    )  # fmt: skip


__all__ = ["TransferResult", "download", "upload"]
