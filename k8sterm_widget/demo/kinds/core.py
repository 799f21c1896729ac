"""The core (``v1``) kinds: strategies and table printers (``pkg/registry/core/*``, ``printers.go``)."""

from __future__ import annotations

import base64
import ipaddress
import re
from typing import Any

from .. import podsecurity, tables
from .. import status as st
from .. import validation as v
from ..allocators import AllocationError, Allocators, Transaction
from ..registry import REGISTRY, Column, Kind
from ..verbs import ApiError, invalid
from . import podspec
from .common import AGE, NAME, age, containers_and_images, map_selector_string, since

Obj = dict[str, Any]


def _meta_field(path: str) -> Any:
    section, _, key = path.partition(".")

    def get(obj: Obj) -> str:
        value = (obj.get(section) or {}).get(key, "")
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)

    return get


def _fields(*paths: str) -> dict[str, Any]:
    out = {
        "metadata.name": _meta_field("metadata.name"),
        "metadata.namespace": _meta_field("metadata.namespace"),
    }
    for p in paths:
        out[p] = _meta_field(p)
    return out


# --- Namespace ------------------------------------------------------------------------------------


def _namespace_defaults(obj: Obj) -> None:
    name = obj["metadata"].get("name", "")
    labels = obj["metadata"].setdefault("labels", {})
    if name:
        labels["kubernetes.io/metadata.name"] = name
    obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
    obj.setdefault("status", {}).setdefault("phase", "Active")


NAMESPACE = REGISTRY.add(
    Kind(
        "",
        "v1",
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=("finalize", "status"),
        has_status=True,
        storage_hash="Q3oi5N2YM8M=",
        columns=(NAME, Column("Status", description="The status of the namespace"), AGE),
        cells=lambda o, now: tables.namespace_cells(o, now)[0],
        field_selectors=_fields("status.phase"),
        defaults=_namespace_defaults,
        name_validator=v.dns1123_label,
    )
)


# --- Pod ------------------------------------------------------------------------------------------


def _pod_field(name: str) -> Any:
    def get(pod: Obj) -> str:
        spec, status = pod.get("spec", {}), pod.get("status", {})
        if name == "spec.hostNetwork":
            return "true" if spec.get("hostNetwork") else "false"
        if name == "status.podIP":
            ips = status.get("podIPs") or []
            return ips[0]["ip"] if ips else ""
        section, _, key = name.partition(".")
        return str({"spec": spec, "status": status}.get(section, {}).get(key, "") or "")

    return get


def _pod_defaults(pod: Obj) -> None:
    spec = pod.setdefault("spec", {})
    if isinstance(spec, dict):
        podspec.default_pod_spec(spec)
        # SetDefaults_Pod (pods only, not templates): a limit without a request is also the request
        for key in ("containers", "initContainers"):
            for c in spec.get(key) or []:
                resources = c.get("resources") if isinstance(c, dict) else None
                if isinstance(resources, dict) and resources.get("limits"):
                    requests = resources.setdefault("requests", {})
                    for name, value in resources["limits"].items():
                        requests.setdefault(name, value)


def _pod_validate(pod: Obj) -> list[st.FieldError]:
    errors = podspec.validate_pod_spec(pod.get("spec"), "spec")
    if (pod.get("spec") or {}).get("ephemeralContainers") and not pod["metadata"].get("resourceVersion"):
        errors.append(
            st.FieldError("spec.ephemeralContainers", st.FORBIDDEN, "Forbidden: cannot be set on create")
        )
    return errors


def _pod_prepare_create(pod: Obj, api: Any) -> None:
    podspec.admit_pod(pod, pod["metadata"]["namespace"])
    # validating admission, after the mutating plugins: the PodSecurity plugin (demo/podsecurity.py)
    problem = podsecurity.violation(pod, api.store.namespace(pod["metadata"]["namespace"]))
    if problem:
        raise ApiError(st.forbidden("pods", pod["metadata"]["name"], problem))
    pod.setdefault("status", {})
    pod["status"] = {"phase": "Pending", "qosClass": _qos(pod["spec"])}
    pod["metadata"]["generation"] = 1


