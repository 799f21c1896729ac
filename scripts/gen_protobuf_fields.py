"""Generate ``k8sterm_widget/demo/data/protobuf-fields.json`` from Kubernetes' own ``generated.proto`` files.

kubectl sends the built-in kinds it creates with typed clients (``kubectl create deployment``, ``create
configmap``, ``auth can-i``, ``create token`` …) as ``application/vnd.kubernetes.protobuf``, and it does not
fall back to JSON on 415.  The demo apiserver decodes those bodies with this table: for every message of
the API groups it serves, each field's number, JSON name, type and label, exactly as go-to-protobuf wrote
them in k8s.io/api and k8s.io/apimachinery.  Field numbers never change between releases, so the table
only grows.

Usage: python scripts/gen_protobuf_fields.py <k8s.io/api checkout> <k8s.io/apimachinery checkout>
(git checkouts or bare repositories; files are read from HEAD).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

API_FILES = [
    "core/v1",
    "apps/v1",
    "batch/v1",
    "rbac/v1",
    "discovery/v1",
    "coordination/v1",
    "authentication/v1",
    "authorization/v1",
    "autoscaling/v1",
    "policy/v1",
    "events/v1",
]
MACHINERY_FILES = [
    "pkg/apis/meta/v1",
    "pkg/runtime",
    "pkg/runtime/schema",
    "pkg/util/intstr",
    "pkg/api/resource",
]
_FIELD = re.compile(r"^\s*(optional|repeated)\s+([.\w]+)\s+(\w+)\s*=\s*(\d+)")
_MAP = re.compile(r"^\s*map<\s*([.\w]+)\s*,\s*([.\w]+)\s*>\s+(\w+)\s*=\s*(\d+)")
_SCALARS = {"string", "int32", "int64", "bool", "bytes", "double", "float", "uint32", "uint64", "fixed64"}


def _read(repo: Path, path: str) -> str:
    if (repo / path).exists():
        return (repo / path).read_text()
    return subprocess.run(
        ["git", "-C", str(repo), "show", f"HEAD:{path}"], check=True, capture_output=True, text=True
    ).stdout


def _qualify(type_name: str, package: str) -> str:
    if type_name in _SCALARS:
        return type_name
    if type_name.startswith("."):
        return type_name[1:]
    return f"{package}.{type_name}"


def parse(text: str) -> dict[str, list[list[object]]]:
    package = re.search(r"^package\s+([\w.]+);", text, re.M).group(1)  # type: ignore[union-attr]
    messages: dict[str, list[list[object]]] = {}
    current: list[list[object]] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("//"):
            continue
        m = re.match(r"^message\s+(\w+)\s*\{", stripped)
        if m:
            current = messages.setdefault(f"{package}.{m.group(1)}", [])
            continue
        if stripped == "}":
            current = None
            continue
        if current is None:
            continue
        f = _FIELD.match(line)
        if f:
            label, type_name, name, number = f.groups()
            current.append([int(number), name, _qualify(type_name, package), label])
            continue
        mp = _MAP.match(line)
        if mp:
            _key, value, name, number = mp.groups()
            current.append([int(number), name, _qualify(value, package), "map"])
    return messages


def main(api: str, machinery: str) -> None:
    out: dict[str, list[list[object]]] = {}
    for sub in API_FILES:
        out.update(parse(_read(Path(api), f"{sub}/generated.proto")))
    for sub in MACHINERY_FILES:
        out.update(parse(_read(Path(machinery), f"{sub}/generated.proto")))
    target = Path(__file__).resolve().parent.parent / "k8sterm_widget/demo/data/protobuf-fields.json"
    target.write_text(json.dumps(out, separators=(",", ":"), sort_keys=True) + "\n")
    print(f"{target}: {len(out)} messages")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
