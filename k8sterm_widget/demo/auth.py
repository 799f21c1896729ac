"""Authentication (bearer tokens, service-account tokens) and the RBAC authorizer with the apiserver's
wording.

An unknown token is a 401; a refusal is a 403 whose message names the verb, resource and namespace exactly
as the RBAC filter does.  Requests without credentials are ``system:anonymous`` (as on kind and minikube,
where anonymous auth is on).  Who may do what is decided by the cluster's own Role, ClusterRole,
RoleBinding and ClusterRoleBinding objects (:class:`Authorizer`), which the scenario's users are turned
into and ``kubectl create role``/``rolebinding`` change; the bootstrap roles give every authenticated user
discovery and the self reviews (``system:discovery``, ``system:basic-user``).  Service-account tokens are
signed JWTs (``kubectl create token``, the projected token in a pod) that authenticate as
``system:serviceaccount:<ns>:<name>`` while the account exists.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .scenario import Rule, UserSpec

ANONYMOUS = "system:anonymous"

_PUBLIC_INFO = Rule(
    verbs=["get"], non_resource_urls=["/healthz", "/livez", "/readyz", "/version", "/version/"]
)
_DISCOVERY = Rule(
    verbs=["get"],
    non_resource_urls=[
        "/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/version/",
        "/openapi", "/openapi/*",
    ],
)  # fmt: skip
_BASIC_USER = Rule(
    verbs=["create"], resources=["selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"]
)
_VERBS_BY_METHOD = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    rules: tuple[Rule, ...] = field(default=(), repr=False)
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class RequestInfo:
    """What the apiserver's ``RequestInfoFactory`` derives from method, path and query."""

    verb: str
    path: str
    is_resource: bool = False
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""

    @property
    def full_resource(self) -> str:
        return f"{self.resource}/{self.subresource}" if self.subresource else self.resource


def request_info(method: str, path: str, query: Mapping[str, str]) -> RequestInfo:
    """Classify a request like ``k8s.io/apiserver/pkg/endpoints/request.RequestInfoFactory``."""
    method = method.upper()
    parts = [p for p in path.strip("/").split("/") if p]
    plain_verb = method.lower() if method != "HEAD" else "get"
    if len(parts) < 3 or parts[0] not in ("api", "apis"):
        return RequestInfo(verb=plain_verb, path=path)
    group = ""
    rest = parts[1:]
    if parts[0] == "apis":
        if len(rest) < 3:
            return RequestInfo(verb=plain_verb, path=path)
        group, rest = rest[0], rest[1:]
    version, rest = rest[0], rest[1:]
    namespace = ""
    if rest and rest[0] == "namespaces" and len(rest) > 1:
        namespace = rest[1]
        # namespaces/{name}/status and /finalize are the namespace's own subresources
        if len(rest) > 2 and rest[2] not in ("status", "finalize"):
            rest = rest[2:]
    resource = rest[0] if rest else ""
    name = rest[1] if len(rest) > 1 else ""
    sub = rest[2] if len(rest) > 2 else ""
    if method in ("GET", "HEAD"):
        watch = query.get("watch", "").lower() in ("1", "true")
        verb = "watch" if watch else ("get" if name else "list")
    else:
        verb = _VERBS_BY_METHOD.get(method, method.lower())
        if verb == "delete" and not name:
            verb = "deletecollection"
    return RequestInfo(
        verb=verb,
        path=path,
        is_resource=True,
        api_group=group,
        api_version=version,
        namespace=namespace,
        resource=resource,
        subresource=sub,
        name=name,
    )


