"""RBAC, discovery, coordination and the review kinds (``rbac.authorization.k8s.io/v1``,
``discovery.k8s.io/v1``, ``coordination.k8s.io/v1``, ``authorization.k8s.io/v1``,
``authentication.k8s.io/v1``)."""

from __future__ import annotations

from typing import Any

from .. import status as st
from .. import validation as v
from ..registry import REGISTRY, Column, Kind
from .common import AGE, NAME, age
from .core import _fields

Obj = dict[str, Any]

_CREATED_AT = Column(
    "Created At",
    format="date",
    description="CreationTimestamp is a timestamp representing the server time when this object was created.",
)


def _role_validate(role: Obj) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    for i, rule in enumerate(role.get("rules") or []):
        if not rule.get("verbs"):
            errors.append(v.required(f"rules[{i}].verbs", "verbs must contain at least one value"))
        if rule.get("nonResourceURLs") and role.get("kind") == "Role":
            errors.append(
                v.invalid_value(
                    f"rules[{i}].nonResourceURLs",
                    rule["nonResourceURLs"],
                    "namespaced rules cannot apply to non-resource URLs",
                )
            )
        if not rule.get("nonResourceURLs") and "apiGroups" not in rule:
            errors.append(
                v.required(f"rules[{i}].apiGroups", "resource rules must supply at least one api group")
            )
    return errors


def _binding_validate(binding: Obj) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    ref = binding.get("roleRef") or {}
    if not ref.get("name"):
        errors.append(v.required("roleRef.name"))
    kinds = ("Role", "ClusterRole") if binding.get("kind") == "RoleBinding" else ("ClusterRole",)
    errors += v.supported(ref.get("kind"), "roleRef.kind", kinds)
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        errors += v.supported(ref.get("apiGroup"), "roleRef.apiGroup", ("rbac.authorization.k8s.io",))
    for i, subject in enumerate(binding.get("subjects") or []):
        errors += v.supported(subject.get("kind"), f"subjects[{i}].kind", ("ServiceAccount", "User", "Group"))
        if not subject.get("name"):
            errors.append(v.required(f"subjects[{i}].name"))
        if (
            subject.get("kind") == "ServiceAccount"
            and not subject.get("namespace")
            and binding.get("kind") == "ClusterRoleBinding"
        ):
            errors.append(v.required(f"subjects[{i}].namespace"))
    return errors


def _binding_update(new: Obj, old: Obj) -> list[st.FieldError]:
    if new.get("roleRef") != old.get("roleRef"):
        ref = new.get("roleRef") or {}
        # the internal rbac.RoleRef has no json tags: json.Marshal writes its Go field names
        shown = {
            "APIGroup": ref.get("apiGroup", ""),
            "Kind": ref.get("kind", ""),
            "Name": ref.get("name", ""),
        }
        return [v.invalid_value("roleRef", shown, "cannot change roleRef")]
    return []


def _binding_defaults(binding: Obj) -> None:
    for subject in binding.get("subjects") or []:
        if subject.get("kind") in ("User", "Group"):
            subject.setdefault("apiGroup", "rbac.authorization.k8s.io")


def _binding_cells(b: Obj, now: float) -> list[Any]:
    ref = b.get("roleRef") or {}
    subjects = b.get("subjects") or []

    def names(kind: str) -> str:
        out = [
            (f"{s.get('namespace', '')}/{s['name']}" if kind == "ServiceAccount" else s.get("name", ""))
            for s in subjects
            if s.get("kind") == kind
        ]
        return ", ".join(out)

    return [
        b["metadata"]["name"],
        f"{ref.get('kind')}/{ref.get('name')}",
        age(b, now),
        names("User"),
        names("Group"),
        names("ServiceAccount"),
    ]


_BINDING_COLUMNS = (
    NAME,
    Column("Role", description="Role of the binding."),
    AGE,
    Column("Users", priority=1, description="Users in the binding."),
    Column("Groups", priority=1, description="Groups in the binding."),
    Column("ServiceAccounts", priority=1, description="ServiceAccounts in the binding."),
)

for _resource, _kind, _namespaced, _hash in (
    ("roles", "Role", True, "7FuwZcIIItM="),
    ("clusterroles", "ClusterRole", False, "bYE5ZWDrJ44="),
):
    REGISTRY.add(
        Kind(
            "rbac.authorization.k8s.io",
            "v1",
            _resource,
            _kind,
            namespaced=_namespaced,
            storage_hash=_hash,
            columns=(NAME, _CREATED_AT),
            cells=lambda o, now: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")],
            field_selectors=_fields(),
            validate=_role_validate,
            name_validator=v.path_segment_name,
        )
    )
for _resource, _kind, _namespaced, _hash in (
    ("rolebindings", "RoleBinding", True, "eGsCzGH6b1g="),
    ("clusterrolebindings", "ClusterRoleBinding", False, "48tpQ8gZHFc="),
):
    REGISTRY.add(
        Kind(
            "rbac.authorization.k8s.io",
            "v1",
            _resource,
            _kind,
            namespaced=_namespaced,
            storage_hash=_hash,
            columns=_BINDING_COLUMNS,
            cells=_binding_cells,
            field_selectors=_fields(),
            defaults=_binding_defaults,
            validate=_binding_validate,
            validate_update=_binding_update,
            name_validator=v.path_segment_name,
        )
    )


# --- EndpointSlice, Lease -------------------------------------------------------------------------


