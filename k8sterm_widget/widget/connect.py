"""How a ``Terminal`` reaches its process: exec a shell (``shell()``), or attach to a debug container.

Why a strategy object rather than a subclass: ``debug()`` must return the very ``Terminal`` that ``shell()``
returns (same front end, same scripting API), and a terminal whose shell could not start (an image without
one) switches to a debug container *in place* when the user clicks "Debug with busybox". So the terminal
keeps one :class:`Connector` and asks it, on every (re)connect, for the target container (the pre-flight
checks, or creating the debug container and waiting for it) and for the kind of stream to open.

:class:`ConnectorActions` is the part of ``Terminal`` that offers and runs that switch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import NoShellFound
from ..kube.preflight import Target, preflight

if TYPE_CHECKING:
    from ..kube.config import Cluster
    from ..session import ExecSession
    from ._widget import Terminal

DEBUG_IMAGE = "busybox:1.36"  # what the "Debug with busybox" offer starts (a shell and the usual tools)


class Connector:
    """The default: pre-flight (pod, container, RBAC for ``create pods/exec``), then exec the command."""

    subresource = "exec"

    def target(self, terminal: Terminal, cluster: Cluster, namespace: str) -> Target:
        """Resolve and check the container; may take long (runs on the terminal's connect thread)."""
        return preflight(cluster, terminal.pod, namespace, terminal._args["container"])

    def command(self, terminal: Terminal) -> Any:
        return terminal._command

    def opened(self, terminal: Terminal, session: ExecSession) -> None:
        """Called once the stream is open, before input flows."""


def offers_for(error: BaseException | None) -> list[str]:
    """Actions the error line offers (the front end shows one button per name)."""
    return ["debug"] if isinstance(error, NoShellFound) else []


class ConnectorActions:
    """Mixed into ``Terminal``: the error line's offers, and :meth:`debug` to switch to a debug container."""

    def _offer_actions(self, change: dict) -> None:
        """Status observer: an error the user can act on gets its buttons; anything else clears them."""
        terminal: Any = self
        offers = offers_for(terminal.error) if change["new"] == "error" else []
        if list(terminal.offers) != offers:
            terminal.offers = offers

    def debug(
        self,
        image: str = DEBUG_IMAGE,
        target: str | None = None,
        container_name: str | None = None,
        *,
        timeout: float | None = None,
    ) -> None:
        """Replace this terminal's session with a shell in a new ephemeral debug container of its pod.

        What the "Debug with busybox" button of a "no shell in this image" error does. ``target`` defaults
        to the container this terminal tried (its processes are then visible to ``ps``). See
        :func:`k8sterm_widget.debug` for the container and the errors.
        """
        from ..ephemeral import DebugConnector

        terminal: Any = self
        options: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        terminal._connector = DebugConnector(
            image=image, target=target or terminal.container or None, name=container_name, **options
        )
        terminal.reconnect()

    def _on_debug(self, _msg: Any) -> None:
        self.debug()


__all__ = ["DEBUG_IMAGE", "Connector", "ConnectorActions", "offers_for"]
