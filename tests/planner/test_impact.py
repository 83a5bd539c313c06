"""estimate_impact over real HTTP against the emulator (both behaviour profiles): estimates ready,
pending, failed, cached, skipped; the union of an export's segments; the store total; the last
successful run's records; maxProfiles blocks and --allow-large; a steady plan reads nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from plan_fixtures import job_doc, specs

from reconciler.emulator import defaults, population
from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.engine.connect import local_credentials, local_endpoints
from reconciler.engine.impact import estimate_impact
from reconciler.engine.model import Action, Plan
from reconciler.engine.plan_reads import PlanReads, read_for_actions
from reconciler.platform import PlatformClient
from reconciler.spec.canonical import canonical_request
from reconciler.spec.loader import SpecSet
from reconciler.spec.models import ExportJobDoc
from reconciler.state import ExportJobResource, Run, State
from reconciler.state.models import BatchRef

pytestmark = pytest.mark.estimates

NEWSLETTER, FIREFOX, LAPSED = (str(s["id"]) for s in defaults.SEGMENTS[:3])
PROFILES = 60  # the emulator's default population


@pytest.fixture(scope="module", params=["cooperative", "documented"])
def emulator(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningEmulator]:
    with start_in_thread(tmp_path_factory.mktemp("emu"), profile=request.param) as running:
        yield running


def admin(emulator: RunningEmulator, path: str, body: Any = None, method: str = "POST") -> Any:
    response = requests.request(
        method, f"{emulator.base_url}/_emulator/{path}", json=body, timeout=10
    )
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


@pytest.fixture
def client(emulator: RunningEmulator) -> Iterator[PlatformClient]:
    # Settling is not what most tests are about: a short one (the slow one sets its own).
    admin(emulator, "behaviour", {"estimate_settle_seconds": 0.2, "estimate_sample_ratio": 0})
    admin(emulator, "faults", method="DELETE")
    endpoints = local_endpoints(emulator.base_url)
    with PlatformClient(endpoints, local_credentials(), "prod", retry_budget=2.0) as c:
        yield c


def members(*segment_ids: str) -> int:
    """Profiles of the default population in any of the segments (what their export writes)."""
    return sum(
        1
        for p in population.generate(PROFILES, 0)
        if any(p.memberships.get(s, ("", 0))[0] in ("realized", "existing") for s in segment_ids)
    )


def segments(*ids: str) -> dict[str, Any]:
    return {"segments": [{"segmentId": i} for i in ids]}


def create(doc: ExportJobDoc, action: str = "create") -> Action:
    return Action(doc.address, "exportjob", action, "new document", request=canonical_request(doc))  # type: ignore[arg-type]


def plan_of(*actions: Action) -> Plan:
    return Plan(actions, (), "lineage", 1, "spec", "live", live_facts={})


def impact_of(plan: Plan, address: str) -> Any:
    found = next(a for a in plan.actions if a.address == address).impact
    assert found is not None
    return found


def test_one_segment_is_its_estimate_and_several_are_their_union(client: PlatformClient) -> None:
    one = job_doc("one", filter=segments(NEWSLETTER))
    two = job_doc("two", filter=segments(NEWSLETTER, FIREFOX))
    plan = estimate_impact(
        client, plan_of(create(one), create(two)), specs(one, two), PlanReads(True)
    )
    first, both = impact_of(plan, one.address), impact_of(plan, two.address)
    assert first.state == "ready" and first.profiles == members(NEWSLETTER)
    assert first.basis == "segments" and first.segments == (NEWSLETTER,)
    # The union: a profile in both segments counts once, as the export writes it once.
    assert both.profiles == members(NEWSLETTER, FIREFOX)
    assert both.profiles < members(NEWSLETTER) + members(FIREFOX)
    # The whole store was read: the interval is the estimate itself.
    assert (both.low, both.high) == (both.profiles, both.profiles)
    assert client.previews_started == 2


def test_an_export_without_segments_is_the_store_total(client: PlatformClient) -> None:
    doc = job_doc("all")
    plan = estimate_impact(client, plan_of(create(doc, "rerun")), specs(doc), PlanReads(True))
    impact = impact_of(plan, doc.address)
    assert impact.state == "ready" and impact.basis == "store"
    assert impact.profiles == PROFILES == impact.low == impact.high
    assert client.previews_started == 0


def test_estimates_are_cached_per_expression_and_merge_policy(client: PlatformClient) -> None:
    policy = {"mergePolicy": {"id": defaults.DEFAULT_MERGE_POLICY_ID}}
    docs = [job_doc(f"same-{i}", filter=segments(NEWSLETTER)) for i in range(4)]
    docs.append(job_doc("other-policy", filter=segments(NEWSLETTER), **policy))
    reads = PlanReads(True)
    plan = estimate_impact(client, plan_of(*(create(d) for d in docs)), specs(*docs), reads)
    assert {impact_of(plan, d.address).profiles for d in docs} == {members(NEWSLETTER)}
    assert (
        impact_of(plan, "exportjob/other-policy").merge_policy_id
        == defaults.DEFAULT_MERGE_POLICY_ID
    )
    assert client.previews_started == 2
    # A second plan with the same client asks nothing again.
    estimate_impact(client, plan_of(*(create(d) for d in docs)), specs(*docs), reads)
    assert client.previews_started == 2


def test_what_does_not_settle_in_time_is_pending_not_failed(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    admin(emulator, "behaviour", {"estimate_settle_seconds": 60})
    doc = job_doc("slow", filter=segments(LAPSED), maxProfiles=1)
    started = time.monotonic()
    plan = estimate_impact(
        client, plan_of(create(doc)), specs(doc), PlanReads(True, estimate_timeout_s=1.0)
    )
    elapsed = time.monotonic() - started
    impact = impact_of(plan, doc.address)
    assert impact.state == "pending" and "1 s" in (impact.reason or "")
    assert elapsed < 2.5, elapsed
    # Pending never blocks, even with a limit it might exceed: the action stays.
    assert [a.address for a in plan.actions] == [doc.address] and not plan.findings
    assert impact.max_profiles == 1 and not impact.over_limit


def test_failures_say_why_and_do_not_block(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    unknown = job_doc("unknown", filter=segments("no-such-segment"), maxProfiles=1)
    bad_policy = job_doc(
        "bad-policy",
        filter=segments(NEWSLETTER),
        mergePolicy={"id": "no-such-policy"},
        maxProfiles=1,
    )
    docs = (unknown, bad_policy)
    plan = estimate_impact(
        client, plan_of(*(create(d) for d in docs)), specs(*docs), PlanReads(True)
    )
    assert impact_of(plan, unknown.address).state == "failed"
    assert "unknown segment no-such-segment" in impact_of(plan, unknown.address).reason
    policy = impact_of(plan, bad_policy.address)
    assert policy.state == "failed" and "mergePolicyId" in policy.reason
    assert "\n" not in policy.reason and len(policy.reason) <= 120
    assert len(plan.actions) == 2 and not plan.findings


def test_a_store_total_that_cannot_be_read_is_failed(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    admin(
        emulator,
        "faults",
        {
            "endpoint": "GET /data/core/ups/previewsamplestatus",
            "error_rate": 1,
            "error_status": 500,
        },
    )
    doc = job_doc("all")
    plan = estimate_impact(client, plan_of(create(doc)), specs(doc), PlanReads(True))
    impact = impact_of(plan, doc.address)
    assert impact.state == "failed" and "500" in (impact.reason or "")


def test_no_estimate_and_a_steady_plan_send_nothing(client: PlatformClient) -> None:
    doc = job_doc("one", filter=segments(NEWSLETTER), maxProfiles=1)
    skipped = estimate_impact(client, plan_of(create(doc)), specs(doc), PlanReads(False))
    impact = impact_of(skipped, doc.address)
    assert impact.state == "skipped" and impact.reason == "--no-estimate"
    assert not skipped.findings  # not estimated: not blocked
    steady = plan_of()
    assert estimate_impact(client, steady, specs(doc), PlanReads(True)) is steady
    others = plan_of(Action("dataset/crm", "dataset", "create", "new document"))
    others = plan_of(*others.actions, create(doc, "cancel"))
    assert estimate_impact(client, others, specs(doc), PlanReads(True)) is others
    assert client.calls == 0


def test_apply_scope_estimates_only_documents_with_max_profiles(client: PlatformClient) -> None:
    capped = job_doc("capped", filter=segments(NEWSLETTER), maxProfiles=10_000)
    free = job_doc("free", filter=segments(FIREFOX))
    plan = estimate_impact(
        client,
        plan_of(create(capped), create(free)),
        specs(capped, free),
        PlanReads(True, scope="policy"),
    )
    assert impact_of(plan, capped.address).state == "ready"
    assert next(a for a in plan.actions if a.address == free.address).impact is None
    assert client.previews_started == 1


def test_over_max_profiles_blocks_unless_allowed(client: PlatformClient) -> None:
    size = members(NEWSLETTER)
    over = job_doc("over", filter=segments(NEWSLETTER), maxProfiles=size - 1)
    at = job_doc("at", filter=segments(NEWSLETTER), maxProfiles=size)
    replace = Action(over.address, "exportjob", "replace", "the spec changed", cancel_job_id=7)
    plan = estimate_impact(client, plan_of(replace, create(at)), specs(over, at), PlanReads(True))
    assert [a.address for a in plan.actions] == [at.address]  # at the limit is not over it
    (finding,) = plan.findings
    assert finding.address == over.address and finding.finding == "blocked"
    assert f"over maxProfiles {size - 1:,}" in finding.reason
    assert f"apply --allow-large {over.address}" in finding.reason
    assert "job 7 is not cancelled" in finding.reason
    assert finding.evidence["low"] == size and finding.evidence["maxProfiles"] == size - 1
    assert finding.evidence["segments"] == [NEWSLETTER]
    # Allowed: the action stays and says so.
    allowed = estimate_impact(
        client, plan_of(replace), specs(over), PlanReads(True, allow_large=(over.address,))
    )
    impact = impact_of(allowed, over.address)
    assert impact.over_limit and impact.allowed and not allowed.findings


def test_the_lower_bound_decides_not_the_estimate(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    admin(emulator, "seed", {"profiles": 400, "seed": 3})
    admin(emulator, "behaviour", {"estimate_sample_ratio": 0.25, "estimate_settle_seconds": 0})
    try:
        probe = job_doc("probe", filter=segments(NEWSLETTER))
        ready = impact_of(
            estimate_impact(client, plan_of(create(probe)), specs(probe), PlanReads(True)),
            probe.address,
        )
        assert ready.low < ready.profiles < ready.high and ready.level == 0.95
        # A limit between the lower bound and the estimate: the estimate may be over, not for sure.
        doc = job_doc("sampled", filter=segments(NEWSLETTER), maxProfiles=ready.low)
        plan = estimate_impact(client, plan_of(create(doc)), specs(doc), PlanReads(True))
        assert not plan.findings and not impact_of(plan, doc.address).over_limit
        tight = job_doc("tight", filter=segments(NEWSLETTER), maxProfiles=ready.low - 1)
        plan = estimate_impact(client, plan_of(create(tight)), specs(tight), PlanReads(True))
        assert [f.finding for f in plan.findings] == ["blocked"]
    finally:
        admin(emulator, "seed", {"profiles": PROFILES, "seed": 0})


def _finished_job(client: PlatformClient, emulator: RunningEmulator) -> tuple[int, list[str]]:
    """A SUCCEEDED export job of the audience, one batch per segment; its id and batch ids."""
    admin(emulator, "config", {"job_new_seconds": 0.05, "job_processing_seconds": 0.1})
    dataset_id = client.create_dataset(
        {
            "name": f"impact {time.monotonic_ns()}",
            "schemaRef": {
                "id": "https://ns.adobe.com/xdm/context/profile__union",
                "contentType": "application/vnd.adobe.xed+json;version=1",
            },
        }
    )
    body = {
        "fields": "identities.id,personalEmail.address",
        "filter": segments(NEWSLETTER, FIREFOX),
        "destination": {"datasetId": dataset_id, "segmentPerBatch": True},
        "schema": {"name": "_xdm.context.profile"},
    }
    job = client.create_export_job(body)
    for _ in range(200):
        record = client.get_export_job(job.id)
        assert record is not None
        if record.is_terminal:
            break
        time.sleep(0.05)
    assert record.status == "SUCCEEDED", record.status
    return job.id, [b.batchId for b in record.destination.batches if b.batchId]


def test_the_last_successful_run_shows_what_it_wrote(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    job_id, batch_ids = _finished_job(client, emulator)
    assert len(batch_ids) == 2
    doc = job_doc("audience", filter=segments(NEWSLETTER, FIREFOX))
    at = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [
        Run(
            jobId=job_id,
            fingerprint="f",
            status="SUCCEEDED",
            batches=[BatchRef(segmentId=str(i), batchId=b) for i, b in enumerate(batch_ids)],
            createdAt=at,
            reason="create",
        ),
        # A newer failed run is not the last successful one.
        Run(
            jobId=job_id + 1000,
            fingerprint="f",
            status="FAILED",
            createdAt=at.replace(month=2),
            reason="rerun: failed",
        ),
    ]
    state = State(
        resources={doc.address: ExportJobResource(fingerprint="f", request={}, runs=runs)}
    )
    batches = [client.get_batch(b) for b in batch_ids]
    records = sum(b.record_count or 0 for b in batches if b is not None)
    calls = client.calls
    plan = estimate_impact(
        client, plan_of(create(doc, "rerun")), specs(doc), PlanReads(True), state
    )
    last = impact_of(plan, doc.address).last_run
    assert last is not None and last.job_id == job_id and last.batches == 2
    assert last.records == records and records > 0
    assert last.bytes is not None and last.bytes > 0
    # one listing of definitions, one preview (start + reads + delete), one GET per batch
    assert client.calls - calls <= 2 + 2 + 10


def test_a_saved_plan_keeps_the_impact_and_the_block(
    client: PlatformClient, tmp_path: Path
) -> None:
    over = job_doc("over", filter=segments(NEWSLETTER), maxProfiles=1)
    fine = job_doc("fine", filter=segments(NEWSLETTER))
    plan = estimate_impact(
        client, plan_of(create(over), create(fine)), specs(over, fine), PlanReads(True)
    )
    back = Plan.from_json(plan.to_json())
    assert back == plan
    assert back.to_dict()["actions"][0]["impact"]["profiles"] == members(NEWSLETTER)
    assert [f.finding for f in back.findings] == ["blocked"]


def test_references_and_estimates_share_one_segment_listing(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    docs = [job_doc(f"j{i}", filter=segments(NEWSLETTER, FIREFOX)) for i in range(3)]
    spec_set = SpecSet({}, {d.metadata.name: d for d in docs}, {}, "digest")
    admin(emulator, "stats", method="DELETE")
    plan = read_for_actions(client, plan_of(*(create(d) for d in docs)), spec_set, PlanReads(True))
    assert {impact_of(plan, d.address).state for d in docs} == {"ready"}
    routes = admin(emulator, "stats", method="GET")["routes"]
    assert routes.get("GET /data/core/ups/segment/definitions") == 1
    assert routes.get("POST /data/core/ups/preview") == 1


def test_a_slow_store_total_is_pending_within_the_timeout(
    client: PlatformClient, emulator: RunningEmulator
) -> None:
    slow = {"endpoint": "GET /data/core/ups/previewsamplestatus", "latency_ms": 4000}
    admin(emulator, "faults", slow)
    doc = job_doc("all", maxProfiles=1)
    started = time.monotonic()
    plan = estimate_impact(
        client, plan_of(create(doc)), specs(doc), PlanReads(True, estimate_timeout_s=1.0)
    )
    assert time.monotonic() - started < 2.5
    impact = impact_of(plan, doc.address)
    assert impact.state == "pending" and impact.basis == "store" and not plan.findings
