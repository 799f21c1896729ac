"""Debug containers, the cluster side: what ``kubectl debug -it POD --image=… --target=…`` asks the API.

An ephemeral container can never be removed from its pod, so every check runs first (the pod can take one:
:func:`~.preflight.check_pod` with ``kubectl debug``'s wording; RBAC allows each request that follows the
PATCH — ``patch pods/ephemeralcontainers``, ``watch pods`` for the wait, ``create`` and ``get pods/attach``
for the WebSocket attach, one SelfSubjectAccessReview each) and a "no" changes nothing in the cluster.

Then, as kubectl does: a strategic-merge PATCH of ``spec.ephemeralContainers`` on the pod's
``ephemeralcontainers`` subresource (the official client's ``patch_namespaced_pod_ephemeralcontainers``)
with a generated name ``debugger-xxxxx`` (kubectl's alphabet), ``stdin`` and ``tty``,
``targetContainerName`` (so it shares the target's process namespace: ``ps`` shows the app and
``/proc/1/root`` is its filesystem), kubectl's default "general" profile (``SYS_PTRACE``), plus
``TERM=xterm-256color`` so that line editing and colours work; then a watch of the pod (no polling) until
the container runs. An image that cannot be pulled, a container that ends before it runs, or the timeout
end the wait with a typed error (:class:`~..errors.ImagePullFailed`, :class:`~..errors.DebugContainerError`,
:class:`~..errors.DebugContainerTimeout`); a 404 from the subresource means the cluster does not support
ephemeral containers (:class:`~..errors.EphemeralContainersUnsupported`).

The terminal side (attaching, the widget's progress line, reconnects) is
:class:`~k8sterm_widget.widget.connect.DebugConnector`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..errors import (
    DebugContainerError,
    DebugContainerTimeout,
    EphemeralContainersUnsupported,
    ImagePullFailed,
    PodNotRunning,
)
from . import watch
from .config import Cluster
from .preflight import DEBUG, check_access, check_pod, read_pod
from .rest import json_body, rest_error
from .status import Context

NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand: no vowels, no 0/1/3
DEFAULT_TIMEOUT = 60.0  # kubectl's --pod-running-timeout
PULL_FAILURES = {
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "RegistryUnavailable",
}
START_FAILURES = {"CreateContainerConfigError", "CreateContainerError", "RunContainerError", "StartError"}
SMP = "application/strategic-merge-patch+json"


def debugger_name(taken: Sequence[str] = ()) -> str:
    """``debugger-`` + 5 characters from kubectl's alphabet, not one of ``taken``."""
    while True:
        name = "debugger-" + "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))
        if name not in taken:
            return name


def ephemeral_container(
    name: str, image: str, target: str | None, command: Sequence[str] | None = None
) -> dict[str, Any]:
    """The ``spec.ephemeralContainers`` entry ``kubectl debug -it --target`` sends (profile "general")."""
    container: dict[str, Any] = {
        "name": name,
        "image": image,
        "env": [{"name": "TERM", "value": "xterm-256color"}],
        "stdin": True,
        "tty": True,
        "terminationMessagePolicy": "File",
        "securityContext": {"capabilities": {"add": ["SYS_PTRACE"]}},
    }
    if command:
        container["command"] = [str(c) for c in command]
    if target:
        container["targetContainerName"] = target
    return container


def all_names(pod: dict) -> list[str]:
    spec = pod.get("spec") or {}
    return [
        c["name"]
        for key in ("containers", "initContainers", "ephemeralContainers")
        for c in spec.get(key) or []
    ]


def ephemeral_state(pod: dict, name: str) -> tuple[str, str, str]:
    """("running" | "waiting" | "terminated" | "absent", reason, message) of ephemeral container ``name``."""
    for status in (pod.get("status") or {}).get("ephemeralContainerStatuses") or []:
        if status.get("name") != name:
            continue
        state = status.get("state") or {}
        if "running" in state:
            return "running", "", ""
        if "terminated" in state:
            t = state["terminated"] or {}
            return "terminated", t.get("reason") or "Terminated", f"exit code {t.get('exitCode', '?')}"
        if "waiting" in state:
            w = state["waiting"] or {}
            return "waiting", w.get("reason") or "Waiting", w.get("message") or ""
    if any(c.get("name") == name for c in (pod.get("spec") or {}).get("ephemeralContainers") or []):
        return "waiting", "Pending", ""  # added, no status reported yet
    return "absent", "", ""


