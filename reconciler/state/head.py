"""The head of a state and what a write moves to its history (issue 16, docs/state.md).

Both backends keep, for each export job resource, a head: the suffix of its runs a decision needs
(`head_start`), and a history: the runs before it (`archivedRuns` of them). Commands that decide
read the head only; audit, report, `state show` and lineage read the whole state.

`to_head(state, known)` is the pure step a backend's write starts with: `state` may be a head or
whole, and changed in any way; `known` says how many runs of each resource the backend's history
already holds. It returns the head to write (runs already in the history dropped, runs the head
no longer needs moved out) and the runs that move to the history in this write.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.state.migrations import StateFileError
from reconciler.state.models import ExportJobResource, Run, State, head_start


@dataclass(frozen=True)
class Slot:
    """Which resource a run belongs to, however often its address was retired and reused."""

    address: str
    generation: int  # 0: the first resource ever at this address; n: the one after n retirements
    retired_seq: int  # 0: the managed resource; n: the state's n-th retired entry (1-based)


@dataclass(frozen=True)
class Archived:
    """Runs that move from a resource's head to the history: positions `start` on."""

    slot: Slot
    start: int  # the position (in all the resource's runs) of runs[0]
    runs: tuple[Run, ...]
    claims: bool  # the resource claims its job ids (managed, or retired by forget)


@dataclass
class HeadWrite:
    """What `to_head` decided."""

    state: State  # the head to write
    archived: list[Archived] = field(default_factory=list)
    # addresses whose managed resource `to_head` replaced (to add to a write's `changed`)
    changed: set[str] = field(default_factory=set)
    # retired entries (1-based seq) `to_head` replaced
    retired_changed: set[int] = field(default_factory=set)


def slots(state: State) -> list[tuple[Slot, ExportJobResource]]:
    """Every export job resource of `state` with its slot: retired entries, then managed."""
    generation: dict[str, int] = {}
    out: list[tuple[Slot, ExportJobResource]] = []
    for seq, entry in enumerate(state.retired, 1):
        g = generation.get(entry.address, 0)
        generation[entry.address] = g + 1
        if isinstance(entry.resource, ExportJobResource):
            out.append((Slot(entry.address, g, seq), entry.resource))
    for address, res in state.resources.items():
        if isinstance(res, ExportJobResource):
            out.append((Slot(address, generation.get(address, 0), 0), res))
    return out


def known_archived(state: State) -> dict[tuple[str, int], int]:
    """(address, generation) -> how many runs the history holds, as a head read says."""
    return {(s.address, s.generation): res.archivedRuns for s, res in slots(state)}


def to_head(
    state: State,
    known: Mapping[tuple[str, int], int],
    changed: Iterable[str] | None = None,
    *,
    new_retired_from: int | None = None,
) -> HeadWrite:
    """The head to write for `state`, and the runs this write moves to the history.

    `known`: (address, generation) -> the runs the backend's history holds now. Every resource
    whose `archivedRuns` is below that count (a whole state, or one the engine rebuilt) gets its
    first runs dropped (they are in the history); `head_start` is applied to the resources at
    `changed` addresses (None: all) and to retired entries from seq `new_retired_from` on (None:
    all). A resource that says its history holds more runs than the backend has is an error.
    """
    wanted = None if changed is None else set(changed)
    out = HeadWrite(state)
    resources = dict(state.resources)
    retired = list(state.retired)
    touched = False
    for slot, res in slots(state):
        have = known.get((slot.address, slot.generation), 0)
        runs = res.runs
        start = res.archivedRuns
        if start > have:
            raise StateFileError(
                f"{slot.address}: the state says its history holds {start} runs, the history "
                f"has {have}; restore the state from a backup"
            )
        if have > start:
            drop = have - start
            if drop > len(runs):
                raise StateFileError(
                    f"{slot.address}: the history holds {have} runs, more than the "
                    f"{start + len(runs)} the state has; restore the state from a backup"
                )
            runs = runs[drop:]
            start = have
        if slot.retired_seq:
            check = new_retired_from is None or slot.retired_seq >= new_retired_from
        else:
            check = wanted is None or slot.address in wanted
        moved = head_start(runs) if check else 0
        if moved:
            claims = not slot.retired_seq or state.retired[slot.retired_seq - 1].claims
            out.archived.append(Archived(slot, start, tuple(runs[:moved]), claims))
            runs = runs[moved:]
            start += moved
        if start == res.archivedRuns and runs is res.runs:
            continue
        new = res.model_copy(update={"runs": list(runs), "archivedRuns": start})
        touched = True
        if slot.retired_seq:
            entry = retired[slot.retired_seq - 1]
            retired[slot.retired_seq - 1] = entry.model_copy(update={"resource": new})
            out.retired_changed.add(slot.retired_seq)
        else:
            resources[slot.address] = new
            out.changed.add(slot.address)
    if touched:
        out.state = state.model_copy(update={"resources": resources, "retired": retired})
    return out


def whole(
    head: State,
    history: Mapping[tuple[str, int], list[Run]],
    *,
    only: Container[str] | None = None,
) -> State:
    """The whole state: `head` with each resource's history runs (`history`, by (address,
    generation): positions 0.. archivedRuns-1) put before its head runs; archivedRuns 0.

    `only`: merge the resources of these addresses alone (the others stay heads: lineage).
    """
    resources = dict(head.resources)
    retired = list(head.retired)
    for slot, res in slots(head):
        if not res.archivedRuns or (only is not None and slot.address not in only):
            continue
        older = history.get((slot.address, slot.generation), [])
        if len(older) < res.archivedRuns:
            raise StateFileError(
                f"{slot.address}: its history holds {len(older)} of its {res.archivedRuns} "
                "oldest runs; restore the state from a backup"
            )
        new = res.model_copy(
            update={"runs": [*older[: res.archivedRuns], *res.runs], "archivedRuns": 0}
        )
        if slot.retired_seq:
            entry = retired[slot.retired_seq - 1]
            retired[slot.retired_seq - 1] = entry.model_copy(update={"resource": new})
        else:
            resources[slot.address] = new
    return head.model_copy(update={"resources": resources, "retired": retired}).attach_history(None)
