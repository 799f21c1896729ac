"""The typed errors (k8sterm_widget/errors.py): the hierarchy drawn in its docstring is the real one, and the
timeouts share their base."""

from __future__ import annotations

import re

import pytest

from k8sterm_widget import errors

CLASSES = {n: c for n in errors.__all__ if isinstance(c := getattr(errors, n), type)}


def drawn() -> list[tuple[str, str, list[str]]]:
    """(class, parent, other bases) of every line of the drawing in the module's docstring."""
    doc = errors.__doc__ or ""
    block = doc[doc.index("    K8stermError\n") :]
    parents: list[str] = []
    out = []
    for line in block.splitlines():
        m = re.match(r"^( {4}[ │├└─]*)(\w+)(?: \(also ([\w, ]+)\))?", line)
        if not m:
            break
        depth = (len(m.group(1)) - 4) // 4
        parents[depth:] = [m.group(2)]
        if depth:
            out.append((m.group(2), parents[depth - 1], (m.group(3) or "").split(", ") if m.group(3) else []))
    return out


def test_the_drawn_hierarchy_is_the_real_one():
    lines = drawn()
    assert {name for name, _, _ in lines} | {"K8stermError"} == set(CLASSES)
    for name, parent, also in lines:
        bases = {b.__name__ for b in CLASSES[name].__bases__}
        assert parent in bases, (name, parent, bases)
        assert bases == {parent, *also}, (name, bases)


@pytest.mark.parametrize(
    "error",
    [
        errors.ExecTimeout(["sleep", "9"], 1.5),
        errors.ExpectTimeout("'\\$ '", 2.0, ["$ sleep 9"]),
        errors.RunTimeout("sleep 9", 3.0, stage="finish"),
        errors.DebugContainerTimeout("web-0", "debugger-abcde", 4.0, "waiting"),
    ],
)
def test_every_timeout_is_a_timeout_with_its_seconds(error):
    assert isinstance(error, errors.Timeout) and isinstance(error, errors.K8stermError)
    assert error.timeout in (1.5, 2.0, 3.0, 4.0)
    assert not isinstance(error, TimeoutError)  # the engine's "no data yet" stays the standard library's
