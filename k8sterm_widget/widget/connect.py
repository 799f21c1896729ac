"""How a ``Terminal`` reaches its process: exec a shell (``shell()``), or attach to a debug container
(``debug()``).

Why a strategy object rather than a subclass: ``debug()`` must return the very ``Terminal`` that ``shell()``
returns (same front end, same scripting API), and a terminal whose shell could not start (an image without
one) switches to a debug container *in place* when the user clicks "Debug with busybox". So the terminal
keeps one :class:`Connector` and asks it, on every (re)connect, for the target container (the pre-flight
checks, or creating the debug container and waiting for it) and for the kind of stream to open.

``Terminal.debug()`` runs that switch; :func:`offers_for` says when the error line offers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kubernetes import client

from ..errors import DebugContainerError, K8stermError, NoShellFound
from ..kube import ephemeral
from ..kube.preflight import Target, choose_container, preflight, read_pod
from ..kube.rest import rest_error
from ..kube.status import Context

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

    def command(self, terminal: Terminal) -> Sequence[str] | str | None:
        return terminal._command

    def opened(self, terminal: Terminal, session: ExecSession) -> None:
        """Called once the stream is open, before input flows."""


class DebugConnector(Connector):
    """Creates (or reuses) a debug container, then attaches to it (``kubectl debug -it``).

    The cluster operations are :mod:`k8sterm_widget.kube.ephemeral`'s; this adds the terminal's side: the
    badge and notes, progress in the status line, and reconnects (attach again while the container runs,
    start a new one once it has ended: ephemeral containers never restart). Attach runs no command and the
    shell printed its first prompt before anyone was attached, so :meth:`opened` presses Enter once
    (kubectl says "If you don't see a command prompt, try pressing enter").
    """

    subresource = "attach"

    def __init__(
        self,
        image: str = DEBUG_IMAGE,
        target: str | None = None,
        name: str | None = None,
        command: Sequence[str] | None = None,
        timeout: float = ephemeral.DEFAULT_TIMEOUT,
    ) -> None:
        self.image = image
        self.target_name = target
        self.name = name
        self.argv = list(command) if command else None
        self.timeout = timeout
        self.created: list[str] = []  # debug containers this connector added, oldest first

    def command(self, terminal: Terminal) -> Sequence[str] | str | None:
        return None  # attach runs no command

    def target(self, terminal: Terminal, cluster: Cluster, namespace: str) -> Target:
        pod_name = terminal.pod
        api_client = cluster.new_api_client()
        ctx = Context(server=cluster.server, pod=pod_name, namespace=namespace)
        try:
            core = client.CoreV1Api(api_client)
            pod = read_pod(core, cluster, pod_name, namespace, ctx)
            target = self.target_name or choose_container(pod, None)[0]
            notes: list[str] = []
            name = self.name
            state = ephemeral.ephemeral_state(pod, name)[0] if name else "absent"
            if name and state == "terminated":
                if name not in self.created:
                    raise DebugContainerError(
                        f'debug container "{name}" of pod "{pod_name}" has ended and cannot be restarted',
                        pod=pod_name,
                        container=name,
                        hint="Leave out container_name to start a new one.",
                    )
                notes.append(
                    f'The debug container "{name}" has ended (they never restart); starting a new one.'
                )
                name, state = None, "absent"
            ephemeral.check_can_debug(api_client, cluster, pod, namespace, create=state == "absent")
            if state == "absent":
                name = name or ephemeral.debugger_name(ephemeral.all_names(pod))
                spec = ephemeral.ephemeral_container(name, self.image, target, self.argv)
                pod = ephemeral.add_container(core, cluster, pod_name, namespace, spec, ctx)
                self.created.append(name)
            assert name is not None
            self.name = name
            badge = f"debug container · {self.image}" + (f" · target {target}" if target else "")
            terminal._update(container=name, badge=badge)
            notes.insert(
                0,
                f'Debug container "{name}" ({self.image})'
                + (f' shares the process namespace of "{target}"' if target else "")
                + "; ephemeral containers stay in the pod until it is deleted.",
            )
            if ephemeral.ephemeral_state(pod, name)[0] != "running":
                pod = ephemeral.wait_running(
                    api_client,
                    cluster,
                    pod,
                    name,
                    self.image,
                    self.timeout,
                    progress=lambda text: terminal._update(status_detail=text),
                )
            return Target(pod_name, namespace, name, notes, pod)
        except K8stermError:
            raise
        except Exception as e:
            raise rest_error(e, cluster, ctx) from None
        finally:
            api_client.close()

    def opened(self, terminal: Terminal, session: ExecSession) -> None:
        if self.argv is None:
            try:
                session.write(b"\r")  # the first prompt was printed before we attached: ask for another
            except K8stermError:
                pass


def offers_for(error: BaseException | None) -> list[str]:
    """Actions the error line offers (the front end shows one button per name)."""
    return ["debug"] if isinstance(error, NoShellFound) else []


__all__ = ["DEBUG_IMAGE", "Connector", "DebugConnector", "offers_for"]
