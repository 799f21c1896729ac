"""``python -m benchmarks`` (``make bench``): the benchmarks that need no browser, one after the other.

The browser benchmark (the widget beside JupyterLab's terminal) needs Chromium and a few minutes:
``python -m benchmarks.widget_terminal``.
"""

import sys

from . import demo_api, engine_exec, fanout_exec, file_transfer

status = 0
for bench in (engine_exec, fanout_exec, file_transfer, demo_api):
    print(f"\n== {bench.__name__} ==", flush=True)
    status |= bench.main([])
sys.exit(status)
