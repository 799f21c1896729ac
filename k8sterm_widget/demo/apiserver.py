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
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from . import (
    auth,
    discovery,
    ephemeral,
    exec_ws,
    logs,
    openapi,
    portforward,
    proxy,
    rest,
    reviews,
    schema,
    subresources,
)
from . import status as st
from .context import CTX, INFO, USER, ClusterContext, respond_json, respond_status, response_headers
from .objects import Obj

log = logging.getLogger(__name__)

MAX_BODY = 3 << 20  # the apiserver's limit for a request body


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
    as_user = request.headers.get("Impersonate-User")
    if as_user is not None or request.headers.get("Impersonate-Group"):
        groups = tuple(request.headers.getall("Impersonate-Group", []))
        target = as_user or user.name
        check = auth.RequestInfo(
            verb="impersonate",
            path=request.path,
            is_resource=True,
            resource="serviceaccounts" if target.startswith("system:serviceaccount:") else "users",
            name=target,
            namespace=target.split(":")[2] if target.count(":") >= 3 else "",
        )
        if not auth.allowed(user, check):
            reason = (
                f'User "{user.name}" cannot impersonate resource "{check.resource}" in API group "" '
                "at the cluster scope"
            )
            return respond_status(st.forbidden(check.resource, target, reason))
        user = ctx.authenticator.impersonate(target, groups)
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


async def pod_exec(request: web.Request) -> web.StreamResponse:
    return await exec_ws.serve(request, request.app[CTX], "exec", respond_status)


async def pod_attach(request: web.Request) -> web.StreamResponse:
    return await exec_ws.serve(request, request.app[CTX], "attach", respond_status)


# --- the application ------------------------------------------------------------------------------


async def _drop_server_header(_: web.Request, response: web.StreamResponse) -> None:
    """A kube-apiserver sends no ``Server`` header; aiohttp adds one unless it is removed here, where
    aiohttp's default headers are already set and not yet sent."""
    response.headers.popall("Server", None)


def _discovery(legacy: bool, fallback: Callable[[], Obj]) -> Callable[[web.Request], Awaitable[web.Response]]:
    """``/api`` and ``/apis``: aggregated discovery when asked for, else the legacy document."""

    async def handler(request: web.Request) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            response = respond_json(discovery.aggregated(legacy))
            response.content_type = "application/json"
            response.headers["Content-Type"] = discovery.AGGREGATED_V2
            return response
        return respond_json(fallback())

    return handler


async def group_or_version(request: web.Request) -> web.Response:
    group, version = request.match_info["group"], request.match_info.get("version", "")
    if group not in ctx_groups():
        return respond_status(st.no_such_resource())
    if not version:
        return respond_json(discovery.api_group(group))
    if version not in discovery._versions(group):
        return respond_status(st.no_such_resource())
    return respond_json(discovery.resource_list(group, version))


def ctx_groups() -> list[str]:
    from .registry import REGISTRY

    return REGISTRY.groups()


async def openapi_v2(request: web.Request) -> web.Response:
    """JSON, or gnostic's protobuf when asked for it (kubectl always is)."""
    proto = openapi.V2_PROTOBUF.split("@")[0] in request.headers.get("Accept", "")
    try:
        body = await asyncio.get_running_loop().run_in_executor(
            None, openapi.v2_protobuf if proto else openapi.v2_bytes
        )
    except schema.SchemaUnavailable as exc:
        return respond_status(st.internal_error(str(exc)))
    content_type = "application/octet-stream" if proto else "application/json"
    return web.Response(body=body, content_type=content_type, headers=response_headers())


async def openapi_v3(request: web.Request) -> web.Response:
    path = request.match_info.get("path", "")
    try:
        if not path:
            index = await asyncio.get_running_loop().run_in_executor(None, openapi.v3_index)
            return respond_json(index)
        body = await asyncio.get_running_loop().run_in_executor(None, openapi.v3_for_path, path)
    except schema.SchemaUnavailable as exc:
        return respond_status(st.internal_error(str(exc)))
    if body is None:
        return web.Response(
            status=404, text="404 page not found\n", content_type="text/plain", headers=response_headers()
        )
    return web.Response(body=body, content_type="application/json", headers=response_headers())


def build_app(ctx: ClusterContext) -> web.Application:
    app = web.Application(middlewares=[handle_errors, authenticate_and_authorize], client_max_size=MAX_BODY)
    app[CTX] = ctx
    app.on_response_prepare.append(_drop_server_header)
    subresources.register(ctx)
    reviews.register(ctx)
    r = app.router
    r.add_get("/version", get_version)
    r.add_get("/version/", get_version)
    for path in ("/healthz", "/livez", "/readyz"):
        r.add_get(path, get_health)
    for path, handler in (
        ("/api", _discovery(True, discovery.api_versions)),
        ("/apis", _discovery(False, discovery.api_group_list)),
        ("/api/v1", _static(discovery.core_v1_resources)),
    ):
        r.add_get(path, handler)
        r.add_get(path + "/", handler)
    r.add_get("/apis/{group}", group_or_version)
    r.add_get("/apis/{group}/", group_or_version)
    r.add_get("/apis/{group}/{version}", group_or_version)
    r.add_get("/apis/{group}/{version}/", group_or_version)
    r.add_get("/openapi/v2", openapi_v2)
    r.add_get("/openapi/v3", openapi_v3)
    r.add_get("/openapi/v3/{path:.*}", openapi_v3)
    r.add_route("*", "/api/v1/namespaces/{namespace}/pods/{name}/exec", pod_exec)
    r.add_route("*", "/api/v1/namespaces/{namespace}/pods/{name}/attach", pod_attach)
    r.add_get("/api/v1/namespaces/{namespace}/pods/{name}/log", logs.get_log)
    r.add_route("*", "/api/v1/namespaces/{namespace}/pods/{name}/portforward", portforward.serve)
    proxy.register(app, ctx)
    ephemeral_path = "/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers"
    r.add_get(ephemeral_path, ephemeral.get)
    r.add_patch(ephemeral_path, ephemeral.patch)
    r.add_put(ephemeral_path, ephemeral.put)
    r.add_route("*", "/api/{tail:.*}", rest.dispatch)
    r.add_route("*", "/apis/{tail:.*}", rest.dispatch)
    return app
