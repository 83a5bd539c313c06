"""Previews and estimates through the client, over HTTP against the emulator: starting, reading
(and the interval derived from the documented "95%" + standardError), deleting, the store total,
estimate_segments (parallel, deduplicated, cached, bounded by its timeout), retry rules, and
tolerant reading of the forms the documents leave open (through a rewriting proxy)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from platform_helpers import Admin, RewritingProxy, make_client, rewrite_json

from reconciler.emulator import defaults, population
from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.platform import (
    Estimate,
    NotFoundError,
    PlatformClient,
    SegmentDefinition,
    union_pql,
)
from reconciler.platform import ValidationError as PlatformValidationError

PREVIEW = "/data/core/ups/preview"
NEWSLETTER = defaults.SEGMENTS[0]


def qualified(segment_id: str, profiles: int = 60, seed: int = 0) -> int:
    return sum(
        1
        for p in population.generate(profiles, seed)
        if p.memberships.get(segment_id, ("", 0))[0] in ("realized", "existing")
    )


def definition(segment_id: str, pql: str, policy: str | None = None) -> SegmentDefinition:
    return SegmentDefinition.model_validate(
        {
            "id": segment_id,
            "expression": {"type": "PQL", "format": "pql/text", "value": pql},
            "mergePolicyId": policy,
        }
    )


def test_a_preview_runs_then_its_estimate_is_ready(client: PlatformClient, admin: Admin) -> None:
    admin.call("POST", "clock", {"freeze": True})
    preview_id = client.start_preview(str(NEWSLETTER["pql"]))
    running = client.get_estimate(preview_id)
    assert running.state == "RUNNING" and not running.ready
    assert running.interval is not None  # a rough estimate already has an interval
    admin.advance_clock(2)
    ready = client.get_estimate(preview_id)
    assert ready.ready and ready.estimatedSize == qualified(str(NEWSLETTER["id"]))
    # The documents give the level ("95%") and standardError; the full store was read: exact.
    assert ready.level == 0.95 and ready.standardError == 0
    assert ready.interval == (ready.estimatedSize, ready.estimatedSize)


def test_a_sampled_estimate_has_a_95_percent_interval(client: PlatformClient, admin: Admin) -> None:
    admin.call("POST", "seed", {"profiles": 400, "seed": 3})
    admin.call("POST", "behaviour", {"estimate_sample_ratio": 0.25, "estimate_settle_seconds": 0})
    ready = client.get_estimate(client.start_preview('homeAddress.countryCode = "US"'))
    assert ready.ready and ready.standardError and ready.estimatedSize is not None
    low, high = ready.interval or (0, 0)
    spread = 1.96 * ready.standardError
    assert low == max(0, int(ready.estimatedSize - spread)) and low < ready.estimatedSize < high
    assert abs(high - (ready.estimatedSize + spread)) <= 1 and high <= 400
    assert client.profile_store_total() == 400


def test_delete_preview_then_it_is_gone(client: PlatformClient, admin: Admin) -> None:
    preview_id = client.start_preview("true")
    client.delete_preview(preview_id)
    with pytest.raises(NotFoundError) as caught:
        client.get_estimate(preview_id)
    assert "\n" not in str(caught.value)
    client.delete_preview(preview_id)  # already gone: done, not an error
    assert admin.route_count(f"DELETE {PREVIEW}/{{}}") == 2


def test_a_bad_preview_request_is_raised_at_once(client: PlatformClient, admin: Admin) -> None:
    with pytest.raises(PlatformValidationError) as caught:
        client.start_preview("true", merge_policy_id="no-such-policy")
    assert "mergePolicyId" in str(caught.value) and "\n" not in str(caught.value)
    assert admin.route_count(f"POST {PREVIEW}") == 1


@pytest.mark.parametrize("fault", ["503", "commit_drop", "commit_500"])
def test_the_preview_post_is_resent_after_an_ambiguous_answer(
    client: PlatformClient, admin: Admin, fault: str
) -> None:
    """Nothing durable: a second preview job is harmless, so a 5xx or lost answer is resent."""
    admin.fault(endpoint=f"POST {PREVIEW}", schedule=[fault])
    preview_id = client.start_preview("true")
    assert client.get_estimate(preview_id).totalRows == 60
    assert admin.route_count(f"POST {PREVIEW}") == 2


def test_estimate_segments_dedups_runs_in_parallel_and_caches(
    client: PlatformClient, admin: Admin
) -> None:
    seeded = client.list_segment_definitions()
    assert len(seeded) == 4
    copies = [
        definition(f"copy-{s.id}", str((s.expression or {})["value"]), s.mergePolicyId)
        for s in seeded
    ]
    began = time.monotonic()
    found = client.estimate_segments([*seeded, *copies], None, timeout_s=10)
    took = time.monotonic() - began
    assert set(found) == {s.id for s in seeded} | {c.id for c in copies}
    for segment in seeded:
        estimate = found[segment.id]
        assert estimate is not None and estimate.ready, segment.id
        assert estimate.estimatedSize == qualified(segment.id)
        assert found[f"copy-{segment.id}"] == estimate
    # 4 distinct expressions (one merge policy): 4 preview jobs, polled side by side (~2 s each)
    assert admin.route_count(f"POST {PREVIEW}") == 4 == client.previews_started
    assert took < 5
    # settled previews are deleted; a second call is answered from the cache
    assert admin.route_count(f"DELETE {PREVIEW}/{{}}") == 4
    calls = client.calls
    again = client.estimate_segments(copies, None, timeout_s=10)
    assert client.calls == calls and again[copies[0].id] == found[seeded[0].id]


def test_another_merge_policy_is_another_estimate(client: PlatformClient, admin: Admin) -> None:
    admin.call("POST", "behaviour", {"estimate_settle_seconds": 0})
    segment = definition("a", str(NEWSLETTER["pql"]))
    client.estimate_segments([segment], None, timeout_s=5)
    client.estimate_segments([segment], defaults.DEFAULT_MERGE_POLICY_ID, timeout_s=5)
    client.estimate_segments([segment], defaults.DEFAULT_MERGE_POLICY_ID, timeout_s=5)
    assert admin.route_count(f"POST {PREVIEW}") == 2


def test_what_is_not_ready_by_the_timeout_is_none_and_resumed_later(
    client: PlatformClient, admin: Admin
) -> None:
    admin.call("POST", "behaviour", {"estimate_settle_seconds": 30})
    segments = [definition("a", "true"), definition("b", 'homeAddress.city = "Paris"')]
    began = time.monotonic()
    assert client.estimate_segments(segments, None, timeout_s=0.5) == {"a": None, "b": None}
    assert time.monotonic() - began < 2
    admin.advance_clock(30)
    found = client.estimate_segments(segments, None, timeout_s=5)
    assert found["a"] is not None and found["a"].ready and found["a"].estimatedSize == 60
    assert admin.route_count(f"POST {PREVIEW}") == 2  # the running previews were polled again


def test_failures_are_failed_estimates_never_raised(client: PlatformClient, admin: Admin) -> None:
    admin.call("POST", "behaviour", {"estimate_settle_seconds": 0})
    events = definition("ev", 'chain(xEvent, timestamp, [X: WHAT(eventType = "a")])')
    bad_policy = definition("mp", "true", policy="no-such-policy")
    no_pql = SegmentDefinition.model_validate({"id": "none", "expression": None})
    found = client.estimate_segments([events, bad_policy, no_pql], None, timeout_s=5)
    for key, words in (("ev", "xEvent"), ("mp", "mergePolicyId"), ("none", "no PQL")):
        estimate = found[key]
        assert estimate is not None and estimate.failed and not estimate.ready
        assert words in estimate.error_description, (key, estimate.error_description)
    # a platform FAILED is cached; a call that failed is tried again next time
    client.estimate_segments([events, bad_policy], None, timeout_s=5)
    assert admin.route_count(f"POST {PREVIEW}") == 3


def _documented_forms_changed(body: Any) -> Any:
    if "estimatedSize" in body:
        return {
            **body,
            "estimatedSize": "1.3K",
            "confidenceInterval": "1.2K-1.5K",
            "state": "result_ready",
            "totalRows": "41003",
            "standardError": None,
        }
    return body


def test_other_forms_of_the_answer_are_read(emulator: RunningEmulator, admin: Admin) -> None:
    with (
        RewritingProxy(
            emulator.base_url,
            rewrite_json("GET", "/data/core/ups/estimate/", _documented_forms_changed),
        ) as proxy,
        make_client(proxy.base_url) as client,
    ):
        estimate = client.get_estimate(client.start_preview("true"))
    assert estimate.ready and estimate.estimatedSize == 1300 and estimate.totalRows == 41003
    assert estimate.interval == (1200, 1500)


def test_the_store_total_is_none_without_a_sample(emulator: RunningEmulator, admin: Admin) -> None:
    def gone(method: str, path: str, status: int, body: bytes) -> tuple[int, bytes]:
        if path.endswith("/previewsamplestatus"):
            return 404, json.dumps({"title": "NotFoundError", "status": 404}).encode()
        return status, body

    with RewritingProxy(emulator.base_url, gone) as proxy, make_client(proxy.base_url) as client:
        assert client.profile_store_total() is None


@pytest.mark.parametrize(
    ("body", "interval", "ready"),
    [
        (
            {
                "estimatedSize": 100,
                "standardError": 10,
                "confidenceInterval": "95%",
                "state": "RESULT_READY",
            },
            (80, 120),
            True,
        ),
        (
            {
                "estimatedSize": 100,
                "standardError": 10,
                "confidenceInterval": "90%",
                "state": "RESULT_READY",
            },
            (83, 117),
            True,
        ),
        (
            {"estimatedSize": 5, "standardError": 10, "totalRows": 12, "state": "RUNNING"},
            (0, 12),
            False,
        ),
        ({"estimatedSize": 100, "confidenceInterval": [90, "110"]}, (90, 110), False),
        ({"estimatedSize": 100, "confidenceInterval": {"low": 95, "high": 105}}, (95, 105), False),
        (
            {"estimatedSize": "41,003", "confidenceInterval": "garbage", "state": "RESULT_READY"},
            (41003, 41003),
            True,
        ),
        ({"estimatedSize": "1.234.5", "state": "RESULT_READY"}, None, False),
        ({"state": "FAILED", "error": "bad PQL"}, None, False),
    ],
)
def test_estimate_parsing_is_tolerant(
    body: dict[str, Any], interval: tuple[int, int] | None, ready: bool
) -> None:
    estimate = Estimate.model_validate(body)
    assert estimate.interval == interval and estimate.ready is ready


def test_previews_run_side_by_side_however_few_workers(
    emulator: RunningEmulator, admin: Admin
) -> None:
    """6 distinct previews of 2 s each on 2 workers: no worker waits out a settle time."""
    segments = [definition(f"s{i}", f'homeAddress.city = "City {i}"') for i in range(6)]
    with make_client(emulator.base_url, max_workers=2) as client:
        began = time.monotonic()
        found = client.estimate_segments(segments, None, timeout_s=10)
        took = time.monotonic() - began
    assert all(e is not None and e.ready and e.estimatedSize == 0 for e in found.values())
    assert 1.9 <= took < 5, took


def test_a_slow_platform_cannot_hold_the_call_past_its_timeout(
    emulator: RunningEmulator, client: PlatformClient, admin: Admin
) -> None:
    admin.call("POST", "behaviour", {"estimate_settle_seconds": 0})
    admin.fault(endpoint="GET /data/core/ups/estimate/{ID}", latency_ms=2500)
    with make_client(emulator.base_url) as slow:
        began = time.monotonic()
        found = slow.estimate_segments([definition("a", "true")], None, timeout_s=0.5)
        assert found == {"a": None}  # pending, not failed
    # closing waited for nothing: the calls in flight ended at the deadline too
    assert time.monotonic() - began < 1.2
    admin.call("DELETE", "faults")
    found = client.estimate_segments([definition("b", "true")], None, timeout_s=3)
    assert found["b"] is not None and found["b"].ready


def test_union_pql_estimates_an_export_of_several_segments(
    client: PlatformClient, admin: Admin
) -> None:
    admin.call("POST", "behaviour", {"estimate_settle_seconds": 0})
    first, second = (str(s["pql"]) for s in defaults.SEGMENTS[:2])
    assert union_pql([first, first + " "]) == first
    union = union_pql([first, second, first])
    assert union == f"({first}) or ({second})"
    ready = client.get_estimate(client.start_preview(union))
    either = sum(
        1
        for p in population.generate(60, 0)
        if any(
            p.memberships.get(str(s["id"]), ("", 0))[0] in ("realized", "existing")
            for s in defaults.SEGMENTS[:2]
        )
    )
    assert ready.ready and ready.estimatedSize == either


def test_under_the_documented_profile_an_estimate_takes_twelve_seconds(tmp_path: Path) -> None:
    with start_in_thread(tmp_path / "emu", profile="documented") as running:
        admin = Admin(running.base_url)
        admin.call("POST", "clock", {"freeze": True})
        with make_client(running.base_url) as client:
            segment = definition("a", str(NEWSLETTER["pql"]))
            assert client.estimate_segments([segment], None, timeout_s=0.3) == {"a": None}
            admin.advance_clock(12)
            found = client.estimate_segments([segment], None, timeout_s=3)
            assert found["a"] is not None and found["a"].ready
            assert found["a"].estimatedSize == qualified(str(NEWSLETTER["id"]))
            assert client.profile_store_total() == 60
            assert admin.route_count(f"POST {PREVIEW}") == 1


def test_estimate_expressions_shares_the_cache_with_estimate_segments(
    client: PlatformClient, admin: Admin
) -> None:
    admin.call("POST", "behaviour", {"estimate_settle_seconds": 0})
    first, second = (str(s["pql"]) for s in defaults.SEGMENTS[:2])
    union = union_pql([first, second])
    found = client.estimate_expressions([(union, None), (first, None), (union, None)], timeout_s=5)
    assert set(found) == {(union, None), (first, None)}
    assert all(e is not None and e.ready for e in found.values())
    single = client.estimate_segments([definition("x", first)], None, timeout_s=5)["x"]
    assert single == found[(first, None)]
    assert admin.route_count(f"POST {PREVIEW}") == 2
