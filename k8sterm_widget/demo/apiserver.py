"""The demo cluster's HTTP API: an aiohttp application shaped like the kube-apiserver's handler chain.

Requests pass authentication (401), the RBAC filter (403), then a resource handler; every failure, including
a bug in a handler, becomes a ``metav1.Status`` with the apiserver's wording, never a traceback.  Lists
support selectors, ``limit``/``continue`` and server-side printing (Tables for kubectl); watches stream JSON
events with resourceVersions and bookmarks, and end when their client leaves.  Subresources have modules
of their own: ``pods/exec`` and ``pods/attach`` (:mod:`.exec_ws`), ``pods/ephemeralcontainers``
(:mod:`.ephemeral`), ``pods/log`` (:mod:`.logs`); so do the review APIs (:mod:`.reviews`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import auth, discovery, ephemeral, exec_ws, logs, reviews, tables
from . import status as st
from .context import CTX, INFO, USER, ClusterContext, respond_json, respond_status, response_headers
from .objects import Obj
from .selectors import SelectorError, match_fields, match_labels, parse_fields, parse_labels
from .store import TooOld

log = logging.getLogger(__name__)

POD_FIELDS = {
    "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
    "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
}  # fmt: skip
NAMESPACE_FIELDS = {"metadata.name", "metadata.namespace", "status.phase"}
MAX_BODY = 3 << 20  # the apiserver's limit for a request body
BOOKMARK_INTERVAL = 60.0
DEFAULT_WATCH_TIMEOUT = 1800.0


# --- middleware -----------------------------------------------------------------------------------


@web.middleware
async def handle_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return _not_found(request)
        if exc.status == 405:
            return respond_status(st.method_not_allowed())
        if exc.status == 413:
            return respond_status(st.too_large(f"Request entity too large: limit is {MAX_BODY}"))
        raise
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:
        log.exception("handler failed for %s %s", request.method, request.path)
        return respond_status(st.internal_error(f"{type(exc).__name__}: {exc}"))


def _not_found(request: web.Request) -> web.Response:
    if request.path.startswith(("/api/", "/apis/")):
        return respond_status(st.no_such_resource())
    return web.Response(
        status=404, text="404 page not found\n", content_type="text/plain", headers=response_headers()
    )


@web.middleware
async def authenticate_and_authorize(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    ctx = request.app[CTX]
    user = ctx.authenticator.authenticate(request.headers.get("Authorization"))
    if user is None:
        return respond_status(st.unauthorized())
    info = auth.request_info(request.method, request.path, request.query)
    if not auth.allowed(user, info):
        reason = auth.forbidden_reason(user, info)
        resource = info.resource if info.is_resource else ""
        return respond_status(st.forbidden(resource, info.name, reason, group=info.api_group))
    request[USER], request[INFO] = user, info
    return await handler(request)


# --- discovery, health ----------------------------------------------------------------------------


async def get_version(_: web.Request) -> web.Response:
    return respond_json(discovery.version())


async def get_health(request: web.Request) -> web.Response:
    name = request.path.strip("/")
    verbose = f"[+]ping ok\n[+]log ok\n[+]etcd ok\n{name} check passed\n"
    text = verbose if "verbose" in request.query else "ok"
    return web.Response(text=text, content_type="text/plain", headers=response_headers())


def _static(doc: Callable[[], Obj]) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(_: web.Request) -> web.Response:
        return respond_json(doc())

    return handler


# --- lists, gets and watches ----------------------------------------------------------------------


@dataclass(frozen=True)
class ListOptions:
    labels: list[Any]
    fields: list[Any]
    limit: int
    start_after: str
    watch: bool
    resource_version: str
    timeout: float
    bookmarks: bool
    initial_events: bool


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise SelectorError(f"{name}: Invalid value: {value!r}: must be an integer") from None


def _list_options(request: web.Request, supported_fields: set[str]) -> ListOptions:
    q = request.query
    start = ""
    token = q.get("continue", "")
    if token:
        try:
            decoded = json.loads(base64.urlsafe_b64decode(token.encode() + b"==="))
            start = str(decoded["start"])
        except (ValueError, KeyError, TypeError):
            raise SelectorError(f"continue key is not valid: illegal base64 data: {token!r}") from None
    # timeoutSeconds=0 is "no timeout of my own" (the apiserver then picks its random 30-60 min), not
    # "end at once", which would make a client that passes 0 re-watch in a tight loop.
    timeout = _int(q.get("timeoutSeconds") or "0", "timeoutSeconds")
    watch = exec_ws.parse_bool(q.getall("watch", []))
    return ListOptions(
        labels=parse_labels(q.get("labelSelector", "")),
        fields=parse_fields(q.get("fieldSelector", ""), supported_fields),
        limit=max(_int(q.get("limit", "0") or "0", "limit"), 0),
        start_after=start,
        watch=watch,
        resource_version=q.get("resourceVersion", ""),
        timeout=float(timeout) if timeout > 0 else DEFAULT_WATCH_TIMEOUT * (1 + random.random()),
        bookmarks=exec_ws.parse_bool(q.getall("allowWatchBookmarks", [])),
        initial_events=exec_ws.parse_bool(q.getall("sendInitialEvents", [])),
    )


def _field_value(obj: Obj, name: str) -> str:
    meta, spec, status = obj["metadata"], obj.get("spec", {}), obj.get("status", {})
    if name == "metadata.name":
        return meta["name"]
    if name == "metadata.namespace":
        return meta.get("namespace", "")
    if name == "spec.hostNetwork":
        return "true" if spec.get("hostNetwork") else "false"
    if name == "status.podIP":
        ips = status.get("podIPs") or []
        return ips[0]["ip"] if ips else ""
    section, _, key = name.partition(".")
    return str({"spec": spec, "status": status}.get(section, {}).get(key, "") or "")


def _matches(obj: Obj, opts: ListOptions) -> bool:
    return match_labels(opts.labels, obj["metadata"].get("labels")) and match_fields(
        opts.fields, lambda f: _field_value(obj, f)
    )


def _key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


def _continue_token(last: Obj, rv: int) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": _key(last) + "\x00"}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _include_object(request: web.Request) -> str:
    value = request.query.get("includeObject", "Metadata")
    return value if value in ("None", "Metadata", "Object") else "Metadata"


async def _list(
    request: web.Request, kind: str, objects: list[Obj], supported: set[str], namespace: str | None
) -> web.StreamResponse:
    ctx = request.app[CTX]
    try:
        opts = _list_options(request, supported)
    except SelectorError as exc:
        return respond_status(st.bad_request(str(exc)))
    if opts.watch:
        return await _watch(request, kind, namespace, opts)
    rv = ctx.store.resource_version
    items = [
        o
        for o in objects
        if _matches(o, opts) and (not opts.start_after or _key(o) + "\x00" > opts.start_after)
    ]
    token, remaining = "", 0
    if opts.limit and len(items) > opts.limit:
        remaining = len(items) - opts.limit
        items = items[: opts.limit]
        token = _continue_token(items[-1], rv)
    version = tables.wants_table(request.headers.get("Accept", ""))
    if version:
        return respond_json(
            tables.table(
                kind,
                items,
                version=version,
                include_object=_include_object(request),
                resource_version=str(rv),
                continue_token=token,
            )
        )
    metadata: Obj = {"resourceVersion": str(rv)}
    if token:
        metadata["continue"] = token
        metadata["remainingItemCount"] = remaining
    stripped = [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in items]
    return respond_json({"kind": f"{kind}List", "apiVersion": "v1", "metadata": metadata, "items": stripped})


def _single(request: web.Request, kind: str, obj: Obj) -> web.Response:
    version = tables.wants_table(request.headers.get("Accept", ""))
    if version:
        rv = obj["metadata"]["resourceVersion"]
        return respond_json(
            tables.table(
                kind, [obj], version=version, include_object=_include_object(request), resource_version=rv
            )
        )
    return respond_json(obj)


def _bookmark(kind: str, rv: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    body: Obj = {"kind": kind, "apiVersion": "v1", "metadata": meta}
    if kind == "Pod":
        body["spec"] = {"containers": None}
        body["status"] = {}
    else:
        body["spec"] = {}
        body["status"] = {}
    return {"type": "BOOKMARK", "object": body}


async def _watch(
    request: web.Request, kind: str, namespace: str | None, opts: ListOptions
) -> web.StreamResponse:
    """A JSON watch stream (one event per line) until ``timeoutSeconds``, the client leaves or we stop."""
    store = request.app[CTX].store
    table_version = tables.wants_table(request.headers.get("Accept", ""))
    rv_text = opts.resource_version
    since: int | None = None
    if rv_text not in ("", "0"):
        try:
            since = int(rv_text)
        except ValueError:
            return respond_status(
                st.bad_request(f"resourceVersion: Invalid value: {rv_text!r}: must be an integer")
            )
    response = web.StreamResponse(
        status=200, headers={**response_headers(), "Content-Type": "application/json"}
    )
    response.enable_chunked_encoding()
    first_table = True

    def render(event_type: str, obj: Obj) -> Obj:
        nonlocal first_table
        if table_version:
            rendered = tables.table(
                kind,
                [obj],
                version=table_version,
                include_object=_include_object(request),
                resource_version=obj["metadata"]["resourceVersion"],
                headers=first_table,
            )
            first_table = False
            return {"type": event_type, "object": rendered}
        return {"type": event_type, "object": obj}

    try:
        watcher, backlog = store.watch(kind, namespace, since)
    except TooOld as exc:
        await response.prepare(request)
        await response.write(st.encode({"type": "ERROR", "object": st.gone(str(exc))}))
        await response.write_eof()
        return response
    # The state the watch starts from is taken together with the registration: a change made while the
    # response is being prepared then arrives once, as a MODIFIED event after it, and never twice.
    sent_rv = store.resource_version
    current = (store.pods(namespace) if kind == "Pod" else store.namespaces()) if since is None else []
    try:
        await response.prepare(request)
        if since is None:
            for obj in current:
                if _matches(obj, opts):
                    await response.write(st.encode(render("ADDED", obj)))
            if opts.initial_events and opts.bookmarks:
                await response.write(st.encode(_bookmark(kind, sent_rv, initial_end=True)))
        for past in backlog:
            if _matches(past.obj, opts):
                await response.write(st.encode(render(past.type, past.obj)))
        deadline = time.monotonic() + opts.timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                event = await watcher.next(min(remaining, BOOKMARK_INTERVAL))
            except asyncio.TimeoutError:
                if opts.bookmarks and deadline - time.monotonic() > 0:
                    await response.write(st.encode(_bookmark(kind, store.resource_version)))
                continue
            if event is None:
                break
            if _matches(event.obj, opts):
                await response.write(st.encode(render(event.type, event.obj)))
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
    except ConnectionError:
        pass
    finally:
        store.unwatch(watcher)
    return response


async def list_namespaces(request: web.Request) -> web.StreamResponse:
    store = request.app[CTX].store
    return await _list(request, "Namespace", store.namespaces(), NAMESPACE_FIELDS, None)


async def get_namespace(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    ns = request.app[CTX].store.namespace(name)
    if ns is None:
        return respond_status(st.not_found("namespaces", name))
    return _single(request, "Namespace", ns)


async def list_all_pods(request: web.Request) -> web.StreamResponse:
    store = request.app[CTX].store
    return await _list(request, "Pod", store.pods(), POD_FIELDS, None)


async def list_pods(request: web.Request) -> web.StreamResponse:
    store = request.app[CTX].store
    ns = request.match_info["namespace"]
    return await _list(request, "Pod", store.pods(ns), POD_FIELDS, ns)


async def get_pod(request: web.Request) -> web.Response:
    ns, name = request.match_info["namespace"], request.match_info["name"]
    pod = request.app[CTX].store.pod(ns, name)
    if pod is None:
        return respond_status(st.not_found("pods", name))
    return _single(request, "Pod", pod)


async def pod_exec(request: web.Request) -> web.StreamResponse:
    return await exec_ws.serve(request, request.app[CTX], "exec", respond_status)


async def pod_attach(request: web.Request) -> web.StreamResponse:
    return await exec_ws.serve(request, request.app[CTX], "attach", respond_status)


# --- the application ------------------------------------------------------------------------------


async def _drop_server_header(_: web.Request, response: web.StreamResponse) -> None:
    """A kube-apiserver sends no ``Server`` header; aiohttp adds one unless it is removed here, where
    aiohttp's default headers are already set and not yet sent."""
    response.headers.popall("Server", None)


