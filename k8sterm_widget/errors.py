"""Typed errors: every failure a user can cause ends in one of these, with a sentence a person understands.

Why one hierarchy: the widget shows ``str(error)`` as a single readable line, scripts catch the base class
or a specific type, and the pre-flight checks and the handshake/channel-3 parsers (which see the same
failures from two directions) produce the same types. Messages never contain credentials: they are
built from names (pod, namespace, user, server URL) and from Status messages, never from headers.

The hierarchy, roughly in the order a session meets it (tests/test_errors.py keeps this drawing true)::

    K8stermError
    ├── UsageError (also ValueError)         arguments that cannot work together
    ├── ConfigError                          no kubeconfig, no such context
    ├── ClusterUnreachable                   refused, DNS, TLS, timed out: names the URL
    ├── Unauthorized                         401
    ├── Forbidden                            403: user, verb, resource, namespace
    ├── PodNotFound                          404, with close names
    ├── ContainerNotValid                    no such container: the choices
    ├── PodNotRunning                        finished, not scheduled, being deleted
    │   └── ContainerNotRunning              waiting, crash-looping, terminated
    ├── CommandNotFound                      the runtime could not start the program
    │   └── NoShellFound                     no shell in the image: debug() gives one
    ├── ProtocolError                        the exec protocol as we cannot use it
    ├── RemoteError                          any other failure the cluster reported
    ├── ConnectionLost                       the stream ended without an exit status
    ├── SessionClosed                        input to a session that has ended
    │   └── TerminalEnded                    a script waited for a terminal that ended
    ├── CommandFailed                        check=True and a non-zero exit
    │   └── CellFailed                       %%k8sexec
    ├── TerminalBusy                         run() while an earlier run() goes on
    ├── Timeout                              not within ``timeout`` seconds
    │   ├── ExecTimeout                      exec(), %%k8sexec
    │   ├── ExpectTimeout                    Terminal.expect, wait_exit
    │   │   └── RunTimeout                   Terminal.run: connect, start or finish
    │   └── DebugContainerTimeout (also DebugContainerError)
    ├── DebugContainerError                  debug(): could not add or start it
    │   ├── EphemeralContainersUnsupported   the cluster predates them
    │   ├── ImagePullFailed
    │   └── DebugContainerTimeout (also Timeout)
    ├── FanoutFailed                         exec_many(check=True)
    └── TransferError                        upload(), download()
        ├── RemotePathNotFound
        ├── RemoteNotADirectory
        ├── RemoteWriteError                 read-only, no permission, disk full
        ├── UnsafeArchive                    a member that would land outside
        ├── ChecksumMismatch
        └── NoTransferTool                   no shell, tar, cat or base64
"""

from __future__ import annotations

from collections.abc import Sequence


