"""``%k8sterm``: a live shell in a pod from one line, kubectl style. Load with ``%load_ext k8sterm_widget``.

    %k8sterm web-0 -n demo
    %k8sterm web-0 -n demo -c sidecar --context demo-admin
    %k8sterm web-0 -n demo -- top -b

The magic returns the :class:`~k8sterm_widget.widget.Terminal`, so as the last line of a cell it shows the
terminal, and ``t = %k8sterm web-0`` keeps a handle on it. Cluster problems never raise here: the widget
shows them as one line, like :func:`k8sterm_widget.shell`.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING

from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .widget import Terminal


@magics_class
class K8stermMagics(Magics):
    @magic_arguments()
    @argument("pod", help="the pod to open a shell in")
    @argument("-n", "--namespace", default=None, help="namespace (default: the context's)")
    @argument("-c", "--container", default=None, help="container (default: as kubectl chooses)")
    @argument("--context", default=None, help="kubeconfig context (default: the current one)")
    @argument("--kubeconfig", default=None, help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")
    @line_magic
    def k8sterm(self, line: str) -> Terminal:
        """Open a live terminal in a pod's container: %k8sterm POD [-n NS] [-c CONTAINER] [--context CTX].

        Anything after `` -- `` is the command to run instead of the container's best shell.
        """
        options, dashes, rest = f" {line} ".partition(" -- ")
        args = parse_argstring(self.k8sterm, options)
        command = shlex.split(rest) if dashes else None
        from .widget import shell

        return shell(
            args.pod,
            args.namespace,
            args.container,
            command or None,
            context=args.context,
            kubeconfig=args.kubeconfig,
        )


def load_ipython_extension(ipython: InteractiveShell) -> None:
    from .cellmagic import K8sExecMagics  # %%k8sexec: the cell body as a shell script in a pod

    ipython.register_magics(K8stermMagics)
    ipython.register_magics(K8sExecMagics)


__all__ = ["K8stermMagics", "load_ipython_extension"]
