"""The :class:`Runtime`: owns the state directory, the isolation verdict, staged images and containers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

from .container import Container
from .images import Image
from .isolation import Isolation, probe
from .userland import Staged, stage

__all__ = ["Runtime"]

log = logging.getLogger(__name__)


class Runtime:
    """Runs demo containers as real processes (see the package docstring for the isolation modes).

    ``state_dir`` holds staged userlands, the (always empty) mount point for container roots and pid 1's
    logs; it should be private to this runtime. ``isolation``: ``"auto"`` (namespaces when the probe
    succeeds, else processes), ``"namespaces"`` (raise if unavailable) or ``"process"``.
    """

    def __init__(self, state_dir: Path, *, isolation: str = "auto") -> None:
        if isolation not in ("auto", "namespaces", "process"):
            raise ValueError(f"isolation must be auto, namespaces or process, not {isolation!r}")
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if isolation == "process":
            self._isolation = Isolation("process", reason="requested")
        else:
            self._isolation = probe(self.state_dir)
            if self._isolation.mode != "namespaces":
                if isolation == "namespaces":
                    raise RuntimeError(f"namespace isolation is not available: {self._isolation.reason}")
                log.warning("demo containers run as plain processes: %s", self._isolation.reason)
        #: The resolved mode: ``"namespaces"`` or ``"process"``.
        self.isolation: str = self._isolation.mode
        #: True when namespaces come from an unprivileged user namespace (not running as root).
        self.userns: bool = self._isolation.userns
        self._staged: dict[str, Staged] = {}
        self._containers: set[Container] = set()
        self._stopped = False

    def __repr__(self) -> str:
        return f"<Runtime {self.isolation} {self.state_dir} containers={len(self._containers)}>"

    @property
    def containers(self) -> list[Container]:
        """The containers of this runtime that are running (or starting)."""
        return list(self._containers)

    def _stage(self, image: Image) -> Staged:
        staged = self._staged.get(image.name)
        if staged is None:
            staged = stage(image, self.state_dir, hardlink=self.isolation == "namespaces")
            if staged.missing:
                log.info("image %s: the host lacks %s", image.name, ", ".join(staged.missing))
            self._staged[image.name] = staged
        return staged

    def _env(self, image: Image, staged: Staged, pod: str, env: dict[str, str] | None) -> dict[str, str]:
        """Image env, then ``HOSTNAME``, then the container's env, then ``HOME`` if still unset."""
        result = dict(image.env)
        result["HOSTNAME"] = pod
        result.update(env or {})
        result.setdefault("HOME", "/root")
        if self.isolation == "process" and staged.bin_dir is not None:
            # No mount namespace to hide the host's programs: the staged directory is all PATH offers.
            result["PATH"] = str(staged.bin_dir)
        return result

    async def run_container(
        self,
        *,
        namespace: str,
        pod: str,
        name: str,
        image: Image,
        command: list[str] | None = None,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        working_dir: str | None = None,
        tty: bool = False,
        stdin: bool = False,
        on_exit: Callable[[int], None] | None = None,
        share_pid_with: Container | None = None,
    ) -> Container:
        """Start a container and return once its main process runs.

        Raises :class:`~.errors.StartError` (runc's wording) when the main process cannot be started, e.g.
        its command is not in the image. ``on_exit(code)`` is called from the event loop when the
        container's main process exits on its own — not after :meth:`Container.stop` or :meth:`stop`.
        ``share_pid_with``: a running container whose PID namespace this one joins (an ephemeral debug
        container's target); ignored in process mode, where there are no PID namespaces.
        """
        if self._stopped:
            raise RuntimeError("runtime is stopped")
        staged = self._stage(image)
        container = Container(
            namespace=namespace,
            pod=pod,
            name=name,
            image=image,
            isolation=self._isolation,
            staged=staged,
            env=self._env(image, staged, pod, env),
            tty=tty,
            stdin=stdin,
            on_exit=on_exit,
            share_pid_with=share_pid_with,
        )
        container._on_finished = self._containers.discard
        self._containers.add(container)
        try:
            await container._start(
                image.argv(command, args), working_dir or image.working_dir, self.state_dir
            )
        except BaseException:
            self._containers.discard(container)
            raise
        if self._stopped:  # stop() ran while this one was starting
            await container.stop()
        return container

    async def stop(self) -> None:
        """Kill every container and exec session (SIGTERM, then SIGKILL after a second). Idempotent."""
        self._stopped = True
        containers = list(self._containers)
        self._containers.clear()
        await asyncio.gather(*(c.stop() for c in containers))
