"""The part of PQL the emulator can evaluate over its population, for preview and estimate jobs.

A seeded segment definition's own expression (the text of its `expression.value`) selects the
profiles whose seeded membership is realized or existing: memberships are seeded, not evaluated,
so that is the only reading consistent with what an export of the segment writes; the same
holds for such a text inside a larger expression (`(A) or (B)`). Other expressions are evaluated when they use only: `inSegment("<id>")`, `path.isNull()`,
`path.isNotNull()`, `path <op> literal` (`=`, `!=`, `<`, `<=`, `>`, `>=`; string, number,
true/false literals), `and`, `or`, `not`, parentheses, `true`, `false`. Anything else is a
`PqlUnsupported` (the estimate job then ends FAILED naming it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from reconciler.emulator import defaults
from reconciler.emulator.population import Profile

Predicate = Callable[[Profile], bool]
QUALIFIED = ("realized", "existing")

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op><=|>=|!=|=|<|>)
      | (?P<punct>[().,])
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)


class PqlUnsupported(ValueError):
    """An expression the emulator cannot evaluate (the message says what)."""


def normalize(expression: str) -> str:
    """Whitespace-insensitive form, to recognise a seeded definition's expression."""
    return " ".join(expression.split())


def seeded_segment_of(expression: str) -> str | None:
    """The id of the seeded segment definition whose expression this is, if any."""
    wanted = normalize(expression)
    for seed in defaults.SEGMENTS:
        if normalize(str(seed["pql"])) == wanted:
            return str(seed["id"])
    return None


def _member_of(segment_id: str) -> Predicate:
    def check(profile: Profile) -> bool:
        held = profile.memberships.get(segment_id)
        return held is not None and held[0] in QUALIFIED

    return check


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise PqlUnsupported(f"unexpected text at character {pos + 1}: {text[pos:][:20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


def _lookup(value: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    if left is None:
        return op == "!=" and right is not None
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if isinstance(left, bool) or isinstance(right, bool):
        return False
    if isinstance(left, int | float) and isinstance(right, int | float):
        pair: tuple[Any, Any] = (left, right)
    elif isinstance(left, str) and isinstance(right, str):
        pair = (left, right)
    else:
        return False
    a, b = pair
    return bool({"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op])


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise PqlUnsupported("the expression ends too early")
        self.pos += 1
        return token

    def expect(self, value: str) -> None:
        token = self.take()
        if token[1] != value:
            raise PqlUnsupported(f"expected {value!r}, found {token[1]!r}")

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise PqlUnsupported(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda p: any(f(p) for f in parts))

    def conjunction(self) -> Predicate:
        parts = [self.negation()]
        while self.keyword("and"):
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else (lambda p: all(f(p) for f in parts))

    def negation(self) -> Predicate:
        if self.keyword("not"):
            inner = self.negation()
            return lambda p: not inner(p)
        return self.atom()

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise PqlUnsupported(f"expected a literal, found {text!r}")

    def atom(self) -> Predicate:
        kind, text = self.take()
        if text == "(":
            inner = self.disjunction()
            self.expect(")")
            return inner
        if kind != "word":
            raise PqlUnsupported(f"unexpected {text!r}")
        if text.lower() in ("true", "false"):
            constant = text.lower() == "true"
            return lambda p: constant
        if text == "inSegment":
            self.expect("(")
            segment = self.literal()
            self.expect(")")
            if not isinstance(segment, str):
                raise PqlUnsupported("inSegment() takes a segment id string")
            return _member_of(segment)
        path = [text]
        while self.peek() == ("punct", "."):
            self.pos += 1
            kind, name = self.take()
            if kind != "word":
                raise PqlUnsupported(f"expected a field name after '.', found {name!r}")
            if self.peek() == ("punct", "("):
                self.expect("(")
                self.expect(")")
                return self.method(tuple(path), name)
            path.append(name)
        if path[0] in ("xEvent", "chain"):
            raise PqlUnsupported(f"{path[0]} (event queries) is not evaluated by the emulator")
        token = self.peek()
        if token is None or token[0] != "op":
            found = "the end" if token is None else repr(token[1])
            raise PqlUnsupported(f"expected a comparison after {'.'.join(path)}, found {found}")
        self.pos += 1
        right = self.literal()
        where = tuple(path)
        op = token[1]
        return lambda p: _compare(_lookup(p.attributes, where), op, right)

    def method(self, path: tuple[str, ...], name: str) -> Predicate:
        if name == "isNotNull":
            return lambda p: _lookup(p.attributes, path) is not None
        if name == "isNull":
            return lambda p: _lookup(p.attributes, path) is None
        raise PqlUnsupported(f"the function {name}() is not evaluated by the emulator")


def substitute_seeded(expression: str) -> str:
    """The expression (whitespace-normalised) with each seeded definition's own text replaced by
    `inSegment("<id>")`, so combinations such as `(A) or (B)` of seeded segments evaluate."""
    text = normalize(expression)
    seeds = sorted(defaults.SEGMENTS, key=lambda seed: -len(normalize(str(seed["pql"]))))
    for seed in seeds:
        text = text.replace(normalize(str(seed["pql"])), f'inSegment("{seed["id"]}")')
    return text


def compile_expression(expression: str) -> Predicate:
    """A predicate over profiles for a PQL text; PqlUnsupported when it cannot be evaluated."""
    segment = seeded_segment_of(expression)
    if segment is not None:
        return _member_of(segment)
    expression = substitute_seeded(expression)
    if "chain(" in expression or "xEvent" in expression:
        raise PqlUnsupported("event queries (xEvent, chain) are not evaluated by the emulator")
    try:
        return _Parser(expression).parse()
    except RecursionError:
        raise PqlUnsupported("the expression is nested too deeply") from None
