"""A live list of the pods in one namespace: list once, then watch, in a kernel thread.

Why a watch: the browser must show a pod's change (a container restarting, a debug container added) as
it happens, and a watch costs one idle connection where polling costs a list every few seconds for every
open notebook. The loop is client-go's reflector in miniature:

1. **List** (``GET …/pods``) and remember the list's ``resourceVersion``.
2. **Watch** from that version (``watch=true&resourceVersion=…&allowWatchBookmarks=true``), applying
   ``ADDED``/``MODIFIED``/``DELETED`` and advancing the version with every event and bookmark.
3. When the server ends the watch (its timeout), watch again from the last version: no re-list.
   When the version has expired (410 Gone), list again.
4. When the connection fails, retry after 1, 2, 4 … 30 s, watching from the last version; errors that
   waiting cannot fix (401, 403, a bad kubeconfig) stop the loop with the error for the user.

:meth:`PodWatcher.stop` ends the thread promptly, also while it waits in a read (the response is shut
down from the caller's thread). Callbacks run on the watcher's thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kubernetes.client import ApiClient, CoreV1Api

from ..errors import ConfigError, Forbidden, K8stermError, Unauthorized
from ..kube import watch
from ..kube.config import Cluster
from ..kube.rest import json_body, rest_error
from ..kube.status import Context

log = logging.getLogger("k8sterm_widget.browse")

WATCH_SECONDS = 300  # per watch request; the server may end it sooner
BACKOFF_MAX = 30.0
PERMANENT = (Forbidden, Unauthorized, ConfigError)

OnPods = Callable[[dict[str, dict]], None]  # name -> pod object
OnState = Callable[[str, "K8stermError | None"], None]  # "live" | "reconnecting" | "failed" | "stopped"


class PodWatcher:
    """Keeps ``pods`` (name → pod object) of ``namespace`` current; see the module docstring."""

    def __init__(self, cluster: Cluster, namespace: str, on_pods: OnPods, on_state: OnState) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.pods: dict[str, dict] = {}
        self.version = ""
        self.lists = 0  # how many times it listed (tests: a watch that ends is re-watched, not re-listed)
        self.watches = 0
        self._on_pods = on_pods
        self._on_state = on_state
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response = None
        self._thread = threading.Thread(target=self._run, name=f"k8sterm-watch-{namespace}", daemon=True)

    def start(self) -> PodWatcher:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        with self._lock:
            response = self._response
        watch.abort(response)
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        backoff = 1.0
        need_list = True
        while not self._stop.is_set():
            api_client = self.cluster.new_api_client()
            try:
                if need_list:
                    self._list(api_client)
                    need_list = False
                    self._on_state("live", None)
                self._watch(api_client)
                backoff = 1.0
            except watch.WatchExpired:
                need_list = True
            except Exception as e:
                if self._stop.is_set():
                    break
                error = (
                    e
                    if isinstance(e, K8stermError)
                    else rest_error(e, self.cluster, Context(self.cluster.server))
                )
                if isinstance(error, PERMANENT):
                    self._on_state("failed", error)
                    return
                log.info(
                    "k8sterm: pod watch of %s failed (%s); retrying in %.0f s", self.namespace, error, backoff
                )
                self._on_state("reconnecting", error)
                if self._stop.wait(backoff):
                    break
                backoff = min(backoff * 2, BACKOFF_MAX)
            finally:
                api_client.close()
        self._on_state("stopped", None)

    def _list(self, api_client: ApiClient) -> None:
        resp = CoreV1Api(api_client).list_namespaced_pod(
            self.namespace, _preload_content=False, _request_timeout=self.cluster.request_timeout
        )
        body = json_body(resp)
        self.lists += 1
        self.version = str((body.get("metadata") or {}).get("resourceVersion") or "")
        self.pods = {
            item["metadata"]["name"]: item for item in body.get("items") or [] if item.get("metadata")
        }
        self._on_pods(dict(self.pods))

    def _watch(self, api_client: ApiClient) -> None:
        response = watch.open_pod_watch(
            api_client,
            self.cluster,
            self.namespace,
            resource_version=self.version,
            timeout_seconds=WATCH_SECONDS,
        )
        with self._lock:
            self._response = response
        if self._stop.is_set():
            watch.abort(response)
            return
        self.watches += 1
        try:
            for event in watch.events(response):
                if self._stop.is_set():
                    return
                obj = event.get("object") or {}
                meta = obj.get("metadata") or {}
                self.version = str(meta.get("resourceVersion") or self.version)
                kind = event.get("type")
                name = meta.get("name")
                if kind == watch.BOOKMARK or not name:
                    continue
                if kind == "DELETED":
                    self.pods.pop(name, None)
                elif kind in ("ADDED", "MODIFIED"):
                    self.pods[name] = obj
                else:
                    continue
                self._on_pods(dict(self.pods))
        finally:
            with self._lock:
                self._response = None
            watch.abort(response)


__all__ = ["PodWatcher"]