def _qos(spec: Obj) -> str:
    containers = spec.get("containers", []) + spec.get("initContainers", [])
    requests = [c.get("resources", {}).get("requests") or {} for c in containers]
    limits = [c.get("resources", {}).get("limits") or {} for c in containers]
    if not any(requests) and not any(limits):
        return "BestEffort"
    if all(
        lim.get("cpu")
        and lim.get("memory")
        and req.get("cpu", lim["cpu"]) == lim["cpu"]
        and req.get("memory", lim["memory"]) == lim["memory"]
        for req, lim in zip(requests, limits, strict=False)
    ):
        return "Guaranteed"
    return "Burstable"


POD = REGISTRY.add(
    Kind(
        "",
        "v1",
        "pods",
        "Pod",
        short_names=("po",),
        categories=("all",),
        subresources=(
            "attach",
            "binding",
            "ephemeralcontainers",
            "eviction",
            "exec",
            "log",
            "portforward",
            "proxy",
            "status",
        ),
        has_status=True,
        generation=True,
        graceful=True,
        storage_hash="xPOwRZ+Yhw8=",
        columns=tuple(
            Column(c["name"], c["type"], c["priority"], c["format"], c["description"])
            for c in tables.POD_COLUMNS
        ),
        cells=lambda o, now: tables.pod_cells(o, now)[0],
        field_selectors={
            **_fields(),
            **{
                f: _pod_field(f)
                for f in (
                    "spec.nodeName",
                    "spec.restartPolicy",
                    "spec.schedulerName",
                    "spec.serviceAccountName",
                    "spec.hostNetwork",
                    "status.phase",
                    "status.podIP",
                    "status.nominatedNodeName",
                )
            },
        },
        defaults=_pod_defaults,
        validate=_pod_validate,
        validate_update=podspec.validate_pod_update,
        prepare_create=_pod_prepare_create,
    )
)


# --- Node -----------------------------------------------------------------------------------------


def _node_cells(node: Obj, now: float) -> list[Any]:
    conditions = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions", [])}
    status = (
        "Ready" if conditions.get("Ready") == "True" else "NotReady" if "Ready" in conditions else "Unknown"
    )
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = node["metadata"].get("labels") or {}
    roles = sorted(
        k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/") and "/" in k
    ) + ([labels["kubernetes.io/role"]] if labels.get("kubernetes.io/role") else [])
    info = node.get("status", {}).get("nodeInfo", {})
    addresses = {a.get("type"): a.get("address") for a in node.get("status", {}).get("addresses", [])}
    return [
        node["metadata"]["name"],
        status,
        ",".join(roles) or "<none>",
        age(node, now),
        info.get("kubeletVersion", ""),
        addresses.get("InternalIP", "<none>"),
        addresses.get("ExternalIP", "<none>"),
        info.get("osImage", "<unknown>"),
        info.get("kernelVersion", "<unknown>"),
        info.get("containerRuntimeVersion", "<unknown>"),
    ]


NODE = REGISTRY.add(
    Kind(
        "",
        "v1",
        "nodes",
        "Node",
        namespaced=False,
        short_names=("no",),
        subresources=("proxy", "status"),
        has_status=True,
        storage_hash="XwShjMxG9Fs=",
        columns=(
            NAME,
            Column("Status", description="The status of the node"),
            Column("Roles", description="The roles of the node"),
            AGE,
            Column("Version", description="Kubelet Version reported by the node."),
            Column("Internal-IP", priority=1, description="List of internal IPs."),
            Column("External-IP", priority=1, description="List of external IPs."),
            Column("OS-Image", priority=1, description="OS image reported by the node."),
            Column("Kernel-Version", priority=1, description="Kernel version reported by the node."),
            Column("Container-Runtime", priority=1, description="Container runtime reported by the node."),
        ),
        cells=_node_cells,
        field_selectors=_fields("spec.unschedulable"),
    )
)


