"""Turn a catalogue :class:`~.images.Image` into what its containers' root file systems are made of.

Built once per runtime and image, below ``<state_dir>/layers/<image>/``:

* ``root/`` — the image's **own files**: ``/etc`` (its users and groups, Debian's or Alpine's
  configuration, nginx's ``/etc/nginx``), ``/root``, ``/var``, the entrypoint script, the busybox applet
  links … Every container of the image gets a fresh copy of this tree in a tmpfs as its writable layer,
  so edits succeed and vanish with the container. No host secret is in it: host ``/etc`` files are
  copied only from an allow-list of public configuration (never ``shadow``, keys, ``machine-id``), and
  the image's ``passwd``/``group``/``shadow`` are the image's, not the host's;
* **binds** — host programs and libraries the image needs, mounted read-only: the host's ``/usr`` for
  Debian-based images (nginx, python), the one ``busybox`` binary for busybox and alpine, a program and
  exactly the libraries the dynamic loader lists for it for distroless, a staged ``bin`` directory (of
  hard links to host programs) for ubi-micro.

As root the layer's files are handed to the id range of the pods' user namespace, so they are root's
inside the container; without root they already belong to the user that is root inside.
"""

from __future__ import annotations

import atexit
import functools
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from .images import Image
from .userland import Staged, host_program, stage

__all__ = ["Layer", "build", "host_busybox", "needed_libraries"]

#: Host /etc entries a Debian-based image may show: public configuration of the programs in ``/usr``.
ETC_ALLOWED = (
    "adduser.conf", "alternatives", "bash.bashrc", "bindresvport.blacklist", "debian_version",
    "deluser.conf", "environment", "ethertypes", "gai.conf", "host.conf", "inputrc", "issue", "issue.net",
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "login.defs", "mime.types", "networks", "os-release",
    "profile", "profile.d", "protocols", "rpc", "services", "shells", "skel", "terminfo", "xattr.conf",
    "timezone", "localtime", "magic", "magic.mime", "mke2fs.conf", "nanorc", "vim", "wgetrc",
    "python3", "python3.11", "python3.12", "python3.13", "dpkg", "apt", "debconf.conf",
)  # fmt: skip
MAX_COPIED = 4 << 20

_DEBIAN_PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
uucp:x:10:10:uucp:/var/spool/uucp:/usr/sbin/nologin
proxy:x:13:13:proxy:/bin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
irc:x:39:39:ircd:/run/ircd:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
"""
_DEBIAN_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
news:x:9:
uucp:x:10:
man:x:12:
proxy:x:13:
kmem:x:15:
dialout:x:20:
fax:x:21:
voice:x:22:
cdrom:x:24:
floppy:x:25:
tape:x:26:
sudo:x:27:
audio:x:29:
dip:x:30:
www-data:x:33:
backup:x:34:
operator:x:37:
list:x:38:
irc:x:39:
src:x:40:
shadow:x:42:
utmp:x:43:
video:x:44:
sasl:x:45:
plugdev:x:46:
staff:x:50:
games:x:60:
users:x:100:
nogroup:x:65534:
"""
_BUSYBOX_PASSWD = """root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
sync:x:4:100:sync:/bin:/bin/sync
mail:x:8:8:mail:/var/spool/mail:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
operator:x:37:37:Operator:/var:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
"""
_BUSYBOX_GROUP = """root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
disk:x:6:
lp:x:7:
mail:x:8:
kmem:x:9:
wheel:x:10:root
cdrom:x:11:
dialout:x:18:
floppy:x:19:
video:x:28:
audio:x:29:
tape:x:32:
www-data:x:33:
operator:x:37:
utmp:x:43:
plugdev:x:46:
staff:x:50:
lock:x:54:
netdev:x:82:
users:x:100:
nogroup:x:65534:
"""
_ALPINE_PASSWD = """root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""
_ALPINE_GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin
adm:x:4:root,daemon
tty:x:5:
disk:x:6:root
lp:x:7:lp
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
tape:x:26:root
video:x:27:root
netdev:x:28:
kvm:x:34:kvm
games:x:35:
shadow:x:42:
www-data:x:82:
users:x:100:games
ntp:x:123:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
"""
_DISTROLESS_PASSWD = """root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
"""
_DISTROLESS_GROUP = "root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n"
_NSSWITCH = """passwd:         files
group:          files
shadow:         files
gshadow:        files

hosts:          files dns
networks:       files

protocols:      db files
services:       db files
ethers:         db files
rpc:            db files

netgroup:       nis
"""

