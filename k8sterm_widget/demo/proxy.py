"""``pods/proxy`` and ``services/proxy``: HTTP to a pod's port through the API server (``kubectl proxy``).

The Kubernetes Basics tutorial reaches its app with ``curl
http://localhost:8001/api/v1/namespaces/default/pods/$POD_NAME:8080/proxy/``; ``kubectl proxy`` forwards that
path to the apiserver, which forwards the request to the pod (the name may carry ``:port`` and, for services,
a ``scheme:`` prefix and a port *name*).  A Service is proxied to one of its ready endpoints.  The answer is
the pod's, byte for byte; a port nothing listens on is the apiserver's 503 with the dial error.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiohttp import web

from . import status as st
from .context import CTX, respond_status

Obj = dict[str, Any]
_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "authorization",
    "content-length",
}


def _split(name: str) -> tuple[str, str, str]:
    """``[scheme:]name[:port]`` → (scheme, name, port)."""
    parts = name.split(":")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return "", parts[0], parts[1]
    return "", name, ""


def _service_unavailable(message: str) -> web.Response:
    return respond_status(
        st._status(status="Failure", message=message, reason="ServiceUnavailable", code=503)
    )


async def _forward(request: web.Request, pod: Obj, port: int, path: str) -> web.StreamResponse:
    node = request.app[CTX].node
    try:
        reader, writer = await node.dial(pod, port)
    except (OSError, asyncio.TimeoutError) as exc:
        ip = pod.get("status", {}).get("podIP", "")
        return _service_unavailable(
            f"error trying to reach service: dial tcp {ip}:{port}: connect: "
            f"{exc.strerror or 'connection refused'}"
            if isinstance(exc, OSError)
            else "error trying to reach service: i/o timeout"
        )
    body = await request.read()
    query = f"?{request.query_string}" if request.query_string else ""
    headers = [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in _HOP]
    head = [
        f"{request.method} /{path}{query} HTTP/1.1",
        f"Host: {pod['status'].get('podIP', 'localhost')}:{port}",
        *headers,
        f"Content-Length: {len(body)}",
        "Connection: close",
        "",
        "",
    ]
    try:
        writer.write("\r\n".join(head).encode() + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 30)
        parts = status_line.decode(errors="replace").split(" ", 2)
        code = int(parts[1])
        response_headers: list[tuple[str, str]] = []
        while True:
            line = await asyncio.wait_for(reader.readline(), 30)
            if line in (b"\r\n", b"\n", b""):
                break
            key, _, value = line.decode(errors="replace").partition(":")
            response_headers.append((key.strip(), value.strip()))
        chunked = any(
            k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in response_headers
        )
        response = web.StreamResponse(status=code)
        for key, value in response_headers:
            if key.lower() not in _HOP:
                response.headers.add(key, value)
        await response.prepare(request)
        if chunked:
            while True:
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    break
                await response.write(await reader.readexactly(size))
                await reader.readline()
        else:
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                await response.write(chunk)
        await response.write_eof()
        return response
    except (OSError, ValueError, IndexError, asyncio.TimeoutError, asyncio.IncompleteReadError):
        return _service_unavailable("error trying to reach service: the backend closed the connection")
    finally:
        writer.close()


def _container_port(pod: Obj, port: str) -> int | None:
    if port.isdigit():
        return int(port)
    for c in pod["spec"].get("containers") or []:
        for p in c.get("ports") or []:
            if not port or p.get("name") == port:
                return int(p["containerPort"])
    return 80 if not port else None


async def pod_proxy(request: web.Request, kind: Any, namespace: str, name: str) -> web.StreamResponse:
    api = request.app[CTX].api
    _, pod_name, port = _split(name)
    pod = api.find("pods", namespace, pod_name)
    if pod is None:
        return respond_status(st.not_found("pods", pod_name))
    number = _container_port(pod, port)
    if number is None:
        return respond_status(st.bad_request(f"no port named {port!r} in pod {pod_name}"))
    return await _forward(request, pod, number, request.match_info.get("path", ""))


async def service_proxy(request: web.Request, kind: Any, namespace: str, name: str) -> web.StreamResponse:
    api = request.app[CTX].api
    _, svc_name, port = _split(name)
    svc = api.find("services", namespace, svc_name)
    if svc is None:
        return respond_status(st.not_found("services", svc_name))
    ports = svc["spec"].get("ports") or []
    chosen = next((p for p in ports if not port or p.get("name") == port or str(p.get("port")) == port), None)
    if chosen is None:
        return _service_unavailable(f'no endpoints available for service "{svc_name}"')
    endpoints = api.find("endpoints", namespace, svc_name) or {}
    targets = [(a, s) for s in endpoints.get("subsets") or [] for a in s.get("addresses") or []]
    if not targets:
        return _service_unavailable(f'no endpoints available for service "{svc_name}"')
    address, subset = random.choice(targets)
    ref = address.get("targetRef") or {}
    pod = api.find("pods", namespace, ref.get("name", ""))
    if pod is None:
        return _service_unavailable(f'no endpoints available for service "{svc_name}"')
    port_name = chosen.get("name", "")
    ep_port = next(
        (p for p in subset.get("ports") or [] if p.get("name", "") == port_name),
        (subset.get("ports") or [{}])[0],
    )
    return await _forward(request, pod, int(ep_port.get("port", 80)), request.match_info.get("path", ""))


def register(app: web.Application, ctx: Any) -> None:
    """Routes with the path after ``/proxy/`` (the catch-all would not hand it over)."""

    async def pods(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        return await pod_proxy(request, None, m["namespace"], m["name"])

    async def services(request: web.Request) -> web.StreamResponse:
        m = request.match_info
        return await service_proxy(request, None, m["namespace"], m["name"])

    for suffix in ("/proxy", "/proxy/", "/proxy/{path:.*}"):
        app.router.add_route("*", "/api/v1/namespaces/{namespace}/pods/{name}" + suffix, pods)
        app.router.add_route("*", "/api/v1/namespaces/{namespace}/services/{name}" + suffix, services)
