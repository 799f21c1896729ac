"""PodSpec: the defaults, admission and validation every pod and pod template goes through.

Defaults are ``pkg/apis/core/v1/defaults.go`` (``imagePullPolicy``, ``terminationMessagePath``,
``restartPolicy``, ``dnsPolicy``, ``schedulerName`` …); admission is what a pod gets on creation only
(the ServiceAccount plugin's ``kube-api-access-xxxxx`` volume and mount, DefaultTolerationSeconds,
Priority); validation follows ``pkg/apis/core/validation`` with its field paths and wording, because
kubectl prints them verbatim (``spec.containers[0].image: Required value``).
"""

from __future__ import annotations

import copy
from typing import Any

from .. import quantity as quantities
from .. import status as st
from .. import validation as v
from ..objects import pull_policy
from ..verbs import random_suffix

Obj = dict[str, Any]

_CONTAINER_LISTS = ("initContainers", "containers")


def default_container(c: Obj, *, init: bool = False) -> None:
    if c.get("image"):
        c.setdefault("imagePullPolicy", pull_policy(str(c["image"])))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
    for env in c.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("fieldRef") if isinstance(env, dict) else None
        if isinstance(ref, dict):
            ref.setdefault("apiVersion", "v1")
    for probe_name in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = c.get(probe_name)
        if isinstance(probe, dict):
            probe.setdefault("timeoutSeconds", 1)
            probe.setdefault("periodSeconds", 10)
            probe.setdefault("successThreshold", 1)
            probe.setdefault("failureThreshold", 3)
            http = probe.get("httpGet")
            if isinstance(http, dict):
                http.setdefault("path", "/")
                http.setdefault("scheme", "HTTP")