def build_app(ctx: ClusterContext) -> web.Application:
    app = web.Application(middlewares=[handle_errors, authenticate_and_authorize], client_max_size=MAX_BODY)
    app[CTX] = ctx
    app.on_response_prepare.append(_drop_server_header)
    r = app.router
    r.add_get("/version", get_version)
    r.add_get("/version/", get_version)
    for path in ("/healthz", "/livez", "/readyz"):
        r.add_get(path, get_health)
    documents: list[tuple[str, Callable[[], Obj]]] = [
        ("/api", discovery.api_versions),
        ("/apis", discovery.api_group_list),
        ("/api/v1", discovery.core_v1_resources),
    ]
    for group in discovery.GROUPS:
        documents.append((f"/apis/{group}", functools.partial(discovery.api_group, group)))
        documents.append((f"/apis/{group}/v1", functools.partial(discovery.group_v1_resources, group)))
    for path, doc in documents:
        r.add_get(path, _static(doc))
        r.add_get(path + "/", _static(doc))
    r.add_get("/api/v1/namespaces", list_namespaces)
    r.add_get("/api/v1/namespaces/{name}", get_namespace)
    r.add_get("/api/v1/pods", list_all_pods)
    r.add_get("/api/v1/namespaces/{namespace}/pods", list_pods)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}", get_pod)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/status", get_pod)
    r.add_route("*", "/api/v1/namespaces/{namespace}/pods/{name}/exec", pod_exec)
    r.add_route("*", "/api/v1/namespaces/{namespace}/pods/{name}/attach", pod_attach)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", logs.get_log)
    ephemeral_path = "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers"
    r.add_get(ephemeral_path, ephemeral.get)
    r.add_patch(ephemeral_path, ephemeral.patch)
    r.add_put(ephemeral_path, ephemeral.put)
    r.add_post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", reviews.create_ssar)
    r.add_post("/apis/authentication.k8s.io/v1/selfsubjectreviews", reviews.create_ssr)
    return app
