"""``debug()``: a shell in an ephemeral debug container, for images that have none (distroless, scratch).

What ``kubectl debug -it POD --image=busybox:1.36 --target=CONTAINER`` does, as a notebook widget:

1. **Checks first**, because an ephemeral container can never be removed from its pod: the pod exists,
   is scheduled and not finished, and RBAC allows ``patch pods/ephemeralcontainers`` and
   ``create pods/attach`` (two SelfSubjectAccessReviews). A "no" here changes nothing in the cluster.
2. **Adds the container** with a strategic-merge PATCH of ``spec.ephemeralContainers`` on the pod's
   ``ephemeralcontainers`` subresource (the official client's ``patch_namespaced_pod_ephemeralcontainers``),
   as kubectl does: a generated name ``debugger-xxxxx`` (kubectl's alphabet), ``stdin`` and ``tty``,
   ``targetContainerName`` (so it shares the target's process namespace: ``ps`` shows the app and
   ``/proc/1/root`` is its filesystem), kubectl's default "general" profile (``SYS_PTRACE``), plus
   ``TERM=xterm-256color`` so that line editing and colours work. The target defaults to the container
   kubectl would exec into (the ``kubectl.kubernetes.io/default-container`` annotation, else the first).
3. **Waits** on a watch of the pod (no polling) until the container's status is ``running``; an image that
   cannot be pulled, a container that ends before it runs, or the timeout end the wait with a typed error
   (:class:`~.errors.ImagePullFailed`, :class:`~.errors.DebugContainerError`,
   :class:`~.errors.DebugContainerTimeout`); a 404 from the subresource means the cluster does not support
   ephemeral containers (:class:`~.errors.EphemeralContainersUnsupported`).
4. **Attaches** (``pods/attach``, the same stream framing as exec, no command) and presses Enter once,
   since the shell printed its first prompt before anyone was attached (kubectl says "If you don't see a
   command prompt, try pressing enter").

The result is the same :class:`~.widget.Terminal` that ``shell()`` returns, connecting in the background
(scripts can ``run()`` at once: it waits), whose header marks it as a debug container. A reconnect attaches
again while the container runs and starts a new one once it has ended (ephemeral containers never restart).
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kubernetes import client
from kubernetes.client.rest import ApiException

from .errors import (
    DebugContainerError,
    DebugContainerTimeout,
    EphemeralContainersUnsupported,
    Forbidden,
    ImagePullFailed,
    K8stermError,
    PodNotFound,
    PodNotRunning,
)
from .kube import watch
from .kube.preflight import Target, _username, choose_container, rest_error
from .kube.status import Context
from .widget.connect import DEBUG_IMAGE, Connector

if TYPE_CHECKING:
    from .kube.config import Cluster
    from .session import ExecSession
    from .widget import Terminal

log = logging.getLogger("k8sterm_widget.debug")

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


class DebugConnector(Connector):
    """A :class:`~.widget.connect.Connector` that creates (or reuses) a debug container and attaches to it."""

    subresource = "attach"

    def __init__(
        self,
        image: str = DEBUG_IMAGE,
        target: str | None = None,
        name: str | None = None,
        command: Sequence[str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.image = image
        self.target_name = target
        self.name = name
        self.argv = list(command) if command else None
        self.timeout = timeout
        self.created: list[str] = []  # debug containers this connector added, oldest first

    def command(self, terminal: Terminal) -> Any:  # type: ignore[override]
        return None  # attach runs no command

    # ------------------------------------------------------------------ the target

    def target(self, terminal: Terminal, cluster: Cluster, namespace: str) -> Target:
        pod_name = terminal.pod
        api_client = cluster.new_api_client()
        ctx = Context(server=cluster.server, pod=pod_name, namespace=namespace)
        try:
            core = client.CoreV1Api(api_client)
            pod = self._get_pod(core, cluster, pod_name, namespace, ctx)
            target = self.target_name or choose_container(pod, None)[0]
            notes: list[str] = []
            name = self.name
            state = ephemeral_state(pod, name)[0] if name else "absent"
            if name and state == "terminated":
                if name not in self.created:
                    raise DebugContainerError(
                        f'debug container "{name}" of pod "{pod_name}" has ended and cannot be restarted',
                        pod=pod_name,
                        container=name,
                        hint="Leave out container_name to start a new one.",
                    )
                notes.append(
                    f'The debug container "{name}" has ended (they never restart); starting a new one.'
                )
                name, state = None, "absent"
            _check_pod(pod, pod_name)
            self._check_access(api_client, cluster, pod_name, namespace, create=state == "absent")
            if state == "absent":
                name = name or debugger_name(all_names(pod))
                spec = ephemeral_container(name, self.image, target, self.argv)
                pod = self._add(core, cluster, pod_name, namespace, spec, ctx)
                self.created.append(name)
            assert name is not None
            self.name = name
            badge = f"debug container · {self.image}" + (f" · target {target}" if target else "")
            terminal._update(container=name, badge=badge)
            notes.insert(
                0,
                f'Debug container "{name}" ({self.image})'
                + (f' shares the process namespace of "{target}"' if target else "")
                + "; ephemeral containers stay in the pod until it is deleted.",
            )
            if ephemeral_state(pod, name)[0] != "running":
                pod = self._wait_running(api_client, cluster, terminal, pod, name)
            return Target(pod_name, namespace, name, notes, pod)
        except K8stermError:
            raise
        except Exception as e:
            raise rest_error(e, cluster, ctx) from None
        finally:
            api_client.close()

    def opened(self, terminal: Terminal, session: ExecSession) -> None:
        if self.argv is None:
            try:
                session.write(b"\r")  # the first prompt was printed before we attached: ask for another
            except K8stermError:
                pass

    # ------------------------------------------------------------------ steps

    @staticmethod
    def _get_pod(core: client.CoreV1Api, cluster: Cluster, pod: str, namespace: str, ctx: Context) -> dict:
        import json

        try:
            resp = core.read_namespaced_pod(
                pod, namespace, _preload_content=False, _request_timeout=cluster.request_timeout
            )
            return json.loads(resp.data)
        except ApiException as e:
            if e.status == 404:
                raise PodNotFound(pod, namespace) from None
            raise rest_error(e, cluster, ctx) from None

    @staticmethod
    def _check_access(
        api_client: client.ApiClient, cluster: Cluster, pod: str, namespace: str, *, create: bool
    ) -> None:
        """Refuse before changing anything when RBAC would stop us half-way (the container is permanent)."""
        needed = [("create", "attach")]
        if create:
            needed.insert(0, ("patch", "ephemeralcontainers"))
        authz = client.AuthorizationV1Api(api_client)
        for verb, subresource in needed:
            body = client.V1SelfSubjectAccessReview(
                spec=client.V1SelfSubjectAccessReviewSpec(
                    resource_attributes=client.V1ResourceAttributes(
                        namespace=namespace, verb=verb, resource="pods", subresource=subresource, name=pod
                    )
                )
            )
            try:
                review = authz.create_self_subject_access_review(
                    body, _request_timeout=cluster.request_timeout
                )
            except ApiException:
                return  # no review API: the request itself will say
            if review.status and review.status.allowed:
                continue
            user = _username(api_client, cluster) or "(unknown user)"
            raise Forbidden(
                f'pods "{pod}" is forbidden: User "{user}" cannot {verb} resource "pods/{subresource}" '
                f'in API group "" in the namespace "{namespace}"',
                user=user,
                verb=verb,
                resource=f"pods/{subresource}",
                namespace=namespace,
            )

    def _add(
        self, core: client.CoreV1Api, cluster: Cluster, pod: str, namespace: str, spec: dict, ctx: Context
    ) -> dict:
        import json

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
            return json.loads(resp.data)
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

    def _wait_running(
        self, api_client: client.ApiClient, cluster: Cluster, terminal: Terminal, pod: dict, name: str
    ) -> dict:
        """Watch the pod until ``name`` runs; report progress in the terminal's status line."""
        meta = pod["metadata"]
        pod_name, namespace = meta["name"], meta["namespace"]
        deadline = time.monotonic() + self.timeout
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
                raise ImagePullFailed(pod_name, name, self.image, reason, message)
            if reason in START_FAILURES:
                raise DebugContainerError(
                    f'debug container "{name}" in pod "{pod_name}" could not start ({reason}'
                    + (f": {message}" if message else "")
                    + ")",
                    pod=pod_name,
                    container=name,
                )
            progress = f"starting debug container {name} ({reason or state})"
            if progress != last:
                last = progress
                terminal._update(status_detail=progress)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DebugContainerTimeout(pod_name, name, self.timeout, reason or state)
            pod, version = self._next_change(
                api_client, cluster, namespace, pod_name, pod, version, remaining
            )

    @staticmethod
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
            fresh = DebugConnector._get_pod(
                client.CoreV1Api(api_client), cluster, pod_name, namespace, Context(pod=pod_name)
            )
            return fresh, fresh["metadata"].get("resourceVersion", "")
        finally:
            watch.abort(response)


