"""The demo cluster's image catalogue: what each image name means when a "container" is a host process.

There is no registry and no image layers. An image here is a *view of the host's userland*: which
programs the container can run, its environment (``PATH`` …), its default entrypoint, and a few extra
files. That is enough to make the differences a terminal user notices real — ``bash`` exists in nginx but
not in busybox, distroless has no shell at all — without downloading anything.

``userland`` is ``None`` for "the whole host userland" or a tuple of program names. Restricted images are
made real by the runtime (see :mod:`.userland`): in namespace mode their programs are staged into a
directory that is bind-mounted over ``/usr/bin`` inside the container, in process mode ``PATH`` points at
that directory. ``sources`` says which host program provides a name when it differs (busybox's ``sh`` and
``ash`` are dash: small, POSIX, and clearly *not* bash).

An image the catalogue does not know is what a real kubelet cannot pull: the API layer shows the
container as waiting with reason ``ErrImagePull``; :func:`lookup` returns ``None`` for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

__all__ = ["BUSYBOX", "DISTROLESS", "IMAGES", "NGINX", "UBI_MICRO", "Image", "lookup", "normalize"]

#: The PATH every Debian-based image sets (and runc's default when an image sets none).
STANDARD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


_V = TypeVar("_V")


def _frozen(mapping: Mapping[str, _V]) -> Mapping[str, _V]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Image:
    """One catalogue entry. Instances are immutable and shared by every container of that image."""

    name: str
    aliases: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=lambda: _frozen({"PATH": STANDARD_PATH}))
    #: Docker's ENTRYPOINT and CMD; a pod's ``command`` replaces both, its ``args`` replace ``cmd``.
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = "/"
    #: ``None`` = the host's whole userland; otherwise the only programs in the container's bin dirs.
    userland: tuple[str, ...] | None = None
    #: Userland name -> host program names to try in order (default: the name itself).
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _frozen({}))
    #: Extra container files (absolute path) -> host program names to copy there, first found wins.
    files: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _frozen({}))
    #: Userland name -> shell script staged instead of a host program (where the host's differs).
    scripts: Mapping[str, str] = field(default_factory=lambda: _frozen({}))

    @property
    def restricted(self) -> bool:
        """True when the runtime must hide the host's programs and stage this image's own set."""
        return self.userland is not None

    def argv(self, command: list[str] | None = None, args: list[str] | None = None) -> list[str]:
        """The main process's argv by Kubernetes' rules (``command``/``args`` vs ENTRYPOINT/CMD).

        An empty list counts as unset, because the API drops empty lists (``omitempty``).
        """
        if command:
            return [*command, *(args or [])]
        return [*self.entrypoint, *(args if args else self.cmd)]


NGINX = Image(
    name="nginx:1.27",
    aliases=("nginx", "nginx:latest", "nginx:1", "nginx:1.27.0", "nginx:stable"),
    env=_frozen(
        {
            "PATH": STANDARD_PATH,
            "NGINX_VERSION": "1.27.0",
            "NJS_VERSION": "0.8.4",
            "PKG_RELEASE": "2~bookworm",
        }
    ),
    # Serving HTTP is not the point of the demo; a main process that lives forever is.
    entrypoint=("sleep",),
    cmd=("infinity",),
)

#: busybox's applets, as far as the host has them. ``sh``/``ash`` are dash; there is deliberately no bash.
_BUSYBOX_APPLETS = (
    "sh", "ash", "[", "awk", "base64", "basename", "cat", "chgrp", "chmod", "chown", "clear", "cmp",
    "cp", "cut", "date", "dd", "df", "diff", "dirname", "du", "echo", "env", "expr", "false", "find",
    "free", "grep", "egrep", "fgrep", "gunzip", "gzip", "head", "hostname", "id", "kill", "less", "ln",
    "ls", "md5sum", "mkdir", "mkfifo", "mktemp", "more", "mv", "nice", "nohup", "nproc", "od", "pgrep",
    "pkill", "printenv", "printf", "ps", "pwd", "readlink", "realpath", "rm", "rmdir", "sed", "seq",
    "sha1sum", "sha256sum", "sha512sum", "sleep", "sort", "split", "stat", "stty", "sync", "tail", "tar",
    "tee", "test", "timeout", "top", "touch", "tr", "true", "tty", "uname", "uniq", "uptime", "vi",
    "watch", "wc", "which", "whoami", "xargs", "yes", "zcat",
)  # fmt: skip

# busybox's ps lists every process of the PID namespace in its own format; procps' ps, run without options,
# only those of the calling terminal — and a debug container's first `ps` must show its target's processes.
_BUSYBOX_PS = r"""#!/bin/sh
echo "PID   USER     TIME  COMMAND"
for pid in $(for d in /proc/[0-9]*; do echo "${d#/proc/}"; done | sort -n); do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    set -- ${stat##*) }
    shift 11
    ticks=$(( ($1 + $2) / 100 ))
    uid=$(sed -n 's/^Uid:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null)
    user=$(sed -n "s/^\([^:]*\):[^:]*:$uid:.*/\1/p" /etc/passwd 2>/dev/null | head -n 1)
    if [ "$pid" = "$$" ]; then
        cmd=ps
    else
        cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)
        while [ "${cmd% }" != "$cmd" ]; do cmd=${cmd% }; done
        [ -n "$cmd" ] || cmd="[$(cat "/proc/$pid/comm" 2>/dev/null)]"
    fi
    printf '%5s %-8.8s %2d:%02d %s\n' "$pid" "${user:-$uid}" $((ticks / 60)) $((ticks % 60)) "$cmd"
done
"""

BUSYBOX = Image(
    name="busybox:1.36",
    aliases=("busybox", "busybox:latest", "busybox:1", "busybox:1.36.1", "busybox:stable"),
    env=_frozen({"PATH": STANDARD_PATH}),
    cmd=("sh",),  # like the real image: without a command (or a tty + stdin) it exits at once
    userland=_BUSYBOX_APPLETS,
    sources=_frozen(
        {
            "sh": ("dash", "sh"),
            "ash": ("dash", "sh"),
            "awk": ("mawk", "gawk", "awk"),
            "vi": ("vi", "vim.tiny", "nvi"),
        }
    ),
    scripts=_frozen({"ps": _BUSYBOX_PS}),
)

DISTROLESS = Image(
    name="gcr.io/distroless/static-debian12",
    aliases=(
        "distroless",
        "gcr.io/distroless/static-debian12:latest",
        "gcr.io/distroless/static",
        "gcr.io/distroless/static:latest",
    ),
    env=_frozen({"PATH": STANDARD_PATH, "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt"}),
    entrypoint=("/app/server",),
    cmd=("infinity",),  # /app/server is a copy of sleep(1)
    userland=(),
    files=_frozen({"/app/server": ("sleep",)}),
)

#: ubi-micro's userland: bash and coreutils-single, but no tar, find, grep or package manager. ``kubectl cp``
#: fails on such images (kubernetes/kubernetes#58512); the tar-free transfer path of ``upload``/``download``
#: is tested on it.
_UBI_MICRO_PROGRAMS = (
    "bash", "sh", "[", "base64", "basename", "cat", "chgrp", "chmod", "chown", "cp", "cut", "date", "dd",
    "df", "dirname", "du", "echo", "env", "expr", "false", "head", "id", "ln", "ls", "md5sum", "mkdir",
    "mktemp", "mv", "nproc", "od", "printf", "pwd", "readlink", "realpath", "rm", "rmdir", "seq", "sha1sum",
    "sha256sum", "sha512sum", "sleep", "sort", "stat", "tail", "tee", "test", "touch", "tr", "true",
    "uname", "uniq", "wc", "whoami", "yes",
)  # fmt: skip

UBI_MICRO = Image(
    name="registry.access.redhat.com/ubi9/ubi-micro:9.5",
    aliases=(
        "ubi-micro",
        "ubi9/ubi-micro",
        "registry.access.redhat.com/ubi9/ubi-micro",
        "registry.access.redhat.com/ubi9/ubi-micro:latest",
    ),
    env=_frozen({"PATH": STANDARD_PATH, "container": "oci"}),
    cmd=("/bin/bash",),
    userland=_UBI_MICRO_PROGRAMS,
    sources=_frozen({"sh": ("bash",)}),
)

IMAGES: tuple[Image, ...] = (NGINX, BUSYBOX, DISTROLESS, UBI_MICRO)

_REGISTRY_PREFIXES = ("docker.io/library/", "index.docker.io/library/", "docker.io/", "library/")


def normalize(reference: str) -> str:
    """Reduce an image reference to catalogue form: no Docker Hub prefix, no digest, ``:latest`` default."""
    ref = reference.strip()
    ref = ref.split("@", 1)[0]
    for prefix in _REGISTRY_PREFIXES:
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    last = ref.rsplit("/", 1)[-1]
    if ":" not in last:
        ref += ":latest"
    return ref


_INDEX: dict[str, Image] = {}
for _image in IMAGES:
    for _name in (_image.name, *_image.aliases):
        _INDEX[normalize(_name)] = _image
        _INDEX[_name] = _image


def lookup(reference: str) -> Image | None:
    """The image for a pod spec's ``image`` string; ``None`` when unknown (a kubelet's ``ErrImagePull``)."""
    return _INDEX.get(reference) or _INDEX.get(normalize(reference))