# The official nginx image's configuration (nginx.conf and conf.d/default.conf of nginx:1.27).
_NGINX_CONF = """
user  nginx;
worker_processes  auto;

error_log  /var/log/nginx/error.log notice;
pid        /var/run/nginx.pid;


events {
    worker_connections  1024;
}


http {
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;

    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';

    access_log  /var/log/nginx/access.log  main;

    sendfile        on;
    #tcp_nopush     on;

    keepalive_timeout  65;

    #gzip  on;

    include /etc/nginx/conf.d/*.conf;
}
"""
_NGINX_DEFAULT = """server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    #access_log  /var/log/nginx/host.access.log  main;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    #error_page  404              /404.html;

    # redirect server error pages to the static page /50x.html
    #
    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""
# The official image's entrypoint, reduced to what it prints and does on a default start.
_NGINX_ENTRYPOINT = """#!/bin/sh
# vim:sw=4:ts=4:et

set -e

entrypoint_log() {
    if [ -z "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ]; then
        echo "$@"
    fi
}

if [ "$1" = "nginx" ] || [ "$1" = "nginx-debug" ]; then
    if /usr/bin/find "/docker-entrypoint.d/" -mindepth 1 -maxdepth 1 -type f -print -quit 2>/dev/null \\
            | read v; then
        entrypoint_log "$0: /docker-entrypoint.d/ is not empty, will attempt to perform configuration"

        entrypoint_log "$0: Looking for shell scripts in /docker-entrypoint.d/"
        find "/docker-entrypoint.d/" -follow -type f -print | sort -V | while read -r f; do
            case "$f" in
                *.envsh)
                    if [ -x "$f" ]; then
                        entrypoint_log "$0: Sourcing $f";
                        . "$f"
                    else
                        entrypoint_log "$0: Ignoring $f, not executable";
                    fi
                    ;;
                *.sh)
                    if [ -x "$f" ]; then
                        entrypoint_log "$0: Launching $f";
                        "$f"
                    else
                        entrypoint_log "$0: Ignoring $f, not executable";
                    fi
                    ;;
                *) entrypoint_log "$0: Ignoring $f";;
            esac
        done

        entrypoint_log "$0: Configuration complete; ready for start up"
    else
        entrypoint_log "$0: No files found in /docker-entrypoint.d/, skipping configuration"
    fi
    if ! command -v "$1" >/dev/null 2>&1; then
        echo "$0: nginx is not installed on the host of this demo cluster (apt install nginx-light);" \\
             "the container sleeps instead of serving" >&2
        exec sleep infinity
    fi
fi

exec "$@"
"""
_NGINX_HOOKS = {
    "10-listen-on-ipv6-by-default.sh": """#!/bin/sh
ME=$(basename "$0")
echo "$ME: info: Getting the checksum of /etc/nginx/conf.d/default.conf"
echo "$ME: info: Enabled listen on IPv6 in /etc/nginx/conf.d/default.conf"
exit 0
""",
    "15-local-resolvers.envsh": '#!/bin/sh\n[ "${NGINX_ENTRYPOINT_LOCAL_RESOLVERS:-}" ] || return 0\n',
    "20-envsubst-on-templates.sh": "#!/bin/sh\nexit 0\n",
    "30-tune-worker-processes.sh": "#!/bin/sh\nexit 0\n",
}
_APK = """#!/bin/sh
# The demo cluster's alpine image: busybox and Alpine's /etc, without apk-tools or a network.
case "$1" in
    --version|-V) echo "apk-tools 2.14.4, compiled for x86_64."; exit 0 ;;
    info|list) exit 0 ;;
