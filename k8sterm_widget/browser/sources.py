"""Where the pod browser's choices come from: kubeconfig context *names*, namespaces, with fallbacks.

Contexts: only their names leave this module (the browser's dropdown); users, clusters, tokens and
certificates stay in the kubeconfig, and the context itself is resolved in the kernel when used.

Namespaces: ``GET /api/v1/namespaces`` is often forbidden for users confined to one namespace
(docs/exec-protocol.md §7; the demo's ``viewer``). Then the browser falls back to the context's namespace with
a note saying why, and lets the user type another one, instead of failing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kubernetes import config
from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from ..errors import ConfigError, Forbidden, K8stermError
from ..kube.config import Cluster, kubeconfig_paths
from ..kube.rest import json_body, rest_error
from ..kube.status import Context


def context_names(kubeconfig: str | os.PathLike | None = None) -> list[str]:
    """The context names of the kubeconfig kubectl would read (empty in a pod without one)."""
    paths = kubeconfig_paths(kubeconfig)
    if not paths:
        return []
    try:
        contexts, _ = config.list_kube_config_contexts(config_file=os.pathsep.join(str(p) for p in paths))
    except Exception as e:
        raise ConfigError(f"the kubeconfig could not be read: {type(e).__name__}") from None
    return sorted({str(c["name"]) for c in contexts or [] if c.get("name")})


@dataclass
class Namespaces:
    names: list[str]
    note: str = ""  # set when the list is a fallback


def namespaces(cluster: Cluster, current: str) -> Namespaces:
    """All namespaces when the user may list them; else just ``current`` (and the context's), with a note."""
    api_client = cluster.new_api_client()
    try:
        resp = CoreV1Api(api_client).list_namespace(
            _preload_content=False, _request_timeout=cluster.request_timeout
        )
        names = sorted(
            str(item["metadata"]["name"]) for item in json_body(resp).get("items", []) if item.get("metadata")
        )
        if current and current not in names:
            names.append(current)
        return Namespaces(names)
    except Exception as e:
        error = (
            rest_error(e, cluster, Context(server=cluster.server)) if not isinstance(e, K8stermError) else e
        )
        if isinstance(e, ApiException) and e.status in (401,):
            raise error from None
        shown = sorted({n for n in (current, cluster.namespace) if n})
        if isinstance(error, Forbidden):
            who = f' (user "{error.user}")' if error.user else ""
            note = (
                f"You may not list namespaces in this context{who}, so only "
                + ", ".join(f'"{n}"' for n in shown)
                + " is shown; type another namespace to switch."
            )
        else:
            note = f"Namespaces could not be listed ({error.message}); type one to switch."
        return Namespaces(shown, note)
    finally:
        api_client.close()


__all__ = ["Namespaces", "context_names", "namespaces"]
