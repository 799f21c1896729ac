"""Every kind the demo cluster serves, registered in :data:`..registry.REGISTRY` on import.

The order of registration is the order of discovery (and of ``kubectl api-resources``): core first, then
the groups in the apiserver's priority order.
"""

from __future__ import annotations

from . import cluster, core, workloads  # noqa: F401  (registration happens on import)