def _check_pod(pod: dict, name: str) -> None:
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    if phase in ("Succeeded", "Failed"):
        raise PodNotRunning(
            f"cannot add a debug container to a completed pod; current phase is {phase}",
            pod=name,
            phase=phase,
        )
    if not (pod.get("spec") or {}).get("nodeName"):
        raise PodNotRunning(
            f"pod {name} does not have a host assigned",
            pod=name,
            phase=phase,
            hint="A debug container runs on the pod's node; wait until the pod is scheduled.",
        )
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        raise PodNotRunning(f"pod {name} is being deleted", pod=name, phase=phase)


def debug(
    pod: str,
    image: str = DEBUG_IMAGE,
    target: str | None = None,
    namespace: str | None = None,
    container_name: str | None = None,
    *,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    command: Sequence[str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **options: Any,
) -> Terminal:
    """A shell in a new ephemeral debug container of ``pod``, as a terminal widget (``kubectl debug -it``).

    ``image`` is the debug container's image (a shell and tools; default ``busybox:1.36``); ``target`` the
    container whose processes it should see (default: the one ``kubectl exec`` would pick);
    ``container_name`` names it (default ``debugger-xxxxx``; naming a running debug container attaches to
    it instead of adding one); ``command`` replaces the image's default command; ``timeout`` bounds the
    wait for it to run. ``context``/``kubeconfig``/``namespace`` as for ``shell()``; ``options`` are display
    traits of :class:`~.widget.Terminal` (``rows``, ``renderer`` …).

    Returns at once, like ``shell()``: the widget shows the progress and, on failure, one error line, and
    ``Terminal.error`` holds the typed exception (scripting calls such as ``run()`` wait for the shell and
    raise it). Ephemeral containers cannot be removed: each call adds one to the pod for good.
    """
    from .widget import Terminal

    term = Terminal(
        pod, namespace, None, None, context=context, kubeconfig=kubeconfig, connect=False, **options
    )
    term._connector = DebugConnector(
        image=image, target=target, name=container_name, command=command, timeout=timeout
    )
    term._start()
    return term


__all__ = ["DEFAULT_TIMEOUT", "DebugConnector", "debug", "debugger_name", "ephemeral_container"]
