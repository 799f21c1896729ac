"""The kubelet's volume manager: a pod's volumes as host directories, ready for the runtime to bind.

Per pod, below the runtime's :meth:`~.runtime.Runtime.kubelet_dir` on the node's disk (``pods/<uid>``, the
kubelet's ``/var/lib/kubelet/pods/<uid>``), one directory per volume, named as the kubelet names them
(``volumes/kubernetes.io~configmap/<name>`` …); being on the node's disk, what pods write into them counts
against its size:

``emptyDir``
    An empty directory (mode 0777) the pod's containers share, gone with the pod. ``medium: Memory`` is the
    same directory (no tmpfs of its own) and ``sizeLimit`` is not enforced: the demo node evicts nothing.
``configMap``, ``secret``, ``downwardAPI``, ``projected``
    Written by the kubelet's **atomic writer** (``pkg/volume/util/atomic_writer.go``): the files go into a
    fresh ``..<timestamp>`` directory, the ``..data`` symlink is switched to it by a ``rename``, and each
    top-level name is a symlink into ``..data`` — so a reader never sees half an update. ``items`` choose
    and rename keys, ``defaultMode``/``mode`` set the files' modes, ``optional`` lets a source be missing.
    A missing source is the kubelet's ``FailedMount`` event (``MountVolume.SetUp failed for volume "cfg" :
    configmap "app" not found``) and the pod waits in ``ContainerCreating`` until it appears. When a
    ConfigMap, a Secret or the pod's labels change, the files are written again at once (a kubelet takes up
    to a minute); a ``subPath`` mount keeps the file it was given, as on any node. Containers get these
    volumes read-only. The ``serviceAccountToken`` source issues a bound token (the pods' own
    ``kube-api-access-*`` volume is one of these).
``hostPath``
    A path in **the node's file system**, which in the demo cluster is a directory of the cluster's own (as
    on kind, where it is the node container's), never the machine's: pods can share files through it and
    nothing they write reaches the host. Its ``type`` is checked with the kubelet's texts
    (``hostPath type check failed: /x is not a directory``); ``DirectoryOrCreate`` and ``FileOrCreate``
    make the path, and an unset type makes a missing directory, as containerd does.

Other volume types (``persistentVolumeClaim``, ``nfs``, ``csi`` …) have no storage behind them here:
their pods get a ``FailedMount`` event saying so and stay in ``ContainerCreating``.

Every path a container can influence (a ``subPath`` in an emptyDir or hostPath, a hostPath below the node
root) is resolved inside its tree by :mod:`.runtime.securejoin`, here and again in the container's
shim, so a symlink left in a volume cannot lead to the host.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kubelet_env import _field, _resource, expand
from .runtime.rootfs import VolumeMount

log = logging.getLogger(__name__)
Obj = dict[str, Any]

PLUGIN_DIRS = {
    "emptyDir": "kubernetes.io~empty-dir",
    "configMap": "kubernetes.io~configmap",
    "secret": "kubernetes.io~secret",
    "downwardAPI": "kubernetes.io~downward-api",
    "projected": "kubernetes.io~projected",
}
ATOMIC = ("configMap", "secret", "downwardAPI", "projected")
DEFAULT_MODE = 0o644
#: kube-apiserver's --service-account-extend-token-expiration: the kube-api-access volumes' tokens (3607 s
#: asked) are issued for a year
EXTENDED_EXPIRATION = 3607


class MountError(Exception):
    """A volume could not be set up: the kubelet's ``FailedMount`` event text."""

    def __init__(self, volume: str, message: str) -> None:
        super().__init__(f'MountVolume.SetUp failed for volume "{volume}" : {message}')
        self.volume = volume
        self.message = message


@dataclass
class PodVolumes:
    """What the node knows about one pod's volumes."""

    home: tuple[Path, str]  # the kubelet's directory: as this process reaches it, as the shims see it
    dirs: dict[str, Path] = field(default_factory=dict)  # volume name -> its directory (this process's view)
    kinds: dict[str, str] = field(default_factory=dict)  # volume name -> emptyDir, configMap …
    host_paths: dict[str, str] = field(default_factory=dict)  # hostPath volume name -> its path on the node
    sources: set[tuple[str, str]] = field(default_factory=set)  # ("configmaps"|"secrets", name) it reads

    def node_path(self, name: str) -> str:
        """Volume ``name``'s directory as the containers' shims see it."""
        server, node = self.home
        return node + "/" + str(self.dirs[name].relative_to(server))


