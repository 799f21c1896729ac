"""A container's environment as the kubelet builds it (``makeEnvironmentVariables``).

Order and sources: the service links of the namespace's Services (``<SVC>_SERVICE_HOST`` … when
``enableServiceLinks``) and of the ``kubernetes`` Service, then ``envFrom`` (ConfigMaps and Secrets, with a
``prefix``), then ``env`` (literal values with ``$(VAR)`` expansion, ``fieldRef``, ``resourceFieldRef``,
``configMapKeyRef``, ``secretKeyRef``).  A missing source that is not ``optional`` is the kubelet's
``CreateContainerConfigError`` with its text (``configmap "x" not found``, ``couldn't find key k in
ConfigMap ns/x``).
"""

from __future__ import annotations

import base64
import re
from typing import Any

Obj = dict[str, Any]
_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(value: str, env: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)

    return _VAR.sub(sub, value)


def _service_env(store: Any, namespace: str, pod: Obj) -> dict[str, str]:
    env: dict[str, str] = {}
    services = []
    master = store.get("services", "default", "kubernetes")
    if pod["spec"].get("enableServiceLinks", True):
        services = [
            s
            for s in store.list("services", namespace)
            if not (namespace == "default" and s["metadata"]["name"] == "kubernetes")
        ]
    for svc in ([master] if master else []) + services:
        spec = svc.get("spec", {})
        ip = spec.get("clusterIP")
        if not ip or ip == "None" or not spec.get("ports"):
            continue
        prefix = svc["metadata"]["name"].upper().replace("-", "_")
        first = spec["ports"][0]
        env[f"{prefix}_SERVICE_HOST"] = ip
        env[f"{prefix}_SERVICE_PORT"] = str(first["port"])
        for p in spec["ports"]:
            if p.get("name"):
                env[f"{prefix}_SERVICE_PORT_{p['name'].upper().replace('-', '_')}"] = str(p["port"])
        proto = first.get("protocol", "TCP").lower()
        env[f"{prefix}_PORT"] = f"{proto}://{ip}:{first['port']}"
        for p in spec["ports"]:
            proto_upper = p.get("protocol", "TCP")
            base = f"{prefix}_PORT_{p['port']}_{proto_upper}"
            env[base] = f"{proto_upper.lower()}://{ip}:{p['port']}"
            env[f"{base}_PROTO"] = proto_upper.lower()
            env[f"{base}_PORT"] = str(p["port"])
            env[f"{base}_ADDR"] = ip
    return env


def _field(pod: Obj, path: str) -> str | None:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    m = re.match(r"metadata\.(labels|annotations)\['(.+)'\]$", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName"),
        "status.hostIP": status.get("hostIP"),
        "status.podIP": status.get("podIP"),
        "status.hostIPs": ",".join(i["ip"] for i in status.get("hostIPs") or []),
        "status.podIPs": ",".join(i["ip"] for i in status.get("podIPs") or []),
    }
    if path in simple:
        return str(simple[path] or "")
    if path in ("metadata.labels", "metadata.annotations"):
        return "\n".join(f'{k}="{v}"' for k, v in sorted((meta.get(path.split(".")[1]) or {}).items()))
    return None


def _resource(container: Obj, ref: Obj) -> str:
    resource = ref.get("resource", "")
    section, _, name = resource.partition(".")
    value = ((container.get("resources") or {}).get(section) or {}).get(name)
    if value is None:
        from .controllers.base import node_capacity

        cpus, memory = node_capacity()
        value = cpus if name == "cpu" else memory if name == "memory" else 0
        return str(value)
    return str(value)


def resolve(store: Any, pod: Obj, container: Obj) -> tuple[dict[str, str], str]:
    """(environment, error): the error is the kubelet's text for a missing source, else ''."""
    namespace = pod["metadata"]["namespace"]
    env = _service_env(store, namespace, pod)

    def source(kind: str, name: str) -> Obj | None:
        return store.get("configmaps" if kind == "ConfigMap" else "secrets", namespace, name)

    def data_of(kind: str, obj: Obj) -> dict[str, str]:
        if kind == "ConfigMap":
            out = dict(obj.get("data") or {})
            for k, v in (obj.get("binaryData") or {}).items():
                out[k] = base64.b64decode(v).decode(errors="replace")
            return out
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in (obj.get("data") or {}).items()}

    for item in container.get("envFrom") or []:
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            ref = item.get(key)
            if not isinstance(ref, dict):
                continue
            obj = source(kind, ref.get("name", ""))
            if obj is None:
                if ref.get("optional"):
                    continue
                return {}, f'{kind.lower()} "{ref.get("name", "")}" not found'
            for k, v in data_of(kind, obj).items():
                env[item.get("prefix", "") + k] = v
    for item in container.get("env") or []:
        name = item.get("name", "")
        if "valueFrom" not in item:
            env[name] = expand(str(item.get("value", "")), env)
            continue
        vf = item["valueFrom"] or {}
        if "fieldRef" in vf:
            value = _field(pod, vf["fieldRef"].get("fieldPath", ""))
            if value is None:
                return {}, f"unsupported fieldPath: {vf['fieldRef'].get('fieldPath', '')}"
            env[name] = value
        elif "resourceFieldRef" in vf:
            env[name] = _resource(container, vf["resourceFieldRef"])
        else:
            for key, kind in (("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")):
                ref = vf.get(key)
                if not isinstance(ref, dict):
                    continue
                obj = source(kind, ref.get("name", ""))
                if obj is None:
                    if ref.get("optional"):
                        break
                    return {}, f'{kind.lower()} "{ref.get("name", "")}" not found'
                data = data_of(kind, obj)
                if ref.get("key") not in data:
                    if ref.get("optional"):
                        break
                    return {}, f"couldn't find key {ref.get('key')} in {kind} {namespace}/{ref.get('name')}"
                env[name] = data[ref["key"]]
                break
    return env, ""
