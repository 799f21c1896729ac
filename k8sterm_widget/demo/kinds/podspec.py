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
    volumes = {vol.get("name") for vol in spec.get("volumes") or [] if isinstance(vol, dict)}
    for i, vol in enumerate(spec.get("volumes") or []):
        vpath = f"{path}.volumes[{i}]"
        if not isinstance(vol, dict) or not vol.get("name"):
            errors.append(v.required(f"{vpath}.name"))
            continue
        errors += [v.invalid_value(f"{vpath}.name", vol["name"], msg) for msg in v.dns1123_label(vol["name"])]
        sources = [k for k in vol if k != "name"]
        if not sources:
            errors.append(v.required(vpath, "must specify a volume type"))
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
    ports: set[tuple[Any, Any]] = set()
    for j, port in enumerate(c.get("ports") or []):
        ppath = f"{path}.ports[{j}]"
        number = port.get("containerPort") if isinstance(port, dict) else None
        if number is None:
            errors.append(v.required(f"{ppath}.containerPort"))
        elif not 1 <= int(number) <= 65535:
            errors.append(
                v.invalid_value(f"{ppath}.containerPort", number, "must be between 1 and 65535, inclusive")
            )
        errors += v.supported(port.get("protocol", "TCP"), f"{ppath}.protocol", ("SCTP", "TCP", "UDP"))
        pname = port.get("name")
        if pname and len(pname) > 15:
            errors.append(v.invalid_value(f"{ppath}.name", pname, "must be no more than 15 characters"))
        key = (number, port.get("protocol", "TCP"))
        if key in ports and number is not None:
            errors.append(st.FieldError(f"{ppath}.containerPort", st.DUPLICATE, f"Duplicate value: {number}"))
        ports.add(key)
    for j, env in enumerate(c.get("env") or []):
        epath = f"{path}.env[{j}]"
        if not isinstance(env, dict) or not env.get("name"):
            errors.append(v.required(f"{epath}.name"))
        elif env.get("value") is not None and env.get("valueFrom") is not None:
            errors.append(
                v.invalid_value(f"{epath}.valueFrom", "", "may not be specified when `value` is not empty")
            )
    for j, mount in enumerate(c.get("volumeMounts") or []):
        mpath = f"{path}.volumeMounts[{j}]"
        mname = mount.get("name") if isinstance(mount, dict) else None
        if not mname:
            errors.append(v.required(f"{mpath}.name"))
        elif mname not in volumes:
            errors.append(st.FieldError(f"{mpath}.name", st.NOT_FOUND, f'Not found: "{mname}"'))
        if isinstance(mount, dict) and not mount.get("mountPath"):
            errors.append(v.required(f"{mpath}.mountPath"))
    policy = c.get("imagePullPolicy")
    if policy is not None:
        errors += v.supported(policy, f"{path}.imagePullPolicy", ("Always", "IfNotPresent", "Never"))
    errors += v.supported(
        c.get("terminationMessagePolicy", "File"),
        f"{path}.terminationMessagePolicy",
        ("File", "FallbackToLogsOnError"),
    )
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
    if policy in ("Always", "OnFailure", "Never") and policy not in restart:
        if len(restart) == 1:
            errors += v.supported(policy, f"{path}.spec.restartPolicy", restart)
        else:
            valid = "valid values: " + ", ".join(f'"{r}"' for r in restart)
            errors.append(v.required(f"{path}.spec.restartPolicy", valid))
    return errors
