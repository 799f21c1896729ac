"""Stage a restricted image's programs (busybox's applets, distroless's app) from the host's userland.

Staging happens once per runtime and image, into ``<state_dir>/userland/<image>/``:

* ``bin/`` holds one file per program the image offers, named as the image names it (busybox's ``sh`` and
  ``ash`` are both dash). Symlinks are resolved first (``/usr/bin/awk`` -> ``/etc/alternatives/awk`` ->
  ``mawk``) because the container will not see the host's ``/etc/alternatives`` targets under the same
  names, and a staged *file* works wherever it is mounted.
* ``files/`` holds extra container files such as distroless's ``/app/server``.
* a few programs are small shell scripts instead (busybox's ``ps``, see :mod:`.images`).

In namespace mode the files are **hard links** where possible (no copying, no disk use); that is safe
because the container only ever sees them through a read-only bind mount. In process mode the container
runs with the host's permissions and the staged directory is on its ``PATH``, so a hard link would let
``echo > $(which ls)`` truncate the host's ``/usr/bin/ls``: there we always copy. Shared libraries are
not staged: the container keeps seeing the host's ``/usr/lib``.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .images import STANDARD_PATH, Image

__all__ = ["Staged", "host_program", "stage"]


@dataclass(frozen=True)
class Staged:
    """Where an image's staged userland lives on the host."""

    #: Directory that replaces the container's bin dirs; ``None`` = the host's userland is used as is.
    bin_dir: Path | None = None
    #: Container path -> host path of the staged file (distroless's ``/app/server``).
    files: dict[str, str] = field(default_factory=dict)
    #: Programs the image lists that the host does not have (reported, not fatal).
    missing: tuple[str, ...] = ()


def host_program(name: str) -> str | None:
    """The host file behind a program name (symlinks resolved), searched on the standard ``PATH``."""
    for directory in STANDARD_PATH.split(":"):
        candidate = os.path.join(directory, name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    return None


def _first_program(names: tuple[str, ...]) -> str | None:
    for name in names:
        found = host_program(name)
        if found:
            return found
    return None


def _place(src: str, dst: Path, *, hardlink: bool) -> None:
    if hardlink:
        try:
            os.link(src, dst)
            return
        except OSError:  # other filesystem, or protected_hardlinks for a file we do not own
            pass
    shutil.copy2(src, dst)
    os.chmod(dst, 0o755)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def stage(image: Image, state_dir: Path, *, hardlink: bool) -> Staged:
    """Build (or rebuild) ``image``'s staged userland below ``state_dir`` and describe it."""
    if not image.restricted and not image.files:
        return Staged()
    dest = state_dir / "userland" / _slug(image.name)
    shutil.rmtree(dest, ignore_errors=True)
    bin_dir = dest / "bin"
    bin_dir.mkdir(parents=True, mode=0o755)
    missing: list[str] = []
    for name, script in image.scripts.items():
        (bin_dir / name).write_text(script)
        os.chmod(bin_dir / name, 0o755)
    for name in image.userland or ():
        if name in image.scripts:  # never a hard link to the host's program: the script is written
            continue
        src = _first_program(image.sources.get(name, (name,)))
        if src is None:
            missing.append(name)
            continue
        _place(src, bin_dir / name, hardlink=hardlink)
    files: dict[str, str] = {}
    for container_path, candidates in image.files.items():
        src = _first_program(candidates)
        if src is None:
            missing.append(container_path)
            continue
        target = dest / "files" / container_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        _place(src, target, hardlink=hardlink)
        files[container_path] = str(target)
    return Staged(bin_dir=bin_dir if image.restricted else None, files=files, missing=tuple(missing))