# --- Service, Endpoints ---------------------------------------------------------------------------


def _service_defaults(svc: Obj) -> None:
    spec = svc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    if spec["type"] != "ExternalName":
        spec.setdefault("sessionAffinity", "None")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if "targetPort" not in port and "port" in port:
                port["targetPort"] = port["port"]
    if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if spec["type"] in ("NodePort", "LoadBalancer"):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    if spec["type"] == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    svc.setdefault("status", {"loadBalancer": {}})


def _service_validate(svc: Obj) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return [v.required("spec")]
    kind = spec.get("type")
    errors += v.supported(kind, "spec.type", ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort"))
    ip = spec.get("clusterIP")
    if (
        ip and ip != "None"
    ):  # IsValidIPForLegacyField on clusterIPs, which the conversion fills from clusterIP
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            errors.append(
                v.invalid_value(
                    "spec.clusterIPs[0]", ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
                )
            )
    ports = spec.get("ports") or []
    headless = spec.get("clusterIP") == "None"
    if kind == "ExternalName":
        if not spec.get("externalName"):
            errors.append(v.required("spec.externalName"))
    elif not ports and not headless:
        errors.append(v.required("spec.ports"))
    names: set[str] = set()
    for i, port in enumerate(ports):
        path = f"spec.ports[{i}]"
        name = port.get("name", "")
        if len(ports) > 1 and not name:
            errors.append(v.required(f"{path}.name"))
        elif name:
            if name in names:
                errors.append(st.FieldError(f"{path}.name", st.DUPLICATE, f'Duplicate value: "{name}"'))
            names.add(name)
            errors += [v.invalid_value(f"{path}.name", name, msg) for msg in v.dns1123_label(name)]
        number = port.get("port")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            errors.append(
                v.invalid_value(f"{path}.port", number or 0, "must be between 1 and 65535, inclusive")
            )
        errors += v.supported(port.get("protocol"), f"{path}.protocol", ("SCTP", "TCP", "UDP"))
        target = port.get("targetPort")
        if isinstance(target, int) and not 1 <= target <= 65535:
            errors.append(
                v.invalid_value(f"{path}.targetPort", target, "must be between 1 and 65535, inclusive")
            )
        if port.get("nodePort") and kind not in ("NodePort", "LoadBalancer"):
            errors.append(
                st.FieldError(
                    f"{path}.nodePort", st.FORBIDDEN, "Forbidden: may not be used when `type` is 'ClusterIP'"
                )
            )
    errors += v.validate_labels(spec.get("selector"), "spec.selector")
    return errors


def _node_ports_wanted(spec: Obj) -> bool:
    kind = spec.get("type")
    return kind == "NodePort" or (
        kind == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False
    )


def _allocation_refused(svc: Obj, path: str, value: Any, exc: AllocationError) -> ApiError:
    return invalid(SERVICE, svc["metadata"].get("name", ""), [v.invalid_value(path, value, str(exc))])


def _allocate_node_ports(svc: Obj, tx: Transaction, keep: set[int]) -> None:
    """``allocNodePorts``: a requested node port is reserved (unless the Service already holds it, ``keep``),
    a missing one is picked; ports sharing a port number (TCP and UDP 53) share a node port."""
    by_number: dict[Any, int] = {}
    for i, port in enumerate(svc["spec"].get("ports") or []):
        requested = port.get("nodePort") or 0
        shared = by_number.get(port.get("port"))
        if not requested and shared:
            port["nodePort"] = shared
            continue
        if requested in keep or (requested and requested == shared):
            by_number[port.get("port")] = requested
            continue
        try:
            port["nodePort"] = tx.allocate_port(int(requested))
        except AllocationError as exc:
            raise _allocation_refused(svc, f"spec.ports[{i}].nodePort", requested, exc) from None
        by_number[port.get("port")] = port["nodePort"]


def _service_prepare_create(svc: Obj, api: Any) -> None:
    """``allocateCreate`` (``pkg/registry/core/service/storage/alloc.go``): a ClusterIP and node ports come
    from the allocators; a refusal gives back what this request already took; a dry run keeps nothing."""
    spec = svc["spec"]
    if spec["type"] == "ExternalName":
        return
    allocators: Allocators | None = api.services.get("ipam")
    if allocators is None:
        return
    tx = allocators.transaction(dry_run=getattr(api, "dry_run", False))
    try:
        requested = spec.get("clusterIP") or ""
        if requested != "None":
            try:
                spec["clusterIP"] = tx.allocate_ip(requested)
            except AllocationError as exc:
                # alloc.go allocIPs: field.Invalid(spec.clusterIPs, service.Spec.ClusterIPs, "failed to
                # allocate IP %v: %v")
                raise _allocation_refused(
                    svc,
                    "spec.clusterIPs",
                    [requested],
                    AllocationError(f"failed to allocate IP {requested}: {exc}"),
                ) from None
        spec["clusterIPs"] = [spec["clusterIP"]]
        spec["ipFamilies"], spec["ipFamilyPolicy"] = ["IPv4"], "SingleStack"
        if _node_ports_wanted(spec):
            _allocate_node_ports(svc, tx, set())
    except ApiError:
        tx.revert()
        raise
    tx.commit()


def _service_prepare_update(new: Obj, old: Obj, api: Any) -> None:
    """``allocateUpdate``: node ports the update adds are reserved, those it drops are released, and a
    Service that stops being ExternalName gets a ClusterIP (and gives it back when it becomes one)."""
    allocators: Allocators | None = api.services.get("ipam")
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if allocators is None or not isinstance(spec, dict):
        return
    dry_run = getattr(api, "dry_run", False)
    tx = allocators.transaction(dry_run=dry_run)
    held = {int(p["nodePort"]) for p in old_spec.get("ports") or [] if p.get("nodePort")}
    try:
        if spec.get("type") != "ExternalName" and not spec.get("clusterIP"):
            spec["clusterIP"] = tx.allocate_ip()
            spec["clusterIPs"] = [spec["clusterIP"]]
            spec["ipFamilies"], spec["ipFamilyPolicy"] = ["IPv4"], "SingleStack"
        if _node_ports_wanted(spec):
            _allocate_node_ports(new, tx, held)
    except ApiError:
        tx.revert()
        raise
    tx.commit()
    if dry_run:
        return
    kept = {int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")}
    dropped_ip = old_spec.get("clusterIP") if spec.get("type") == "ExternalName" else None
    allocators.release(
        ips=[dropped_ip] if dropped_ip and dropped_ip != "None" else [], ports=list(held - kept)
    )


def _service_after_delete(svc: Obj, api: Any) -> None:
    """``releaseAllocatedResources``: a deleted Service's ClusterIPs and node ports are free again."""
    allocators: Allocators | None = api.services.get("ipam")
    if allocators is None:
        return
    spec = svc.get("spec") or {}
    ips = [ip for ip in spec.get("clusterIPs") or [spec.get("clusterIP")] if ip and ip != "None"]
    allocators.release(
        ips=ips, ports=[int(p["nodePort"]) for p in spec.get("ports") or [] if p.get("nodePort")]
    )


def _service_validate_update(new: Obj, old: Obj) -> list[st.FieldError]:
    spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    if spec.get("clusterIP") in (None, "") and old_spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
        spec["clusterIPs"] = old_spec.get("clusterIPs", [old_spec["clusterIP"]])
    if (
        not spec.get("clusterIPs")
        and old_spec.get("clusterIPs")
        and spec.get("clusterIP") == old_spec.get("clusterIP")
    ):
        spec["clusterIPs"] = old_spec["clusterIPs"]
    for key in ("ipFamilies", "ipFamilyPolicy"):
        if key not in spec and key in old_spec:
            spec[key] = old_spec[key]
    for port in spec.get("ports") or []:
        if not port.get("nodePort"):
            match = next((p for p in old_spec.get("ports") or [] if p.get("port") == port.get("port")), None)
            if match and match.get("nodePort") and spec.get("type") in ("NodePort", "LoadBalancer"):
                port["nodePort"] = match["nodePort"]
    if (
        old_spec.get("clusterIP")
        and spec.get("clusterIP") != old_spec.get("clusterIP")
        and old_spec.get("type") != "ExternalName"
    ):
        # validateUpgradeDowngradeClusterIPs: field.Invalid(spec.clusterIPs[0], service.Spec.ClusterIPs, ...)
        ips = spec.get("clusterIPs") or [spec.get("clusterIP")]
        return [v.invalid_value("spec.clusterIPs[0]", ips, "may not change once set")]
    return []


def _service_cells(svc: Obj, now: float) -> list[Any]:
    spec = svc.get("spec", {})
    kind = spec.get("type", "ClusterIP")
    external = "<none>"
    if kind == "ExternalName":
        external = spec.get("externalName", "")
    elif kind == "LoadBalancer":
        ingress = svc.get("status", {}).get("loadBalancer", {}).get("ingress") or []
        ips = [i.get("ip") or i.get("hostname") for i in ingress] + list(spec.get("externalIPs") or [])
        external = ",".join(ips) if ips else "<pending>"
    elif spec.get("externalIPs"):
        external = ",".join(spec["externalIPs"])
    ports = []
    for p in spec.get("ports") or []:
        text = str(p.get("port"))
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        ports.append(f"{text}/{p.get('protocol', 'TCP')}")
    cluster_ip = spec.get("clusterIP") or "<none>"
    if kind == "ExternalName":
        cluster_ip = "<none>"
    return [
        svc["metadata"]["name"],
        kind,
        cluster_ip,
        external,
        ",".join(ports) or "<none>",
        age(svc, now),
        map_selector_string(spec.get("selector")),
    ]


SERVICE = REGISTRY.add(
    Kind(
        "",
        "v1",
        "services",
        "Service",
        short_names=("svc",),
        categories=("all",),
        subresources=("proxy", "status"),
        has_status=True,
        storage_hash="0/CO1lhkEBI=",
        columns=(
            NAME,
            Column("Type", description="The type of the service."),
            Column("Cluster-IP", description="The IP address of the service."),
            Column("External-IP", description="The external IP address of the service."),
            Column("Port(s)", description="The ports of the service."),
            AGE,
            Column("Selector", priority=1, description="The selector of the service."),
        ),
        cells=_service_cells,
        field_selectors=_fields("spec.clusterIP", "spec.type"),
        defaults=_service_defaults,
        validate=_service_validate,
        validate_update=_service_validate_update,
        prepare_create=_service_prepare_create,
        prepare_update=_service_prepare_update,
        after_delete=_service_after_delete,
        name_validator=v.dns1035_label,
    )
)


def _endpoints_cells(ep: Obj, now: float) -> list[Any]:
    shown: list[str] = []
    total = 0
    for subset in ep.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for addr in subset.get("addresses") or []:
            for port in ports:
                total += 1
                if len(shown) < 3:
                    shown.append(f"{addr.get('ip')}:{port['port']}" if "port" in port else addr.get("ip", ""))
    text = ",".join(shown) if shown else "<none>"
    if total > 3:
        text += f" + {total - 3} more..."
    return [ep["metadata"]["name"], text, age(ep, now)]


ENDPOINTS = REGISTRY.add(
    Kind(
        "",
        "v1",
        "endpoints",
        "Endpoints",
        short_names=("ep",),
        singular="endpoints",
        storage_hash="fWeeMqaN/OA=",
        columns=(NAME, Column("Endpoints", description="Endpoints of the service."), AGE),
        cells=_endpoints_cells,
        field_selectors=_fields(),
    )
)


# --- ConfigMap, Secret, ServiceAccount ------------------------------------------------------------

_CONFIG_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_CONFIG_KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
    "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"
)


MAX_SECRET_SIZE = 1024 * 1024  # core.MaxSecretSize: all of a ConfigMap's or Secret's data


def _config_key(key: str) -> list[str]:
    """``IsConfigMapKey``."""
    errs = ["must be no more than 253 characters"] if len(key) > 253 else []
    if not _CONFIG_KEY.fullmatch(key):
        errs.append(_CONFIG_KEY_MSG)
    if key in (".", ".."):
        errs.append(f"must not be '{key}'")
    elif key.startswith(".."):
        errs.append("must not start with '..'")
    return errs


def _keys_errors(obj: Obj, sections: tuple[str, ...]) -> list[st.FieldError]:
    """``ValidateConfigMap`` (and the data part of ``ValidateSecret``): keys, no key in both bags, at
    most 1 MiB of data in all."""
    errors: list[st.FieldError] = []
    total = 0
    for section in sections:
        bag = obj.get(section) or {}
        for key, value in bag.items():
            errors += [v.invalid_value(f"{section}[{key}]", key, m) for m in _config_key(str(key))]
            if section == "data" and key in (obj.get("binaryData") or {}):
                errors.append(v.invalid_value(f"data[{key}]", key, "duplicate of key present in binaryData"))
            text = str(value)
            if section == "binaryData" or obj.get("kind") == "Secret":
                total += len(base64.b64decode(text + "=" * (-len(text) % 4), validate=False))
            else:
                total += len(text.encode())
    if total > MAX_SECRET_SIZE:
        # a ConfigMap's error names the whole object (field.NewPath("") prints as "[]"), a Secret's its data
        errors.append(v.too_long("data" if obj.get("kind") == "Secret" else "[]", MAX_SECRET_SIZE))
    return errors


def _immutable_data(new: Obj, old: Obj, sections: tuple[str, ...]) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    if old.get("immutable"):
        for section in sections:
            if new.get(section) != old.get(section):
                errors.append(
                    st.FieldError(
                        section, st.FORBIDDEN, "Forbidden: field is immutable when `immutable` is set"
                    )
                )
        if not new.get("immutable"):
            errors.append(
                st.FieldError(
                    "immutable", st.FORBIDDEN, "Forbidden: field is immutable when `immutable` is set"
                )
            )
    return errors


CONFIGMAP = REGISTRY.add(
    Kind(
        "",
        "v1",
        "configmaps",
        "ConfigMap",
        short_names=("cm",),
        storage_hash="qFsyl6wFWjQ=",
        columns=(NAME, Column("Data", "integer", description="Number of data in configmap."), AGE),
        cells=lambda o, now: [
            o["metadata"]["name"],
            len(o.get("data") or {}) + len(o.get("binaryData") or {}),
            age(o, now),
        ],
        field_selectors=_fields(),
        validate=lambda o: _keys_errors(o, ("data", "binaryData")),
        validate_update=lambda n, o: _immutable_data(n, o, ("data", "binaryData")),
    )
)


def _secret_defaults(secret: Obj) -> None:
    secret.setdefault("type", "Opaque")
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict):
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _secret_validate(secret: Obj) -> list[st.FieldError]:
    errors = _keys_errors(secret, ("data",))  # bad base64 never gets here: decoding refuses it
    if secret.get("type") == "kubernetes.io/service-account-token":
        sa = (secret["metadata"].get("annotations") or {}).get("kubernetes.io/service-account.name")
        if not sa:
            errors.append(v.required("metadata.annotations[kubernetes.io/service-account.name]"))
    if secret.get("type") == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in (secret.get("data") or {}):
                errors.append(v.required(f"data[{key}]"))
    return errors


