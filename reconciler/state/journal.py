"""The state journal: one JSON line per write since the last snapshot (docs/contract.md section 6).

A line holds `base` (the serial of the snapshot it extends), `serial` (the state's serial after
it), `resources` (each changed address -> its resource, or null when it was removed), every other
top-level key of the state whose value changed (the new value in full) and, under `append`, the
items added at the end of a top-level list. Only the resources a caller names are written, so a
write costs what changed, not the whole history.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_origin

from pydantic import TypeAdapter, ValidationError

from reconciler.state.migrations import StateFileError
from reconciler.state.models import State

JOURNAL_SUFFIX = ".journal"
# Compact (one full snapshot) once the journal has this many lines, so replay stays cheap.
MAX_LINES = 1000

_LINE_KEYS = ("base", "serial", "resources", "append")
# Every other top-level key is journaled generically: a new key needs no code here.
_TRACKED = tuple(name for name in State.model_fields if name not in ("serial", "resources"))
_LISTS: dict[str, TypeAdapter[Any]] = {
    name: TypeAdapter(field.annotation)
    for name, field in State.model_fields.items()
    if name in _TRACKED and field.annotation is not None and get_origin(field.annotation) is list
}

# What a top-level key held at the last read or write: a list's items (lists grow by appends),
# or any other value's JSON text.
Baseline = dict[str, list[Any] | str]


def first_error(exc: ValidationError) -> str:
    """The first validation error as `where: message`."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "top level"
    return f"{where}: {err['msg']}"


def baseline(state: State) -> Baseline:
    """What the next journal line is compared with."""
    return {
        key: list(getattr(state, key)) if key in _LISTS else _field_json(state, key)
        for key in _TRACKED
    }


def _field_json(state: State, key: str) -> str:
    return state.model_dump_json(include={key})


def journal_line(
    state: State, base: int, changed: Iterable[str], before: Baseline
) -> tuple[str, Baseline]:
    """The line recording `state` (its resources at `changed`), and the baseline after it."""
    parts = [f'"base":{base}', f'"serial":{state.serial}']
    resources = []
    for address in sorted(set(changed)):
        res = state.resources.get(address)
        body = res.model_dump_json() if res is not None else "null"
        resources.append(f"{json.dumps(address)}:{body}")
    parts.append('"resources":{' + ",".join(resources) + "}")
    after: Baseline = {}
    appended = []
    for key in _TRACKED:
        old = before.get(key)
        if key in _LISTS:
            items = list(getattr(state, key))
            after[key] = items
            # Items are replaced, never edited in place, so an unchanged prefix is the old list.
            if isinstance(old, list) and items[: len(old)] == old:
                if len(items) > len(old):
                    added = _LISTS[key].dump_json(items[len(old) :]).decode()
                    appended.append(f"{json.dumps(key)}:{added}")
                continue
            parts.append(_field_json(state, key)[1:-1])
        else:
            text = _field_json(state, key)
            after[key] = text
            if text != old:
                parts.append(text[1:-1])
    if appended:
        parts.append('"append":{' + ",".join(appended) + "}")
    return "{" + ",".join(parts) + "}\n", after


@dataclass(frozen=True)
class Scanned:
    """The complete lines of a journal, and the length of the bytes that hold them."""

    entries: list[tuple[int, dict[str, Any]]]  # (line number, parsed line)
    valid_length: int


def scan(data: bytes, source: str) -> Scanned:
    """Parse the journal's lines; a torn last line (no newline, or not JSON) is left out."""
    entries: list[tuple[int, dict[str, Any]]] = []
    offset = 0
    lines = data.split(b"\n")
    complete = lines[:-1]  # the text after the last newline is a torn write, if anything
    for number, raw in enumerate(complete, 1):
        try:
            entry = json.loads(raw)
        except json.JSONDecodeError:
            if number == len(complete):
                break  # a write cut short by a crash
            raise StateFileError(
                f"{source} line {number} is not valid JSON; restore the state from a backup"
            ) from None
        if not isinstance(entry, dict) or not isinstance(entry.get("serial"), int):
            raise StateFileError(
                f"{source} line {number} is not a journal entry; restore the state from a backup"
            )
        entries.append((number, entry))
        offset += len(raw) + 1
    return Scanned(entries, offset)


def replay(state: State, entries: Iterable[tuple[int, Mapping[str, Any]]], source: str) -> State:
    """Apply the lines that extend this snapshot (`base` = its serial), in serial order."""
    base = state.serial
    for number, entry in entries:
        if entry.get("base") != base or entry["serial"] <= state.serial:
            continue  # written before the snapshot was last rewritten, or again: already in it
        if entry["serial"] != state.serial + 1:
            raise StateFileError(
                f"{source} line {number} has serial {entry['serial']} after {state.serial}; "
                "restore the state from a backup"
            )
        state = _apply(state, entry, f"{source} line {number}")
    return state


def _apply(state: State, entry: Mapping[str, Any], where: str) -> State:
    resources = entry.get("resources") or {}
    appends = entry.get("append") or {}
    replaced = {k: v for k, v in entry.items() if k not in _LINE_KEYS}
    unknown = [k for k in appends if k not in _LISTS]
    if not isinstance(resources, dict) or not isinstance(appends, dict) or unknown:
        raise StateFileError(f"{where} is not a journal entry; restore the state from a backup")
    try:
        parsed = State.model_validate(
            {**replaced, "resources": {a: r for a, r in resources.items() if r is not None}}
        )
        added = State.model_validate(appends)
    except ValidationError as exc:
        raise StateFileError(
            f"{where} is not a valid journal entry ({first_error(exc)}); "
            "restore the state from a backup"
        ) from exc
    for address, res in resources.items():
        if res is None:
            state.resources.pop(address, None)
        else:
            state.resources[address] = parsed.resources[address]
    update: dict[str, Any] = {key: getattr(parsed, key) for key in replaced}
    for key in appends:
        update[key] = [*getattr(state, key), *getattr(added, key)]
    update["serial"] = entry["serial"]
    return state.model_copy(update=update)
