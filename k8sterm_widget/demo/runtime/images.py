"""The demo cluster's image catalogue: what each image name means when there is no registry.

An image here is a recipe for a root file system made from the host, not layers from a registry: the
runtime turns it into a directory of the image's own files (its ``/etc`` with its users, its
configuration, its entrypoint script …) that every container of the image starts from as its writable
layer, plus the host programs and libraries it needs, bind-mounted read-only (:mod:`.layers`). Each entry
does what its name says:

``nginx``
    Debian's nginx (``nginx-light`` or ``nginx``) with the official image's configuration and entrypoint:
    the welcome page on ``:80``, access lines on stdout, ``bash`` and the Debian userland (the host's
    ``/usr``), no ``ps``. Without nginx on the host the entrypoint logs what is missing and sleeps.
``busybox``
    One static busybox binary (Debian's ``busybox-static``) and its applets: ``sh`` is ash with the
    ``/ # `` prompt, ``wget``, ``nc``, ``nslookup``, ``ping``, ``ip``. Without a busybox on the host the
    applets are host programs (``sh`` is dash), and the runtime says so once.
``alpine``
    The same busybox userland with Alpine's ``/etc``; ``apk`` explains that the demo cluster has no
    network to install from.
``python``
    The host's Python 3 (whatever ``3.x`` the tag names) on the Debian userland, with the packages of the
    Python environment that runs the cluster importable (``kubernetes`` among them, for in-cluster clients).
    Where that environment is private to its owner (a venv in root's home, a mode-700 checkout) and the
    pod's root is another user, only the official client and what it requires are there, linked into the
    layer's own tree.
``gcr.io/google-samples/kubernetes-bootcamp:v1``, ``docker.io/jocatalin/kubernetes-bootcamp:v2``
    The Kubernetes Basics tutorial's app: ``/server.js`` (the tutorial shows it with ``cat``) run by
    ``node server.js`` on ``:8080``, answering ``Hello Kubernetes bootcamp! | Running on: <pod> | v=1``
    (``v=2``), logging each request as the real image does; ``bash`` and ``curl`` inside. Node.js, bash and
    curl are the host's (the
    real image is ``node:6.3.1`` on Debian jessie; ``node --version`` tells the host's). ``:v10`` — the tag
    the tutorial uses for a failed rollout — does not exist, as on the registry.
``gcr.io/distroless/static-debian12``
    No shell, no coreutils: ``/app/server`` (a ``sleep``) and the libraries it needs.
``registry.access.redhat.com/ubi9/ubi-micro``
    bash and coreutils only: no tar, find or package manager.

Tags: each Docker Hub repository accepts the tags it really publishes (``nginx:1.14.2``, ``busybox:1.28``,
``python:3.12-slim``, ``alpine:3.20`` …); a tag it never had (``nginx:1.161``) or any other image is what
a real kubelet cannot pull: :func:`lookup` returns ``None`` and the node reports ``ErrImagePull``. Every
tag of a repository runs the same host programs, so version strings are the host's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

__all__ = [
    "ALPINE", "BOOTCAMP_V1", "BOOTCAMP_V2", "BUSYBOX", "DISTROLESS", "IMAGES", "NGINX", "PYTHON", "UBI_MICRO",
    "Image", "lookup", "normalize",
]  # fmt: skip

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
    #: What the root file system is made of: ``debian`` (the host's ``/usr`` read-only under the image's
    #: own ``/etc``), ``busybox``/``alpine`` (one busybox binary and its applets), ``restricted`` (only
    #: ``userland``, staged from host programs).
    flavour: str = "restricted"
    #: ``restricted`` images (and busybox without a host busybox): the only programs in the bin dirs.
    userland: tuple[str, ...] | None = None
    #: Userland name -> host program names to try in order (default: the name itself).
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _frozen({}))
    #: Extra container files (absolute path) -> host program names to put there, first found wins.
    files: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _frozen({}))
    #: Userland name -> shell script staged instead of a host program (where the host's differs).
    scripts: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    #: Files of the image's own layer (absolute path -> text), e.g. an app's source.
    own_files: Mapping[str, str] = field(default_factory=lambda: _frozen({}))
    #: Host programs the main process needs, for the start notice when the host lacks one.
    needs: tuple[str, ...] = ()
    #: The signal that stops the main process gracefully (the image's ``STOPSIGNAL``, which the kubelet
    #: and containerd use).
    stop_signal: str = "SIGTERM"
    #: Process mode (no namespaces): the main process when the pod gives no command — nothing that would
    #: listen on the host's network or needs the image's own files (``()``: the usual one).
    process_mode_argv: tuple[str, ...] = ()

    @property
    def restricted(self) -> bool:
        """True when the container's bin dirs hold only this image's programs, not the host's."""
        return self.flavour != "debian"

    def argv(self, command: list[str] | None = None, args: list[str] | None = None) -> list[str]:
        """The main process's argv by Kubernetes' rules (``command``/``args`` vs ENTRYPOINT/CMD).

        An empty list counts as unset, because the API drops empty lists (``omitempty``).
        """
        if command:
            return [*command, *(args or [])]
        return [*self.entrypoint, *(args if args else self.cmd)]