def default_pod_spec(spec: Obj) -> None:
    for key in _CONTAINER_LISTS:
        for c in spec.get(key) or []:
            if isinstance(c, dict):
                default_container(c, init=key == "initContainers")
    for c in spec.get("ephemeralContainers") or []:
        if isinstance(c, dict):
            default_container(c)
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    if spec.get("serviceAccountName") and not spec.get("serviceAccount"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for vol in spec.get("volumes") or []:
        if not isinstance(vol, dict):
            continue
        for source in ("configMap", "secret"):
            if isinstance(vol.get(source), dict):
                vol[source].setdefault("defaultMode", 420)
        if "emptyDir" in vol and vol["emptyDir"] is None:
            vol["emptyDir"] = {}


def default_template(template: Obj) -> None:
    template.setdefault("metadata", {})
    if "creationTimestamp" not in template["metadata"]:
        template["metadata"]["creationTimestamp"] = None
    spec = template.setdefault("spec", {})
    if isinstance(spec, dict):
        default_pod_spec(spec)


def admit_pod(pod: Obj, namespace: str) -> None:
    """What admission adds to a new pod: service account token volume, tolerations, priority."""
    spec = pod["spec"]
    sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    spec["serviceAccountName"] = spec["serviceAccount"] = sa
    if spec.get("automountServiceAccountToken") is not False and not any(
        m.get("mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount"
        for c in spec.get("containers", []) + spec.get("initContainers", [])
        for m in c.get("volumeMounts") or []
    ):
        name = f"kube-api-access-{random_suffix()}"
        spec.setdefault("volumes", []).append(
            {
                "name": name,
                "projected": {
                    "sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {
                            "configMap": {
                                "name": "kube-root-ca.crt",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            }
                        },
                        {
                            "downwardAPI": {
                                "items": [
                                    {
                                        "path": "namespace",
                                        "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                                    }
                                ]
                            }
                        },
                    ],
                    "defaultMode": 420,
                },
            }
        )
        mount = {"name": name, "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
        for key in (*_CONTAINER_LISTS,):
            for c in spec.get(key) or []:
                c.setdefault("volumeMounts", []).append(dict(mount))
    tolerations = spec.setdefault("tolerations", [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if not any(t.get("key") == key for t in tolerations):
            tolerations.append(
                {"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}
            )
    spec.setdefault("priority", 0)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("preemptionPolicy", "PreemptLowerPriority")


# --- validation ---------------------------------------------------------------------------------


def validate_pod_spec(spec: Any, path: str, *, template: bool = False) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    if not isinstance(spec, dict):
        return [v.required(path)]
    volumes = _volumes(spec.get("volumes"), f"{path}.volumes", errors)
    containers = spec.get("containers")
    if not containers:
        errors.append(v.required(f"{path}.containers"))
    names: set[str] = set()
    for key in _CONTAINER_LISTS:
        for i, c in enumerate(spec.get(key) or []):
            cpath = f"{path}.{key}[{i}]"
            if not isinstance(c, dict):
                errors.append(v.required(cpath))
                continue
            errors += _container(c, cpath, volumes)
            name = c.get("name")
            if name:
                if name in names:
                    errors.append(st.FieldError(f"{cpath}.name", st.DUPLICATE, f'Duplicate value: "{name}"'))
                names.add(name)
            if key == "initContainers" and c.get("restartPolicy") not in (None, "Always"):
                errors += v.supported(c["restartPolicy"], f"{cpath}.restartPolicy", ("Always",))
    errors += v.supported(
        spec.get("restartPolicy"), f"{path}.restartPolicy", ("Always", "OnFailure", "Never")
    )
    errors += v.supported(
        spec.get("dnsPolicy"),
        f"{path}.dnsPolicy",
        ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"),
    )
    errors += v.non_negative(
        f"{path}.terminationGracePeriodSeconds", spec.get("terminationGracePeriodSeconds")
    )
    ads = spec.get("activeDeadlineSeconds")
    if isinstance(ads, int) and ads <= 0:
        errors.append(
            v.invalid_value(f"{path}.activeDeadlineSeconds", ads, "must be greater than or equal to 1")
        )
    errors += v.validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    return errors


def _container(c: Obj, path: str, volumes: set[Any]) -> list[st.FieldError]:
    errors: list[st.FieldError] = []
    name = c.get("name")
    if not name:
        errors.append(v.required(f"{path}.name"))
    else:
        errors += [v.invalid_value(f"{path}.name", name, msg) for msg in v.dns1123_label(name)]
    image = c.get("image")
    if not image:
        errors.append(v.required(f"{path}.image"))
    elif image != image.strip():
        errors.append(v.invalid_value(f"{path}.image", image, "must not have leading or trailing whitespace"))
    errors += _ports(c.get("ports"), f"{path}.ports")
    errors += _env(c.get("env"), f"{path}.env")
    errors += _volume_mounts(c.get("volumeMounts") or [], f"{path}.volumeMounts", volumes)
    policy = c.get("imagePullPolicy")
    if policy is not None:
        errors += v.supported(policy, f"{path}.imagePullPolicy", ("Always", "IfNotPresent", "Never"))
    errors += v.supported(
        c.get("terminationMessagePolicy", "File"),
        f"{path}.terminationMessagePolicy",
        ("File", "FallbackToLogsOnError"),
    )
    errors += _resources(c.get("resources") or {}, f"{path}.resources")
    lifecycle = c.get("lifecycle") or {}
    for hook in ("postStart", "preStop"):
        if isinstance(lifecycle.get(hook), dict):
            errors += _handler(lifecycle[hook], f"{path}.lifecycle.{hook}", lifecycle=True)
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        if isinstance(c.get(probe), dict):
            errors += _probe(c[probe], f"{path}.{probe}", once=probe != "readinessProbe")
    return errors


# --- pieces of ValidatePodSpec / validateContainerCommon (pkg/apis/core/validation/validation.go) ---------


def _volumes(volumes: Any, path: str, errors: list[st.FieldError]) -> set[Any]:
    """``ValidateVolumes``: names (a DNS label, unique) and exactly one source; returns the usable names."""
    names: set[Any] = set()
    for i, vol in enumerate(volumes or []):
        vpath = f"{path}[{i}]"
        if not isinstance(vol, dict):
            errors.append(v.required(f"{vpath}.name"))
            continue
        found: list[st.FieldError] = []
        sources = [k for k in vol if k != "name"]
        if not sources:
            found.append(v.required(vpath, "must specify a volume type"))
        for extra in sources[1:]:
            found.append(
                st.FieldError(
                    f"{vpath}.{extra}", st.FORBIDDEN, "Forbidden: may not specify more than 1 volume type"
                )
            )
        name = vol.get("name")
        if not name:
            found.append(v.required(f"{vpath}.name"))
        else:
            found += [v.invalid_value(f"{vpath}.name", name, m) for m in v.dns1123_label(str(name))]
        if name in names:
            found.append(st.FieldError(f"{vpath}.name", st.DUPLICATE, f"Duplicate value: {v.go_value(name)}"))
        if len(sources) == 1 and isinstance(vol[sources[0]], dict):
            found += _volume_source(sources[0], vol[sources[0]], f"{vpath}.{sources[0]}")
        if found:
            errors += found
        else:
            names.add(name)
    return names


TOKEN_SHORT, TOKEN_LONG = "less than 10 minutes", "larger than 2^32 seconds"
FILE_MODE = "must be a number between 0 and 0777 (octal), both inclusive"
HOST_PATH_TYPES = (
    "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket",
)  # fmt: skip


def _volume_mounts(mounts: list[Any], path: str, volumes: set[Any]) -> list[st.FieldError]:
    """``ValidateVolumeMounts``. Its subPath errors name the list, not the entry (``fldPath.Child("subPath")``
    on the list's path): kube-apiserver prints ``spec.containers[0].volumeMounts.subPath``."""
    errors: list[st.FieldError] = []
    points: set[str] = set()
    for j, mount in enumerate(mounts):
        mpath = f"{path}[{j}]"
        if not isinstance(mount, dict):
            errors.append(v.required(f"{mpath}.name"))
            continue
        mname = mount.get("name")
        if not mname:
            errors.append(v.required(f"{mpath}.name"))
        elif mname not in volumes:
            errors.append(st.FieldError(f"{mpath}.name", st.NOT_FOUND, f'Not found: "{mname}"'))
        point = mount.get("mountPath")
        if not point:
            errors.append(v.required(f"{mpath}.mountPath"))
        elif point in points:
            errors.append(v.invalid_value(f"{mpath}.mountPath", point, "must be unique"))
        points.add(str(point or ""))
        sub_path, expr = str(mount.get("subPath") or ""), str(mount.get("subPathExpr") or "")
        if sub_path:
            errors += _local_descending(sub_path, f"{path}.subPath")
        if expr:
            if sub_path:
                exclusive = "subPathExpr and subPath are mutually exclusive"
                errors.append(v.invalid_value(f"{mpath}.subPathExpr", expr, exclusive))
            errors += _local_descending(expr, f"{path}.subPathExpr")
    return errors


def _local_descending(target: str, path: str) -> list[st.FieldError]:
    """``validateLocalDescendingPath``: relative, and no ``..`` element."""
    errors = []
    if target.startswith("/"):
        errors.append(v.invalid_value(path, target, "must be a relative path"))
    errors += _no_backsteps(target, path)
    return errors


def _no_backsteps(target: str, path: str) -> list[st.FieldError]:
    """``validatePathNoBacksteps``: one error, however many ``..`` there are."""
    if ".." in target.split("/"):
        return [v.invalid_value(path, target, "must not contain '..'")]
    return []


def _local_non_reserved(target: str, path: str) -> list[st.FieldError]:
    """``ValidateLocalNonReservedPath``: nor starting with ``..`` (the atomic writer's ``..data``)."""
    errors = _local_descending(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errors.append(v.invalid_value(path, target, "must not start with '..'"))
    return errors


def _mode(value: Any, path: str) -> list[st.FieldError]:
    if isinstance(value, int) and not 0 <= value <= 0o777:
        return [v.invalid_value(path, value, FILE_MODE)]
    return []


def _key_to_path(item: Any, path: str) -> list[st.FieldError]:
    """``validateKeyToPath``."""
    item = item if isinstance(item, dict) else {}
    errors = []
    if not item.get("key"):
        errors.append(v.required(f"{path}.key"))
    if not item.get("path"):
        errors.append(v.required(f"{path}.path"))
    errors += _local_non_reserved(str(item.get("path") or ""), f"{path}.path")
    return errors + _mode(item.get("mode"), f"{path}.mode")


def _downward_file(item: Any, path: str) -> list[st.FieldError]:
    """``validateDownwardAPIVolumeFile``'s path and mode; its errors name the volume source, not the item
    (kube-apiserver passes the source's path)."""
    item = item if isinstance(item, dict) else {}
    errors = []
    if not item.get("path"):
        errors.append(v.required(f"{path}.path"))
    errors += _local_non_reserved(str(item.get("path") or ""), f"{path}.path")
    return errors + _mode(item.get("mode"), f"{path}.mode")


def _volume_source(kind: str, source: Obj, path: str) -> list[st.FieldError]:
    """``validateVolumeSource`` for what the demo node mounts: every file a volume writes stays below its
    directory (the same rules the kubelet's atomic writer enforces again), a hostPath has no ``..``."""
    errors: list[st.FieldError] = []
    items = source.get("items") or []
    if kind == "hostPath":
        if not source.get("path"):
            return [v.required(f"{path}.path")]
        errors += _no_backsteps(str(source["path"]), f"{path}.path")
        if source.get("type") is not None and source["type"] not in HOST_PATH_TYPES:
            errors += v.supported(source["type"], f"{path}.type", HOST_PATH_TYPES)
    elif kind in ("configMap", "secret"):
        key = "name" if kind == "configMap" else "secretName"
        if not source.get(key):
            errors.append(v.required(f"{path}.{key}"))
        errors += _mode(source.get("defaultMode"), f"{path}.defaultMode")
        for i, item in enumerate(items):
            errors += _key_to_path(item, f"{path}.items[{i}]")
    elif kind == "downwardAPI":
        errors += _mode(source.get("defaultMode"), f"{path}.defaultMode")
        for item in items:
            errors += _downward_file(item, path)
    elif kind == "projected":
        errors += _mode(source.get("defaultMode"), f"{path}.defaultMode")
        errors += _projections(source.get("sources") or [], path)
    return errors


def _projections(sources: list[Any], path: str) -> list[st.FieldError]:
    """``validateProjectionSources``: each source's paths, and no path twice across them."""
    errors: list[st.FieldError] = []
    seen: set[str] = set()

    def once(target: str, value: Any) -> None:
        if target in seen:
            errors.append(v.invalid_value(path, value, "conflicting duplicate paths"))
        seen.add(target)

    for i, source in enumerate(sources):
        source = source if isinstance(source, dict) else {}
        spath = f"{path}.sources[{i}]"
        for kind in ("secret", "configMap"):
            sub = source.get(kind)
            if isinstance(sub, dict):
                if not sub.get("name"):
                    errors.append(v.required(f"{spath}.{kind}.name"))
                for j, item in enumerate(sub.get("items") or []):
                    errors += _key_to_path(item, f"{spath}.{kind}.items[{j}]")
                    if isinstance(item, dict) and item.get("path"):
                        once(str(item["path"]), sub.get("name", ""))
        downward = source.get("downwardAPI")
        if isinstance(downward, dict):
            for item in downward.get("items") or []:
                errors += _downward_file(item, f"{spath}.downwardAPI")
                if isinstance(item, dict) and item.get("path"):
                    once(str(item["path"]), item["path"])
        token = source.get("serviceAccountToken")
        if isinstance(token, dict):
            seconds = token.get("expirationSeconds")
            tpath = f"{spath}.serviceAccountToken.expirationSeconds"
            if isinstance(seconds, int) and seconds < 600:
                errors.append(v.invalid_value(tpath, seconds, f"may not specify a duration {TOKEN_SHORT}"))
            if isinstance(seconds, int) and seconds > 1 << 32:
                errors.append(v.invalid_value(tpath, seconds, f"may not specify a duration {TOKEN_LONG}"))
            if not token.get("path"):
                errors.append(v.required(f"{path}.path"))
            else:
                errors += _local_non_reserved(str(token["path"]), f"{path}.path")
    return errors


def _port_number(value: Any, path: str) -> list[st.FieldError]:
    """``ValidatePortNumOrName``: a number in range or an IANA service name."""
    if isinstance(value, str):
        return [v.invalid_value(path, value, m) for m in v.port_name(value)]
    number = value if isinstance(value, int) else 0
    return [] if 1 <= number <= 65535 else [v.invalid_value(path, number, v.PORT_RANGE)]


def _ports(ports: Any, path: str) -> list[st.FieldError]:
    """``validateContainerPorts``: names valid and unique, container and host ports in range, protocol."""
    errors: list[st.FieldError] = []
    names: set[str] = set()
    for j, port in enumerate(ports or []):
        ppath = f"{path}[{j}]"
        port = port if isinstance(port, dict) else {}
        pname = port.get("name")
        if pname:
            problems = v.port_name(str(pname))
            if problems:
                errors += [v.invalid_value(f"{ppath}.name", pname, m) for m in problems]
            elif pname in names:
                errors.append(
                    st.FieldError(f"{ppath}.name", st.DUPLICATE, f"Duplicate value: {v.go_value(pname)}")
                )
            else:
                names.add(pname)
        number = port.get("containerPort") or 0
        if not number:
            errors.append(v.required(f"{ppath}.containerPort"))
        elif not 1 <= int(number) <= 65535:
            errors.append(v.invalid_value(f"{ppath}.containerPort", number, v.PORT_RANGE))
        host = port.get("hostPort") or 0
        if host and not 1 <= int(host) <= 65535:
            errors.append(v.invalid_value(f"{ppath}.hostPort", host, v.PORT_RANGE))
        errors += v.supported(port.get("protocol", "TCP"), f"{ppath}.protocol", ("SCTP", "TCP", "UDP"))
    return errors


def _env(env: Any, path: str) -> list[st.FieldError]:
    """``ValidateEnv`` with relaxed names (GA since 1.34: printable ASCII but '=')."""
    errors: list[st.FieldError] = []
    for j, var in enumerate(env or []):
        epath = f"{path}[{j}]"
        var = var if isinstance(var, dict) else {}
        name = var.get("name")
        if not name:
            errors.append(v.required(f"{epath}.name"))
        elif any(not (" " <= ch <= "~") or ch == "=" for ch in str(name)):
            errors.append(
                v.invalid_value(
                    f"{epath}.name",
                    name,
                    "a valid environment variable name must consist only of printable ASCII characters other "
                    "than '='",
                )
            )
        source = var.get("valueFrom")
        if isinstance(source, dict):
            refs = [
                k
                for k in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef")
                if source.get(k)
            ]
            if not refs:
                errors.append(
                    v.invalid_value(
                        f"{epath}.valueFrom",
                        "",
                        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                        "`secretKeyRef`",
                    )
                )
            if var.get("value"):
                errors.append(
                    v.invalid_value(
                        f"{epath}.valueFrom", "", "may not be specified when `value` is not empty"
                    )
                )
    return errors


_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def _resources(resources: Obj, path: str) -> list[st.FieldError]:
    """``ValidateContainerResourceRequirements``: known resource names, no negative quantities, requests
    at most the limits (equal for the resources that cannot be overcommitted: hugepages), shown in
    canonical form."""
    errors: list[st.FieldError] = []
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}

    def check(name: str, value: Any, where: str) -> None:
        if (
            "/" not in name
            and name not in _STANDARD_CONTAINER_RESOURCES
            and not name.startswith("hugepages-")
        ):
            errors.extend(v.invalid_value(where, name, m) for m in v.label_key(name))
            errors.append(v.invalid_value(where, name, "must be a standard resource for containers"))
        if quantities.as_float(value) < 0:
            errors.append(
                v.invalid_value(where, quantities.canonical(value), "must be greater than or equal to 0")
            )

    for name, value in limits.items():
        check(str(name), value, f"{path}.limits[{name}]")
    for name, value in requests.items():
        check(str(name), value, f"{path}.requests[{name}]")
        if name not in limits:
            if str(name).startswith("hugepages-"):
                errors.append(
                    v.required(f"{path}.limits", "Limit must be set for non overcommitable resources")
                )
            continue
        request, limit = quantities.parse(value)[0], quantities.parse(limits[name])[0]
        shown, cap = quantities.canonical(value), quantities.canonical(limits[name])
        if str(name).startswith("hugepages-") and request != limit:
            errors.append(
                v.invalid_value(f"{path}.requests", shown, f"must be equal to {name} limit of {cap}")
            )
        elif request > limit:
            errors.append(
                v.invalid_value(
                    f"{path}.requests", shown, f"must be less than or equal to {name} limit of {cap}"
                )
            )
    return errors


_HANDLERS = ("exec", "httpGet", "tcpSocket", "grpc")


def _handler(handler: Obj, path: str, *, lifecycle: bool = False) -> list[st.FieldError]:
    """``validateHandler``: exactly one action, each checked; ``sleep`` only in lifecycle hooks."""
    errors: list[st.FieldError] = []
    found = 0
    for kind in (*_HANDLERS[:3], "sleep") if lifecycle else _HANDLERS:
        action = handler.get(kind)
        if not isinstance(action, dict):
            continue
        if found:
            errors.append(
                st.FieldError(
                    f"{path}.{kind}", st.FORBIDDEN, "Forbidden: may not specify more than 1 handler type"
                )
            )
            continue
        found += 1
        apath = f"{path}.{kind}"
        if kind == "exec" and not action.get("command"):
            errors.append(v.required(f"{apath}.command"))
        if kind == "httpGet":
            if not action.get("path"):
                errors.append(v.required(f"{apath}.path"))
            errors += _port_number(action.get("port", 0), f"{apath}.port")
            errors += v.supported(action.get("scheme", "HTTP"), f"{apath}.scheme", ("HTTP", "HTTPS"))
        if kind in ("tcpSocket", "grpc"):
            errors += _port_number(action.get("port", 0), f"{apath}.port")
    if not found:
        errors.append(v.required(path, "must specify a handler type"))
    return errors


def _probe(probe: Obj, path: str, *, once: bool) -> list[st.FieldError]:
    """``validateProbe`` (+ ``validateLivenessProbe``/``validateStartupProbe``: success threshold 1)."""
    errors = _handler(probe, path)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errors += v.non_negative(f"{path}.{key}", probe.get(key))
    if once and probe.get("successThreshold", 1) != 1:
        errors.append(v.invalid_value(f"{path}.successThreshold", probe.get("successThreshold"), "must be 1"))
    return errors


_POD_UPDATE_FORBIDDEN = (
    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to "
    "existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
    "previously negative)"
)


def validate_pod_update(new: Obj, old: Obj) -> list[st.FieldError]:
    """``ValidatePodUpdate``: only images, activeDeadlineSeconds and added tolerations may change."""
    a, b = copy.deepcopy(new.get("spec") or {}), copy.deepcopy(old.get("spec") or {})
    for spec in (a, b):
        for key in _CONTAINER_LISTS:
            for c in spec.get(key) or []:
                c.pop("image", None)
        spec.pop("activeDeadlineSeconds", None)
        spec.pop("tolerations", None)
        spec.pop("ephemeralContainers", None)
    if not b.get("nodeName"):
        a.pop("nodeName", None)
        b.pop("nodeName", None)
    if a != b:
        return [st.FieldError("spec", st.FORBIDDEN, _POD_UPDATE_FORBIDDEN + "\n" + _spec_diff(b, a))]
    return []


def _spec_diff(old: Obj, new: Obj) -> str:
    import json

    lines = ["  core.PodSpec{"]
    for key in dict.fromkeys([*old, *new]):
        if old.get(key) != new.get(key):
            if key in old:
                lines.append(f"- \t{key}: {json.dumps(old[key])},")
            if key in new:
                lines.append(f"+ \t{key}: {json.dumps(new[key])},")
    lines.append("  }")
    return "\n".join(lines) + "\n"


NO_SELECTOR = object()  # validate_template: the kind has no selector to check the labels against


def validate_template(
    template: Any,
    path: str,
    selector: Any = NO_SELECTOR,
    *,
    restart: tuple[str, ...] = ("Always",),
) -> list[st.FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet``: the labels must match the selector (a missing selector
    matches nothing, an empty one everything), then ``ValidatePodTemplateSpec`` (labels and annotations at
    ``<path>.labels``: ObjectMeta is embedded) and the restart policies the kind allows."""
    from .common import label_selector_matches

    errors: list[st.FieldError] = []
    if not isinstance(template, dict):
        return [v.required(path)]
    meta = template.get("metadata") or {}
    labels = meta.get("labels")
    empty = (
        isinstance(selector, dict)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    )
    if selector is not NO_SELECTOR and not empty and not label_selector_matches(selector, labels):
        errors.append(
            v.invalid_value(
                f"{path}.metadata.labels",
                v.go_map_value(labels),
                "`selector` does not match template `labels`",
            )
        )
    errors += v.labels_and_annotations(meta, path)
    spec = template.get("spec")
    errors += validate_pod_spec(spec, f"{path}.spec", template=True)
    policy = spec.get("restartPolicy") if isinstance(spec, dict) else None
    if not policy and len(restart) > 1:  # validateJobSpec: an empty policy is required, another refused
        errors.append(
            v.required(f"{path}.spec.restartPolicy", "valid values: " + ", ".join(f'"{r}"' for r in restart))
        )
    elif policy in ("Always", "OnFailure", "Never") and policy not in restart:
        errors += v.supported(policy, f"{path}.spec.restartPolicy", restart)
    return errors
