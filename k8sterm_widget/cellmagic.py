"""``%%k8sexec``: run the cell body as a shell script in a pod, its output streaming into the cell.

    %%k8sexec web-0 -n demo
    echo "running in $(hostname)"
    ls /usr/share/nginx

Options: ``-n NAMESPACE``, ``-c CONTAINER``, ``--context``, ``--kubeconfig`` (as ``%k8sterm`` and kubectl),
``--shell`` (default ``sh``; ``bash`` where the image has it) and ``--timeout SECONDS``. The line is
expanded by IPython (``%%k8sexec {pod}`` works), the body is sent as is (``$HOME`` is the pod's).

How the body reaches the pod, and why: ``sh -c 'eval "$(cat)" </dev/null'`` with the body on stdin,
then a stdin close (v5 exec protocol). Not ``sh -c BODY``: argv travels in the exec URL, which API servers
and proxies cap at a few kilobytes to a megabyte and write to audit logs, so a long or secret-bearing cell
would fail or leak. Not plain ``sh -s`` either: there the script *is* stdin, so a ``cat`` or ``read`` in the
body would swallow the lines after it. ``$(cat)`` reads the whole body first, and the body then runs with
stdin from ``/dev/null``, like ``kubectl exec`` without ``-i``. The script's exit status is that of its
last command, as for any shell script (start the cell with ``set -e`` to stop at the first failure).

Output is read from the session's queue **in the thread that runs the cell** and written to
``sys.stdout``/``sys.stderr`` as it arrives (ipykernel routes those writes to this cell; the engine's I/O
thread never prints). Each stream has its own incremental UTF-8 decoder, so a character split across
frames is not garbled. A non-zero exit raises :class:`~k8sterm_widget.errors.CellFailed` (one line in the
notebook: "… exited with code N"), so "Run all" stops there and a headless run fails.

Interrupting the cell (Ctrl-C, the stop button) closes the exec session and says so. The demo cluster then
kills the command's process tree. A real kubelet ends a process once it writes to the closed stream or reads
from stdin, but a silent one (``sleep``) may outlive the stream (kubernetes/kubernetes#89031).
"""

from __future__ import annotations

import codecs
import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from .errors import CellFailed, ExecTimeout, SessionClosed
from .session import ExecSession

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

# Read the whole body from stdin, then run it with stdin from /dev/null (see the module docstring).
# The runner reads a length-prefixed script and evals it, while a watcher waits for stdin to close: the
# client closes stdin only to stop the command (^C, timeout) or by going away, and the watcher then ends the
# whole process group. On containerd a vanished client does not signal a non-tty exec at all (the demo
# cluster does the same), so this is what makes ^C end the remote command on any cluster.
RUNNER = (
    'IFS= read -r n; s=$(head -c "$n"); exec 3<&0; '  # an asynchronous list's stdin is /dev/null: keep fd 3
    "{ cat <&3 >/dev/null; kill -TERM 0; } >/dev/null 2>&1 & w=$!; exec 3<&-; "
    'eval "$s" </dev/null; rc=$?; kill "$w" 2>/dev/null; exit "$rc"'
)
POLL = 0.2  # seconds between checks for a timeout while the pod is silent


def run_script(
    pod: str,
    script: str,
    namespace: str | None = None,
    container: str | None = None,
    *,
    shell: str = "sh",
    timeout: float | None = None,
    context: str | None = None,
    kubeconfig: str | os.PathLike | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> ExecSession:
    """Run ``script`` with ``shell`` in the container, copying its output to ``stdout``/``stderr`` live.

    Returns the ended session (``exit_code``, ``container`` …). The cell magic is a thin layer over this;
    scripts can call it too. Pre-flight and stream failures raise the typed errors of :mod:`.errors`,
    ``timeout`` raises :class:`ExecTimeout`, and KeyboardInterrupt closes the session before propagating.
    """
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    argv = [shell, "-c", RUNNER]
    started = time.monotonic()
    session = ExecSession.open(
        pod, argv, namespace, container, tty=False, stdin=True, context=context, kubeconfig=kubeconfig
    )
    decoders = {s: codecs.getincrementaldecoder("utf-8")("replace") for s in (1, 2)}
    sinks = {1: out, 2: err}
    try:
        try:
            body = (script if script.endswith("\n") else script + "\n").encode()
            session.write(f"{len(body)}\n".encode() + body)  # stdin stays open: closing it stops the run
        except SessionClosed:
            pass  # the shell could not start: wait() below raises the session's typed error
        while True:
            if timeout is not None and time.monotonic() - started > timeout:
                session.close()
                raise ExecTimeout([shell, "<cell>"], timeout)
            try:
                item = session.read(timeout=POLL)
            except TimeoutError:
                continue
            if item is None:
                break
            stream, data = item
            text = decoders[stream].decode(data)
            if text:
                sinks[stream].write(text)
                sinks[stream].flush()
        for stream, decoder in decoders.items():
            if tail := decoder.decode(b"", final=True):
                sinks[stream].write(tail)
        session.wait()
        return session
    except KeyboardInterrupt:
        session.close()
        err.write(
            f"\n^C: closed the exec session to {session.namespace}/{session.pod} [{session.container}], "
            "ending the remote command\n"
        )
        err.flush()
        raise
    finally:
        if not session.ended:
            session.close()


@magics_class
class K8sExecMagics(Magics):
    @magic_arguments()
    @argument("pod", help="the pod to run the cell in")
    @argument("-n", "--namespace", default=None, help="namespace (default: the context's)")
    @argument("-c", "--container", default=None, help="container (default: as kubectl chooses)")
    @argument("--context", default=None, help="kubeconfig context (default: the current one)")
    @argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    @argument("--shell", default="sh", help="the shell that runs the body (default: sh)")
    @argument("--timeout", type=float, default=None, help="seconds before the command is stopped")
    @cell_magic
    def k8sexec(self, line: str, cell: str) -> None:
        """Run the cell as a shell script in a pod: %%k8sexec POD [-n NS] [-c CONTAINER] [--context CTX]."""
        args = parse_argstring(self.k8sexec, line)
        session = run_script(
            args.pod,
            cell,
            args.namespace,
            args.container,
            shell=args.shell,
            timeout=args.timeout,
            context=args.context,
            kubeconfig=args.kubeconfig,
        )
        if session.exit_code:
            raise CellFailed(session.pod, session.namespace, session.container, session.exit_code)


def load_ipython_extension(ipython: InteractiveShell) -> None:
    ipython.register_magics(K8sExecMagics)


__all__ = ["K8sExecMagics", "load_ipython_extension", "run_script"]
