"""The pod browser: ``browse()`` lists pods live and opens shells (and debug containers) in tabs.

``rows`` turns pods into table rows (pure), ``sources`` finds contexts and namespaces, ``watcher`` keeps
the list current with a watch, ``_widget`` is the widget itself.
"""

from ._widget import PodBrowser, browse

__all__ = ["PodBrowser", "browse"]
