"""The layers contract (pyproject's ``[tool.importlinter]``, checked by ``lint-imports`` in ``make test``)
stays whole: the demo cluster's list of forbidden modules names every other top-level module, so a new
module cannot become a door the demo cluster walks through unseen."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import tomllib

import k8sterm_widget

ROOT = Path(__file__).resolve().parent.parent


def contracts() -> dict[str, dict]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def top_level() -> set[str]:
    return {m.name for m in pkgutil.iter_modules(k8sterm_widget.__path__)}


def test_the_demo_cluster_is_forbidden_every_other_module():
    forbidden = {m.removeprefix("k8sterm_widget.") for m in contracts()["demo"]["forbidden_modules"]}
    assert forbidden == top_level() - {"demo"}


def test_every_module_has_a_row():
    rows = contracts()["layers"]["layers"]
    placed = {name.strip() for row in rows for name in row.split("|")}
    assert placed == top_level()  # lint-imports checks this too (exhaustive); here the error names them
