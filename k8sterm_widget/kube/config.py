"""Which cluster, which credentials, which namespace — resolved the way kubectl resolves them.

kubectl's order: an explicit kubeconfig, else ``$KUBECONFIG`` (a path list, merged), else
``~/.kube/config``; when none of those exists and the process runs in a pod, the service account
(in-cluster config). The namespace is the explicit one, else the context's, else the service account's,
else ``default``.

Why not just ``kubernetes.config.load_kube_config()``: it reads ``$KUBECONFIG`` once, at import time
(``KUBE_CONFIG_DEFAULT_LOCATION``), so a notebook that sets the variable later is ignored; it installs a
process-wide default configuration; and it may write refreshed tokens back into the file. Here every
resolution reads the environment afresh, fills a private ``Configuration``, never persists, and each
stream gets its **own** ``ApiClient`` (the official client's ``stream()`` swaps methods on a shared
client, which is not thread-safe: docs/exec-protocol.md §8.7).

Credentials stay inside the ``Configuration``; :class:`Cluster` exposes only names and the server URL
(with any password in it masked), so nothing secret can leak into messages or widget state by accident.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from ..errors import ConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 30.0


@dataclass(frozen=True)
class Cluster:
    """A resolved target: how to talk to one API server as one user. Safe to show (no secrets in repr)."""

    configuration: client.Configuration = field(repr=False, compare=False)
    context: str | None
    namespace: str
    server: str
    user: str | None
    source: str
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT

    def new_api_client(self) -> client.ApiClient:
        """A fresh client for one session or stream; never shared between threads."""
        return client.ApiClient(self.configuration)

    @property
    def request_timeout(self) -> tuple[float, float]:
        """(connect, read) for REST calls, so an unreachable server fails fast instead of hanging."""
        return (self.connect_timeout, self.read_timeout)


_cache: dict[tuple, Cluster] = {}
_cache_lock = threading.Lock()


def kubeconfig_paths(kubeconfig: str | os.PathLike | None = None) -> list[Path]:
    """The kubeconfig files kubectl would read, in merge order (only those that exist)."""
    if kubeconfig is not None:
        raw = [str(kubeconfig)]
    elif os.environ.get("KUBECONFIG"):
        raw = [p for p in os.environ["KUBECONFIG"].split(os.pathsep) if p]
    else:
        raw = ["~/.kube/config"]
    paths = [Path(p).expanduser() for p in raw]
    if kubeconfig is not None and not paths[0].exists():
        raise ConfigError(f"kubeconfig file {paths[0]} does not exist")
    return [p for p in paths if p.exists()]


def _in_cluster_available() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (SERVICE_ACCOUNT_DIR / "token").exists()


def resolve(
    *,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Cluster:
    """Resolve the target cluster; cached per (files and their mtimes, context) so exec plugins run once.

    The cache is safe because the client refreshes expiring tokens itself (``refresh_api_key_hook``), and
    an edited kubeconfig changes its mtime.
    """
    paths = kubeconfig_paths(kubeconfig)
    if paths:
        key: tuple = (
            tuple((str(p), p.stat().st_mtime_ns) for p in paths),
            context,
            connect_timeout,
        )
    elif _in_cluster_available() and context is None:
        key = ("in-cluster", connect_timeout)
    else:
        where = os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ConfigError(
            f"no Kubernetes configuration found (looked at {where}, and this is not a pod)",
            hint="Set KUBECONFIG or pass kubeconfig=...; for a demo cluster run: k8sterm cluster",
        )
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        return cached
    cluster = _load(paths, context, connect_timeout)
    with _cache_lock:
        _cache[key] = cluster
    return cluster


def redact_url(url: str) -> str:
    """``url`` with any credentials in it masked, as client-go's ``url.Redacted()`` shows a server.

    A kubeconfig may say ``server: https://user:password@host``; the server URL is quoted by error texts,
    the synced status and cell output, so the password becomes ``xxxxx``. A user part alone is masked too
    (it may be a token used as a user name).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    masked = f"{user}:xxxxx" if colon else "xxxxx"
    return f"{scheme}://{masked}@{hostport}{slash}{path}"


def _new_configuration() -> client.Configuration:
    # ``Configuration()`` may copy a process-wide default that another library set; start clean instead.
    cfg = type.__call__(client.Configuration)
    cfg.retries = 0  # one attempt: an unreachable server must fail within the connect timeout
    return cfg


def _load(paths: list[Path], context: str | None, connect_timeout: float) -> Cluster:
    cfg = _new_configuration()
    if not paths:
        try:
            config.load_incluster_config(client_configuration=cfg)
        except ConfigException as e:
            raise ConfigError(f"in-cluster configuration is unusable: {e}") from None
        ns_file = SERVICE_ACCOUNT_DIR / "namespace"
        namespace = ns_file.read_text().strip() if ns_file.exists() else "default"
        return Cluster(cfg, None, namespace, redact_url(cfg.host), None, "in-cluster", connect_timeout)

    joined = os.pathsep.join(str(p) for p in paths)
    try:
        contexts, current = config.list_kube_config_contexts(config_file=joined)
    except ConfigException as e:
        raise ConfigError(f"kubeconfig {joined} is unusable: {e}") from None
    except Exception as e:  # malformed YAML and friends
        raise ConfigError(f"kubeconfig {joined} could not be read: {type(e).__name__}") from None
    names = [c["name"] for c in contexts or []]
    # kubectl takes current-context from the *first* file that sets it; the client's merger takes the last.
    first_current = _first_current_context(paths)
    if first_current is not None:
        current = next((c for c in contexts or [] if c["name"] == first_current), current)
    if context is not None and context not in names:
        raise ConfigError(
            f'context "{context}" is not in kubeconfig {joined}',
            hint=f"Known contexts: {', '.join(names) or '(none)'}.",
        )
    chosen = next((c for c in contexts if c["name"] == context), None) if context else current
    if not chosen:
        raise ConfigError(
            f"kubeconfig {joined} has no current context",
            hint=f"Pass context=... (known: {', '.join(names) or 'none'}).",
        )
    try:
        config.load_kube_config(
            config_file=joined, context=chosen["name"], client_configuration=cfg, persist_config=False
        )
    except ConfigException as e:
        # Loader messages name files and fields, not secret values.
        raise ConfigError(f'context "{chosen["name"]}" in {joined} is unusable: {e}') from None
    ctx = chosen.get("context") or {}
    return Cluster(
        cfg,
        chosen["name"],
        ctx.get("namespace") or "default",
        redact_url(cfg.host),
        ctx.get("user"),
        joined,
        connect_timeout,
    )


def _first_current_context(paths: list[Path]) -> str | None:
    for path in paths:
        try:
            doc = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and doc.get("current-context"):
            return str(doc["current-context"])
    return None


def clear_cache() -> None:
    """Forget resolved clusters (tests, or after replacing credentials in place)."""
    with _cache_lock:
        _cache.clear()
