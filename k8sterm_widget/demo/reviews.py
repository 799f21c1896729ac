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
from .context import CTX, USER, BodyError, read_json, respond_json, respond_status
from .objects import Obj, rfc3339

_UNKNOWN_FORMAT = (
    "the body of the request was in an unknown format - accepted media types include: "
    "application/json, application/yaml, application/vnd.kubernetes.protobuf"
)


async def _body(request: web.Request) -> Obj:
    """A review object from JSON or kubectl's protobuf envelope; :class:`BodyError` if it is neither."""
    if request.content_type == "application/vnd.kubernetes.protobuf":
        raw = await request.read()
        try:
            return protobuf.decode_object(raw)
        except (ValueError, IndexError, KeyError):
            pass
        try:
            return protobuf.decode_ssar(raw)
        except ValueError as exc:
            raise BodyError(str(exc)) from None
    body = await read_json(request)
    if not isinstance(body, dict):
        raise BodyError("not an object")
    return body


def _attributes(spec: Obj) -> auth.RequestInfo | None:
    """The request a review asks about: ``resourceAttributes`` or ``nonResourceAttributes``."""
    res, nonres = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if isinstance(res, dict):
        return auth.RequestInfo(
            verb=str(res.get("verb", "")),
            path="",
            is_resource=True,
            api_group=str(res.get("group", "")),
            namespace=str(res.get("namespace", "")),
            resource=str(res.get("resource", "")),
            subresource=str(res.get("subresource", "")),
            name=str(res.get("name", "")),
        )
    if isinstance(nonres, dict):
        return auth.RequestInfo(verb=str(nonres.get("verb", "")), path=str(nonres.get("path", "")))
    return None


async def create_ssar(request: web.Request) -> web.Response:
    try:
        spec = (await _body(request)).get("spec")
    except BodyError:
        spec = None
    if not isinstance(spec, dict):
        return respond_status(st.bad_request(_UNKNOWN_FORMAT))
    user: auth.User = request[USER]
    info = _attributes(spec)
    if info is None:
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
    authorizer = request.app[CTX].authenticator.authorizer
    if allowed and authorizer is not None:
        reason = authorizer.reason(user.name, user.groups)
        if reason:
            result["reason"] = reason
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


async def create_ssrr(request: web.Request) -> web.Response:
    """``kubectl auth can-i --list``: the caller's rules in a namespace (SelfSubjectRulesReview)."""
    try:
        body = await _body(request)
    except BodyError:
        return respond_status(st.bad_request(_UNKNOWN_FORMAT))
    given = body.get("spec")
    spec: Obj = given if isinstance(given, dict) else {}
    namespace = str(spec.get("namespace", ""))
    user: auth.User = request[USER]
    resource_rules, non_resource = [], []
    for rule in user.rules:
        if rule.namespaces and namespace not in rule.namespaces:
            continue
        if rule.resources:
            entry: Obj = {
                "verbs": list(rule.verbs),
                "apiGroups": list(rule.api_groups or ["*"]),
                "resources": list(rule.resources),
            }
            if rule.resource_names:
                entry["resourceNames"] = list(rule.resource_names)
            resource_rules.append(entry)
        if rule.non_resource_urls:
            non_resource.append({"verbs": list(rule.verbs), "nonResourceURLs": list(rule.non_resource_urls)})
    return respond_json(
        {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource,
                "incomplete": False,
            },
        },
        201,
    )


async def create_sar(request: web.Request) -> web.Response:
    """SubjectAccessReview (and the namespaced LocalSubjectAccessReview): may *that* user do it?"""
    try:
        body = await _body(request)
    except BodyError:
        return respond_status(st.bad_request(_UNKNOWN_FORMAT))
    given = body.get("spec")
    spec: Obj = given if isinstance(given, dict) else {}
    ctx = request.app[CTX]
    subject = ctx.authenticator.impersonate(str(spec.get("user", "")), tuple(spec.get("groups") or ()))
    info = _attributes(spec) or auth.RequestInfo(verb="", path="")
    allowed = auth.allowed(subject, info)
    kind = (
        "LocalSubjectAccessReview" if "localsubjectaccessreviews" in request.path else "SubjectAccessReview"
    )
    result: Obj = {"allowed": allowed}
    if allowed and ctx.authenticator.authorizer is not None:
        reason = ctx.authenticator.authorizer.reason(subject.name, subject.groups)
        if reason:
            result["reason"] = reason
    return respond_json(
        {
            "kind": kind,
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": result,
        },
        201,
    )


async def create_token_review(request: web.Request) -> web.Response:
    try:
        body = await _body(request)
    except BodyError:
        return respond_status(st.bad_request(_UNKNOWN_FORMAT))
    given = body.get("spec")
    spec: Obj = given if isinstance(given, dict) else {}
    user = request.app[CTX].authenticator.authenticate(f"Bearer {spec.get('token', '')}")
    status: Obj = {"user": {}}
    if user is not None and user.name != auth.ANONYMOUS:
        status = {
            "authenticated": True,
            "user": {"username": user.name, "groups": list(user.groups)},
            "audiences": ["https://kubernetes.default.svc.cluster.local"],
        }
    return respond_json(
        {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        },
        201,
    )


def register(ctx: object) -> None:
    creators = ctx.creators  # type: ignore[attr-defined]

    def wrap(handler):  # type: ignore[no-untyped-def]
        async def create(request: web.Request, kind: object, namespace: str) -> web.Response:
            return await handler(request)

        return create

    creators["authorization.k8s.io/selfsubjectaccessreviews"] = wrap(create_ssar)
    creators["authorization.k8s.io/selfsubjectrulesreviews"] = wrap(create_ssrr)
    creators["authorization.k8s.io/subjectaccessreviews"] = wrap(create_sar)
    creators["authorization.k8s.io/localsubjectaccessreviews"] = wrap(create_sar)
    creators["authentication.k8s.io/selfsubjectreviews"] = wrap(create_ssr)
    creators["authentication.k8s.io/tokenreviews"] = wrap(create_token_review)
