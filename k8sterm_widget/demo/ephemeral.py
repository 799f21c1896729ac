"""``pods/ephemeralcontainers``: how ``kubectl debug`` and a debug button add a container to a running pod.

``GET`` returns the pod; ``PATCH`` (strategic merge, JSON merge or JSON patch, see :mod:`.patch`) and
``PUT`` (a whole pod) produce a new pod of which only ``spec.ephemeralContainers`` is kept — the
apiserver's ``dropNonEphemeralContainerUpdates`` silently drops every other change.  The new list is
decoded, defaulted and validated like the apiserver does (:mod:`.validation`): names unique across all
containers, a ``targetContainerName`` that exists, entries never removed or changed.  A stale
``resourceVersion`` is a 409.  The stored pod changes (a ``MODIFIED`` watch event) and the node agent
starts each new container, whose ``ephemeralContainerStatuses`` entry then goes from ``ContainerCreating``
to ``running`` like a kubelet reports it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from . import patch as patches
from . import podsecurity, validation
from . import status as st
from .context import CTX, BodyError, media_type, read_json, respond_json, respond_status
from .objects import Obj

PATCH_TYPES = {
    "application/json-patch+json": patches.json_patch,
    "application/merge-patch+json": patches.merge_patch,
    "application/strategic-merge-patch+json": patches.strategic_merge,
}


def _pod(request: web.Request) -> tuple[str, str, Obj | None]:
    ns, name = request.match_info["namespace"], request.match_info["name"]
    return ns, name, request.app[CTX].store.pod(ns, name)


async def get(request: web.Request) -> web.Response:
    _, name, pod = _pod(request)
    if pod is None:
        return respond_status(st.not_found("pods", name))
    return respond_json(pod)


async def patch(request: web.Request) -> web.Response:
    _, name, pod = _pod(request)
    if pod is None:
        return respond_status(st.not_found("pods", name))
    kind = media_type(request)
    apply = PATCH_TYPES.get(kind)
    if apply is None:
        return respond_status(st.unsupported_media_type(list(PATCH_TYPES)))
    try:
        body = await read_json(request)
        patched = apply(pod, body)
    except BodyError as exc:
        text = "invalid JSON document" if apply is patches.strategic_merge else str(exc)
        return respond_status(st.bad_request(text))
    except patches.PatchError as exc:
        return respond_status(exc.status)
    except RecursionError:  # a patch nested deeper than the merge can follow
        return respond_status(st.bad_request("exceeded max depth"))
    return _update(request, pod, patched)


async def put(request: web.Request) -> web.Response:
    ns, name, pod = _pod(request)
    if pod is None:
        return respond_status(st.not_found("pods", name))
    try:
        body = await read_json(request)
    except BodyError as exc:
        return respond_status(st.bad_request(str(exc)))
    meta = body.get("metadata") if isinstance(body, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    if meta.get("name", "") != name:
        return respond_status(
            st.bad_request(
                f"the name of the object ({meta.get('name', '')}) does not match the name on the URL ({name})"
            )
        )
    if meta.get("namespace") and meta["namespace"] != ns:
        return respond_status(
            st.bad_request(
                f"the namespace of the object ({meta['namespace']}) does not match the namespace on the "
                f"request ({ns})"
            )
        )
    return _update(request, pod, body)


def _update(request: web.Request, pod: Obj, new: Any) -> web.Response:
    """Keep only ``spec.ephemeralContainers`` of ``new``; validate, store, start what is new."""
    name = pod["metadata"]["name"]
    meta = new.get("metadata") if isinstance(new, dict) else None
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    if version and version != pod["metadata"]["resourceVersion"]:
        return respond_status(st.conflict("pods", name))
    spec = new.get("spec") if isinstance(new, dict) else None
    entries = spec.get("ephemeralContainers") if isinstance(spec, dict) else None
    try:
        if entries is not None and not isinstance(entries, list):
            raise validation.DecodeError(
                "cannot unmarshal into Go struct field PodSpec.spec.ephemeralContainers"
            )
        containers = [validation.normalize(c) for c in entries or []]
    except validation.DecodeError as exc:
        return respond_status(validation.decode_error(new, exc))
    errors = validation.validate(pod, containers)
    if errors:
        return respond_status(st.invalid("Pod", name, errors))
    old = pod["spec"].get("ephemeralContainers", [])
    if containers == old:
        return respond_json(pod)
    ctx = request.app[CTX]
    # the PodSecurity plugin checks pods/ephemeralcontainers updates too (kubectl debug --profile=sysadmin)
    candidate = {**pod, "spec": {**pod["spec"], "ephemeralContainers": containers}}
    problem = podsecurity.violation(candidate, ctx.store.namespace(pod["metadata"]["namespace"]))
    if problem:
        return respond_status(st.forbidden("pods", name, problem))
    ns = pod["metadata"]["namespace"]
    updated = ctx.store.update_pod(ns, name, lambda obj: _set_ephemeral(obj, containers))
    old_names = {c["name"] for c in old}
    for container in containers:
        if container["name"] not in old_names:
            ctx.node.add_ephemeral(ns, name, container)
    return respond_json(updated)


def _set_ephemeral(pod: Obj, containers: list[Obj]) -> None:
    """Put the list where Go's ``PodSpec`` has it: right after ``containers``."""
    spec = {k: v for k, v in pod["spec"].items() if k != "ephemeralContainers"}
    pod["spec"] = {}
    for key, value in spec.items():
        pod["spec"][key] = value
        if key == "containers" and containers:
            pod["spec"]["ephemeralContainers"] = containers
