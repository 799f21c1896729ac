"""The review APIs a client asks about itself: SelfSubjectAccessReview ("may I?") and SelfSubjectReview
("who am I?", ``kubectl auth whoami``).

Every authenticated user may create both (the ``system:basic-user`` role of a real cluster).  A shell UI
uses the first to grey out what the user may not do and the second to name the user in a Forbidden
message; neither is ever stored.
"""

from __future__ import annotations

import time

from aiohttp import web

from . import auth, protobuf
from . import status as st
from .context import USER, BodyError, read_json, respond_json, respond_status
from .objects import Obj, rfc3339

_UNKNOWN_FORMAT = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json, application/yaml, application/vnd.kubernetes.protobuf"
)


async def _body(request: web.Request) -> Obj:
    """A review object from JSON or kubectl's protobuf envelope; :class:`BodyError` if it is neither."""
    if request.content_type == "application/vnd.kubernetes.protobuf":
        try:
            return protobuf.decode_ssar(await request.read())
        except ValueError as exc:
            raise BodyError(str(exc)) from None
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BodyError("not an object")
    return body


async def create_ssar(request: web.Request) -> web.Response:
    try:
        spec = (await _body(request)).get("spec")
    except BodyError:
        spec = None
    if not isinstance(spec, dict):
        return respond_status(st.bad_request(_UNKNOWN_FORMAT))
    user: auth.User = request[USER]
    res, nonres = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(res, dict):
        info = auth.RequestInfo(
            verb=str(res.get("verb", "")),
            path="",
            is_resource=True,
            api_group=str(res.get("group", "")),
            namespace=str(res.get("namespace", "")),
            resource=str(res.get("resource", "")),
            subresource=str(res.get("subresource", "")),
            name=str(res.get("name", "")),
        )
    elif isinstance(nonres, dict):
        info = auth.RequestInfo(verb=str(nonres.get("verb", "")), path=str(nonres.get("path", "")))
    else:
        return respond_status(
            st.invalid(
                "SelfSubjectAccessReview",
                "",
                [
                    st.FieldError(
                        "spec.resourceAttributes",
                        st.INVALID,
                        'Invalid value: "null": exactly one of nonResourceAttributes or resourceAttributes '
                        "must be specified",
                    )
                ],
                group="authorization.k8s.io",
            )
        )
    allowed = auth.allowed(user, info)
    result: Obj = {"allowed": allowed}
    if allowed:
        result["reason"] = (
            f'RBAC: allowed by ClusterRoleBinding "demo-{user.name}" of ClusterRole "demo-{user.name}" '
            f'to User "{user.name}"'
        )
    return respond_json(
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": result,
        },
        201,
    )


async def create_ssr(request: web.Request) -> web.Response:
    """``POST …/authentication.k8s.io/v1/selfsubjectreviews``: the authenticator's view of the caller.

    The request body carries nothing the answer depends on (kubectl sends an empty review), so it is only
    checked to be JSON when it claims to be.
    """
    if request.content_type != "application/vnd.kubernetes.protobuf" and await request.read():
        try:
            await _body(request)
        except BodyError:
            return respond_status(st.bad_request(_UNKNOWN_FORMAT))
    user: auth.User = request[USER]
    return respond_json(
        {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": rfc3339(time.time())},
            "status": {"userInfo": {"username": user.name, "groups": list(user.groups)}},
        },
        201,
    )