esac
echo "ERROR: apk: this demo cluster has no network, so no package can be downloaded;" \\
     "the image offers busybox's applets only" >&2
exit 1
"""


@dataclass(frozen=True)
class Layer:
    """What one image's containers are made of (see the module doc)."""

    #: The image's own files, copied into each container's writable layer.
    root: Path
    #: ``(host path, container path)`` pairs bind-mounted read-only (files or directories).
    binds: tuple[tuple[str, str], ...] = ()
    #: Debian flavour: the host's ``/usr`` is bound; ``/usr/local`` is then a tmpfs of the container's own,
    #: filled from ``root/usr/local``.
    host_usr: bool = False
    #: A restricted image's staged userland (bound over the bin dirs) and extra files.
    staged: Staged = field(default_factory=Staged)
    #: One line for the start notice when the host lacks what the image needs ("" when complete).
    notice: str = ""


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _copy_etc(dest: Path, names: tuple[str, ...] = ETC_ALLOWED) -> None:
    """Copy the allowed host /etc entries (regular files, directories, symlinks; nothing else, no giants)."""
    for name in names:
        src = Path("/etc") / name
        if not os.path.lexists(src):
            continue
        target = dest / name
        if src.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src), target)
        elif src.is_dir():
            for dirpath, dirnames, filenames in os.walk(src):
                rel = Path(dirpath).relative_to("/etc")
                (dest / rel).mkdir(parents=True, exist_ok=True)
                for entry in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
                    _copy_one(Path(dirpath) / entry, dest / rel / entry)
        else:
            _copy_one(src, target)


def _copy_one(src: Path, dst: Path) -> None:
    try:
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif src.is_file() and src.stat().st_size <= MAX_COPIED:
            shutil.copyfile(src, dst)
            os.chmod(dst, src.stat().st_mode & 0o755)
    except OSError:  # unreadable (a private file in an allowed directory): not for containers anyway
        pass


def _skeleton(root: Path, *, dirs: tuple[str, ...] = ()) -> None:
    for name in ("bin", "dev", "etc", "home", "proc", "root", "run", "sys", "tmp", "var", *dirs):
        (root / name).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "root", 0o700)
    os.chmod(root / "tmp", 0o1777)
    for sub in ("cache", "lib", "log", "spool", "mail", "opt", "local", "backups"):
        (root / "var" / sub).mkdir(exist_ok=True)
    (root / "var" / "tmp").mkdir(exist_ok=True)
    os.chmod(root / "var" / "tmp", 0o1777)
    os.symlink("../run", root / "var" / "run")
    os.symlink("../run/lock", root / "var" / "lock")
    (root / "run" / "lock").mkdir()
    os.symlink("../proc/self/mounts", root / "etc" / "mtab")


@functools.cache
def host_busybox() -> tuple[str, bool] | None:
    """The host's busybox and whether it is static (a dynamic one needs the host's libraries too)."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            real = os.path.realpath(candidate)
            return real, not _interpreter(real)
    return None


def _interpreter(path: str) -> bool:
    """Whether an ELF file asks for a dynamic loader (has a ``PT_INTERP`` program header)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # not a 64-bit ELF: assume dynamic
                return True
            phoff = int.from_bytes(head[32:40], "little")
            phentsize = int.from_bytes(head[54:56], "little")
            phnum = int.from_bytes(head[56:58], "little")
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return True
    return any(int.from_bytes(table[i : i + 4], "little") == 3 for i in range(0, len(table), phentsize))


@functools.cache
def _busybox_applets(busybox: str) -> tuple[str, ...]:
    """``busybox --list-full``: applets with their directory (``bin/sh``, ``usr/bin/wget`` …)."""
    out = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=False).stdout
    return tuple(line.strip() for line in out.splitlines() if line.strip() and "/" in line.strip())