def _secret_update(new: Obj, old: Obj) -> list[st.FieldError]:
    errors = _immutable_data(new, old, ("data",))
    if new.get("type") != old.get("type"):
        errors.append(v.immutable("type", new.get("type")))
    return errors


SECRET = REGISTRY.add(
    Kind(
        "",
        "v1",
        "secrets",
        "Secret",
        storage_hash="S6u1pOWzb84=",
        columns=(
            NAME,
            Column("Type", description="The type of the secret"),
            Column("Data", "integer", description="Number of data in secret."),
            AGE,
        ),
        cells=lambda o, now: [
            o["metadata"]["name"],
            o.get("type", ""),
            len(o.get("data") or {}),
            age(o, now),
        ],
        field_selectors=_fields("type"),
        defaults=_secret_defaults,
        validate=_secret_validate,
        validate_update=_secret_update,
    )
)


SERVICE_ACCOUNT = REGISTRY.add(
    Kind(
        "",
        "v1",
        "serviceaccounts",
        "ServiceAccount",
        short_names=("sa",),
        subresources=("token",),
        storage_hash="pbx9ZvyFpBE=",
        columns=(
            NAME,
            Column(
                "Secrets",
                "integer",
                description="Secrets is a list of the secrets in the same "
                "namespace that pods running using this ServiceAccount are allowed to use.",
            ),
            AGE,
        ),
        cells=lambda o, now: [o["metadata"]["name"], len(o.get("secrets") or []), age(o, now)],
        field_selectors=_fields(),
    )
)


