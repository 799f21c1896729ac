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


# --- the label selector grammar: apimachinery's pkg/labels/selector.go Lexer and Parser, ported ---------

_TOKENS = {")": "close", ",": "comma", "!": "not", "==": "==", "=": "=", ">": ">", "in": "in", "<": "<",
           "!=": "!=", "notin": "notin", "(": "open"}  # fmt: skip
_SPECIAL_CHARS = "=!(),><"
_WHITESPACE = " \t\r\n"
_BINARY = ("in", "notin", "=", "==", "!=", "gt", "lt")  # binaryOperators, in Go's order


def _lex(text: str) -> list[tuple[str, str]]:
    """``Lexer.Lex`` until the end: (token, literal); an unknown run of symbols is an "error" token."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= len(text):
            out.append(("end", ""))
            return out
        if text[pos] in _SPECIAL_CHARS:  # scanSpecialSymbol: the longest symbol that is a token
            buffer, last = "", None
            while pos < len(text) and text[pos] in _SPECIAL_CHARS:
                buffer += text[pos]
                pos += 1
                if buffer in _TOKENS:
                    last = (_TOKENS[buffer], buffer)
                elif last is not None:
                    pos -= 1
                    break
            out.append(last or ("error", f"error expected: keyword found '{buffer}'"))
            continue
        start = pos  # scanIDOrKeyword
        while pos < len(text) and text[pos] not in _SPECIAL_CHARS and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        out.append((_TOKENS.get(word, "id") if word in ("in", "notin") else "id", word))


class _Parser:
    def __init__(self, text: str) -> None:
        self.items = _lex(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        tok, lit = self.items[self.position]
        return ("id" if values and tok in ("in", "notin") else tok), lit

    def consume(self, values: bool = True) -> tuple[str, str]:
        self.position += 1
        tok, lit = self.items[self.position - 1]
        return ("id" if values and tok in ("in", "notin") else tok), lit

    def parse(self) -> list[Requirement]:
        reqs: list[Requirement] = []
        while True:
            tok, lit = self.lookahead()
            if tok in ("id", "not"):
                try:
                    reqs.append(self.requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                t, lit2 = self.consume()
                if t == "end":
                    return reqs
                if t == "comma":
                    t2, lit3 = self.lookahead()
                    if t2 not in ("id", "not"):
                        raise SelectorError(f"found '{lit3}', expected: identifier after ','")
                else:
                    raise SelectorError(f"found '{lit2}', expected: ',' or 'end of string'")
            elif tok == "end":
                return reqs
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def requirement(self) -> Requirement:
        tok, key = self.consume()
        missing = tok == "not"
        if missing:
            tok, key = self.consume()
        if tok != "id":
            raise SelectorError(f"found '{key}', expected: identifier")
        _check_key(key, "<nil>")
        if missing or self.lookahead()[0] in ("end", "comma"):
            return Requirement(key, "!" if missing else "exists")
        tok, lit = self.consume(values=False)
        ops = {"in": "in", "notin": "notin", "=": "=", "==": "=", "!=": "!=", ">": "gt", "<": "lt"}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY)}")
        op = ops[tok]
        values = self.values() if op in ("in", "notin") else self.exact_value()
        return _new_requirement(key, op, sorted(values))

    def values(self) -> set[str]:
        tok, lit = self.consume()
        if tok != "open":
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead()
        if tok in ("id", "comma"):
            found = self.identifiers()
            if self.consume()[0] != "close":
                raise SelectorError(f"found '{lit}', expected: ')'")
            return found
        if tok == "close":
            self.consume()
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def identifiers(self) -> set[str]:
        found: set[str] = set()
        while True:
            tok, lit = self.consume()
            if tok == "id":
                found.add(lit)
                tok2, lit2 = self.lookahead()
                if tok2 == "comma":
                    continue
                if tok2 == "close":
                    return found
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == "comma":
                if not found:
                    found.add("")
                tok2, _ = self.lookahead()
                if tok2 == "close":
                    found.add("")
                    return found
                if tok2 == "comma":
                    found.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def exact_value(self) -> set[str]:
        tok, _ = self.lookahead()
        if tok in ("end", "comma"):
            return {""}
        tok, lit = self.consume()
        if tok == "id":
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def _check_key(key: str, path: str) -> None:
    """``validateLabelKey``: all of IsLabelKey's messages in one error, joined with "; "."""
    from .validation import go_quote, label_key

    problems = label_key(key)
    if problems:
        raise SelectorError(f"{path}: Invalid value: {go_quote(key)}: {'; '.join(problems)}")


def _new_requirement(key: str, op: str, values: list[str]) -> Requirement:
    """``NewRequirement``'s checks (the parser gives no path, so fields are named from the root)."""
    from .validation import go_quote, label_value

    errors: list[str] = []
    if op in ("gt", "lt"):
        for i, value in enumerate(values):
            try:
                int(value)
            except ValueError:
                errors.append(
                    f"values[{i}]: Invalid value: {go_quote(value)}: "
                    "for 'Gt', 'Lt' operators, the value must be an integer"
                )
    for i, value in enumerate(values):
        problems = label_value(value)
        if problems:
            errors.append(f"values[{i}][{key}]: Invalid value: {go_quote(value)}: {'; '.join(problems)}")
    if errors:
        raise SelectorError(errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]")
    return Requirement(key, op, tuple(values))


def parse_labels(text: str) -> list[Requirement]:
    """Parse a label selector (``labels.Parse``); an empty string selects everything."""
    return _Parser(text).parse()


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
