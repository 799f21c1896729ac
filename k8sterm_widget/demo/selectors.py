"""Label and field selectors with apimachinery's grammar and matching rules.

``kubectl get pods -l 'app in (web),tier!=db'`` and the Python clients' ``label_selector=`` and
``field_selector=`` arguments go through these parsers; a shell UI filters pods with
``status.phase=Running``.  Parse errors raise :class:`SelectorError`, which the API layer turns into a 400
like the apiserver does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_SPECIAL = "=!(),<>"
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


class SelectorError(ValueError):
    """A selector string that apimachinery would reject."""


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # exists, !, =, !=, in, notin, gt, lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        has = self.key in labels
        value = labels.get(self.key, "")
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if self.op in ("=", "in"):
            return has and value in self.values
        if self.op in ("!=", "notin"):
            return not has or value not in self.values
        if not has:
            return False
        try:
            number = int(value)
        except ValueError:
            return False
        return number > int(self.values[0]) if self.op == "gt" else number < int(self.values[0])


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif text.startswith(("==", "!="), i):
            out.append(text[i : i + 2])
            i += 2
        elif ch in _SPECIAL:
            out.append(ch)
            i += 1
        else:
            j = i
            while j < len(text) and not text[j].isspace() and text[j] not in _SPECIAL:
                j += 1
            out.append(text[i:j])
            i = j
    return out


def _check_key(key: str) -> str:
    if not key or len(key) > 317 or not _LABEL_KEY.match(key):
        raise SelectorError(f"unable to parse requirement: {key!r} is not a valid label key")
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        raise SelectorError(f"unable to parse requirement: {value!r} is not a valid label value")
    return value


def parse_labels(text: str) -> list[Requirement]:
    """Parse a label selector; an empty string selects everything."""
    toks = _tokens(text)
    reqs: list[Requirement] = []
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    while pos < len(toks):
        if toks[pos] == "!":
            pos += 1
            key = peek()
            if key is None or key in _SPECIAL:
                raise SelectorError(f"found '{key or '<EOF>'}', expected: identifier after '!'")
            reqs.append(Requirement(_check_key(key), "!"))
            pos += 1
        else:
            key = toks[pos]
            if key in _SPECIAL or key in ("==", "!="):
                raise SelectorError(f"found '{key}', expected: !, identifier, or 'end of string'")
            _check_key(key)
            pos += 1
            op = peek()
            if op is None or op == ",":
                reqs.append(Requirement(key, "exists"))
            elif op in ("=", "==", "!="):
                pos += 1
                value = peek()
                if value is None or value == ",":
                    value = ""
                elif value in _SPECIAL:
                    raise SelectorError(f"found '{value}', expected: identifier for value")
                else:
                    pos += 1
                reqs.append(Requirement(key, "!=" if op == "!=" else "=", (_check_value(value),)))
            elif op in ("in", "notin"):
                pos += 1
                if peek() != "(":
                    raise SelectorError(f"found '{peek() or '<EOF>'}', expected: '('")
                pos += 1
                values: list[str] = [""]
                while True:
                    tok = peek()
                    pos += 1
                    if tok is None:
                        raise SelectorError("found '<EOF>', expected: ')'")
                    if tok == ")":
                        break
                    if tok == ",":
                        values.append("")
                    elif tok in _SPECIAL or values[-1]:
                        raise SelectorError(f"found '{tok}', expected: ',' or ')'")
                    else:
                        values[-1] = tok
                if values == [""]:
                    raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
                reqs.append(Requirement(key, op, tuple(_check_value(v) for v in values)))
            elif op in (">", "<"):
                pos += 1
                value = peek()
                if value is None or value in _SPECIAL:
                    raise SelectorError(f"found '{value or '<EOF>'}', expected: identifier for value")
                try:
                    int(value)
                except ValueError:
                    raise SelectorError(
                        "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"
                    ) from None
                pos += 1
                reqs.append(Requirement(key, "gt" if op == ">" else "lt", (value,)))
            else:
                raise SelectorError(f"found '{op}', expected: in, notin, =, ==, !=, gt, lt")
        tok = peek()
        if tok is None:
            break
        if tok != ",":
            raise SelectorError(f"found '{tok}', expected: ',' or 'end of string'")
        pos += 1
        if peek() is None:
            raise SelectorError("found '<EOF>', expected: !, identifier, or 'end of string'")
    return reqs


def match_labels(reqs: list[Requirement], labels: Mapping[str, str] | None) -> bool:
    labels = labels or {}
    return all(r.matches(labels) for r in reqs)


@dataclass(frozen=True)
class FieldRequirement:
    field: str
    value: str
    negate: bool


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value)


def parse_fields(text: str, supported: set[str]) -> list[FieldRequirement]:
    """Parse a field selector (``a=b,c!=d``); fields outside ``supported`` are rejected like the apiserver."""
    reqs: list[FieldRequirement] = []
    if not text.strip():
        return reqs
    for part in _split_unescaped(text, ","):
        for op in ("!=", "==", "="):
            idx = part.find(op)
            if idx > 0:
                field_name, value = part[:idx].strip(), _unescape(part[idx + len(op) :])
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
        if field_name not in supported:
            raise SelectorError(f"field label not supported: {field_name}")
        reqs.append(FieldRequirement(field_name, value, op == "!="))
    return reqs


def match_fields(reqs: list[FieldRequirement], get: Callable[[str], str]) -> bool:
    return all((get(r.field) != r.value) if r.negate else (get(r.field) == r.value) for r in reqs)
