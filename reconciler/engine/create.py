"""The create protocol: a write-ahead intent per POST, and how an unknown outcome is resolved.

An intent is written before a POST with the request, its fingerprint and the platform's
watermark (the newest job id seen, and the platform time). When the answer is lost the intent
stays (`outcome: unknown`) and is never resent while unresolved. Resolution looks at the jobs
after the watermark by id (not by time: the platform clock may step back), among those no state
run claims, for records that do not contradict the request (`request_matches`):

- one candidate, answering only this intent: the POST made it; it is adopted;
- none, once the settle window (platform time since the POST) has passed: the POST did not
  happen; it may be sent (a new intent);
- several, or one record that could answer two intents: nothing is guessed; the address stops
  with one line naming the candidates and the `reconciler import` command that settles it.

docs/engine.md draws this as a state machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.spec.canonical import request_matches
from reconciler.state import Intent

DEFAULT_SETTLE_S = 30.0  # how long a POST may take to show up in the listings
# Resolution lists jobs created down to this long before the intent's platform time (and then
# filters by id): bounded cost, yet a clock stepped back by less than this misses nothing.
LISTING_SLACK_MS = 3_600_000

Outcome = Literal["adopt", "none", "ambiguous"]


@dataclass(frozen=True)
class Resolution:
    """What the live platform says about one intent's POST."""

    outcome: Outcome
    record: ExportJobRecord | None = None  # adopt (export job)
    dataset: CatalogDataset | None = None  # adopt (dataset)
    candidates: tuple[str, ...] = ()  # ambiguous: every id that could be it
    shared_with: tuple[str, ...] = ()  # ambiguous: other addresses the candidates could answer


@dataclass
class WatermarkSource:
    """The newest job id this apply has seen (refresh, state, its own creates)."""

    newest_job_id: int | None = None
    seen_datasets: set[str] = field(default_factory=set)

    def see_job(self, job_id: int | None) -> None:
        if job_id is not None and (self.newest_job_id is None or job_id > self.newest_job_id):
            self.newest_job_id = job_id


def to_ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def listing_floor_ms(intents: Iterable[Intent]) -> int | None:
    """The creation time the resolution listing may stop at (None: list every job)."""
    floors = []
    for intent in intents:
        if intent.platformTimeMs is None:  # an intent of an older version: list every job
            return None
        floors.append(intent.platformTimeMs - LISTING_SLACK_MS)
    return min(floors, default=None)


def job_candidates(
    intent: Intent, records: Sequence[ExportJobRecord], claimed: set[int]
) -> list[ExportJobRecord]:
    """Unclaimed records after the intent's watermark (by id) that do not contradict its request."""
    mark = intent.watermarkJobId
    return [
        r
        for r in records
        if (mark is None or r.id > mark)
        and r.id not in claimed
        and request_matches(intent.request, r.raw(), policy_id=False)
    ]


def resolve_jobs(
    intents: Sequence[Intent],
    records: Sequence[ExportJobRecord],
    claimed: set[int],
    answered: Mapping[str, ExportJobRecord | None] | None = None,
    unreadable: Sequence[int] = (),
) -> dict[str, Resolution]:
    """Resolve every export job intent at once, so no record is adopted for two of them.

    `answered`: per intent id, the record a GET by the id the lost answer named returned (None:
    404); such a record is the POST's own and is its only candidate. `unreadable`: ids of
    listed records that do not parse; one after an intent's watermark (and unclaimed) could be
    its job, so that intent is not resolved by guessing (ambiguous, naming it).
    """
    answered = answered or {}
    candidates: dict[str, list[ExportJobRecord]] = {}
    for intent in intents:
        named = answered.get(intent.id)
        if named is not None and named.id not in claimed:
            candidates[intent.id] = [named]
        else:
            candidates[intent.id] = job_candidates(intent, records, claimed)
    wanted_by: dict[int, list[Intent]] = {}
    for intent in intents:
        for record in candidates[intent.id]:
            wanted_by.setdefault(record.id, []).append(intent)
    out: dict[str, Resolution] = {}
    for intent in intents:
        found = candidates[intent.id]
        others = sorted({i.address for r in found for i in wanted_by[r.id] if i.id != intent.id})
        mark = intent.watermarkJobId
        hidden = (
            [j for j in unreadable if (mark is None or j > mark) and j not in claimed]
            if intent.id not in answered or answered[intent.id] is None
            else []
        )
        if hidden:
            ids = tuple(str(j) for j in sorted({*hidden, *(r.id for r in found)}))
            out[intent.id] = Resolution("ambiguous", candidates=ids, shared_with=tuple(others))
        elif not found:
            out[intent.id] = Resolution("none")
        elif len(found) == 1 and not others:
            out[intent.id] = Resolution("adopt", record=found[0])
        else:
            ids = tuple(str(r.id) for r in sorted(found, key=lambda r: r.id))
            out[intent.id] = Resolution("ambiguous", candidates=ids, shared_with=tuple(others))
    return out


def resolve_dataset(
    intent: Intent,
    datasets: Iterable[CatalogDataset],
    *,
    tag: str,
    claimed: set[str],
    seen_before: set[str],
) -> Resolution:
    """Datasets tagged with the intent's address, unclaimed, new since the intent was written.

    "New": not among the datasets this apply listed before the POST (`seen_before`), and created
    at or after the intent's platform time; an older dataset an earlier replace orphaned is
    tagged the same but is neither.
    """
    since = intent.platformTimeMs
    found = [
        ds
        for ds in datasets
        if list(ds.tags.get(tag, ())) == [intent.address]
        and ds.id not in claimed
        and ds.id not in seen_before
        and (since is None or (ds.created is not None and ds.created >= since))
    ]
    if not found:
        return Resolution("none")
    if len(found) == 1:
        return Resolution("adopt", dataset=found[0])
    return Resolution("ambiguous", candidates=tuple(sorted(ds.id for ds in found)))


def ambiguity_line(
    address: str, resolution: Resolution, *, kind: str, in_state: bool = False
) -> str:
    """One line: what could not be told apart, and the command that settles it."""
    ids = resolution.candidates
    noun = "jobs" if kind == "exportjob" else "datasets"
    if len(ids) == 1:
        what = f"{noun[:-1]} {ids[0]} could answer it"
    else:
        what = f"{noun} {', '.join(ids)} could each be it"
    shared = (
        f" (and could equally answer {', '.join(resolution.shared_with)})"
        if resolution.shared_with
        else ""
    )
    command = f"reconciler import {address} {ids[0]}"
    if in_state:  # import takes an address not in state: its history moves to `retired` first
        command = f"reconciler state rm {address}' then '{command}"
    return (
        f"{address}: stopped: the outcome of its create is unknown and {what}{shared}; "
        f"nothing is guessed: settle it with '{command}' (or the id to keep), then apply again"
    )