NGINX = Image(
    name="nginx:1.27",
    env=_frozen(
        {
            "PATH": STANDARD_PATH,
            "NGINX_VERSION": "1.27.0",
            "NJS_VERSION": "0.8.4",
            "NJS_RELEASE": "1~bookworm",
            "PKG_RELEASE": "1~bookworm",
            "DYNPKG_RELEASE": "1~bookworm",
        }
    ),
    entrypoint=("/docker-entrypoint.sh",),
    cmd=("nginx", "-g", "daemon off;"),
    flavour="debian",
    stop_signal="SIGQUIT",
    process_mode_argv=("sleep", "infinity"),
)

#: Applets a busybox image needs, when the host has no busybox and they come from host programs.
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
    env=_frozen({"PATH": STANDARD_PATH}),
    cmd=("sh",),  # like the real image: without a command (or a tty + stdin) it exits at once
    flavour="busybox",
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

ALPINE = Image(
    name="alpine:3.20",
    env=_frozen({"PATH": STANDARD_PATH}),
    cmd=("/bin/sh",),
    flavour="alpine",
    userland=_BUSYBOX_APPLETS,
    sources=BUSYBOX.sources,
    scripts=BUSYBOX.scripts,
)

PYTHON = Image(
    name="python:3.12",
    env=_frozen(
        {
            "PATH": STANDARD_PATH,
            "LANG": "C.UTF-8",
            "GPG_KEY": "7169605F62C751356D054A26A821E680E5FA6305",
            "PYTHON_VERSION": "3.12.8",
        }
    ),
    cmd=("python3",),
    flavour="debian",
)

# The bootcamp's server.js, as the tutorial shows it with `cat server.js` (v2 differs only in its v=2).
_BOOTCAMP_SERVER = """\
var http = require('http');
var requests=0;
var podname= process.env.HOSTNAME;
var startTime;
var host;
var handleRequest = function(request, response) {
  response.setHeader('Content-Type', 'text/plain');
  response.writeHead(200);
  response.write("Hello Kubernetes bootcamp! | Running on: ");
  response.write(host);
  response.end(" | v=%s\\n");
  console.log("Running On:" ,host, "| Total Requests:", ++requests,"| App Uptime:", \
(new Date() - startTime)/1000 , "seconds", "| Log Time:",new Date());
}
var www = http.createServer(handleRequest);
www.listen(8080,function () {
    startTime = new Date();;
    host = process.env.HOSTNAME;
    console.log ("Kubernetes Bootcamp App Started At:",startTime, "| Running On: " ,host, "\\n" );
});
"""


def _bootcamp(name: str, version: str, aliases: tuple[str, ...]) -> Image:
    return Image(
        name=name,
        aliases=aliases,
        env=_frozen({"PATH": STANDARD_PATH, "NPM_CONFIG_LOGLEVEL": "info", "NODE_VERSION": "6.3.1"}),
        cmd=("/bin/sh", "-c", "node server.js"),  # the Dockerfile's `CMD node server.js`
        flavour="debian",
        own_files=_frozen({"/server.js": _BOOTCAMP_SERVER % version}),
        needs=("node",),
        process_mode_argv=("sleep", "infinity"),  # it would listen on the host's :8080
    )


BOOTCAMP_V1 = _bootcamp(
    "gcr.io/google-samples/kubernetes-bootcamp:v1", "1", ("jocatalin/kubernetes-bootcamp:v1",)
)
BOOTCAMP_V2 = _bootcamp(
    "docker.io/jocatalin/kubernetes-bootcamp:v2", "2", ("jocatalin/kubernetes-bootcamp:v2",)
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
    cmd=("infinity",),  # /app/server is the host's sleep(1)
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

IMAGES: tuple[Image, ...] = (NGINX, BUSYBOX, ALPINE, PYTHON, BOOTCAMP_V1, BOOTCAMP_V2, DISTROLESS, UBI_MICRO)

_VARIANT = (
    r"(-(bookworm|bullseye|buster|slim|slim-bookworm|slim-bullseye|alpine|alpine3\.\d{1,2}|alpine-slim|perl"
    r"|alpine-perl|otel|musl|glibc|uclibc))?"
)
#: Docker Hub repositories and the tags they publish; any other tag cannot be pulled.
_REPOSITORIES: dict[str, tuple[Image, re.Pattern[str]]] = {
    "nginx": (NGINX, re.compile(
        r"(latest|stable|mainline|alpine|perl|bookworm|alpine-slim|(stable|mainline)" + _VARIANT
        + r"|1(\.([89]|1\d|2[0-7])(\.\d{1,2})?)?" + _VARIANT + ")")),
    "busybox": (BUSYBOX, re.compile(
        r"(latest|stable|musl|glibc|uclibc|1(\.(2\d|3[0-7])(\.\d)?)?" + _VARIANT + ")")),
    "alpine": (ALPINE, re.compile(r"(latest|edge|3(\.([0-9]|1\d|2[0-2])(\.\d{1,2})?)?)")),
    "python": (PYTHON, re.compile(
        r"(latest|slim|alpine|bookworm|3(\.([6-9]|1[0-4])(\.\d{1,2})?)?" + _VARIANT + ")")),
}  # fmt: skip

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
    found = _INDEX.get(reference) or _INDEX.get(normalize(reference))
    if found is not None:
        return found
    repository, _, tag = normalize(reference).rpartition(":")
    entry = _REPOSITORIES.get(repository)
    if entry is not None and entry[1].fullmatch(tag):
        return entry[0]
    return None