def needed_libraries(program: str) -> list[str]:
    """The shared libraries (and loader) the host's dynamic loader resolves for ``program``."""
    if not _interpreter(program):
        return []
    try:
        out = subprocess.run(
            ["ldd", program], capture_output=True, text=True, check=False, timeout=10, env={"LC_ALL": "C"}
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = []
    for line in out.splitlines():
        match = re.search(r"(?:=>\s*)?(/\S+)\s+\(0x", line)
        if match and os.path.isfile(match.group(1)):
            found.append(match.group(1))
    return found


def _reachable_by(path: str, owner: tuple[int, int] | None) -> bool:
    """Whether a pod's root can read ``path`` through every directory above it: with ``owner`` (the host
    uid and gid a pod's root is mapped to) by the permission bits; without, it is this process's own user.
    A bind of a path it cannot reach fails the container's start ("Permission denied"), e.g. a venv in
    root's private home or a checkout in a mode-700 directory."""
    if owner is None:
        return True
    uid, gid = owner
    parts = Path(path).parts
    for depth in range(1, len(parts) + 1):
        try:
            st = os.stat(Path(*parts[:depth]))
        except OSError:
            return False
        need = 0o5 if depth == len(parts) else 0o1  # the last one read and entered, the others entered
        if st.st_uid == uid:
            bits = st.st_mode >> 6
        elif st.st_gid == gid:
            bits = st.st_mode >> 3
        else:
            bits = st.st_mode
        if bits & need != need:
            return False
    return True


def _python_site() -> str | None:
    """The site-packages of the Python running the cluster, if the host's ``/usr`` Python matches it."""
    site = sysconfig.get_paths().get("purelib")
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if site and os.path.isdir(site) and os.path.exists(f"/usr/bin/{version}"):
        return site
    return None


#: What a python pod gets of this Python's packages when their directory is out of its root's reach.
CLIENT_DISTRIBUTIONS = ("kubernetes",)


def _closure(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The installed distributions ``names`` need, with everything they require (extras left out).

    Markers other than extras are not evaluated: a requirement that does not apply here is simply not
    installed, or costs a few links more.
    """
    found: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in found:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found[key] = dist
        for requirement in dist.requires or []:
            spec, _, marker = requirement.partition(";")
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
            if match and "extra" not in marker:
                todo.append(match.group(1))
    return list(found.values())


def _mirror(distributions: list[importlib.metadata.Distribution], dest: Path) -> int:
    """Hard-link each distribution's files under ``dest``, a site-packages a pod's root can walk: a link is
    reached through our own directories, whatever hides the original.

    A file others may not read (a venv installed under ``umask 077``), or one on another file system, is
    copied instead, readable, with its modification time: a compiled module is valid only for its source's
    time, and the pod could not rewrite it (the bind is read-only). Returns how many files were placed.
    """
    placed = 0
    for dist in distributions:
        for entry in dist.files or []:
            if entry.is_absolute() or ".." in entry.parts:  # scripts, data outside site-packages
                continue
            source = Path(str(dist.locate_file(entry)))
            pairs = [(source, dest / entry)]
            if source.suffix == ".py":  # the compiled module too: the pod cannot write it (read-only bind)
                cached = Path(importlib.util.cache_from_source(str(source)))
                pairs.append((cached, dest / entry.parent / "__pycache__" / cached.name))
            for src, target in pairs:
                if not src.is_file():
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                mode = src.stat().st_mode
                try:
                    if not mode & 0o004:
                        raise PermissionError("not readable by others")
                    os.link(src, target)
                except FileExistsError:
                    continue
                except OSError:
                    shutil.copy2(src, target)
                    os.chmod(target, 0o755 if mode & 0o111 else 0o644)
                placed += 1
    for folder, _dirs, _files in os.walk(dest):
        os.chmod(folder, 0o755)
    return placed


_CACHE: dict[tuple[str, tuple[int, int] | None, bool], Layer] = {}
_CACHE_ROOT: list[Path] = []
_CACHE_LOCK = threading.Lock()


def cached(image: Image, *, owner: tuple[int, int] | None, uid_range: bool = True) -> Layer:
    """``image``'s layer, built once per process (clusters of one process share it: it is never written).

    It lives in a temporary directory of its own (walkable by a pod's root, another uid when mapped),
    removed when the process exits.
    """
    key = (image.name, owner, uid_range)
    with _CACHE_LOCK:
        layer = _CACHE.get(key)
        if layer is None:
            if not _CACHE_ROOT:
                root = Path(tempfile.mkdtemp(prefix="k8sterm-layers-"))
                os.chmod(root, 0o711)
                atexit.register(shutil.rmtree, root, True)
                _CACHE_ROOT.append(root)
            where = _CACHE_ROOT[0] / f"{len(_CACHE)}"
            layer = build(image, where, owner=owner, hardlink=True, uid_range=uid_range)
            _CACHE[key] = layer
        return layer


def build(
    image: Image, state_dir: Path, *, owner: tuple[int, int] | None, hardlink: bool, uid_range: bool = True
) -> Layer:
    """Build ``image``'s layer below ``state_dir`` (afresh) and say what to bind.

    ``uid_range``: containers have users besides root (without root there is only uid 0: nginx's workers
    then run as root, since they could not switch to ``nginx``).
    """
    dest = state_dir / "layers" / re.sub(r"[^A-Za-z0-9_.-]+", "_", image.name)
    shutil.rmtree(dest, ignore_errors=True)
    root = dest / "root"
    root.mkdir(parents=True)
    os.chmod(root, 0o755)
    if image.flavour == "debian":
        layer = _debian(image, root, uid_range, owner)
    elif image.flavour in ("busybox", "alpine"):
        layer = _busybox(image, root, state_dir, hardlink)
    else:
        layer = _restricted(image, root, state_dir, hardlink)
    if owner is not None:
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [*dirnames, *filenames]:
                os.lchown(os.path.join(dirpath, name), *owner)
        os.lchown(root, *owner)
    return layer


def _debian(image: Image, root: Path, uid_range: bool, owner: tuple[int, int] | None = None) -> Layer:
    _skeleton(root, dirs=("boot", "media", "mnt", "opt", "srv", "usr"))
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():  # merged /usr: the links point into the bound /usr
            os.rmdir(root / name) if (root / name).is_dir() and not (root / name).is_symlink() else None
            os.symlink(os.readlink(host), root / name)
        elif host.is_dir():
            (root / name).mkdir(exist_ok=True)
    etc = root / "etc"
    _copy_etc(etc)
    passwd, group = _DEBIAN_PASSWD, _DEBIAN_GROUP
    binds: list[tuple[str, str]] = [
        (f"/{name}", f"/{name}") for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
        if os.path.isdir(f"/{name}") and not os.path.islink(f"/{name}")
    ]  # fmt: skip
    notice = ""
    local = root / "usr" / "local"
    for sub in ("bin", "etc", "games", "include", "lib", "libexec", "man", "sbin", "share", "src"):
        (local / sub).mkdir(parents=True, exist_ok=True)
    if image.name.startswith("nginx"):
        passwd += "nginx:x:101:101:nginx user:/nonexistent:/bin/false\n"
        group += "nginx:x:101:\n"
        _write(
            etc / "nginx" / "nginx.conf",
            _NGINX_CONF if uid_range else _NGINX_CONF.replace("user  nginx;", "user  root;"),
        )
        _write(etc / "nginx" / "conf.d" / "default.conf", _NGINX_DEFAULT)
        for name in ("mime.types", "fastcgi_params", "scgi_params", "uwsgi_params"):
            if os.path.isfile(f"/etc/nginx/{name}"):
                shutil.copyfile(f"/etc/nginx/{name}", etc / "nginx" / name)
        _write(root / "docker-entrypoint.sh", _NGINX_ENTRYPOINT, 0o755)
        for name, text in _NGINX_HOOKS.items():
            _write(root / "docker-entrypoint.d" / name, text, 0o755)
        for sub in ("var/cache/nginx", "var/lib/nginx", "var/log/nginx"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        os.symlink("/dev/stdout", root / "var/log/nginx/access.log")
        os.symlink("/dev/stderr", root / "var/log/nginx/error.log")
        if not os.path.exists("/usr/sbin/nginx"):
            notice = (
                "nginx: the host has no nginx (apt install nginx-light): nginx pods sleep instead of serving"
            )
    if image.name.startswith("python"):
        os.symlink("/usr/bin/python3", local / "bin" / "python")
        os.symlink("/usr/bin/python3", local / "bin" / "python3")
        site = _python_site()
        if site is not None and not _reachable_by(site, owner):
            # A private venv (root's home, a mode-700 checkout): the official client and what it needs,
            # linked into this layer's own tree, which the pod's root can walk.
            mirror = root.parent / "site-packages"
            placed = _mirror(_closure(CLIENT_DISTRIBUTIONS), mirror)
            if placed and _reachable_by(str(mirror), owner):
                site = str(mirror)
            else:
                site = None
                why = (
                    "neither the venv nor the cluster's state directory is one their root, another user "
                    "here, can enter"
                    if placed
                    else f"the venv ({_python_site()}) is private and has no official client to link"
                )
                notice = f"python: pods do not get this Python's packages (the official client): {why}"
        if site is not None:
            version = f"python{sys.version_info.major}.{sys.version_info.minor}"
            target = f"/usr/local/lib/{version}/dist-packages"
            (root / target.lstrip("/")).mkdir(parents=True, exist_ok=True)
            binds.append((site, target))
    for path, text in image.own_files.items():
        _write(root / path.lstrip("/"), text)
    missing = []
    for program in image.needs:  # in the bound /usr, else bound from where the host has it (/usr/local …)
        found = shutil.which(program)
        if os.path.exists(f"/usr/bin/{program}"):
            continue
        if found is None:
            missing.append(program)
            continue
        (local / "bin" / program).touch()
        binds.append((os.path.realpath(found), f"/usr/local/bin/{program}"))
    if missing:
        notice = (
            f"{image.name}: the host has no {', '.join(missing)}: its containers exit (127, not found) "
            "instead of serving"
        )
    _write(etc / "passwd", passwd)
    _write(etc / "group", group)
    _write(
        etc / "shadow",
        "".join(f"{line.split(':')[0]}:*:19000:0:99999:7:::\n" for line in passwd.splitlines()),
        0o640,
    )
    _write(etc / "gshadow", "".join(f"{line.split(':')[0]}:*::\n" for line in group.splitlines()), 0o640)
    _write(etc / "nsswitch.conf", _NSSWITCH)
    for name in (".bashrc", ".profile"):  # root's own, as Debian's base-files installs them (not /etc/skel's)
        if os.path.isfile(f"/usr/share/base-files/dot{name}"):
            shutil.copyfile(f"/usr/share/base-files/dot{name}", root / "root" / name)
    return Layer(root=root, binds=tuple(binds), host_usr=True, notice=notice)


def _busybox(image: Image, root: Path, state_dir: Path, hardlink: bool) -> Layer:
    alpine = image.flavour == "alpine"
    _skeleton(
        root,
        dirs=("usr/sbin", "usr/bin", "sbin", "lib", "media", "mnt", "opt", "srv")
        if alpine
        else ("usr/sbin",),
    )
    etc = root / "etc"
    found = host_busybox()
    binds: list[tuple[str, str]] = []
    staged = Staged()
    notice = ""
    if found is not None:
        busybox, static = found
        (root / "bin" / "busybox").touch()
        binds.append((busybox, "/bin/busybox"))
        for entry in _busybox_applets(busybox):
            path = entry if alpine else "bin/" + entry.rsplit("/", 1)[-1]
            if path.rsplit("/", 1)[-1] == "busybox" or path.endswith("/linuxrc"):
                continue
            target = root / path
            if os.path.lexists(target):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink("/bin/busybox", target)
        if not static:
            binds += [(lib, lib) for lib in needed_libraries(busybox)]
    else:
        staged = stage(image, state_dir, hardlink=hardlink)
        notice = (
            f"{image.name.split(':')[0]}: the host has no busybox (apt install busybox-static): "
            "its sh is dash and wget, nc, nslookup, ping and ip are missing"
        )
        binds += [(str(staged.bin_dir), "/bin"), *_library_binds(staged)]
    if alpine:
        _write(etc / "passwd", _ALPINE_PASSWD)
        _write(etc / "group", _ALPINE_GROUP)
        _write(
            etc / "shadow",
            "".join(f"{line.split(':')[0]}:!::0:::::\n" for line in _ALPINE_PASSWD.splitlines()),
            0o640,
        )
        _write(etc / "alpine-release", "3.20.3\n")
        _write(
            etc / "os-release",
            'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\n'
            'HOME_URL="https://alpinelinux.org/"\nBUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"\n',
        )
        _write(
            etc / "apk" / "repositories",
            "https://dl-cdn.alpinelinux.org/alpine/v3.20/main\nhttps://dl-cdn.alpinelinux.org/alpine/v3.20/community\n",
        )
        _write(
            etc / "apk" / "world",
            "alpine-baselayout\nalpine-keys\nbusybox\nca-certificates-bundle\nlibc-utils\n",
        )
        _write(etc / "apk" / "arch", "x86_64\n")
        _write(root / "sbin" / "apk", _APK, 0o755)
        _write(
            etc / "profile", 'export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"\n'
        )
        _write(etc / "shells", "/bin/sh\n/bin/ash\n")
    else:
        _write(etc / "passwd", _BUSYBOX_PASSWD)
        _write(etc / "group", _BUSYBOX_GROUP)
        _write(
            etc / "shadow",
            "".join(f"{line.split(':')[0]}:*::0:::::\n" for line in _BUSYBOX_PASSWD.splitlines()),
            0o640,
        )
        (root / "var" / "www").mkdir(exist_ok=True)
    _write(etc / "nsswitch.conf", "hosts: files dns\n")
    for name in ("protocols", "services"):
        _copy_one(Path("/etc") / name, etc / name)
    return Layer(root=root, binds=tuple(binds), staged=staged, notice=notice)


def _library_binds(staged: Staged) -> list[tuple[str, str]]:
    programs = [str(p) for p in staged.bin_dir.iterdir()] if staged.bin_dir is not None else []
    programs += list(staged.files.values())
    libraries: dict[str, None] = {}
    for program in programs:
        for lib in needed_libraries(program):
            libraries[lib] = None
    return [(lib, lib) for lib in libraries]


def _restricted(image: Image, root: Path, state_dir: Path, hardlink: bool) -> Layer:
    _skeleton(root, dirs=("usr/bin", "usr/sbin", "lib64", "home/nonroot"))
    os.rmdir(root / "bin")
    os.symlink("usr/bin", root / "bin")  # merged /usr, as in UBI and Debian 12
    os.symlink("usr/sbin", root / "sbin")
    etc = root / "etc"
    staged = stage(image, state_dir, hardlink=hardlink)
    programs = [(str(staged.bin_dir), "/usr/bin")] if image.userland and staged.bin_dir is not None else []
    if image.userland:  # ubi-micro: a UBI userland
        passwd = "root:x:0:0:root:/root:/bin/bash\n" + _DEBIAN_PASSWD.split("\n", 1)[1]
        _write(etc / "passwd", passwd)
        _write(etc / "group", _DEBIAN_GROUP)
        _write(
            etc / "os-release",
            'NAME="Red Hat Enterprise Linux"\nVERSION="9.5 (Plow)"\nID="rhel"\n'
            'VERSION_ID="9.5"\nPRETTY_NAME="Red Hat Enterprise Linux 9.5 (Plow)"\n',
        )
    else:  # distroless
        _write(etc / "passwd", _DISTROLESS_PASSWD)
        _write(etc / "group", _DISTROLESS_GROUP)
        _write(
            etc / "os-release",
            'PRETTY_NAME="Distroless"\nNAME="Debian GNU/Linux"\nID="debian"\n'
            'VERSION_ID="12"\nVERSION="Debian GNU/Linux 12 (bookworm)"\nHOME_URL="https://github.com/GoogleContainerTools/distroless"\n',
        )
    _write(etc / "nsswitch.conf", _NSSWITCH)
    for container_path in staged.files:
        target = root / container_path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    binds = programs + [(host, path) for path, host in staged.files.items()]
    return Layer(root=root, binds=tuple(binds + _library_binds(staged)), staged=staged)


__all__ += ["host_program"]
