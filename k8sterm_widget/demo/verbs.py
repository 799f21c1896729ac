"""The API's verbs, once for every kind: create, update, delete — what kube-apiserver's generic
``registry.Store`` does between decoding a request and writing to etcd.

HTTP handlers (:mod:`.rest`) and the in-process controllers use the same :class:`Api`, so a Deployment
created by ``kubectl`` and a Pod created by the ReplicaSet controller get the same defaults, validation,
``uid``/``generation``/timestamps and the same deletion rules (graceful deletion, finalizers, owner
propagation).  Every refusal is an :class:`ApiError` carrying the apiserver's Status.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
import uuid
from typing import Any

from . import status as st
from .objects import rfc3339
from .registry import REGISTRY, Kind, Registry
from .store import Obj, Store

FOREGROUND = "foregroundDeletion"
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")  # kube-apiserver's NamespaceLifecycle
_NAMESPACE_MISMATCH = "the namespace of the provided object does not match the namespace sent on the request"
ORPHAN = "orphan"
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # apimachinery's utilrand alphabet (no vowels, no 0/1/3)


class ApiError(Exception):
    """A refusal with the Status the apiserver answers."""

    def __init__(self, status: st.Status) -> None:
        super().__init__(status.get("message", ""))
        self.status = status

    @property
    def code(self) -> int:
        return int(self.status.get("code", 500))


def random_suffix(n: int = 5) -> str:
    return "".join(secrets.choice(_NAME_CHARS) for _ in range(n))


def not_found(kind: Kind, name: str) -> ApiError:
    return ApiError(st.not_found(kind.resource, name, group=kind.group))


def already_exists(kind: Kind, name: str) -> ApiError:
    return ApiError(
        st._status(
            status="Failure",
            message=f'{kind.qualified} "{name}" already exists',
            reason="AlreadyExists",
            details=st._details(name=name, group=kind.group, kind=kind.resource),
            code=409,
        )
    )


def conflict(kind: Kind, name: str, detail: str = "") -> ApiError:
    detail = (
        detail
        or "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(
        st._status(
            status="Failure",
            message=f'Operation cannot be fulfilled on {kind.qualified} "{name}": {detail}',
            reason="Conflict",
            details=st._details(name=name, group=kind.group, kind=kind.resource),
            code=409,
        )
    )


def invalid(kind: Kind, name: str, errors: list[st.FieldError]) -> ApiError:
    return ApiError(st.invalid(kind.kind, name, errors, group=kind.group))


def _equal_ignoring(a: Obj, b: Obj, *keys: str) -> bool:
    return {k: v for k, v in a.items() if k not in keys} == {k: v for k, v in b.items() if k not in keys}


class Api:
    """The cluster's API as code: the store behind the strategies of :mod:`.registry`."""

    def __init__(self, store: Store, registry: Registry = REGISTRY, *, node_name: str = "") -> None:
        self.store = store
        self.registry = registry
        self.node_name = node_name
        self.services: dict[str, Any] = {}  # shared helpers for strategies: "ipam", "events", "tokens"

    def kind(self, key: str) -> Kind:
        return self.registry.by_key(key)

    # --- reads ---------------------------------------------------------------------------------

    def get(self, kind: Kind, namespace: str, name: str) -> Obj:
        obj = self.store.get(kind.key, namespace if kind.namespaced else "", name)
        if obj is None:
            raise not_found(kind, name)
        return obj

    def find(self, kind: Kind | str, namespace: str, name: str) -> Obj | None:
        k = kind if isinstance(kind, Kind) else self.kind(kind)
        return self.store.get(k.key, namespace if k.namespaced else "", name)

    # --- create --------------------------------------------------------------------------------

    def create(
        self,
        kind: Kind,
        obj: Obj,
        *,
        namespace: str = "",
        dry_run: bool = False,
        manager: str = "",
        now: float | None = None,
    ) -> Obj:
        """Default, validate and store a new object; ``namespace`` is the request's."""
        now = time.time() if now is None else now
        obj = copy.deepcopy(obj)
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if kind.namespaced:
            body_ns = meta.get("namespace") or ""
            if namespace and body_ns and body_ns != namespace:
                raise ApiError(st.bad_request(_NAMESPACE_MISMATCH))
            meta["namespace"] = namespace = namespace or body_ns or "default"
        else:
            meta.pop("namespace", None)
        name = meta.get("name") or ""
        if kind.namespaced:
            self._admit_namespace(kind, namespace, name)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = _generated(meta["generateName"])
        name = meta.get("name") or ""
        errors = self._meta_errors(kind, meta, create=True)
        if kind.defaults is not None:
            kind.defaults(obj)
        if kind.validate is not None:
            errors += kind.validate(obj)
        if errors:
            raise invalid(kind, name, errors)
        if self.store.get(kind.key, namespace if kind.namespaced else "", name) is not None:
            raise already_exists(kind, name)
        rv = meta.get("resourceVersion")
        if rv not in (None, "") and str(rv).isdigit() and int(rv) != 0:
            raise ApiError(st.internal_error("resourceVersion should not be set on objects to be created"))
        for key in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink"):
            meta.pop(key, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(now)
        if kind.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        if kind.has_status and kind.kind not in ("Pod", "Node", "Namespace", "Service"):
            obj.pop("status", None)
        if manager:
            self._record_manager(obj, None, manager, "Update", now)
        if kind.prepare_create is not None:
            kind.prepare_create(obj, self if not dry_run else _DryRun(self))
        obj = _ordered(obj)
        if dry_run:
            return obj
        return self.store.create(kind.key, obj)

    def _admit_namespace(self, kind: Kind, namespace: str, name: str) -> None:
        """The NamespaceLifecycle admission plugin (mutating, so before validation): no content in a namespace
        that does not exist or is being terminated."""
        ns = self.store.namespace(namespace)
        if ns is None:
            raise ApiError(st.not_found("namespaces", namespace))
        if ns["metadata"].get("deletionTimestamp"):
            refusal = st.forbidden(
                kind.resource,
                name,
                f"unable to create new content in namespace {namespace} because it is being terminated",
                group=kind.group,
            )
            refusal["details"]["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
            ]
            raise ApiError(refusal)

    def _meta_errors(self, kind: Kind, meta: Obj, *, create: bool = False) -> list[st.FieldError]:
        """``ValidateObjectMetaAccessor``: generateName (on create) and name by the kind's name rule (every
        broken rule its own error), then labels and annotations."""
        from . import validation

        errors: list[st.FieldError] = []
        check = kind.name_validator or validation.dns1123_subdomain
        prefix = meta.get("generateName") or ""
        if create and prefix:
            # NameIsDNSSubdomain(prefix=true) masks a trailing dash: "web-" is checked as "wea"
            masked = prefix[:-2] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
            errors += [validation.invalid_value("metadata.generateName", prefix, m) for m in check(masked)]
        name = meta.get("name") or ""
        if not name:
            errors.append(validation.required("metadata.name", "name or generateName is required"))
        else:
            errors += [validation.invalid_value("metadata.name", name, m) for m in check(name)]
        errors += validation.labels_and_annotations(meta)
        return errors

    # --- update --------------------------------------------------------------------------------

    def update(
        self,
        kind: Kind,
        obj: Obj,
        *,
        namespace: str = "",
        name: str = "",
        subresource: str = "",
        dry_run: bool = False,
        manager: str = "",
        now: float | None = None,
        check_version: bool = True,
    ) -> Obj:
        """Replace an object (PUT, or a PATCH's result); ``subresource="status"`` changes only the status."""
        now = time.time() if now is None else now
        obj = copy.deepcopy(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        name = name or meta.get("name", "")
        namespace = namespace if kind.namespaced else ""
        if kind.namespaced:
            body_ns = meta.get("namespace") or namespace
            if body_ns != namespace:
                raise ApiError(st.bad_request(_NAMESPACE_MISMATCH))
        if meta.get("name") and meta["name"] != name:
            raise ApiError(
                st.bad_request(
                    f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
                )
            )
        old = self.store.get(kind.key, namespace, name)
        if old is None:
            raise not_found(kind, name)
        version = meta.get("resourceVersion")
        if check_version and version and version != old["metadata"]["resourceVersion"]:
            raise conflict(kind, name)
        obj["apiVersion"], obj["kind"] = kind.api_version, kind.kind
        meta["name"], meta["uid"] = name, old["metadata"]["uid"]
        if kind.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        for key in ("creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"):
            if key in old["metadata"]:
                meta[key] = old["metadata"][key]
            else:
                meta.pop(key, None)
        if old["metadata"].get("deletionTimestamp"):
            added = set(meta.get("finalizers") or []) - set(old["metadata"].get("finalizers") or [])
            if added:
                listed = ", ".join(json.dumps(a) for a in sorted(added))
                raise invalid(
                    kind,
                    name,
                    [
                        st.FieldError(
                            "metadata.finalizers",
                            st.FORBIDDEN,
                            "Forbidden: no new finalizers can be added if the object is being deleted, "
                            f"found new finalizers []string{{{listed}}}",
                        )
                    ],
                )
        if subresource == "status":
            sent = obj
            obj = copy.deepcopy(old)
            if "status" in sent:
                obj["status"] = sent["status"]
            for key in kind.status_meta:
                if key in sent["metadata"]:
                    obj["metadata"][key] = sent["metadata"][key]
                else:
                    obj["metadata"].pop(key, None)
            obj["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        elif kind.has_status:
            if "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            else:
                obj.pop("status", None)
        if subresource != "status":
            if kind.defaults is not None:
                kind.defaults(obj)
            errors = self._meta_errors(kind, obj["metadata"])
            if kind.validate is not None:
                errors += kind.validate(obj)
            if kind.validate_update is not None:
                errors += kind.validate_update(obj, old)
            if errors:
                raise invalid(kind, name, errors)
            if kind.generation and (
                not _equal_ignoring(obj, old, "metadata", "status")
                or any(
                    (obj["metadata"].get(f) or {}) != (old["metadata"].get(f) or {})
                    for f in kind.generation_meta
                )
            ):
                obj["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        if kind.prepare_update is not None:
            kind.prepare_update(obj, old, self if not dry_run else _DryRun(self))
        if manager:
            self._record_manager(obj, old, manager, "Update", now, subresource)
        obj = _ordered(obj)
        if dry_run:
            return obj
        stored = self.store.replace(kind.key, obj)
        return self._finish_if_done(kind, stored)

    def _record_manager(
        self, obj: Obj, old: Obj | None, manager: str, operation: str, now: float, subresource: str = ""
    ) -> None:
        from . import apply

        apply.record_update(obj, old, manager, operation, now, subresource)

    def mutate(
        self,
        kind: Kind | str,
        namespace: str,
        name: str,
        change: Any,
        *,
        subresource: str = "",
        manager: str = "",
    ) -> Obj | None:
        """Read-modify-write for controllers: ``change(obj)`` edits a copy; None if the object is gone."""
        k = kind if isinstance(kind, Kind) else self.kind(kind)
        current = self.store.get(k.key, namespace if k.namespaced else "", name)
        if current is None:
            return None
        updated = copy.deepcopy(current)
        if change(updated) is False:
            return current
        if updated == current:
            return current
        return self.update(
            k, updated, namespace=namespace, name=name, subresource=subresource, manager=manager
        )

    # --- delete --------------------------------------------------------------------------------

    def delete(
        self,
        kind: Kind,
        namespace: str,
        name: str,
        *,
        options: Obj | None = None,
        dry_run: bool = False,
        now: float | None = None,
    ) -> tuple[Obj, bool]:
        """Delete (or start deleting) an object; returns it and whether it is gone now.

        ``options`` is a ``DeleteOptions``: ``gracePeriodSeconds``, ``propagationPolicy``,
        ``orphanDependents``
        and ``preconditions`` as the apiserver reads them.
        """
        now = time.time() if now is None else now
        options = options or {}
        namespace = namespace if kind.namespaced else ""
        if kind.kind == "Namespace" and name in IMMORTAL_NAMESPACES:
            # NamespaceLifecycle (admission, before the object is even read)
            raise ApiError(st.forbidden(kind.resource, name, "this namespace may not be deleted"))
        obj = self.store.get(kind.key, namespace, name)
        if obj is None:
            raise not_found(kind, name)
        pre = options.get("preconditions") or {}
        meta = obj["metadata"]
        # rest.BeforeDelete checks the preconditions and names the kind, not the resource:
        # NewConflict(schema.GroupResource{Group: gvk.Group, Resource: gvk.Kind}, name, ...)
        by_kind = Kind(kind.group, kind.version, kind.kind, kind.kind)
        if pre.get("uid") and pre["uid"] != meta.get("uid"):
            raise conflict(
                by_kind,
                name,
                f"the UID in the precondition ({pre['uid']}) does not match the UID in record "
                f"({meta.get('uid')}). The object might have been deleted and then recreated",
            )
        if pre.get("resourceVersion") and pre["resourceVersion"] != meta.get("resourceVersion"):
            raise conflict(
                by_kind,
                name,
                f"the ResourceVersion in the precondition ({pre['resourceVersion']}) does not match the "
                f"ResourceVersion in record ({meta.get('resourceVersion')}). "
                "The object might have been modified",
            )
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Orphan", "Background", "Foreground"):
            raise ApiError(
                st.invalid(
                    "DeleteOptions",
                    "",
                    [
                        st.FieldError(
                            "propagationPolicy",
                            "FieldValueNotSupported",
                            f'Unsupported value: "{policy}": supported values: '
                            '"Foreground", "Background", "Orphan", "nil"',
                        )
                    ],
                    group="meta.k8s.io",
                )
            )
        policy = policy or kind.gc_default
        finalizers = list(meta.get("finalizers") or [])
        wanted = list(finalizers)
        if policy == "Orphan" and ORPHAN not in wanted:
            wanted = [f for f in wanted if f != FOREGROUND] + [ORPHAN]
        elif policy == "Foreground" and FOREGROUND not in wanted:
            wanted = [f for f in wanted if f != ORPHAN] + [FOREGROUND]
        elif policy == "Background":
            wanted = (
                [f for f in wanted if f not in (ORPHAN, FOREGROUND)]
                if not meta.get("deletionTimestamp")
                else wanted
            )
        grace = self._grace(kind, obj, options)
        if kind.kind == "Namespace":
            return self._delete_namespace(kind, obj, dry_run, now)
        already = bool(meta.get("deletionTimestamp"))
        if not wanted and grace == 0 and (not already or not finalizers):
            if dry_run:
                return obj, True
            return self._remove(kind, namespace, name) or obj, True
        updated = copy.deepcopy(obj)
        um = updated["metadata"]
        if not already or grace < int(um.get("deletionGracePeriodSeconds") or 0):
            um["deletionTimestamp"] = rfc3339(now + grace)
            um["deletionGracePeriodSeconds"] = grace
        if not already and int(um.get("generation") or 0) > 0:
            # a deletion that waits (grace period, finalizers) is a change of the object's intent:
            # rest.BeforeDelete and the store's markAsDeleting bump generation once, when it starts
            um["generation"] = int(um["generation"]) + 1
        if wanted:
            um["finalizers"] = wanted
        if kind.kind == "Pod" and not already and not dry_run:
            updated.setdefault("status", {})
        if dry_run:
            return updated, False
        stored = self._finish_if_done(kind, self.store.replace(kind.key, updated))
        return stored, self.store.get(kind.key, namespace, name) is None

    def _grace(self, kind: Kind, obj: Obj, options: Obj) -> int:
        if not kind.graceful:
            return 0
        spec, status = obj.get("spec", {}), obj.get("status", {})
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        value = options.get("gracePeriodSeconds")
        if value is None:
            value = spec.get("terminationGracePeriodSeconds", 30)
        try:
            grace = int(value)
        except (TypeError, ValueError):
            grace = 30
        return max(grace, 0) if grace >= 0 else 1

    def _delete_namespace(self, kind: Kind, obj: Obj, dry_run: bool, now: float) -> tuple[Obj, bool]:
        if obj["metadata"].get("deletionTimestamp"):
            return obj, False
        updated = copy.deepcopy(obj)
        updated["metadata"]["deletionTimestamp"] = rfc3339(now)
        updated["metadata"]["deletionGracePeriodSeconds"] = 0
        updated.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return updated, False
        stored = self.store.replace(kind.key, updated)
        return self._finish_if_done(kind, stored), False

    def _finish_if_done(self, kind: Kind, obj: Obj) -> Obj:
        """Remove an object whose deletion waited only for finalizers (and its grace period) once both are
        gone: the generic registry's ``ShouldDeleteDuringUpdate``."""
        meta = obj["metadata"]
        if not meta.get("deletionTimestamp") or meta.get("finalizers"):
            return obj
        if kind.graceful and int(meta.get("deletionGracePeriodSeconds") or 0) > 0:
            return obj
        if kind.kind == "Namespace" and (obj.get("spec") or {}).get("finalizers"):
            return obj
        return self._remove(kind, meta.get("namespace", ""), meta["name"]) or obj

    def _remove(self, kind: Kind, namespace: str, name: str) -> Obj | None:
        gone = self.store.remove(kind.key, namespace, name)
        if gone is not None and kind.after_delete is not None:
            kind.after_delete(gone, self)
        return gone


class _DryRun:
    """What a strategy's ``prepare_create`` sees under ``dryRun=All``: the API, but nothing allocated."""

    dry_run = True

    def __init__(self, api: Api) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)


def _generated(prefix: str) -> str:
    return f"{prefix}{random_suffix()}"


_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


def _ordered(obj: Obj) -> Obj:
    """Top-level fields and metadata in Go's struct order, as the apiserver serialises them."""
    meta = obj.get("metadata") or {}
    ordered_meta = {k: meta[k] for k in _META_ORDER if k in meta}
    ordered_meta.update({k: v for k, v in meta.items() if k not in ordered_meta})
    out: Obj = {"kind": obj["kind"], "apiVersion": obj["apiVersion"], "metadata": ordered_meta}
    for k, v in obj.items():
        if k not in out:
            out[k] = v
    return out
