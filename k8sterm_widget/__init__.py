"""k8sterm_widget: a live shell into a Kubernetes container inside a notebook cell.

The public surface is deliberately thin; everything else lives in layer modules that can be read alone:
``kube`` (transport: kubeconfig, pre-flight, the exec WebSocket), ``session`` (bytes, resize, exit status),
``oneshot`` (scripted exec), ``demo`` (a local cluster for tutorials and tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import *  # noqa: F403 - the typed errors are part of the public API
from .errors import __all__ as _errors

__version__ = "0.1.0"

# Public name -> module that defines it. Imported on first use, so ``import k8sterm_widget`` stays cheap
# (the kubernetes client and anywidget take a while to import).
_LAZY = {
    "exec": ".oneshot",
    "ExecResult": ".oneshot",
    "ExecSession": ".session",
    "shell": ".widget",
    "Terminal": ".widget",
    "RunResult": ".widget.drive",
    "exec_many": ".fanout",
    "FanoutResult": ".fanout",
    "PodResult": ".fanout",
    "upload": ".transfer",
    "download": ".transfer",
    "TransferResult": ".transfer",
    "browse": ".browser",
    "PodBrowser": ".browser",
    "debug": ".widget",
    "replay": ".recording",
    "Player": ".recording",
    "Recording": ".recording",
    "Snapshot": ".recording",
}

if TYPE_CHECKING:
    from .browser import PodBrowser, browse  # noqa: F401
    from .fanout import FanoutResult, PodResult, exec_many  # noqa: F401
    from .oneshot import ExecResult, exec  # noqa: F401
    from .recording import Player, Recording, Snapshot, replay  # noqa: F401
    from .session import ExecSession  # noqa: F401
    from .transfer import TransferResult, download, upload  # noqa: F401
    from .widget import Terminal, debug, shell  # noqa: F401
    from .widget.drive import RunResult  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'k8sterm_widget' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = ["__version__", *_LAZY, *_errors]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server finds the TCP_NODELAY extension (``server_extension``) through this."""
    from .server_extension import _jupyter_server_extension_points as points

    return points()


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext k8sterm_widget``: registers the ``%k8sterm`` line magic (see ``magics``)."""
    from .magics import load_ipython_extension as load

    load(ipython)