def check_can_debug(
    api_client: client.ApiClient, cluster: Cluster, pod: dict, namespace: str, *, create: bool
) -> None:
    """Refuse before changing anything when the pod or RBAC would stop us half-way (the container is
    permanent). When one is to be added: ``patch pods/ephemeralcontainers`` and ``watch pods`` (the wait
    until it runs). Always: ``create pods/attach`` (what the API server checks for every attach since 1.35)
    and ``get pods/attach`` (the WebSocket upgrade is a GET, authorised as ``get`` by every version)."""
    name = (pod.get("metadata") or {}).get("name", "")
    check_pod(pod, None, DEBUG)
    if create:
        check_access(api_client, cluster, name, namespace, "ephemeralcontainers", verb="patch")
        check_access(api_client, cluster, name, namespace, "", verb="watch")
    check_access(api_client, cluster, name, namespace, "attach")
    check_access(api_client, cluster, name, namespace, "attach", verb="get")


def add_container(
    core: client.CoreV1Api, cluster: Cluster, pod: str, namespace: str, spec: dict, ctx: Context
) -> dict:
    """PATCH ``spec`` into the pod's ``ephemeralContainers``; returns the pod as the API server answers."""
    body = {"spec": {"ephemeralContainers": [spec]}}
    try:
        resp = core.patch_namespaced_pod_ephemeralcontainers(
            pod,
            namespace,
            body,
            _content_type=SMP,
            _preload_content=False,
            _request_timeout=cluster.request_timeout,
        )
        return json_body(resp)
    except ApiException as e:
        if e.status == 404:
            raise EphemeralContainersUnsupported(pod, namespace, cluster.server) from None
        error = rest_error(e, cluster, ctx)
        if e.status == 422:
            raise DebugContainerError(
                f"the API server refused the debug container: {error.message}",
                pod=pod,
                container=spec["name"],
            ) from None
        raise error from None


def wait_running(
    api_client: client.ApiClient,
    cluster: Cluster,
    pod: dict,
    name: str,
    image: str,
    timeout: float,
    progress: Callable[[str], None],
) -> dict:
    """Watch the pod until ephemeral container ``name`` runs; ``progress`` gets each new state in words."""
    meta = pod["metadata"]
    pod_name, namespace = meta["name"], meta["namespace"]
    deadline = time.monotonic() + timeout
    version = meta.get("resourceVersion", "")
    last = ""
    while True:
        state, reason, message = ephemeral_state(pod, name)
        if state == "running":
            return pod
        if state == "terminated":
            raise DebugContainerError(
                f'debug container "{name}" in pod "{pod_name}" ended before it could be attached '
                f"({reason}, {message})",
                pod=pod_name,
                container=name,
            )
        if reason in PULL_FAILURES:
            raise ImagePullFailed(pod_name, name, image, reason, message)
        if reason in START_FAILURES:
            raise DebugContainerError(
                f'debug container "{name}" in pod "{pod_name}" could not start ({reason}'
                + (f": {message}" if message else "")
                + ")",
                pod=pod_name,
                container=name,
            )
        step = f"starting debug container {name} ({reason or state})"
        if step != last:
            last = step
            progress(step)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DebugContainerTimeout(pod_name, name, timeout, reason or state)
        pod, version = _next_change(api_client, cluster, namespace, pod_name, pod, version, remaining)


def _next_change(
    api_client: client.ApiClient,
    cluster: Cluster,
    namespace: str,
    pod_name: str,
    pod: dict,
    version: str,
    remaining: float,
) -> tuple[dict, str]:
    """The pod after its next change (or unchanged when the watch ended quietly)."""
    response = None
    try:
        response = watch.open_pod_watch(
            api_client,
            cluster,
            namespace,
            resource_version=version,
            timeout_seconds=max(1, int(remaining + 0.999)),
            field_selector=f"metadata.name={pod_name}",
        )
        for event in watch.events(response):
            obj = event.get("object") or {}
            version = (obj.get("metadata") or {}).get("resourceVersion") or version
            if event.get("type") in ("ADDED", "MODIFIED"):
                return obj, version
            if event.get("type") == "DELETED":
                raise PodNotRunning(f'pod "{pod_name}" was deleted', pod=pod_name)
        return pod, version
    except watch.WatchExpired:
        fresh = read_pod(client.CoreV1Api(api_client), cluster, pod_name, namespace, Context(pod=pod_name))
        return fresh, fresh["metadata"].get("resourceVersion", "")
    finally:
        watch.abort(response)


__all__ = [
    "DEFAULT_TIMEOUT",
    "add_container",
    "all_names",
    "check_can_debug",
    "debugger_name",
    "ephemeral_container",
    "ephemeral_state",
    "wait_running",
]
