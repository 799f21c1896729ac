"""Resolve a command the way runc does (Go's ``exec.LookPath``), as seen from inside a container.

runc resolves ``argv[0]`` *before* it starts the process and turns a failure into the error a user sees
(``exec: "foo": executable file not found in $PATH``), so a missing binary is a runtime error, never the
exit code 127 a shell would give. We mirror Go 1.20+ ``os/exec/lp_unix.go`` exactly, because the API
layer shows these texts verbatim:

* a name with a ``/`` is checked as a path: ``stat <p>: no such file or directory``,
  ``is a directory``, ``permission denied`` (not executable for the effective user);
* a bare name is looked up in each absolute ``$PATH`` entry; entries that are missing, directories or
  not executable are skipped, and if nothing qualifies the result is ``executable file not found in $PATH``.

The container's filesystem is reached from the host through ``/proc/<pid1>/root``. Walking that magic link
with the host's resolver would follow an *absolute* symlink inside the container (``/bin/x -> /opt/x``)
back into the host's root, so :func:`resolve_in_root` follows symlinks itself, clamped to the container
root (the same reason runc uses ``securejoin``).

This module must stay stdlib-only and import nothing from the package: the container's pid 1
(``_init.py``) imports it by file path before it pivots into the container root.
"""

from __future__ import annotations

import errno
import os
import stat

__all__ = ["LookPathError", "look_path", "resolve_in_root"]

_MAX_SYMLINKS = 40  # Linux's MAXSYMLINKS


class LookPathError(Exception):
    """``argv[0]`` cannot be executed; ``str(self)`` is Go's ``exec.Error`` text."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f'exec: "{name}": {reason}')
        self.name = name
        self.reason = reason


def _go_errno_text(err: int) -> str:
    """Go prints errno strings in lower case (``syscall.Errno.Error``); glibc capitalises the first letter."""
    text = os.strerror(err)
    return text[:1].lower() + text[1:]


def resolve_in_root(root: str, path: str) -> str:
    """Map the container path ``path`` to a host path below ``root``, following symlinks inside ``root``.

    ``root`` is ``""`` or ``"/"`` for the host itself. A missing component ends the walk early: the
    caller's ``stat`` then reports ``ENOENT`` just as it would inside the container.
    """
    root = root.rstrip("/")
    if not root:
        return os.path.normpath(path) if path.startswith("/") else os.path.normpath("/" + path)
    parts = [p for p in path.split("/") if p]
    resolved: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = root + "/" + "/".join([*resolved, part])
        try:
            target = os.readlink(candidate)
        except OSError:  # not a symlink, or missing: keep the name, stat decides later
            resolved.append(part)
            continue
        hops += 1
        if hops > _MAX_SYMLINKS:
            resolved.append(part)
            break
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p] + parts
    return root + "/" + "/".join(resolved)


def _find_executable(host_path: str, shown: str) -> str | None:
    """Go's ``findExecutable``: ``None`` when ``host_path`` may be executed, else the reason text."""
    try:
        st = os.stat(host_path)
    except OSError as exc:
        return f"stat {shown}: {_go_errno_text(exc.errno or errno.ENOENT)}"
    if stat.S_ISDIR(st.st_mode):
        return _go_errno_text(errno.EISDIR)
    if os.access(host_path, os.X_OK, effective_ids=os.access in os.supports_effective_ids):
        return None
    return _go_errno_text(errno.EACCES)


def look_path(name: str, path_env: str, root: str = "", overlay: dict[str, str] | None = None) -> str:
    """Return the container path of the program ``name`` would run, or raise :class:`LookPathError`.

    ``root`` is the host path of the container's root (``/proc/<pid1>/root``), ``""`` for the host.
    ``overlay`` maps container paths to host files that exist only virtually (process-isolation mode,
    where a distroless image's ``/app/server`` lives in the runtime's state directory). The returned
    path is the one to hand to ``execve`` *inside* the container, or the overlay's host file.
    """
    overlay = overlay or {}
    if not name:
        raise LookPathError(name, _go_errno_text(errno.ENOENT))
    if "/" in name:
        if name in overlay:
            return overlay[name]
        reason = _find_executable(resolve_in_root(root, name), name)
        if reason is not None:
            raise LookPathError(name, reason)
        return name
    for directory in path_env.split(":"):
        if not directory.startswith("/"):  # Go 1.19+ refuses relative PATH entries (ErrDot)
            continue
        candidate = directory.rstrip("/") + "/" + name
        if candidate in overlay:
            return overlay[candidate]
        if _find_executable(resolve_in_root(root, candidate), candidate) is None:
            return candidate
    raise LookPathError(name, "executable file not found in $PATH")
