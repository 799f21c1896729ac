"""Errors the runtime raises, worded like containerd + runc so the API layer can pass them on verbatim.

A real cluster's message for ``kubectl exec pod -- foo`` is built in layers: runc says
``exec failed: unable to start container process: exec: "foo": executable file not found in $PATH``,
containerd's shim wraps it as ``OCI runtime exec failed: … : unknown`` (the trailing ``unknown`` is the
gRPC code), containerd's CRI plugin adds ``failed to start exec "<64-hex id>": `` and
``failed to exec in container: ``, and the apiserver adds ``Internal error occurred: ``. The runtime owns
the innermost two layers (:attr:`ExecError.message`); :meth:`ExecError.runtime_message` adds the CRI
layers with a fresh exec id for callers that want the whole kubelet-side text.
"""

from __future__ import annotations

import secrets

__all__ = ["ContainerNotRunning", "ExecError", "StartError"]


class ExecError(Exception):
    """A process could not be started; :attr:`message` is the OCI runtime's text.

    Example: ``OCI runtime exec failed: exec failed: unable to start container process: exec: "foo":
    executable file not found in $PATH: unknown``.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @classmethod
    def from_lookup(cls, reason: str) -> ExecError:
        """Wrap a :class:`~.lookpath.LookPathError` text the way ``runc exec`` via containerd reports it."""
        return cls(
            f"OCI runtime exec failed: exec failed: unable to start container process: {reason}: unknown"
        )

    def runtime_message(self, exec_id: str | None = None) -> str:
        """The message as containerd's CRI plugin returns it to the kubelet (random 64-hex exec id)."""
        exec_id = exec_id or secrets.token_hex(32)
        return f'failed to exec in container: failed to start exec "{exec_id}": {self.message}'


class StartError(ExecError):
    """The container's main process could not be started (the pod shows ``RunContainerError``/``StartError``).

    Worded like containerd 1.7/2.x creating a task whose entrypoint runc cannot find.
    """

    @classmethod
    def from_lookup(cls, reason: str) -> StartError:
        return cls(
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: "
            f"runc create failed: unable to start container process: {reason}: unknown"
        )


class ContainerNotRunning(ExecError):
    """Exec/attach into a container that has exited or was stopped; worded like the kubelet's refusal."""

    def __init__(self, name: str) -> None:
        super().__init__(f'container not found ("{name}")')