# --- Event ----------------------------------------------------------------------------------------


def _event_cells(ev: Obj, now: float) -> list[Any]:
    first = (
        since(ev.get("firstTimestamp"), now)
        if ev.get("firstTimestamp")
        else since(_micro(ev.get("eventTime")), now)
    )
    last = since(ev.get("lastTimestamp"), now) if ev.get("lastTimestamp") else first
    count = ev.get("count") or 1
    series = ev.get("series")
    if series:
        last, count = since(_micro(series.get("lastObservedTime")), now), series.get("count", count)
    obj = ev.get("involvedObject") or {}
    target = (
        f"{obj.get('kind', '').lower()}/{obj['name']}" if obj.get("name") else obj.get("kind", "").lower()
    )
    source = ev.get("source") or {}
    component = source.get("component") or ev.get("reportingComponent", "")
    host = source.get("host") or ev.get("reportingInstance", "")
    source_cell = f"{component}, {host}" if host else component
    return [
        last,
        ev.get("type", ""),
        ev.get("reason", ""),
        target,
        obj.get("fieldPath", ""),
        source_cell,
        (ev.get("message") or "").strip(),
        first,
        count,
        ev["metadata"]["name"],
    ]


def _micro(stamp: Any) -> str | None:
    if not stamp:
        return None
    return str(stamp).split(".")[0].rstrip("Z") + "Z"


