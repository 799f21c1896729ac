"""Bearer tokens and the kubeconfig that lets unmodified clients reach the demo cluster.

The kubeconfig is what a user of kind gets: the CA inline, the server URL, one user per scenario user with a
token, and one context per user (``demo-admin`` current, ``demo-viewer``), each defaulting to the scenario's
namespace.  Tokens live in the state directory and are reused, so a restarted cluster accepts the kubeconfig
(and any Python client configured from it) that was handed out before.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import yaml

from .pki import _write_private

CLUSTER_NAME = "k8sterm-demo"


def context_name(user: str) -> str:
    """The kubeconfig context for a scenario user: ``admin`` → ``demo-admin``."""
    return f"demo-{user}"


def ensure_tokens(state_dir: Path, users: list[str]) -> dict[str, str]:
    """Load ``tokens.json`` and add a fresh random token for every user that has none yet."""
    path = state_dir / "tokens.json"
    tokens: dict[str, str] = {}
    try:
        loaded = json.loads(path.read_text())
        if isinstance(loaded, dict):
            tokens = {str(k): str(v) for k, v in loaded.items()}
    except (OSError, ValueError):
        pass
    changed = False
    for user in users:
        if user not in tokens:
            tokens[user] = f"k8sterm-{user}.{secrets.token_urlsafe(24)}"
            changed = True
    if changed or not path.exists():
        _write_private(path, json.dumps(tokens, indent=2).encode())
    return {u: tokens[u] for u in users}


def write_kubeconfig(
    path: Path,
    *,
    server: str,
    ca_pem: bytes,
    tokens: dict[str, str],
    namespace: str,
    current_user: str,
) -> None:
    """Write the kubeconfig with mode 0600 (it holds tokens), replacing any previous one atomically."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CLUSTER_NAME,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}} for user, token in tokens.items()],
        "contexts": [
            {
                "name": context_name(user),
                "context": {"cluster": CLUSTER_NAME, "user": user, "namespace": namespace},
            }
            for user in tokens
        ],
        "current-context": context_name(current_user),
        "preferences": {},
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
