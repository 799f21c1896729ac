"""k8sterm_widget: a live shell into a Kubernetes container inside a notebook cell.

The public surface is deliberately thin; everything else lives in layer modules that can be read alone:
``kube`` (transport: kubeconfig, pre-flight, the exec WebSocket), ``session`` (bytes, resize, exit status),
``oneshot`` (scripted exec), ``demo`` (a local cluster for tutorials and tests).
"""

from __future__ import annotations

__version__ = "0.1.0"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server finds the TCP_NODELAY extension (``server_extension``) through this."""
    from .server_extension import _jupyter_server_extension_points as points

    return points()
