"""Catalog list parameters (limit, start, properties, orderBy, filters), as pure functions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.emulator.params import natural
from reconciler.emulator.problems import bad_request

RESERVED = frozenset(
    {
        "limit",
        "start",
        "properties",
        "orderBy",
        "property",
        "tags",
        "createdAfter",
        "createdBefore",
        "requestDataSource",
    }
)
_CONDITION = re.compile(r"^(!?)([A-Za-z0-9_]+)(?:(~|==|!=|<=|>=|<|>)(.*))?$")

Record = Mapping[str, Any]


def parse_limit(raw: str | None, *, default: int = 20, maximum: int = 100) -> int:
    """The page size; api-facts-more.md 1: default 20, 1..100, anything else is a 400."""
    if raw is None:
        return default
    value = natural(raw)
    if value is None or not 1 <= value <= maximum:
        raise bad_request(f"limit: expected an integer from 1 to {maximum}, got {raw!r}", "CAT")
    return value


def parse_start(raw: str | None) -> int:
    """The zero-based offset of the first object."""
    if raw is None:
        return 0
    value = natural(raw)
    if value is None:
        raise bad_request(f"start: expected a non-negative integer, got {raw!r}", "CAT")
    return value


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _wildcard(pattern: str, value: str) -> bool:
    # `*` is a wildcard and `**` a literal star (filter-data.md, on name).
    parts = [re.escape(p).replace(r"\*", ".*") for p in pattern.split("**")]
    return re.fullmatch(r"\*".join(parts), value) is not None


def _simple(record: Record, prop: str, raw: str) -> bool:
    negate = raw.startswith("!")
    choices = (raw[1:] if negate else raw).split(",")
    value = record.get(prop)
    hit = value is not None and any(_wildcard(c, _text(value)) for c in choices)
    return hit != negate


def _order_key(value: Any) -> tuple[Any, ...]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (0, value)
    text = _text(value)
    if len(text) < 100 and re.fullmatch(r"[0-9]+(\.[0-9]+)*", text):
        return (0, *[int(p) for p in text.split(".")])
    return (1, text)


def _condition(record: Record, raw: str) -> bool:
    match = _CONDITION.match(raw)
    if match is None:
        raise bad_request(
            f"property: cannot read condition {raw!r}; e.g. property=name~^sales", "CAT"
        )
    negate, prop, op, operand = match.groups()
    value = record.get(prop)
    if op is None:
        return (value is not None) != bool(negate)
    if negate:
        raise bad_request(f"property: '!' only tests absence, e.g. property=!{prop}", "CAT")
    if value is None:
        return False
    if op == "~":
        try:
            return re.search(operand, _text(value)) is not None
        except re.error as exc:
            raise bad_request(
                f"property: bad regular expression {operand!r}: {exc}", "CAT"
            ) from exc
    left, right = _order_key(value), _order_key(operand)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            right = (0, float(operand))
        except ValueError:
            return False
    return {
        "==": left == right,
        "!=": left != right,
        "<": left < right,
        "<=": left <= right,
        ">": left > right,
        ">=": left >= right,
    }[op]


def _tags(record: Record, raw: str) -> bool:
    tags = record.get("tags") or {}
    for item in raw.split(","):
        name, sep, wanted = item.partition(":")
        if not sep:
            raise bad_request(f"tags: expected name:value, got {item!r}", "CAT")
        values = tags.get(name)
        if not isinstance(values, list):
            return False
        if wanted != "*" and not any(_wildcard(wanted, _text(v)) for v in values):
            return False
    return True


def _epoch(raw: str, name: str) -> int:
    value = natural(raw)
    if value is None:
        raise bad_request(f"{name}: expected epoch milliseconds, got {raw!r}", "CAT")
    return value


def matches(record: Record, params: Sequence[tuple[str, str]]) -> bool:
    """Whether a record passes every filter of the query (filters are ANDed)."""
    for key, raw in params:
        if key == "property":
            ok = _condition(record, raw)
        elif key == "tags":
            ok = _tags(record, raw)
        elif key == "createdAfter":
            ok = int(record.get("created", 0)) > _epoch(raw, key)
        elif key == "createdBefore":
            ok = int(record.get("created", 0)) < _epoch(raw, key)
        elif key in RESERVED:
            continue
        else:
            ok = _simple(record, key, raw)
        if not ok:
            return False
    return True


def order(items: Sequence[tuple[str, Record]], raw: str | None) -> list[tuple[str, Record]]:
    """Sort by orderBy=[asc:|desc:]prop,...; objects missing the property sort last."""
    if not raw:
        return list(items)
    keys: list[tuple[str, bool]] = []
    for part in raw.split(","):
        direction, sep, prop = part.partition(":")
        if not sep:
            direction, prop = "asc", part
        if direction not in ("asc", "desc") or not prop:
            raise bad_request(f"orderBy: expected [asc:|desc:]property, got {part!r}", "CAT")
        keys.append((prop, direction == "desc"))
    result = list(items)
    for prop, descending in reversed(keys):
        present = [i for i in result if i[1].get(prop) is not None]
        absent = [i for i in result if i[1].get(prop) is None]
        present.sort(key=lambda i: _order_key(i[1][prop]), reverse=descending)
        result = present + absent
    return result


def project(record: Record, raw: str | None) -> dict[str, Any]:
    """Only the requested top-level properties (all when properties is absent)."""
    if raw is None:
        return dict(record)
    wanted = [p.strip() for p in raw.split(",") if p.strip()]
    return {k: record[k] for k in wanted if k in record}


def check(params: Sequence[tuple[str, str]]) -> None:
    """Reject malformed filters up front, so a bad query is a 400 even when nothing is listed."""
    for key, raw in params:
        if key in ("createdAfter", "createdBefore"):
            _epoch(raw, key)
        elif key == "tags":
            _tags({}, raw)
        elif key == "property":
            match = _CONDITION.match(raw)
            if match is None:
                raise bad_request(f"property: cannot read condition {raw!r}", "CAT")
            if match.group(3) == "~":
                _condition({match.group(2): ""}, raw)
    order([], dict(params).get("orderBy"))