def _event_field(path: str) -> Any:
    def get(ev: Obj) -> str:
        node: Any = ev
        for part in path.split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        return "" if node is None else str(node)

    return get


EVENT = REGISTRY.add(
    Kind(
        "",
        "v1",
        "events",
        "Event",
        short_names=("ev",),
        storage_hash="r2yiGXH7wu8=",
        columns=(
            Column("Last Seen", description="Time when last event from this object was observed."),
            Column(
                "Type",
                description="Type of this event (Normal, Warning), new types could be added in the future.",
            ),
            Column("Reason", description="Why the action was taken. It is human-readable."),
            Column("Object", description="The object that this event is about."),
            Column("Subobject", priority=1, description="The subobject that this event is about."),
            Column("Source", priority=1, description="The component reporting this event."),
            Column("Message", description="A human-readable description of the status of this operation."),
            Column("First Seen", priority=1, description="The first time an event was observed."),
            Column(
                "Count", "integer", priority=1, description="The number of times this event has occurred."
            ),
            Column("Name", priority=1, description="The name of the event."),
        ),
        cells=_event_cells,
        field_selectors={
            **_fields(),
            **{
                f: _event_field(f)
                for f in (
                    "involvedObject.kind",
                    "involvedObject.namespace",
                    "involvedObject.name",
                    "involvedObject.uid",
                    "involvedObject.apiVersion",
                    "involvedObject.resourceVersion",
                    "involvedObject.fieldPath",
                    "reason",
                    "reportingComponent",
                    "source",
                    "type",
                )
            },
        },
    )
)