class Authenticator:
    """Bearer token → user; user tokens come from the state directory (see :mod:`.kubeconfig`), service
    account tokens are verified by ``tokens``; rules come from ``authorizer``."""

    def __init__(self, users: list[UserSpec], tokens: Mapping[str, str], authorizer: Any = None,
                 sa_tokens: Any = None) -> None:  # fmt: skip
        self._by_token = [(tokens[u.name], u) for u in users if u.name in tokens]
        self.authorizer = authorizer
        self.sa_tokens = sa_tokens

    def _user(self, name: str, groups: tuple[str, ...]) -> User:
        if self.authorizer is None:
            return User(name, groups, (_DISCOVERY, _BASIC_USER))
        return User(name, groups, self.authorizer.rules_for(name, groups))

    def authenticate(self, authorization: str | None) -> User | None:
        """The user for an ``Authorization`` header; anonymous without one; None for a bad token (401)."""
        if not authorization:
            groups: tuple[str, ...] = ("system:unauthenticated",)
            rules = self.authorizer.rules_for(ANONYMOUS, groups) if self.authorizer else (_PUBLIC_INFO,)
            return User(ANONYMOUS, groups, rules)
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        # aiohttp hands header bytes that are not UTF-8 over as surrogates: compare the bytes that came in
        presented = token.encode("utf-8", "surrogateescape")
        for known, spec in self._by_token:
            if hmac.compare_digest(known.encode(), presented):
                if self.authorizer is None:
                    return User(spec.name, ("system:authenticated",), (*spec.rules, _DISCOVERY, _BASIC_USER))
                return self._user(spec.name, ("system:authenticated",))
        if self.sa_tokens is not None:
            identity = self.sa_tokens.verify(presented)
            if identity is not None:
                namespace, name = identity
                sa_groups = (
                    "system:serviceaccounts",
                    f"system:serviceaccounts:{namespace}",
                    "system:authenticated",
                )
                return self._user(f"system:serviceaccount:{namespace}:{name}", sa_groups)
        return None

    def impersonate(self, name: str, groups: tuple[str, ...]) -> User:
        if name.startswith("system:serviceaccount:"):
            ns = name.split(":")[2] if name.count(":") >= 3 else ""
            groups = (*groups, "system:serviceaccounts", f"system:serviceaccounts:{ns}")
        if name != ANONYMOUS and "system:authenticated" not in groups:
            groups = (*groups, "system:authenticated")
        return self._user(name, tuple(dict.fromkeys(groups)))


def _matches(values: list[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def _group_matches(rule: Rule, group: str) -> bool:
    groups = getattr(rule, "api_groups", None)
    return groups is None or "*" in groups or group in groups


def _resource_matches(rule_resources: list[str], resource: str, sub: str) -> bool:
    combined = f"{resource}/{sub}" if sub else resource
    for r in rule_resources:
        if r in ("*", combined):
            return True
        if sub and r == f"*/{sub}":
            return True
        if not sub and r == resource:
            return True
    return False


def _url_matches(patterns: list[str], path: str) -> bool:
    return any(p in ("*", path) or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns)


def allowed(user: User, info: RequestInfo) -> bool:
    """RBAC's decision: some rule grants the verb on the (sub)resource in that namespace, or the path."""
    for rule in user.rules:
        if not _matches(rule.verbs, info.verb):
            continue
        if info.is_resource:
            if not rule.resources or not _resource_matches(rule.resources, info.resource, info.subresource):
                continue
            if not _group_matches(rule, info.api_group):
                continue
            if rule.namespaces and info.namespace not in rule.namespaces:
                continue
            names = getattr(rule, "resource_names", None)
            if names and info.name not in names:
                continue
            return True
        if rule.non_resource_urls and _url_matches(rule.non_resource_urls, info.path):
            return True
    return False


def forbidden_reason(user: User, info: RequestInfo) -> str:
    """The RBAC filter's sentence: ``User "u" cannot get resource "pods/exec" in API group "" in …``."""
    if not info.is_resource:
        return f'User "{user.name}" cannot {info.verb} path "{info.path}"'
    where = f'in the namespace "{info.namespace}"' if info.namespace else "at the cluster scope"
    resource = f'resource "{info.full_resource}" in API group "{info.api_group}"'
    return f'User "{user.name}" cannot {info.verb} {resource} {where}'


def with_verb(info: RequestInfo, verb: str) -> RequestInfo:
    """The same request authorised for another verb (the WebSocket exec ``create`` check since 1.35)."""
    return replace(info, verb=verb)
