"""RBAC over the cluster's own objects, service-account tokens, and the bootstrap policy.

:class:`Authorizer` turns the Role/ClusterRole/RoleBinding/ClusterRoleBinding objects of the store into
the rules of a user (cached until an RBAC object changes).  :func:`bootstrap` is what
``kube-apiserver`` creates at start — its bootstrap ClusterRoles, vendored from Kubernetes
(``data/bootstrap-cluster-roles.yaml``), and the bindings of ``cluster-admin``, ``system:discovery``,
``system:basic-user`` and ``system:public-info-viewer`` — plus the scenario's users as ``demo-<user>``
roles.  :class:`ServiceAccountTokens` signs and checks the JWTs
``TokenRequest`` hands out (``kubectl create token``).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import time
from importlib import resources
from typing import Any

import yaml

from .scenario import Rule, UserSpec
from .store import Event, Store

Obj = dict[str, Any]
RBAC = "rbac.authorization.k8s.io"
ISSUER = "https://kubernetes.default.svc.cluster.local"


def _rule(r: Obj, namespaces: list[str]) -> Rule:
    return Rule(
        verbs=list(r.get("verbs") or []),
        resources=list(r.get("resources") or []),
        non_resource_urls=list(r.get("nonResourceURLs") or []) if not namespaces else [],
        namespaces=namespaces,
        api_groups=list(r.get("apiGroups") or []),
        resource_names=list(r.get("resourceNames") or []),
    )


def _subject_matches(subject: Obj, name: str, groups: tuple[str, ...], binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return subject.get("name") == name
    if kind == "Group":
        return subject.get("name") in groups
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return name == f"system:serviceaccount:{ns}:{subject.get('name')}"
    return False


class Authorizer:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[tuple[str, tuple[str, ...]], tuple[Rule, ...]] = {}
        store.listen(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.resource.startswith(RBAC + "/"):
            self._cache.clear()

    @staticmethod
    def _role_rules(cluster_role: Obj | None) -> list[Obj]:
        """The role's own rules: an aggregated role's are filled by the clusterrole-aggregation controller,
        as kube-apiserver's RBAC authorizer only ever reads ``rules``."""
        return list((cluster_role or {}).get("rules") or [])

    def rules_for(self, name: str, groups: tuple[str, ...]) -> tuple[Rule, ...]:
        key = (name, groups)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        rules: list[Rule] = []
        for b in self.store.list(f"{RBAC}/clusterrolebindings"):
            if any(_subject_matches(s, name, groups, "") for s in b.get("subjects") or []):
                role = self.store.get(f"{RBAC}/clusterroles", "", (b.get("roleRef") or {}).get("name", ""))
                rules += [_rule(r, []) for r in self._role_rules(role)]
        for b in self.store.list(f"{RBAC}/rolebindings"):
            ns = b["metadata"]["namespace"]
            if not any(_subject_matches(s, name, groups, ns) for s in b.get("subjects") or []):
                continue
            ref = b.get("roleRef") or {}
            if ref.get("kind") == "ClusterRole":
                role_rules = self._role_rules(self.store.get(f"{RBAC}/clusterroles", "", ref.get("name", "")))
            else:
                role = self.store.get(f"{RBAC}/roles", ns, ref.get("name", ""))
                role_rules = list((role or {}).get("rules") or [])
            rules += [_rule(r, [ns]) for r in role_rules]
        result = tuple(rules)
        if len(self._cache) > 1024:
            self._cache.clear()
        self._cache[key] = result
        return result

    def reason(self, name: str, groups: tuple[str, ...], allowed_by: Any = None) -> str:
        """``RBAC: allowed by ClusterRoleBinding "x" of ClusterRole "y" to User "u"`` (the first binding)."""
        for b in self.store.list(f"{RBAC}/clusterrolebindings"):
            for s in b.get("subjects") or []:
                if _subject_matches(s, name, groups, ""):
                    ref = b.get("roleRef") or {}
                    return (
                        f'RBAC: allowed by ClusterRoleBinding "{b["metadata"]["name"]}" of '
                        f'{ref.get("kind")} "{ref.get("name")}" to {s.get("kind")} "{s.get("name")}"'
                    )
        return ""


# --- bootstrap policy -----------------------------------------------------------------------------

_BOOTSTRAP_ROLES = "data/bootstrap-cluster-roles.yaml"


@functools.cache
def _bootstrap_roles_text() -> str:
    return resources.files(__package__).joinpath(_BOOTSTRAP_ROLES).read_text()


def bootstrap_cluster_roles() -> list[Obj]:
    """kube-apiserver's bootstrap ClusterRoles, from Kubernetes' own expected output of its policy
    (``admin``/``edit``/``view`` without rules: the aggregation controller fills them)."""
    roles: list[Obj] = yaml.safe_load(_bootstrap_roles_text())["items"]
    for role in roles:
        role["metadata"].pop("creationTimestamp", None)
        if role.get("rules") is None:
            role.pop("rules", None)
    return roles


