"""Lineage on the file backend without reading the whole history (issue 16).

`reconciler lineage ID` needs the run with that job id or batch id and the other runs of its
address, not every run of the state: the history file is streamed, only its lines that hold the
id are parsed (a byte search first), then only the lines of the addresses found. At 1,000,000
runs that is one pass over the file instead of a million run objects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from pydantic import ValidationError

from reconciler.gcpause import gc_paused
from reconciler.state.file_history import Key, _Line, _not_json, _parse, _why
from reconciler.state.head import known_archived, slots, whole
from reconciler.state.history import OTHER_RUNS, RunMatch, find_runs_in, has_id
from reconciler.state.migrations import StateFileError
from reconciler.state.models import Run, State

_PREFIX = b'{"address":'
_AFTER = b',"generation":'


def needle(job_id: int | None, batch_id: str | None) -> bytes:
    """What a history line holding that id must contain (a run's JSON as this tool writes it)."""
    if job_id is not None:
        return b'"jobId":%d,' % job_id
    return json.dumps(batch_id).encode("utf-8")


def _lines(path: Path) -> Iterator[tuple[int, bytes, bool]]:
    """(number, line without its newline, whether it is the last and unterminated)."""
    try:
        handle = open(path, "rb")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StateFileError(f"cannot read {path}: {exc.strerror}") from exc
    with handle:
        for number, raw in enumerate(handle, 1):
            if raw.endswith(b"\n"):
                yield number, raw[:-1], False
            else:
                yield number, raw, True


def _address_of(raw: bytes) -> bytes | None:
    """The address's JSON text as this tool writes a line's start; None: read the line whole."""
    if not raw.startswith(_PREFIX):
        return None
    end = raw.find(_AFTER, len(_PREFIX))
    return raw[len(_PREFIX) : end] if end > 0 else None


def _parsed(path: Path, number: int, raw: bytes, torn: bool) -> _Line | None:
    line = _parse(raw)
    if isinstance(line, ValidationError):
        if torn and _not_json(raw):
            return None  # a write cut short by a crash
        raise StateFileError(
            f"{path} line {number} is not a history line ({_why(line)}); restore it from a copy"
        )
    return line


def addresses_with(path: Path, found: bytes, job_id: int | None, batch_id: str | None) -> set[str]:
    """The addresses of the history runs with that job id or batch id."""
    out: set[str] = set()
    for number, raw, torn in _lines(path):
        if found not in raw:
            continue
        line = _parsed(path, number, raw, torn)
        if line is not None and any(has_id(r, job_id, batch_id) for r in line.runs):
            out.add(line.address)
    return out


def history_of(path: Path, wanted: Mapping[Key, int]) -> dict[Key, list[Run]]:
    """As `file_history.read_history` for the `wanted` resources, parsing only their lines."""
    addresses = {json.dumps(a).encode("utf-8") for a, _ in wanted}
    found: dict[Key, dict[int, Run]] = {key: {} for key, n in wanted.items() if n}
    with gc_paused():
        for number, raw, torn in _lines(path):
            address = _address_of(raw)
            if address is not None and address not in addresses:
                continue
            line = _parsed(path, number, raw, torn)
            if line is None:
                continue
            runs = found.get((line.address, line.generation))
            if runs is None:
                continue
            limit = wanted[(line.address, line.generation)]
            for offset, run in enumerate(line.runs):
                if line.start + offset < limit:
                    runs[line.start + offset] = run
    out: dict[Key, list[Run]] = {}
    for key, runs in found.items():
        ordered: list[Run] = []
        while len(ordered) in runs:
            ordered.append(runs[len(ordered)])
        out[key] = ordered
    return out


def find_runs_in_file(
    head: State,
    history: Path,
    *,
    job_id: int | None = None,
    batch_id: str | None = None,
    others: int = OTHER_RUNS,
) -> list[RunMatch]:
    """`history.find_runs_in` of the whole state, reading of the history only what it needs."""
    matched = {
        slot.address
        for slot, res in slots(head)
        if any(has_id(r, job_id, batch_id) for r in res.runs)
    }
    if any(known_archived(head).values()):
        matched |= addresses_with(history, needle(job_id, batch_id), job_id, batch_id)
    if not matched:
        return []
    wanted = {k: n for k, n in known_archived(head).items() if k[0] in matched}
    partial = whole(head, history_of(history, wanted), only=matched)
    return find_runs_in(partial, job_id=job_id, batch_id=batch_id, others=others)
