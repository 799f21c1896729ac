"""The resource registry: one description per kind, in the shape of kube-apiserver's generic registry.

The apiserver has one ``Store`` and one set of REST verbs for every kind; what differs per kind lives in a
*strategy* (defaults, validation, what an update may change, whether ``status`` is a subresource, how
``generation`` moves, the garbage-collection default) and a *table printer*.  :class:`Kind` is that
strategy here; :mod:`.rest` implements the verbs once over it, :mod:`.discovery` and :mod:`.openapi`
describe what is registered, so ``kubectl api-resources`` lists exactly what the demo serves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import status as st

Obj = dict[str, Any]
Cells = Callable[[Obj, float], list[Any]]
Validator = Callable[[Obj], list[st.FieldError]]
UpdateValidator = Callable[[Obj, Obj], list[st.FieldError]]
Hook = Callable[[Obj, Any], None]


@dataclass(frozen=True)
class Column:
    name: str
    type: str = "string"
    priority: int = 0
    format: str = ""
    description: str = ""


@dataclass
class Kind:
    """A kind's strategy.  ``resource`` is the plural lower-case name of the URL."""

    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = (
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    )
    subresources: tuple[str, ...] = ()  # "status", "scale", …: served by rest.py or a handler of their own
    has_status: bool = False  # the main resource ignores status changes, /status ignores the rest
    generation: bool = False  # metadata.generation is 1 at create and moves when the spec changes
    #: metadata fields whose change moves it too: a Deployment's annotations (they are copied to its
    #: ReplicaSets), an EndpointSlice's labels — what their strategies' PrepareForUpdate compare
    generation_meta: tuple[str, ...] = ()
    #: metadata fields a ``/status`` write may change (its status strategy keeps them from the request):
    #: a Deployment's annotations, where its controller records the revision without moving generation
    status_meta: tuple[str, ...] = ()
    storage_hash: str = ""
    columns: tuple[Column, ...] = ()
    cells: Cells | None = None
    field_selectors: dict[str, Callable[[Obj], str]] = field(default_factory=dict)
    defaults: Callable[[Obj], None] | None = None
    validate: Validator | None = None
    validate_update: UpdateValidator | None = None
    prepare_create: Hook | None = None  # (obj, cluster) — allocate, stamp (e.g. a Service's clusterIP)
    prepare_update: Callable[[Obj, Obj, Any], None] | None = None  # (new, old, cluster)
    after_delete: Hook | None = None  # (gone, cluster) — release what prepare_create allocated
    gc_default: str = "Background"  # DeleteOptions.propagationPolicy when none is given
    graceful: bool = False  # deletion sets deletionTimestamp and waits (pods: for the kubelet)
    name_validator: Callable[[str], list[str]] | None = None  # the broken rules (none: valid)

    def __post_init__(self) -> None:
        if not self.singular:
            self.singular = self.kind.lower()

    @property
    def key(self) -> str:
        """The store's name for this resource: ``pods``, ``apps/deployments``."""
        return f"{self.group}/{self.resource}" if self.group else self.resource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``pods``, ``deployments.apps``: how Status messages name the resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def path(self, namespace: str = "", name: str = "") -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        return f"{base}/{name}" if name else base


class Registry:
    def __init__(self) -> None:
        self._by_path: dict[tuple[str, str, str], Kind] = {}
        self._by_kind: dict[tuple[str, str], Kind] = {}
        self._by_key: dict[str, Kind] = {}
        self.order: list[Kind] = []

    def add(self, kind: Kind) -> Kind:
        self._by_path[(kind.group, kind.version, kind.resource)] = kind
        self._by_kind.setdefault((kind.group, kind.kind), kind)
        self._by_key.setdefault(kind.key, kind)
        self.order.append(kind)
        return kind

    def lookup(self, group: str, version: str, resource: str) -> Kind | None:
        return self._by_path.get((group, version, resource))

    def by_kind(self, group: str, kind: str) -> Kind | None:
        return self._by_kind.get((group, kind))

    def by_key(self, key: str) -> Kind:
        return self._by_key[key]

    def for_object(self, obj: Obj) -> Kind | None:
        group, _, _version = str(obj.get("apiVersion", "")).rpartition("/")
        return self.by_kind(group, str(obj.get("kind", "")))

    def groups(self) -> list[str]:
        """API groups (besides core) in the apiserver's priority order (``/apis`` of a kind cluster)."""
        seen: dict[str, None] = {}
        for k in self.order:
            if k.group:
                seen.setdefault(k.group, None)
        return sorted(
            seen, key=lambda g: GROUP_PRIORITY.index(g) if g in GROUP_PRIORITY else len(GROUP_PRIORITY)
        )

    def kinds_of(self, group: str, version: str) -> list[Kind]:
        return [k for k in self.order if k.group == group and k.version == version]


GROUP_PRIORITY = [
    "apiregistration.k8s.io",
    "apps",
    "events.k8s.io",
    "authentication.k8s.io",
    "authorization.k8s.io",
    "autoscaling",
    "batch",
    "certificates.k8s.io",
    "networking.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "storage.k8s.io",
    "admissionregistration.k8s.io",
    "apiextensions.k8s.io",
    "scheduling.k8s.io",
    "coordination.k8s.io",
    "node.k8s.io",
    "discovery.k8s.io",
    "flowcontrol.apiserver.k8s.io",
]
REGISTRY = Registry()