def _role(
    name: str, rules: list[Obj], *, labels: dict[str, str] | None = None, aggregate: list[str] | None = None
) -> Obj:
    meta: Obj = {
        "name": name,
        "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
        "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
    }
    role: Obj = {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole", "metadata": meta, "rules": rules}
    if aggregate:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [
                {"matchLabels": {f"rbac.authorization.k8s.io/{a}": "true"}} for a in aggregate
            ]
        }
    return role


def _binding(
    name: str,
    role: str,
    subjects: list[Obj],
    *,
    namespace: str = "",
    kind: str = "ClusterRoleBinding",
    role_kind: str = "ClusterRole",
) -> Obj:
    meta: Obj = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    if kind == "ClusterRoleBinding":
        meta["labels"] = {"kubernetes.io/bootstrapping": "rbac-defaults"}
        meta["annotations"] = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": kind,
        "metadata": meta,
        "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _group(name: str) -> Obj:
    return {"kind": "Group", "apiGroup": RBAC, "name": name}


def bootstrap(users: list[UserSpec]) -> list[Obj]:
    """The bootstrap ClusterRoles and bindings, then a role and binding per scenario user."""
    out = [
        *bootstrap_cluster_roles(),
        _binding("cluster-admin", "cluster-admin", [_group("system:masters")]),
        _binding("system:discovery", "system:discovery", [_group("system:authenticated")]),
        _binding("system:basic-user", "system:basic-user", [_group("system:authenticated")]),
        _binding(
            "system:public-info-viewer",
            "system:public-info-viewer",
            [_group("system:authenticated"), _group("system:unauthenticated")],
        ),
    ]
    for user in users:
        cluster_rules: list[Obj] = []
        by_ns: dict[str, list[Obj]] = {}
        for r in user.rules:
            rule: Obj = {"verbs": list(r.verbs)}
            if r.non_resource_urls:
                rule["nonResourceURLs"] = list(r.non_resource_urls)
            else:
                rule["apiGroups"] = list(r.api_groups) if r.api_groups is not None else ["*"]
                rule["resources"] = list(r.resources)
            if r.namespaces:
                for ns in r.namespaces:
                    by_ns.setdefault(ns, []).append(rule)
            else:
                cluster_rules.append(rule)
        subject = [{"kind": "User", "apiGroup": RBAC, "name": user.name}]
        name = f"demo-{user.name}"
        if cluster_rules:
            out.append(_role(name, cluster_rules))
            out.append(_binding(name, name, subject))
            out[-1]["metadata"]["labels"] = {"app.kubernetes.io/managed-by": "k8sterm-demo"}
        for ns, rules in by_ns.items():
            out.append(
                {
                    "apiVersion": f"{RBAC}/v1",
                    "kind": "Role",
                    "metadata": {"name": name, "namespace": ns},
                    "rules": rules,
                }
            )
            out.append(_binding(name, name, subject, namespace=ns, kind="RoleBinding", role_kind="Role"))
    return out


# --- service-account tokens -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ServiceAccountTokens:
    """HS256 JWTs with the claims kube-apiserver puts into a bound service-account token."""

    def __init__(self, store: Store, key: bytes) -> None:
        self.store = store
        self.key = key

    def issue(
        self,
        namespace: str,
        name: str,
        *,
        seconds: int = 3600,
        audiences: list[str] | None = None,
        pod: Obj | None = None,
    ) -> tuple[str, float]:
        sa = self.store.get("serviceaccounts", namespace, name)
        now = int(time.time())
        exp = now + max(int(seconds), 600)
        k8s: Obj = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": (sa or {}).get("metadata", {}).get("uid", "")},
        }
        if pod is not None:
            k8s["pod"] = {"name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"]}
            if pod["spec"].get("nodeName"):
                k8s["node"] = {"name": pod["spec"]["nodeName"]}
        claims = {
            "aud": audiences or [ISSUER],
            "exp": exp,
            "iat": now,
            "iss": ISSUER,
            "jti": hashlib.sha256(f"{now}{namespace}{name}{time.time_ns()}".encode()).hexdigest()[:36],
            "kubernetes.io": k8s,
            "nbf": now,
            "sub": f"system:serviceaccount:{namespace}:{name}",
        }
        header = {"alg": "HS256", "kid": hashlib.sha256(self.key).hexdigest()[:43], "typ": "JWT"}
        head, body = (_b64(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims))
        signing = f"{head}.{body}"
        signature = hmac.new(self.key, signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{_b64(signature)}", float(exp)

    def verify(self, token: bytes) -> tuple[str, str] | None:
        """(namespace, name) of a valid token whose service account still exists, else None."""
        try:
            text = token.decode()
            header, payload, signature = text.split(".")
            expected = hmac.new(self.key, f"{header}.{payload}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(payload))
        except (ValueError, UnicodeDecodeError):
            return None
        if float(claims.get("exp", 0)) < time.time():
            return None
        k8s = claims.get("kubernetes.io") or {}
        namespace = k8s.get("namespace", "")
        account = k8s.get("serviceaccount") or {}
        sa = self.store.get("serviceaccounts", namespace, account.get("name", ""))
        if sa is None or (account.get("uid") and sa["metadata"].get("uid") != account.get("uid")):
            return None
        return namespace, account.get("name", "")
