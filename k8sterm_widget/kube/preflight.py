"""Pre-flight: explain why an exec cannot work *before* opening the stream.

Web shells that skip this show "Connecting…" forever or a bare "status 0" (docs/field-survey.md, complaints 7
and 15). Two REST calls give proper HTTP codes and Status bodies instead: GET the pod (exists? scheduled?
finished? which container? running?), then a SelfSubjectAccessReview for ``create pods/exec`` (what the
apiserver checks for both SPDY and, since 1.35, WebSocket upgrades). The container is chosen exactly as
kubectl chooses it, including its "Defaulted container …" note.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from kubernetes import client
from kubernetes.client.rest import ApiException

from ..errors import (
    ContainerNotRunning,
    ContainerNotValid,
    Forbidden,
    K8stermError,
    PodNotFound,
    PodNotRunning,
)
from .config import Cluster
from .rest import json_body, rest_error
from .status import Context

DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"


@dataclass
class Target:
    """A pod and container that passed pre-flight, plus notes to show the user (kubectl prints them)."""

    pod: str
    namespace: str
    container: str
    notes: list[str] = field(default_factory=list)
    pod_object: dict = field(default_factory=dict, repr=False)


def all_container_names(pod: dict) -> str:
    """kubectl's ``AllContainerNames``: regular, then ``(ephem)``, then ``(init)``."""
    spec = pod.get("spec") or {}
    names = [c["name"] for c in spec.get("containers") or []]
    names += [f"{c['name']} (ephem)" for c in spec.get("ephemeralContainers") or []]
    names += [f"{c['name']} (init)" for c in spec.get("initContainers") or []]
    return ", ".join(names)


def choose_container(pod: dict, container: str | None) -> tuple[str, list[str]]:
    """Pick the container like kubectl's ``podcmd.FindOrDefaultContainerByName``; returns (name, notes)."""
    spec = pod.get("spec") or {}
    name = pod.get("metadata", {}).get("name", "")
    known = {
        c["name"]
        for key in ("containers", "initContainers", "ephemeralContainers")
        for c in spec.get(key) or []
    }
    choices = all_container_names(pod)
    if not container:
        container = (pod.get("metadata", {}).get("annotations") or {}).get(
            DEFAULT_CONTAINER_ANNOTATION
        ) or None
    if container:
        if container not in known:
            raise ContainerNotValid(
                f"container {container} is not valid for pod {name} out of: {choices}",
                container=container,
                pod=name,
                choices=choices.split(", "),
            )
        return container, []
    regular = spec.get("containers") or []
    if not regular:
        raise ContainerNotValid(
            f"pod {name} does not have any containers", container=None, pod=name, choices=()
        )
    first = regular[0]["name"]
    notes = []
    if len(regular) > 1 or spec.get("initContainers") or spec.get("ephemeralContainers"):
        notes.append(f'Defaulted container "{first}" out of: {choices}')
    return first, notes


def container_state(pod: dict, container: str) -> tuple[str, str]:
    """("running" | "waiting" | "terminated" | "unknown", human detail) of one container."""
    status = pod.get("status") or {}
    for key in ("containerStatuses", "initContainerStatuses", "ephemeralContainerStatuses"):
        for cs in status.get(key) or []:
            if cs.get("name") != container:
                continue
            state = cs.get("state") or {}
            if "running" in state:
                return "running", ""
            if "waiting" in state:
                w = state["waiting"] or {}
                return "waiting", w.get("reason") or "waiting"
            if "terminated" in state:
                t = state["terminated"] or {}
                return "terminated", f"{t.get('reason') or 'terminated'}, exit code {t.get('exitCode', '?')}"
    return "unknown", "no status reported yet"


@dataclass(frozen=True)
class PodWording:
    """How a pod that cannot take the operation is refused: ``kubectl exec`` and ``kubectl debug`` run the
    same checks (phase, node) but word them differently, and only ``debug`` refuses a pod being deleted."""

    completed: str
    unscheduled_hint: str
    refuse_deleting: bool = False


EXEC = PodWording(
    completed="cannot exec into a container in a completed pod",
    unscheduled_hint="The pod is not scheduled yet (phase Pending); wait until a node runs it.",
)
DEBUG = PodWording(
    completed="cannot add a debug container to a completed pod",
    unscheduled_hint="A debug container runs on the pod's node; wait until the pod is scheduled.",
    refuse_deleting=True,
)