def _slice_cells(es: Obj, now: float) -> list[Any]:
    ports = [str(p.get("port")) for p in es.get("ports") or [] if p.get("port") is not None]
    addresses = [a for e in es.get("endpoints") or [] for a in e.get("addresses") or []]
    text = ",".join(addresses[:3]) if addresses else "<none>"
    if len(addresses) > 3:
        text += f" + {len(addresses) - 3} more..."
    return [
        es["metadata"]["name"],
        es.get("addressType", ""),
        ",".join(ports) or "<unset>",
        text,
        age(es, now),
    ]


def _slice_validate(es: Obj) -> list[st.FieldError]:
    if not es.get("addressType"):
        return [v.required("addressType")]
    return v.supported(es["addressType"], "addressType", ("IPv4", "IPv6", "FQDN"))


ENDPOINT_SLICE = REGISTRY.add(
    Kind(
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        generation=True,
        generation_meta=("labels",),  # pkg/registry/discovery/endpointslice/strategy.go PrepareForUpdate
        storage_hash="Nx3SIv6I0mE=",
        columns=(
            NAME,
            Column("AddressType", description="Type of address carried by this EndpointSlice."),
            Column("Ports", description="Ports of this EndpointSlice."),
            Column("Endpoints", description="Endpoints of this EndpointSlice."),
            AGE,
        ),
        cells=_slice_cells,
        field_selectors=_fields(),
        validate=_slice_validate,
    )
)

LEASE = REGISTRY.add(
    Kind(
        "coordination.k8s.io",
        "v1",
        "leases",
        "Lease",
        storage_hash="gqkMMb/YqFM=",
        columns=(NAME, Column("Holder", description="Name of the holder of the lease."), AGE),
        cells=lambda o, now: [
            o["metadata"]["name"],
            (o.get("spec") or {}).get("holderIdentity", "<unknown>"),
            age(o, now),
        ],
        field_selectors=_fields(),
    )
)


# --- reviews: created, answered, never stored ------------------------------------------------------

REVIEWS = {
    ("authentication.k8s.io", "selfsubjectreviews"): "SelfSubjectReview",
    ("authentication.k8s.io", "tokenreviews"): "TokenReview",
    ("authorization.k8s.io", "localsubjectaccessreviews"): "LocalSubjectAccessReview",
    ("authorization.k8s.io", "selfsubjectaccessreviews"): "SelfSubjectAccessReview",
    ("authorization.k8s.io", "selfsubjectrulesreviews"): "SelfSubjectRulesReview",
    ("authorization.k8s.io", "subjectaccessreviews"): "SubjectAccessReview",
}
for (_group, _resource), _kind in REVIEWS.items():
    REGISTRY.add(
        Kind(_group, "v1", _resource, _kind, namespaced=_resource.startswith("local"), verbs=("create",))
    )


# --- APIService: registered and listed; the demo aggregates no extension apiserver ------------------


def _apiservice_cells(svc: Obj, now: float) -> list[Any]:
    spec = svc.get("spec") or {}
    target = spec.get("service")
    service = f"{target.get('namespace')}/{target.get('name')}" if target else "Local"
    cond = next(
        (c for c in (svc.get("status") or {}).get("conditions") or [] if c.get("type") == "Available"), None
    )
    available = "Unknown"
    if cond is not None:
        available = cond.get("status", "Unknown")
        if cond.get("status") != "True" and cond.get("reason"):
            available += f" ({cond['reason']})"
    return [svc["metadata"]["name"], service, available, age(svc, now)]


def _apiservice_prepare(svc: Obj, api: Any) -> None:
    """Nothing serves an extension group here: the aggregator reports its service as missing."""
    from ..objects import rfc3339

    spec = svc.get("spec") or {}
    target = spec.get("service")
    if target:
        reason, message = (
            "ServiceNotFound",
            f'service/{target.get("name")} in "{target.get("namespace")}" is not present',
        )
        state = "False"
    else:
        reason, message, state = "Local", "Local APIServices are always available", "True"
    stamp = rfc3339(__import__("time").time())
    svc["status"] = {
        "conditions": [
            {
                "type": "Available",
                "status": state,
                "lastTransitionTime": stamp,
                "reason": reason,
                "message": message,
            }
        ]
    }


REGISTRY.add(
    Kind(
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        namespaced=False,
        categories=("api-extensions",),
        subresources=("status",),
        has_status=True,
        storage_hash="InPBPD7+PqM=",
        columns=(
            NAME,
            Column("Service", description="The reference to the service that hosts this API endpoint."),
            Column("Available", description="Whether this service is available."),
            AGE,
        ),
        cells=_apiservice_cells,
        field_selectors=_fields(),
        prepare_create=_apiservice_prepare,
        name_validator=v.path_segment_name,
    )
)


# --- CustomResourceDefinition: listed (empty) and readable, not creatable ----------------------------
#
# kubectl's client-side validation asks the CRD list whether an unknown kind might be a custom resource
# before it reports "no matches for kind"; without the resource it fails with "failed to check CRD". The
# demo serves no custom resources, so creating a definition is refused (405) rather than half-honoured.

REGISTRY.add(
    Kind(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        verbs=("get", "list", "watch"),
        subresources=("status",),
        has_status=True,
        columns=(NAME, _CREATED_AT),
        cells=lambda o, now: [o["metadata"]["name"], o["metadata"].get("creationTimestamp")],
        field_selectors=_fields(),
    )
)
