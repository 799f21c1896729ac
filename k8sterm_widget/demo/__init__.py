"""A local demo cluster that real clients accept (kubectl, the official client, kubernetes_asyncio).

``with k8sterm_widget.demo.cluster() as c:`` starts it (``c.kubeconfig``, ``c.context``, ``c.server``);
``k8sterm cluster`` and ``python -m k8sterm_widget.demo`` run it from a shell.  See :mod:`.cluster`.
"""

from __future__ import annotations

from typing import Any


def needs_extra(missing: str) -> str:
    """What to tell someone whose install lacks the ``demo`` extra (``missing`` is a module it brings)."""
    install = "pip install 'k8sterm_widget[demo]'"
    return f"the demo cluster needs the 'demo' extra ({missing} is missing): {install}"


try:
    from .cluster import DemoCluster, cluster
except ImportError as e:  # the package installs without the demo extra; say so when the cluster is asked for
    missing_dependency: str | None = e.name or str(e)
else:
    missing_dependency = None


def __getattr__(name: str) -> Any:
    if name in ("DemoCluster", "cluster") and missing_dependency:
        raise ImportError(needs_extra(missing_dependency))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["DemoCluster", "cluster"]