# --- ReplicationController ------------------------------------------------------------------------


def _rc_defaults(rc: Obj) -> None:
    spec = rc.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    template = spec.get("template")
    if isinstance(template, dict):
        labels = (template.get("metadata") or {}).get("labels") or {}
        if not spec.get("selector") and labels:
            spec["selector"] = dict(labels)
        if not rc["metadata"].get("labels") and labels:
            rc["metadata"]["labels"] = dict(labels)
        podspec.default_template(template)
    spec.setdefault("replicas", 1)
    spec.setdefault("minReadySeconds", 0)


def _rc_validate(rc: Obj) -> list[st.FieldError]:
    spec = rc.get("spec") or {}
    errors = v.non_negative("spec.replicas", spec.get("replicas"))
    selector = spec.get("selector") or {}
    if not selector:
        errors.append(v.required("spec.selector"))
    # ValidatePodTemplateSpecForRC: a map selector; an empty one is not checked against the labels
    errors += podspec.validate_template(
        spec.get("template"), "spec.template", {"matchLabels": selector} if selector else podspec.NO_SELECTOR
    )
    return errors


def replica_cells(obj: Obj, now: float) -> list[Any]:
    spec, status = obj.get("spec", {}), obj.get("status", {})
    containers, images = containers_and_images((spec.get("template") or {}).get("spec") or {})
    selector = spec.get("selector") or {}
    text = map_selector_string(selector) if "matchLabels" not in selector else None
    if text is None:
        from .common import selector_string

        text = selector_string(selector)
    return [
        obj["metadata"]["name"],
        spec.get("replicas", 0),
        status.get("replicas", 0),
        status.get("readyReplicas", 0),
        age(obj, now),
        containers,
        images,
        text,
    ]


