"""The clusterrole-aggregation controller (kube-controller-manager's
``pkg/controller/clusterroleaggregation``): the ``rules`` of every ClusterRole with an ``aggregationRule``
are the rules of the ClusterRoles its selectors match, kept current as those change — the bootstrap
``admin``/``edit``/``view`` and users' own aggregated roles alike.  This is what makes
``kubectl create rolebinding x --clusterrole=edit`` grant something.

As upstream, any ClusterRole change requeues every aggregated ClusterRole: there are few, and who feeds whom
(``view`` into ``edit`` into ``admin``) is only known by looking; each rewrite is itself a ClusterRole change,
so a chain settles in as many loop turns as it is long.
"""

from __future__ import annotations

import copy
from typing import Any

from ..kinds.common import label_selector_matches
from ..store import Event
from .base import Controller

Obj = dict[str, Any]
CLUSTER_ROLES = "rbac.authorization.k8s.io/clusterroles"
MANAGER = "clusterrole-aggregation-controller"


def _semantic(rule: Obj) -> Obj:
    """A PolicyRule as equality.Semantic.DeepEqual sees it: an empty list is the same as none."""
    return {k: v for k, v in rule.items() if v}


def aggregated_rules(role: Obj, cluster_roles: list[Obj]) -> list[Obj]:
    """syncClusterRole's rules: selector by selector, the matching roles by name (the role itself skipped),
    each rule once."""
    name = role["metadata"]["name"]
    rules: list[Obj] = []
    seen: list[Obj] = []
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        matched = [
            r
            for r in cluster_roles
            if r["metadata"]["name"] != name and label_selector_matches(selector, r["metadata"].get("labels"))
        ]
        for other in sorted(matched, key=lambda r: r["metadata"]["name"]):
            for rule in other.get("rules") or []:
                if _semantic(rule) not in seen:
                    seen.append(_semantic(rule))
                    rules.append(copy.deepcopy(rule))
    return rules


class ClusterRoleAggregationController(Controller):
    name = MANAGER

    def _aggregated(self) -> list[Any]:
        return [r["metadata"]["name"] for r in self.store.list(CLUSTER_ROLES) if r.get("aggregationRule")]

    def resync(self) -> None:
        for name in self._aggregated():
            self.enqueue(name)

    def watches(self, event: Event) -> list[Any]:
        return self._aggregated() if event.resource == CLUSTER_ROLES else []

    def reconcile(self, key: Any) -> None:
        role = self.store.get(CLUSTER_ROLES, "", key)
        if role is None or not role.get("aggregationRule"):
            return
        rules = aggregated_rules(role, self.store.list(CLUSTER_ROLES))
        if [_semantic(r) for r in rules] == [_semantic(r) for r in role.get("rules") or []]:
            return

        def fill(obj: Obj) -> None:
            obj["rules"] = rules

        self.api.mutate(CLUSTER_ROLES, "", key, fill, manager=MANAGER)
