"""The create protocol's resolution rules (reconciler.engine.create), on records as the platform shows them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.engine.create import ambiguity_line, listing_floor_ms, resolve_jobs
from reconciler.platform.models import ExportJobRecord
from reconciler.spec.canonical import normalize_request
from reconciler.state import Intent

BODY = {
    "fields": "identities.id",
    "mergePolicy": {"id": "mp", "version": 1},
    "destination": {"datasetId": "ds1", "segmentPerBatch": False},
    "schema": {"name": "_xdm.context.profile"},
}


def intent(address: str, *, mark: int | None = 100, body: dict[str, Any] = BODY) -> Intent:
    return Intent(
        id=f"i-{address}",
        address=address,
        kind="exportjob",
        fingerprint="f",
        request=normalize_request(body),
        watermarkJobId=mark,
        platformTimeMs=5_000_000,
        postedAtMs=5_000_000,
        outcome="unknown",
        createdAt=datetime.now(UTC),
    )


def record(job_id: int, *, terse: bool = True, created: int = 1, **dest: Any) -> ExportJobRecord:
    """A job record; terse: as the Profile guide shows them (no fields echoed)."""
    body: dict[str, Any] = {
        "id": job_id,
        "status": "NEW",
        "creationTime": created,
        "mergePolicy": {"id": "mp", "version": 1},
        "destination": {"dataSetId": dest.get("dataset", "ds1"), "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    if not terse:
        body["fields"] = dest.get("fields", "identities.id")
    return ExportJobRecord.model_validate(body)


def test_one_candidate_after_the_watermark_is_adopted_whatever_its_creation_time() -> None:
    # created "before" the watermark's time (a clock stepped back) but after it by id
    found = resolve_jobs([intent("a")], [record(99), record(101, created=0)], claimed=set())
    assert found["i-a"].outcome == "adopt" and found["i-a"].record.id == 101  # type: ignore[union-attr]


def test_claimed_and_contradicting_records_are_no_candidates() -> None:
    records = [record(101), record(102, dataset="other"), record(103, terse=False, fields="x")]
    assert resolve_jobs([intent("a")], records, claimed={101})["i-a"].outcome == "none"


def test_several_candidates_are_ambiguous_naming_them() -> None:
    res = resolve_jobs([intent("a")], [record(102), record(101)], claimed=set())["i-a"]
    assert res.outcome == "ambiguous" and res.candidates == ("101", "102")
    line = ambiguity_line("exportjob/a", res, kind="exportjob")
    assert "jobs 101, 102 could each be it" in line
    assert "'reconciler import exportjob/a 101'" in line


def test_one_record_that_could_answer_two_intents_is_adopted_for_neither() -> None:
    found = resolve_jobs([intent("a"), intent("b")], [record(101)], claimed=set())
    assert {r.outcome for r in found.values()} == {"ambiguous"}
    assert found["i-a"].shared_with == ("b",) and found["i-b"].shared_with == ("a",)


def test_the_id_a_lost_answer_named_is_the_only_candidate() -> None:
    named = record(105)
    found = resolve_jobs(
        [intent("a")], [record(101), named], claimed=set(), answered={"i-a": named}
    )
    assert found["i-a"].outcome == "adopt" and found["i-a"].record is named


def test_an_unreadable_record_after_the_watermark_blocks_a_guess() -> None:
    found = resolve_jobs([intent("a")], [record(101)], claimed=set(), unreadable=[102, 50])
    res = found["i-a"]
    assert res.outcome == "ambiguous" and res.candidates == ("101", "102")


def test_an_intent_of_an_older_version_lists_every_job() -> None:
    old = intent("a").model_copy(update={"platformTimeMs": None})
    assert listing_floor_ms([old]) is None
    assert listing_floor_ms([intent("a")]) == 5_000_000 - 3_600_000


def test_in_state_the_line_names_state_rm_before_the_import() -> None:
    res = resolve_jobs([intent("a")], [record(101), record(102)], claimed=set())["i-a"]
    line = ambiguity_line("exportjob/a", res, kind="exportjob", in_state=True)
    assert "'reconciler state rm exportjob/a' then 'reconciler import exportjob/a 101'" in line


def test_a_record_naming_another_merge_policy_id_is_still_the_posts_own() -> None:
    # The Profile guide's answer carries a mergePolicy id other than the one sent
    # (api-variability.md): requiring them to agree would take the POST's own job for none
    # and send a twin.
    rewritten = record(101)
    body = rewritten.raw()
    body["mergePolicy"] = {"id": "0bf16e61-90e9-4204-b8fa-ad250360957b", "version": 1}
    found = resolve_jobs([intent("a")], [ExportJobRecord.model_validate(body)], claimed=set())[
        "i-a"
    ]
    assert found.outcome == "adopt" and found.record.id == 101  # type: ignore[union-attr]
    # what still tells jobs apart does: another destination is no candidate
    assert (
        resolve_jobs([intent("a")], [record(102, dataset="other")], claimed=set())["i-a"].outcome
        == "none"
    )
