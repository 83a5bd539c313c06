"""Which rows of `runs` a write keeps, moves or drops, before it writes what differs.

A resource's rows are keyed by (address, retired_seq). When the resource is retired (`forget`,
`state rm`) its rows move from retired_seq 0 to its entry's seq with one UPDATE (its batches
follow: ON UPDATE CASCADE); the rows the history holds are never deleted and written again.
A retired list edited rather than appended keeps each entry's rows by the entry (address,
time, reason); a write that would drop rows the history holds is refused.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.state.head import slots
from reconciler.state.migrations import StateFileError
from reconciler.state.models import RetiredResource, State

if TYPE_CHECKING:
    import psycopg

    from reconciler.state.pg_writer import Baseline, SlotRows


def _key(entry: RetiredResource) -> tuple[Any, ...]:
    return (entry.address, entry.retiredAt, entry.reason, entry.resource.kind)


@dataclass
class Moves:
    appended: bool  # the retired list only grew
    # (address, generation) of the state written -> its rows as they are (after the moves)
    rows: dict[tuple[str, int], SlotRows] = field(default_factory=dict)
    # managed addresses whose rows move or go (their rows are written whatever `changed` says)
    addresses: set[str] = field(default_factory=set)
    drop: list[tuple[str, int]] = field(default_factory=list)  # (address, seq): rows deleted
    gone: list[tuple[str, int]] = field(default_factory=list)  # their (address, generation)
    move: list[tuple[str, int, int]] = field(default_factory=list)  # (address, from, to)

    @property
    def known(self) -> dict[tuple[str, int], int]:
        """(address, generation) -> the runs the history holds, for `to_head`."""
        return {key: rows.archived for key, rows in self.rows.items()}

    def apply(self, conn: psycopg.Connection[Any], sandbox: str) -> None:
        cur = conn.cursor()
        for address, seq in self.drop:
            cur.execute(
                "DELETE FROM runs WHERE sandbox = %s AND address = %s AND retired_seq = %s",
                (sandbox, address, seq),
            )
        if not self.move:
            return
        # In two steps (through negative seqs) when entries trade places; one when each moves
        # to a seq no row has (a retire appends its entry).
        direct = self.appended
        for address, old, new in self.move:
            cur.execute(
                "UPDATE runs SET retired_seq = %s WHERE sandbox = %s AND address = %s "
                "AND retired_seq = %s",
                (new if direct else -1 - new, sandbox, address, old),
            )
        if not direct:
            cur.execute(
                "UPDATE runs SET retired_seq = -1 - retired_seq WHERE sandbox = %s "
                "AND retired_seq < 0",
                (sandbox,),
            )


def appended(base: Baseline, state: State) -> bool:
    """Whether `state`'s retired list is the baseline's, perhaps with entries added."""
    old, new = base.retired, state.retired
    return len(new) >= len(old) and all(
        a is b or _key(a) == _key(b) for a, b in zip(old, new, strict=False)
    )


def plan_moves(
    base: Baseline, state: State, where: Callable[[], str], scope: set[str] | None = None
) -> Moves:
    """How the rows `base` describes become the rows of `state`'s resources.

    `scope`: the managed addresses `state` holds that may differ (None: all); the baseline's
    other managed resources are as they were (`state` may leave them out)."""
    old, new = base.retired, state.retired
    moves = Moves(appended(base, state))
    mapped: set[int] = set()
    by_entry = {}
    if not moves.appended:
        by_entry = {_key(old[rows.seq - 1]): rows for rows in base.slots.values() if rows.seq}
    for slot, _res in slots(state):
        key = (slot.address, slot.generation)
        if moves.appended:
            rows = base.slots.get(key)
            if rows is not None and rows.seq and rows.seq != slot.retired_seq:
                rows = None  # cannot be: the list only grew
        elif slot.retired_seq:
            rows = by_entry.get(_key(new[slot.retired_seq - 1]))
            if rows is None:  # retired in this write: the managed resource it was
                rows = base.slots.get(key)
                rows = rows if rows is not None and not rows.seq else None
        else:
            rows = base.slots.get(key)
            rows = rows if rows is not None and not rows.seq else None
        if rows is None or id(rows) in mapped:
            continue
        mapped.add(id(rows))
        if rows.seq != slot.retired_seq:
            moves.move.append((rows.address, rows.seq, slot.retired_seq))
            if not rows.seq or not slot.retired_seq:
                moves.addresses.add(slot.address)
            rows = dataclasses.replace(rows, seq=slot.retired_seq)
        moves.rows[key] = rows
    for key, rows in _candidates(base, scope):
        if id(rows) in mapped:
            continue
        if rows.archived:
            where_ = "managed" if not rows.seq else f"retired entry {rows.seq}"
            raise StateFileError(
                f"{rows.address} ({where_}): this write would drop the {rows.archived} runs the "
                f"history of the state {where()} holds; a resource's runs are kept: retire it "
                "(forget, state rm) instead of removing it"
            )
        moves.drop.append((rows.address, rows.seq))
        moves.gone.append(key)
        if not rows.seq:
            moves.addresses.add(rows.address)
    return moves


def _candidates(
    base: Baseline, scope: set[str] | None
) -> Iterator[tuple[tuple[str, int], SlotRows]]:
    """The baseline's slots a write may move or drop: all, or the retired ones and the managed
    ones at `scope` addresses (without looking at the others: a write's cost does not grow
    with the resources)."""
    if scope is None:
        yield from base.slots.items()
        return
    generation: Counter[str] = Counter()
    for entry in base.retired:
        key = (entry.address, generation[entry.address])
        generation[entry.address] += 1
        rows = base.slots.get(key)
        if rows is not None:
            yield key, rows
    for address in scope:
        key = (address, generation[address])
        rows = base.slots.get(key)
        if rows is not None and not rows.seq:
            yield key, rows