REPLICA_COLUMNS = (
    NAME,
    Column("Desired", "integer", description="Replicas is the number of desired replicas."),
    Column("Current", "integer", description="Replicas is the most recently observed number of replicas."),
    Column("Ready", "integer", description="The number of ready replicas for this replica set."),
    AGE,
    Column("Containers", priority=1, description="Names of each container in the template."),
    Column("Images", priority=1, description="Images referenced by each container in the template."),
    Column(
        "Selector", priority=1, description="Selector that pods must match to be considered part of this set."
    ),
)

REPLICATION_CONTROLLER = REGISTRY.add(
    Kind(
        "",
        "v1",
        "replicationcontrollers",
        "ReplicationController",
        short_names=("rc",),
        categories=("all",),
        subresources=("scale", "status"),
        has_status=True,
        generation=True,
        storage_hash="Jond2If31h0=",
        columns=REPLICA_COLUMNS,
        cells=replica_cells,
        field_selectors=_fields("status.replicas"),
        defaults=_rc_defaults,
        validate=_rc_validate,
        gc_default="Orphan",
    )
)


# --- small kinds: what kubectl and clients expect to find ------------------------------------------

for _resource, _kind, _short in (
    ("podtemplates", "PodTemplate", ()),
    ("limitranges", "LimitRange", ("limits",)),
    ("resourcequotas", "ResourceQuota", ("quota",)),
    ("persistentvolumeclaims", "PersistentVolumeClaim", ("pvc",)),
):
    REGISTRY.add(
        Kind(
            "",
            "v1",
            _resource,
            _kind,
            short_names=_short,
            columns=(NAME, AGE),
            cells=lambda o, now: [o["metadata"]["name"], age(o, now)],
            field_selectors=_fields(),
        )
    )
