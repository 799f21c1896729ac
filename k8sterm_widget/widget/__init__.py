"""The terminal widget: xterm.js in a notebook cell, bytes over the comm, the exec stream in the kernel.

``_widget`` (the ``Terminal`` class, ``shell()`` and ``debug()``) is the lifecycle; ``connect`` how it
reaches its process (exec, or attach to a debug container); ``protocol`` documents and
validates the comm messages; ``coalesce``, ``flow`` and ``replay`` are pure policies (fake clocks in
tests); ``output`` and ``stdin`` move bytes between the session and the comm. ``drive`` is the scripting
API (``send``/``expect``/``run``) on top, with ``runline``, ``textstream`` and ``screen`` as its pure
parts.
"""

from ._widget import Terminal, debug, shell

__all__ = ["Terminal", "debug", "shell"]