class Volumes:
    """``runtime``: the container runtime (its ``give`` hands a path to the pods' root); ``token``: issues a
    service-account token ``(namespace, account, seconds, audiences, pod) -> str``."""

    def __init__(self, store: Any, runtime: Any, token: Callable[..., str] | None = None) -> None:
        self.store = store
        self.runtime = runtime
        self.token = token

    # --- setting up ------------------------------------------------------------------------------

    def setup(self, pod: Obj, home: tuple[Path, str] | None) -> PodVolumes | None:
        """Make (or refresh) every volume of ``pod`` below ``home`` (the runtime's ``kubelet_dir``); ``None``
        where the runtime mounts nothing (process mode). Raises :class:`MountError` for the first volume that
        cannot be set up."""
        if home is None:
            return None
        root = home[0] / "pods" / pod["metadata"]["uid"]
        if not root.exists():
            (home[0] / "pods").mkdir(mode=0o711, exist_ok=True)
            root.mkdir(mode=0o700)
            self.runtime.give(root)
        result = PodVolumes(home=home)
        for volume in pod["spec"].get("volumes") or []:
            name = volume.get("name", "")
            kind = next((k for k in volume if k != "name"), "")
            result.kinds[name] = kind
            if kind == "hostPath":
                result.host_paths[name] = self._host_path(home[0], name, volume["hostPath"])
                continue
            if kind not in PLUGIN_DIRS:
                raise MountError(
                    name, f"the demo cluster's node has no {kind} volumes (no storage behind them)"
                )
            where = root / "volumes" / PLUGIN_DIRS[kind] / name
            if not where.is_dir():
                for part in (root / "volumes", root / "volumes" / PLUGIN_DIRS[kind], where):
                    if not part.exists():
                        part.mkdir(mode=0o750 if part != where else 0o755)
                        self.runtime.give(part)
                # the kubelet's: an emptyDir is 0777; secret and projected volumes are tmpfs (1777), the
                # others are emptyDirs the atomic writer fills
                os.chmod(where, 0o1777 if kind in ("secret", "projected") else 0o777)
            result.dirs[name] = where
            if kind in ATOMIC:
                payload = self._payload(pod, name, kind, volume[kind], result.sources)
                self._write(where, payload)
        return result

    def refresh(self, pod: Obj, volumes: PodVolumes) -> None:
        """Write the projected volumes again (a ConfigMap, a Secret or the pod's metadata changed); a source
        gone missing leaves the last files in place, as the kubelet does."""
        for volume in pod["spec"].get("volumes") or []:
            name = volume.get("name", "")
            kind = volumes.kinds.get(name, "")
            where = volumes.dirs.get(name)
            if kind not in ATOMIC or where is None or not where.is_dir():
                continue
            try:
                self._write(where, self._payload(pod, name, kind, volume[kind], volumes.sources))
            except (MountError, OSError) as exc:  # a full node disk too: the old files stay, as they do
                log.info("not refreshing %s of %s: %s", name, pod["metadata"]["name"], exc)

    def teardown(self, home: tuple[Path, str], uid: str) -> None:
        """The pod is gone: its directory goes, set up or half set up (``rmtree`` follows no symlink a
        container left)."""
        shutil.rmtree(home[0] / "pods" / uid, ignore_errors=True)

    # --- what a container mounts -----------------------------------------------------------------

    def mounts(self, container: Obj, volumes: PodVolumes | None, env: dict[str, str]) -> list[VolumeMount]:
        """The container's ``volumeMounts`` as runtime mounts (``subPathExpr`` expanded with its env)."""
        if volumes is None:
            return []
        result = []
        for m in container.get("volumeMounts") or []:
            name = m.get("name", "")
            kind = volumes.kinds.get(name, "")
            sub_path = m.get("subPath") or ""
            if m.get("subPathExpr"):
                sub_path = expand(m["subPathExpr"], env)
            read_only = bool(m.get("readOnly")) or kind in ATOMIC
            target = m["mountPath"]
            if name in volumes.host_paths:  # the node's root is the tree: the hostPath is a path inside it
                inner = os.path.join(volumes.host_paths[name], sub_path).strip("/")
                result.append(VolumeMount(volumes.home[1] + "/node", target, inner, read_only, True))
            elif name in volumes.dirs:  # the kubelet makes a missing subPath (SafeMakeDir), in any volume
                source = volumes.node_path(name)
                result.append(VolumeMount(source, target, sub_path, read_only, bool(sub_path)))
        return result

    # --- hostPath --------------------------------------------------------------------------------

    def _host_path(self, home: Path, name: str, source: Obj) -> str:
        """Check (and make) a hostPath as its ``type`` says, in the node's file system below ``home``."""
        from .runtime.securejoin import open_in_root

        node_root = home / "node"
        if not node_root.exists():
            node_root.mkdir(mode=0o755)
            self.runtime.give(node_root)
        path = str(source.get("path", ""))
        kind = source.get("type") or ""
        create = {"DirectoryOrCreate": "dir", "FileOrCreate": "file", "": "dir"}.get(kind, "")
        try:
            fd = open_in_root(str(node_root), path, create=create, owner=self.runtime.owner)
        except FileNotFoundError:
            raise MountError(name, _type_error(path, kind)) from None
        except OSError as exc:
            raise MountError(name, f"hostPath type check failed: {path}: {exc.strerror}") from None
        try:
            mode = os.fstat(fd).st_mode
        finally:
            os.close(fd)
        checks = {
            "Directory": stat.S_ISDIR, "DirectoryOrCreate": stat.S_ISDIR, "File": stat.S_ISREG,
            "FileOrCreate": stat.S_ISREG, "Socket": stat.S_ISSOCK, "CharDevice": stat.S_ISCHR,
            "BlockDevice": stat.S_ISBLK,
        }  # fmt: skip
        check = checks.get(kind)
        if check is not None and not check(mode):
            raise MountError(name, _type_error(path, kind))
        return path

    # --- projections -----------------------------------------------------------------------------

    def _payload(
        self, pod: Obj, name: str, kind: str, source: Obj, used: set[tuple[str, str]]
    ) -> dict[str, tuple[bytes, int]]:
        """The files of volume ``name``, every path checked as the atomic writer's ``validatePayload`` does
        (the API server refuses such specs already; this node writes nothing outside a volume regardless)."""
        payload = self._collect(pod, name, kind, source, used)
        for rel in payload:
            problem = _invalid_path(rel)
            if problem:
                raise MountError(name, problem)
        return payload

    def _collect(
        self, pod: Obj, name: str, kind: str, source: Obj, used: set[tuple[str, str]]
    ) -> dict[str, tuple[bytes, int]]:
        default = int(source.get("defaultMode", DEFAULT_MODE))
        if kind == "configMap":
            return self._keys(pod, name, "configmaps", source.get("name", ""), source, default, used)
        if kind == "secret":
            return self._keys(pod, name, "secrets", source.get("secretName", ""), source, default, used)
        if kind == "downwardAPI":
            return self._downward(pod, source.get("items") or [], default)
        payload: dict[str, tuple[bytes, int]] = {}
        errors = []
        for s in source.get("sources") or []:  # projected: each source in turn, errors collected
            try:
                if "configMap" in s:
                    sub = s["configMap"]
                    payload.update(
                        self._keys(pod, name, "configmaps", sub.get("name", ""), sub, default, used)
                    )
                elif "secret" in s:
                    sub = s["secret"]
                    payload.update(self._keys(pod, name, "secrets", sub.get("name", ""), sub, default, used))
                elif "downwardAPI" in s:
                    payload.update(self._downward(pod, s["downwardAPI"].get("items") or [], default))
                elif "serviceAccountToken" in s:
                    payload.update(self._token(pod, s["serviceAccountToken"], default))
            except MountError as exc:
                errors.append(exc.message)
        if errors:
            raise MountError(name, errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
        return payload

    def _keys(
        self, pod: Obj, volume: str, resource: str, source_name: str, source: Obj, default: int,
        used: set[tuple[str, str]],
    ) -> dict[str, tuple[bytes, int]]:  # fmt: skip
        """``MakePayload`` of the configmap and secret volume plugins."""
        used.add((resource, source_name))
        singular = "configmap" if resource == "configmaps" else "secret"
        optional = bool(source.get("optional"))
        obj = self.store.get(resource, pod["metadata"]["namespace"], source_name)
        if obj is None:
            if optional:
                return {}
            raise MountError(volume, f'{singular} "{source_name}" not found')
        if resource == "configmaps":
            data = {k: str(v).encode() for k, v in (obj.get("data") or {}).items()}
            data.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
        else:
            data = {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
        items = source.get("items") or []
        if not items:
            return {k: (v, default) for k, v in data.items()}
        payload = {}
        for item in items:
            key = item.get("key", "")
            if key not in data:
                if optional:
                    continue
                if resource == "configmaps":
                    raise MountError(volume, f"configmap references non-existent config key: {key}")
                raise MountError(volume, f"references non-existent secret key: {key}")
            payload[item.get("path") or key] = (data[key], int(item.get("mode", default)))
        return payload

    def _downward(self, pod: Obj, items: list[Obj], default: int) -> dict[str, tuple[bytes, int]]:
        payload = {}
        for item in items:
            mode = int(item.get("mode", default))
            if "fieldRef" in item:
                path = item["fieldRef"].get("fieldPath", "")
                meta = pod["metadata"]
                if path in ("metadata.labels", "metadata.annotations"):  # fieldpath.FormatMap
                    values = meta.get(path.split(".")[1]) or {}
                    text = "\n".join(f"{k}={_go_quote(str(values[k]))}" for k in sorted(values))
                else:
                    text = _field(pod, path) or ""
                payload[item["path"]] = (text.encode(), mode)
            elif "resourceFieldRef" in item:
                ref = item["resourceFieldRef"]
                container: Obj = next(
                    (
                        c
                        for c in pod["spec"].get("containers") or []
                        if c.get("name") == ref.get("containerName")
                    ),
                    {},
                )
                payload[item["path"]] = (_resource(container, ref).encode(), mode)
        return payload

    def _token(self, pod: Obj, source: Obj, default: int) -> dict[str, tuple[bytes, int]]:
        if self.token is None:
            return {}
        seconds = int(source.get("expirationSeconds") or 3600)
        if seconds == EXTENDED_EXPIRATION:
            seconds = 365 * 24 * 3600
        audience = source.get("audience")
        account = pod["spec"].get("serviceAccountName") or "default"
        token = self.token(
            pod["metadata"]["namespace"], account, seconds, [audience] if audience else None, pod
        )
        return {source.get("path", "token"): (token.encode(), default)}

    # --- the atomic writer -----------------------------------------------------------------------

    def _write(self, target: Path, payload: dict[str, tuple[bytes, int]]) -> bool:
        """``AtomicWriter.Write``: nothing happens when the payload is what is there; else a new timestamped
        directory, ``..data`` switched to it by rename, user-visible symlinks added and dropped."""
        data_link = target / "..data"
        old_dir = os.readlink(data_link) if data_link.is_symlink() else ""
        if old_dir and _same(target / old_dir, payload):
            return False
        stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime()) + str(secrets.randbelow(10**9))
        new_dir = target / stamp
        new_dir.mkdir(mode=0o755)
        try:
            self._fill(new_dir, payload)
        except BaseException:  # half a payload (the node's disk is full): nothing of it stays
            shutil.rmtree(new_dir, ignore_errors=True)
            raise
        tmp = target / "..data_tmp"
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(stamp, tmp)
        self.runtime.give(tmp)
        os.rename(tmp, data_link)
        tops = {rel.split("/", 1)[0] for rel in payload}
        for top in sorted(tops):
            link = target / top
            if not link.is_symlink():
                os.symlink(f"..data/{top}", link)
                self.runtime.give(link)
        for entry in os.listdir(target):
            if not entry.startswith("..") and entry not in tops and (target / entry).is_symlink():
                (target / entry).unlink()
        if old_dir:
            shutil.rmtree(target / old_dir, ignore_errors=True)
        return True

    def _fill(self, new_dir: Path, payload: dict[str, tuple[bytes, int]]) -> None:
        self.runtime.give(new_dir)
        for rel, (content, mode) in payload.items():
            path = new_dir / rel
            for parent in reversed(path.relative_to(new_dir).parents[:-1]):
                if not (new_dir / parent).exists():
                    (new_dir / parent).mkdir(mode=0o755)
                    self.runtime.give(new_dir / parent)
            path.write_bytes(content)
            os.chmod(path, mode & 0o7777)
            self.runtime.give(path)


def _same(directory: Path, payload: dict[str, tuple[bytes, int]]) -> bool:
    try:
        present = {
            str(Path(dirpath, f).relative_to(directory))
            for dirpath, _, files in os.walk(directory)
            for f in files
        }
        if present != set(payload):
            return False
        for rel, (content, mode) in payload.items():
            path = directory / rel
            if path.read_bytes() != content or stat.S_IMODE(path.stat().st_mode) != mode & 0o7777:
                return False
    except OSError:
        return False
    return True


def _invalid_path(target: str) -> str:
    """``validatePath`` of the kubelet's atomic writer (``pkg/volume/util/atomic_writer.go``): the error text,
    or ``""`` for a path that stays below the volume's directory."""
    if not target:
        return 'invalid path: must not be empty: ""'
    if target.startswith("/"):
        return f"invalid path: must be relative path: {target}"
    if len(target) > 4096:
        return "invalid path: must be less than or equal to 4096 characters"
    items = target.split("/")
    for item in items:
        if item == "..":
            return f"invalid path: must not contain '..': {target}"
        if len(item) > 255:
            return "invalid path: filenames must be less than or equal to 255 characters"
    if items[0].startswith("..") and len(items[0]) > 2:
        return f"invalid path: must not start with '..': {target}"
    return ""


def _go_quote(value: str) -> str:
    """Go's ``%q`` for the printable strings labels and annotations hold."""
    out = ['"']
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def _type_error(path: str, kind: str) -> str:
    """The kubelet's hostPath type check texts (``pkg/volume/hostpath/host_path.go``)."""
    what = {
        "Directory": "a directory", "DirectoryOrCreate": "a directory", "File": "a file",
        "FileOrCreate": "a file", "Socket": "a socket file", "CharDevice": "a character device",
        "BlockDevice": "a block device",
    }.get(kind, "a directory")  # fmt: skip
    return f"hostPath type check failed: {path} is not {what}"
