"""``python -m benchmarks`` (``make bench``): every benchmark in this package, one after the other."""

import sys

from .kubectl_exec import main

sys.exit(main(sys.argv[1:]))
