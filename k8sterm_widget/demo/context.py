"""What every resource handler of the demo apiserver shares: the cluster context, request keys, responses.

A module of its own so that handler modules (:mod:`.exec_ws`, :mod:`.ephemeral`, :mod:`.logs`,
:mod:`.reviews`) and :mod:`.apiserver`, which routes to them, do not import each other.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from . import auth
from . import status as st
from .store import Store


@dataclass
class ClusterContext:
    """What the handlers share: the store and the API over it, the node agent, authentication, the live
    exec sessions, and the handlers of subresources and of kinds that are created but never stored."""

    store: Store
    node: Any
    authenticator: auth.Authenticator
    sessions: set[Any] = field(default_factory=set)
    api: Any = None
    subresources: dict[tuple[str, str], Any] = field(default_factory=dict)
    creators: dict[str, Any] = field(default_factory=dict)


CTX = web.AppKey("ctx", ClusterContext)
# Typed request keys where aiohttp has them (3.13+), plain strings before.
USER: Any = web.RequestKey("user", auth.User) if hasattr(web, "RequestKey") else "user"
INFO: Any = web.RequestKey("info", auth.RequestInfo) if hasattr(web, "RequestKey") else "info"


def response_headers() -> dict[str, str]:
    return {"Audit-Id": str(uuid.uuid4()), "Cache-Control": "no-cache, private"}


def respond_json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status, body=st.encode(obj), content_type="application/json", headers=response_headers()
    )


def respond_status(status: st.Status) -> web.Response:
    return respond_json(status, int(status.get("code", 500)))


def media_type(request: web.Request) -> str:
    """The request's ``Content-Type`` without parameters, lower case (``application/json``)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


class BodyError(ValueError):
    """A request body that is not the JSON it should be."""


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; :class:`BodyError` for anything Go's decoder would refuse.

    Go's decoder stops at a nesting depth of 10000 with an error; Python's recursion limit comes first
    and raises ``RecursionError``, which must be a 400 like any other malformed body, not a 500.
    """
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BodyError(str(exc)) from None
