"""A local demo cluster that real clients accept (kubectl, the official client, kubernetes_asyncio).

``with k8sterm_widget.demo.cluster() as c:`` starts it (``c.kubeconfig``, ``c.context``, ``c.server``);
``k8sterm cluster`` and ``python -m k8sterm_widget.demo`` run it from a shell.  See :mod:`.cluster`.
"""

from __future__ import annotations

from .cluster import DemoCluster, cluster

__all__ = ["DemoCluster", "cluster"]