def check_pod(pod: dict, container: str | None, wording: PodWording = EXEC) -> None:
    """Raise when the pod (and ``container``, when given) cannot take the operation now.

    kubectl's own checks first (phase, node), then the kubelet's (the container runs).
    """
    name = pod.get("metadata", {}).get("name", "")
    phase = (pod.get("status") or {}).get("phase") or "Unknown"
    if phase in ("Succeeded", "Failed"):
        raise PodNotRunning(f"{wording.completed}; current phase is {phase}", pod=name, phase=phase)
    if not (pod.get("spec") or {}).get("nodeName"):
        raise PodNotRunning(
            f"pod {name} does not have a host assigned",
            pod=name,
            phase=phase,
            hint=wording.unscheduled_hint,
        )
    if wording.refuse_deleting and (pod.get("metadata") or {}).get("deletionTimestamp"):
        raise PodNotRunning(f"pod {name} is being deleted", pod=name, phase=phase)
    if container is None:
        return
    state, detail = container_state(pod, container)
    if state != "running":
        raise ContainerNotRunning(
            f'container "{container}" of pod "{name}" is not running ({state}: {detail})',
            pod=name,
            container=container,
            state=f"{state}: {detail}",
            hint="Wait until it runs; kubectl describe pod shows why it is not.",
        )


def read_pod(
    core: client.CoreV1Api, cluster: Cluster, pod: str, namespace: str, ctx: Context, *, suggest: bool = False
) -> dict:
    """GET the pod as a dict; a 404 is :class:`PodNotFound` (with close names when ``suggest``)."""
    try:
        resp = core.read_namespaced_pod(
            pod, namespace, _preload_content=False, _request_timeout=cluster.request_timeout
        )
        return json_body(resp)
    except ApiException as e:
        if e.status == 404:
            suggestions = _suggest(core, cluster, pod, namespace) if suggest else ()
            raise PodNotFound(pod, namespace, suggestions=suggestions) from None
        raise rest_error(e, cluster, ctx) from None


def _suggest(api: client.CoreV1Api, cluster: Cluster, pod: str, namespace: str) -> list[str]:
    """Close pod names in the namespace, when listing is allowed (best effort, never raises)."""
    try:
        resp = api.list_namespaced_pod(
            namespace, _preload_content=False, _request_timeout=cluster.request_timeout
        )
        names = [p["metadata"]["name"] for p in json_body(resp).get("items", [])]
    except Exception:
        return []
    return difflib.get_close_matches(pod, names, n=3, cutoff=0.5)


def _username(api_client: client.ApiClient, cluster: Cluster) -> str | None:
    """Who the server says we are (SelfSubjectReview, as ``kubectl auth whoami``), else the kubeconfig's."""
    try:
        review = client.AuthenticationV1Api(api_client).create_self_subject_review(
            client.V1SelfSubjectReview(), _request_timeout=cluster.request_timeout
        )
        info = review.status.user_info if review.status else None
        return info.username if info else None
    except Exception:
        return cluster.user


def check_access(
    api_client: client.ApiClient,
    cluster: Cluster,
    pod: str,
    namespace: str,
    subresource: str = "exec",
    verb: str = "create",
) -> None:
    """SelfSubjectAccessReview for ``<verb> pods/<subresource>`` (``<verb> pods`` when ``subresource`` is
    empty); raise Forbidden when denied.

    A cluster that forbids or lacks the review API is not an error here: the request itself will tell.
    """
    resource = f"pods/{subresource}" if subresource else "pods"
    body = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, resource="pods", subresource=subresource or None, name=pod
            )
        )
    )
    try:
        review = client.AuthorizationV1Api(api_client).create_self_subject_access_review(
            body, _request_timeout=cluster.request_timeout
        )
    except ApiException:
        return
    if review.status and review.status.allowed:
        return
    user = _username(api_client, cluster) or "(unknown user)"
    raise Forbidden(
        f'pods "{pod}" is forbidden: User "{user}" cannot {verb} resource "{resource}" '
        f'in API group "" in the namespace "{namespace}"',
        user=user,
        verb=verb,
        resource=resource,
        namespace=namespace,
    )


def preflight(
    cluster: Cluster,
    pod: str,
    namespace: str,
    container: str | None = None,
    *,
    subresource: str = "exec",
    api_client: client.ApiClient | None = None,
) -> Target:
    """Run every check that can fail before the upgrade; return the resolved target."""
    own_client = api_client is None
    api_client = api_client or cluster.new_api_client()
    ctx = Context(server=cluster.server, pod=pod, namespace=namespace, container=container)
    try:
        core = client.CoreV1Api(api_client)
        pod_obj = read_pod(core, cluster, pod, namespace, ctx, suggest=True)
        chosen, notes = choose_container(pod_obj, container)
        check_pod(pod_obj, chosen)
        check_access(api_client, cluster, pod, namespace, subresource)
        return Target(pod, namespace, chosen, notes, pod_obj)
    except K8stermError:
        raise
    except Exception as e:  # network failures and the like
        raise rest_error(e, cluster, ctx) from None
    finally:
        if own_client:
            api_client.close()
