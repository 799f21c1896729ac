"""``python -m k8sterm_widget.demo``: run the demo cluster in the foreground (same as ``k8sterm cluster``)."""

import sys

from .cli import cluster_main

sys.exit(cluster_main())