class K8stermError(Exception):
    """Base class of every error k8sterm_widget raises on purpose.

    ``message`` says what happened, ``hint`` (may be empty) says how to fix it; ``str()`` joins both.
    ``code`` is the HTTP status or Status ``code`` when the cluster gave one.
    """

    def __init__(self, message: str, *, hint: str = "", code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        if not self.hint:
            return self.message
        sep = " " if self.message.rstrip().endswith((".", "!", "?", ":")) else ". "
        return f"{self.message.rstrip()}{sep}{self.hint}"

    def _render_traceback_(self) -> list[str]:
        """IPython hook: show one readable line in a notebook instead of a traceback wall."""
        return [f"{type(self).__name__}: {self}"]


class UsageError(K8stermError, ValueError):
    """A call whose arguments cannot work together; the message says what to give instead.

    Also a ``ValueError``, which these checks raised before, so code catching that keeps working.
    """


class ConfigError(K8stermError):
    """No usable kubeconfig or in-cluster configuration, or the named context does not exist."""


class ClusterUnreachable(K8stermError):
    """The API server could not be reached (refused, DNS, TLS, timeout). Names the URL, never a secret."""

    def __init__(self, server: str, reason: str, *, hint: str = "") -> None:
        super().__init__(
            f"cannot reach the Kubernetes API server at {server}: {reason}",
            hint=hint or "Check that the cluster is running and that the kubeconfig context points at it.",
        )
        self.server = server
        self.reason = reason


class Unauthorized(K8stermError):
    """HTTP 401: the credentials were refused (expired token, wrong certificate)."""

    def __init__(self, server: str, detail: str = "Unauthorized") -> None:
        super().__init__(
            f"the API server at {server} refused the credentials ({detail})",
            hint="Log in again or refresh the token in your kubeconfig.",
            code=401,
        )
        self.server = server


class Forbidden(K8stermError):
    """HTTP 403 or a denied SelfSubjectAccessReview: RBAC does not allow the verb on the resource."""

    def __init__(
        self,
        message: str,
        *,
        user: str | None = None,
        verb: str | None = None,
        resource: str | None = None,
        namespace: str | None = None,
        hint: str = "",
    ) -> None:
        if not hint and verb and resource:
            hint = (
                f'An administrator can grant it with a Role allowing "{verb}" on "{resource}"'
                + (f' in namespace "{namespace}"' if namespace else "")
                + "."
            )
        super().__init__(message, hint=hint, code=403)
        self.user = user
        self.verb = verb
        self.resource = resource
        self.namespace = namespace


class PodNotFound(K8stermError):
    """HTTP 404 for the pod (a missing namespace looks the same to the API)."""

    def __init__(self, pod: str, namespace: str, *, suggestions: Sequence[str] = ()) -> None:
        hint = (
            "Did you mean " + ", ".join(f'"{s}"' for s in suggestions) + "?"
            if suggestions
            else f"List the pods with: kubectl get pods -n {namespace}"
        )
        super().__init__(f'pod "{pod}" not found in namespace "{namespace}"', hint=hint, code=404)
        self.pod = pod
        self.namespace = namespace
        self.suggestions = list(suggestions)


class ContainerNotValid(K8stermError):
    """The container name is not one of the pod's containers (or none was given and the server needs one)."""

    def __init__(self, message: str, *, container: str | None, pod: str, choices: Sequence[str]) -> None:
        super().__init__(message, hint=f"Choose one of: {', '.join(choices)}." if choices else "", code=400)
        self.container = container
        self.pod = pod
        self.choices = list(choices)


class PodNotRunning(K8stermError):
    """The pod cannot run an exec: not scheduled, finished, or being deleted."""

    def __init__(self, message: str, *, pod: str, phase: str | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint, code=400)
        self.pod = pod
        self.phase = phase


class ContainerNotRunning(PodNotRunning):
    """The container exists but is not running (creating, crash-looping, terminated)."""

    def __init__(self, message: str, *, pod: str, container: str, state: str = "", hint: str = "") -> None:
        super().__init__(message, pod=pod, hint=hint)
        self.container = container
        self.state = state


class CommandNotFound(K8stermError):
    """The container runtime could not start the command (not in $PATH, no such file, not executable)."""

    def __init__(self, command: Sequence[str], detail: str, *, hint: str = "") -> None:
        name = command[0] if command else ""
        super().__init__(f'cannot run "{name}" in the container: {detail}', hint=hint, code=500)
        self.command = list(command)
        self.detail = detail


class NoShellFound(CommandNotFound):
    """The image has no shell at all (distroless, scratch): only a debug container can give one."""

    def __init__(self, pod: str, container: str, namespace: str, detail: str) -> None:
        super().__init__(
            ["sh"],
            detail,
            hint=(
                f'The image of container "{container}" has no shell. '
                "Open one in an ephemeral debug container: "
                f'k8sterm_widget.debug("{pod}", namespace="{namespace}", target="{container}") '
                f"(kubectl: kubectl debug -it {pod} -n {namespace} --image=busybox:1.36 --target={container})"
            ),
        )
        self.message = f'container "{container}" of pod "{pod}" has no shell (tried bash, ash, sh)'
        self.pod = pod
        self.container = container
        self.namespace = namespace


class RemoteError(K8stermError):
    """Any other failure the cluster reported (an InternalError Status, an unexpected HTTP code)."""

    def __init__(self, message: str, *, code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message, code=code)
        self.reason = reason


class ProtocolError(K8stermError):
    """The server spoke the exec protocol in a way we cannot use (no common subprotocol, bad frame)."""


class ConnectionLost(K8stermError):
    """The exec stream ended without an exit status: the connection dropped or stopped answering."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"connection to the container was lost: {reason}",
            hint="The remote process may still be running; open a new session to continue.",
        )
        self.reason = reason


class SessionClosed(K8stermError):
    """Input was sent to a session that has already ended (the process exited or the stream dropped)."""


class Timeout(K8stermError):
    """Base of the timeouts: what was awaited did not happen within ``timeout`` seconds.

    Catch it to treat every k8sterm timeout alike (a one-shot exec, an expect or run, a debug container
    that does not start). Not a ``TimeoutError``: those stay the standard library's (a socket, a queue), and
    the engine uses them internally as "no data yet".
    """

    timeout: float | None


class ExecTimeout(Timeout):
    """A one-shot exec did not finish within its timeout; the partial output is kept."""

    def __init__(self, command: Sequence[str], timeout: float, result: object = None) -> None:
        super().__init__(f"command {list(command)!r} did not finish within {timeout:g} s")
        self.command = list(command)
        self.timeout = timeout
        self.result = result


class CommandFailed(K8stermError):
    """``exec(..., check=True)`` and the command exited non-zero. Carries the exit code and stderr's tail."""

    def __init__(
        self, command: Sequence[str], exit_code: int, stderr_tail: str, result: object = None
    ) -> None:
        detail = f": {stderr_tail.strip()}" if stderr_tail.strip() else ""
        super().__init__(f"command {list(command)!r} exited with code {exit_code}{detail}")
        self.command = list(command)
        self.exit_code = exit_code
        self.returncode = exit_code
        self.stderr_tail = stderr_tail
        self.result = result


class CellFailed(CommandFailed):
    """``%%k8sexec``: the cell's script exited non-zero; IPython shows "… exited with code N" as one line."""

    def __init__(self, pod: str, namespace: str, container: str, exit_code: int) -> None:
        super().__init__(["sh"], exit_code, "")
        self.message = f"cell script in {namespace}/{pod} [{container}] exited with code {exit_code}"
        self.args = (self.message,)
        self.pod = pod
        self.namespace = namespace
        self.container = container


class ExpectTimeout(Timeout):
    """``Terminal.expect``/``run``/``wait_exit``: what was awaited did not come within the timeout.

    Why the screen: a timeout is only debuggable with what the terminal showed instead (a prompt asking
    for a password, a pager, a program still running). ``screen`` holds its last lines and ``str()`` shows
    them; ``before`` is the text the terminal printed since the last match.
    """

    def __init__(
        self,
        what: str,
        timeout: float | None,
        screen: Sequence[str] = (),
        *,
        before: str = "",
        message: str = "",
    ) -> None:
        within = f" within {timeout:g} s" if timeout is not None else ""
        shown = "".join(f"\n    {line}" for line in screen) or "\n    (nothing)"
        super().__init__(message or f"{what} did not appear{within}", hint=f"The terminal shows:{shown}")
        self.what = what
        self.timeout = timeout
        self.screen = list(screen)
        self.before = before


class RunTimeout(ExpectTimeout):
    """``Terminal.run`` did not see its command finish in time; the command may still be running.

    ``stage`` says how far it got: ``connect`` (the terminal never connected), ``start`` (the shell never
    started the command: a program in the foreground got the keys instead) or ``finish``. ``output`` is
    what the command printed so far. Until the command ends the terminal counts as busy, so the next
    ``run`` raises :class:`TerminalBusy` rather than typing into it.
    """

    STAGES = {
        "connect": "the terminal did not connect{within}",
        "start": "the shell did not start {command!r}{within}: is a program running in the foreground?",
        "finish": "command {command!r} did not finish{within}; it may still be running",
    }

    def __init__(
        self,
        command: str,
        timeout: float | None,
        screen: Sequence[str] = (),
        output: str = "",
        *,
        stage: str = "finish",
    ) -> None:
        within = f" within {timeout:g} s" if timeout is not None else ""
        message = self.STAGES[stage].format(command=command, within=within)
        super().__init__(f"the end of {command!r}", timeout, screen, before=output, message=message)
        self.command = command
        self.output = output
        self.stage = stage


class TerminalBusy(K8stermError):
    """``Terminal.run`` while an earlier ``run`` is still going (it timed out, or another thread runs one)."""

    def __init__(self, message: str, *, command: str | None = None) -> None:
        super().__init__(message, hint="Wait for it to finish, or call interrupt() to send Ctrl-C.")
        self.command = command


class TerminalEnded(SessionClosed):
    """The terminal's process ended, or the terminal was closed, before what a script waited for came.

    ``status`` is the terminal's status (``exited`` or ``closed``), ``exit_code`` the code when it exited,
    ``screen`` the last lines it showed. ``reconnect()`` starts a new shell in the same terminal.
    """

    def __init__(self, status: str, exit_code: int | None = None, screen: Sequence[str] = ()) -> None:
        if status == "exited":
            what = f"the shell exited with code {exit_code}"
        else:
            what = f"the terminal is {status}"
        shown = "".join(f"\n    {line}" for line in screen)
        hint = "Call reconnect() for a new shell." + (f" The terminal shows:{shown}" if shown else "")
        super().__init__(what, hint=hint)
        self.status = status
        self.exit_code = exit_code
        self.screen = list(screen)


class FanoutFailed(K8stermError):
    """``exec_many(..., check=True)``: at least one pod did not run the command to exit code 0.

    ``result`` is the whole :class:`~k8sterm_widget.fanout.FanoutResult`, successes included.
    """

    def __init__(self, failed: Sequence[str], total: int, result: object = None) -> None:
        shown = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
        super().__init__(f"{len(failed)} of {total} pods failed: {shown}")
        self.failed = list(failed)
        self.result = result


class DebugContainerError(K8stermError):
    """``debug()``: the ephemeral debug container could not be added or did not start.

    ``pod`` and ``container`` (the debug container's name, None before one was named) say which. The
    container itself cannot be removed once added (the API keeps ephemeral containers for the pod's life).
    """

    def __init__(self, message: str, *, pod: str, container: str | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.pod = pod
        self.container = container


class EphemeralContainersUnsupported(DebugContainerError):
    """HTTP 404 on ``pods/ephemeralcontainers`` for a pod that exists: the cluster predates the feature.

    Ephemeral containers are GA since Kubernetes 1.25; older clusters need the feature gate.
    """

    def __init__(self, pod: str, namespace: str, server: str = "") -> None:
        where = f" at {server}" if server else ""
        super().__init__(
            f"the API server{where} does not support ephemeral debug containers "
            f'(pods/ephemeralcontainers returned 404 for pod "{pod}" in namespace "{namespace}")',
            pod=pod,
            hint="They need Kubernetes 1.25 or later (or the EphemeralContainers feature gate on 1.16-1.24).",
        )
        self.code = 404
        self.namespace = namespace


class ImagePullFailed(DebugContainerError):
    """The debug container's image could not be pulled (ErrImagePull, ImagePullBackOff, InvalidImageName)."""

    def __init__(self, pod: str, container: str, image: str, reason: str, detail: str = "") -> None:
        more = f": {detail}" if detail else ""
        super().__init__(
            f'debug container "{container}" in pod "{pod}" cannot start: image "{image}" '
            f"could not be pulled ({reason}{more})",
            pod=pod,
            container=container,
            hint="Check the image name and tag, and that the node can reach its registry.",
        )
        self.image = image
        self.reason = reason


class DebugContainerTimeout(DebugContainerError, Timeout):
    """The debug container was added but did not run within the timeout (a slow pull, a busy node)."""

    def __init__(self, pod: str, container: str, timeout: float, state: str) -> None:
        super().__init__(
            f'debug container "{container}" in pod "{pod}" did not start within {timeout:g} s ({state})',
            pod=pod,
            container=container,
            hint=(
                "It may still start: attach to it later with "
                f'k8sterm_widget.debug(..., container_name="{container}").'
            ),
        )
        self.timeout = timeout
        self.state = state


class TransferError(K8stermError):
    """A file transfer to or from a container failed. ``path`` is the remote path concerned (may be None)."""

    def __init__(self, message: str, *, path: str | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.path = path


class RemotePathNotFound(TransferError):
    """The remote file or directory (or the directory a new file would go into) does not exist."""


class RemoteNotADirectory(TransferError):
    """A remote path used as a directory is a file (or a file would replace a directory, or the reverse)."""


class RemoteWriteError(TransferError):
    """The container refused the write: read-only file system, no permission, disk full, tar failed."""


class UnsafeArchive(TransferError):
    """The pod sent an archive member that would land outside the destination (``..``, absolute, links).

    A pod is untrusted: a compromised or hostile container controls what its ``tar`` writes.
    """


class ChecksumMismatch(TransferError):
    """The sha256 of a transferred file differs between this machine and the container."""


class NoTransferTool(TransferError):
    """The container lacks what a transfer needs (a shell; for downloads also tar, cat or base64)."""


__all__ = [
    "CellFailed",
    "ChecksumMismatch",
    "ClusterUnreachable",
    "CommandFailed",
    "CommandNotFound",
    "ConfigError",
    "ConnectionLost",
    "ContainerNotRunning",
    "ContainerNotValid",
    "DebugContainerError",
    "DebugContainerTimeout",
    "EphemeralContainersUnsupported",
    "ExecTimeout",
    "ExpectTimeout",
    "FanoutFailed",
    "Forbidden",
    "ImagePullFailed",
    "K8stermError",
    "NoShellFound",
    "NoTransferTool",
    "PodNotFound",
    "PodNotRunning",
    "ProtocolError",
    "RemoteError",
    "RemoteNotADirectory",
    "RemotePathNotFound",
    "RemoteWriteError",
    "RunTimeout",
    "SessionClosed",
    "TerminalBusy",
    "TerminalEnded",
    "Timeout",
    "TransferError",
    "Unauthorized",
    "UnsafeArchive",
    "UsageError",
]
