"""Preview and estimate jobs (SEG previews-and-estimates) and the preview sample status (PROF),
over HTTP: answer shapes, settling on the platform clock, the population they count, errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from reconciler.emulator import defaults, population
from reconciler.emulator.server import start_in_thread

from .helpers import Api, get_token

PREVIEW = "/data/core/ups/preview"
ESTIMATE = "/data/core/ups/estimate"
SAMPLE = "/data/core/ups/previewsamplestatus"
NEWSLETTER = defaults.SEGMENTS[0]
FIREFOX = defaults.SEGMENTS[1]


def start(api: Api, expression: str, **extra: object) -> str:
    body = {
        "predicateExpression": expression,
        "predicateType": "pql/text",
        "predicateModel": "_xdm.context.profile",
        **extra,
    }
    answer = api.post(PREVIEW, json=body)
    assert answer.status_code == 201, answer.text
    shown = answer.json()
    assert shown["state"] == "NEW" and shown["previewQueryStatus"] == "NEW"
    assert shown["previewExecutionId"] == 0 and shown["previewQueryId"]
    assert answer.headers["X-Location"].endswith(f"{PREVIEW}/{shown['previewId']}")
    return str(shown["previewId"])


def estimate(api: Api, preview_id: str) -> dict[str, object]:
    answer = api.get(f"{ESTIMATE}/{preview_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def qualified(segment_id: str, profiles: int = defaults.DEFAULT_PROFILES, seed: int = 0) -> int:
    return sum(
        1
        for p in population.generate(profiles, seed)
        if p.memberships.get(segment_id, ("", 0))[0] in ("realized", "existing")
    )


def test_an_estimate_runs_then_settles_on_the_platform_clock(api: Api) -> None:
    preview_id = start(api, str(NEWSLETTER["pql"]))
    first = estimate(api, preview_id)
    assert first["state"] == "RUNNING"
    assert first["confidenceInterval"] == "95%" and first["totalRows"] == 60
    assert 0 < int(str(first["profilesReadSoFar"])) < int(str(first["numRowsToRead"])) == 60
    api.advance(1.0)
    middle = estimate(api, preview_id)
    assert middle["state"] == "RUNNING"
    assert int(str(middle["profilesReadSoFar"])) > int(str(first["profilesReadSoFar"]))
    api.advance(1.0)  # cooperative: estimate_settle_seconds 2
    ready = estimate(api, preview_id)
    assert ready["state"] == "RESULT_READY" and ready["profilesReadSoFar"] == 60
    assert ready["standardError"] == 0  # the full store is read below 1 million profiles (SEG)
    assert ready["estimatedSize"] == ready["profilesMatchedSoFar"] == qualified(NEWSLETTER["id"])
    assert ready["error"] == {"description": "", "traceback": ""}
    assert str(ready["_links"]).find(preview_id) > 0


def test_a_seeded_segment_is_estimated_at_what_its_export_writes(api: Api) -> None:
    api.admin("POST", "/config", {"job_new_seconds": 0, "job_processing_seconds": 0})
    api.admin("POST", "/seed", {"profiles": 300, "seed": 7}).raise_for_status()
    job = api.create_job(api.create_dataset(), filter={"segments": [{"segmentId": FIREFOX["id"]}]})
    api.advance(3)
    batch_id = api.job(int(job["id"]))["destination"]["batchId"]
    batch = api.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
    preview_id = start(api, "  " + str(FIREFOX["pql"]).replace(" ", "   ") + "\n")
    api.advance(2)
    ready = estimate(api, preview_id)
    assert ready["state"] == "RESULT_READY" and ready["totalRows"] == 300
    assert (
        ready["estimatedSize"]
        == batch["metrics"]["recordsWritten"]
        == qualified(FIREFOX["id"], 300, 7)
    )


def test_a_sampled_estimate_has_an_interval_and_the_sample_status_counts_the_store(
    api: Api,
) -> None:
    api.admin("POST", "/seed", {"profiles": 400, "seed": 3}).raise_for_status()
    api.admin("POST", "/behaviour", {"estimate_sample_ratio": 0.25}).raise_for_status()
    preview_id = start(api, 'homeAddress.countryCode = "US" or homeAddress.city = "Paris"')
    api.advance(2)
    ready = estimate(api, preview_id)
    matched = int(str(ready["profilesMatchedSoFar"]))
    assert ready["state"] == "RESULT_READY" and ready["numRowsToRead"] == 100
    assert ready["estimatedSize"] == round(matched / 100 * 400)
    assert int(str(ready["standardError"])) > 0
    truth = sum(
        1
        for p in population.generate(400, 3)
        if p.attributes["homeAddress"]["countryCode"] == "US"
        or p.attributes["homeAddress"]["city"] == "Paris"
    )
    # within 4 standard errors of the truth (a deterministic sample: this is not flaky)
    assert abs(int(str(ready["estimatedSize"])) - truth) <= 4 * int(str(ready["standardError"]))
    status = api.get(SAMPLE).json()
    assert status["totalRows"] == "400" and status["numRowsToRead"] == "100"
    assert status["samplingRatio"] == 0.25 and status["status"] == "TASK_FINISHED"
    assert set(status) >= {"sampleJobRunning", "lastSampledTimestamp", "totalFragmentCount"}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("true", 60),
        ("false", 0),
        (f'inSegment("{NEWSLETTER["id"]}")', qualified(str(NEWSLETTER["id"]))),
        (
            f'not inSegment("{NEWSLETTER["id"]}") and personalEmail.address.isNull()',
            sum(
                1
                for p in population.generate(60, 0)
                if "personalEmail" not in p.attributes
                and p.memberships.get(str(NEWSLETTER["id"]), ("", 0))[0]
                not in ("realized", "existing")
            ),
        ),
    ],
)
def test_expressions_the_emulator_evaluates(api: Api, expression: str, expected: int) -> None:
    api.admin("POST", "/behaviour", {"estimate_settle_seconds": 0}).raise_for_status()
    ready = estimate(api, start(api, expression))
    assert ready["state"] == "RESULT_READY" and ready["estimatedSize"] == expected


def test_an_expression_it_cannot_evaluate_ends_failed_naming_why(api: Api) -> None:
    preview_id = start(api, 'chain(xEvent, timestamp, [X: WHAT(eventType = "x")])')
    failed = estimate(api, preview_id)
    assert failed["state"] == "FAILED"
    assert "xEvent" in str(failed["error"])
    assert api.get(f"{PREVIEW}/{preview_id}").json()["state"] == "FAILED"
    broken = estimate(api, start(api, "homeAddress.city = "))
    assert broken["state"] == "FAILED" and "ends too early" in str(broken["error"])


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "predicateExpression"),
        ({"predicateExpression": "  "}, "predicateExpression"),
        ({"predicateExpression": "true", "predicateType": "sql"}, "predicateType"),
        ({"predicateExpression": "true", "predicateModel": "x"}, "predicateModel"),
        ({"predicateExpression": "true", "graphType": "full"}, "graphType"),
        ({"predicateExpression": "true", "mergePolicyId": "nope"}, "mergePolicyId"),
        ({"predicateExpression": "true", "expression": "x"}, "unknown key"),
        ([1], "JSON object"),
    ],
)
def test_a_bad_preview_request_is_one_400_naming_the_field(
    api: Api, body: object, words: str
) -> None:
    answer = api.post(PREVIEW, json=body)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["detail"]


def test_graph_type_and_merge_policy_are_accepted(api: Api) -> None:
    start(api, "true", graphType="none", mergePolicyId=defaults.DEFAULT_MERGE_POLICY_ID)
    answer = api.post(PREVIEW, data="{}", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "A valid content-type must be specified"


def test_preview_results_page_through_the_qualifying_profiles(api: Api) -> None:
    preview_id = start(api, str(NEWSLETTER["pql"]))
    assert api.get(f"{PREVIEW}/{preview_id}").json()["results"] == []  # still running
    api.advance(2)
    seen: list[str] = []
    url = f"{api.base_url}{PREVIEW}/{preview_id}?limit=7"
    while url:
        page = api.session.get(url, headers=api.headers(), timeout=10).json()
        assert page["state"] == "RESULT_READY" and page["page"]["size"] == len(page["results"])
        seen += [r["objectId"] for r in page["results"]]
        url = page["links"]["next"]
    assert len(seen) == len(set(seen)) == qualified(str(NEWSLETTER["id"]))
    assert api.get(f"{PREVIEW}/{preview_id}?limit=0").status_code == 400


def test_delete_kills_the_preview_and_its_estimate(api: Api) -> None:
    preview_id = start(api, "true")
    answer = api.delete(f"{PREVIEW}/{preview_id}")
    assert answer.status_code == 200 and answer.json() == {"status": True, "message": "KILLED"}
    for path in (f"{ESTIMATE}/{preview_id}", f"{PREVIEW}/{preview_id}"):
        gone = api.get(path)
        assert gone.status_code == 404 and preview_id in gone.json()["detail"]
    assert api.delete(f"{PREVIEW}/{preview_id}").status_code == 404


def test_headers_sandboxes_and_isolation_as_everywhere(api: Api) -> None:
    preview_id = start(api, "true")
    assert api.in_sandbox("dev").get(f"{ESTIMATE}/{preview_id}").status_code == 404
    bare = requests.get(f"{api.base_url}{ESTIMATE}/{preview_id}", timeout=10)
    assert bare.status_code == 403 and bare.json()["error_code"] == "403010"
    no_sandbox = {k: v for k, v in api.headers().items() if k != "x-sandbox-name"}
    missing = requests.get(f"{api.base_url}{SAMPLE}", headers=no_sandbox, timeout=10)
    assert missing.status_code == 400 and missing.json()["error_code"] == "400003"
    api.admin("POST", "/behaviour", {"sandboxes": "strict"}).raise_for_status()
    refused = api.in_sandbox("nowhere").post(PREVIEW, json={"predicateExpression": "true"})
    assert refused.status_code == 403 and refused.json()["error_code"] == "403025"


def test_fault_schedules_apply_to_these_endpoints(api: Api) -> None:
    api.admin(
        "POST", "/faults", {"endpoint": f"GET {ESTIMATE}/{{ID}}", "schedule": ["503", "429"]}
    ).raise_for_status()
    preview_id = start(api, "true")
    assert api.get(f"{ESTIMATE}/{preview_id}").status_code == 503
    limited = api.get(f"{ESTIMATE}/{preview_id}")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert api.get(f"{ESTIMATE}/{preview_id}").status_code == 200
    stats = api.admin("GET", "/stats").json()["routes"]
    assert any(route.startswith("GET /data/core/ups/estimate/") for route in stats)


def test_a_slow_estimate_settles_after_its_settle_time_in_real_time(tmp_path: Path) -> None:
    """The clock runs: polled as a client would, the estimate refines and settles at ~1 s."""
    with start_in_thread(tmp_path / "emu") as running:
        api = Api(running.base_url, get_token(running.base_url))
        api.admin("POST", "/behaviour", {"estimate_settle_seconds": 1.0}).raise_for_status()
        began = time.monotonic()
        preview_id = start(api, str(NEWSLETTER["pql"]))
        reads: list[int] = []
        while True:
            shown = estimate(api, preview_id)
            reads.append(int(str(shown["profilesReadSoFar"])))
            if shown["state"] == "RESULT_READY":
                break
            assert shown["state"] == "RUNNING" and time.monotonic() - began < 5
            time.sleep(0.15)
        took = time.monotonic() - began
        assert 0.9 <= took < 3
        assert len(reads) >= 4 and reads == sorted(reads) and reads[-1] == 60


def test_the_documented_profile_settles_in_about_twelve_seconds(tmp_path: Path) -> None:
    with start_in_thread(tmp_path / "emu", profile="documented") as running:
        api = Api(running.base_url, get_token(running.base_url))
        assert api.admin("GET", "/behaviour").json()["estimate_settle_seconds"] == 12.0
        api.admin("POST", "/clock", {"freeze": True}).raise_for_status()
        preview_id = start(api, "true")
        api.advance(11.5)
        assert estimate(api, preview_id)["state"] == "RUNNING"
        api.advance(0.5)
        ready = estimate(api, preview_id)
        assert ready["state"] == "RESULT_READY" and ready["estimatedSize"] == 60
        # a setting changed later does not move a job already created
        api.admin("POST", "/behaviour", {"estimate_settle_seconds": 100}).raise_for_status()
        assert estimate(api, preview_id)["state"] == "RESULT_READY"


def test_previews_survive_a_restart(tmp_path: Path) -> None:
    with start_in_thread(tmp_path / "emu") as running:
        api = Api(running.base_url, get_token(running.base_url))
        preview_id = start(api, "true")
    with start_in_thread(tmp_path / "emu") as running:
        api = Api(running.base_url, get_token(running.base_url))
        assert estimate(api, preview_id)["totalRows"] == 60


@pytest.mark.parametrize(
    "body",
    [
        {"estimate_settle_seconds": -1},
        {"estimate_settle_seconds": True},
        {"estimate_sample_ratio": 2},
    ],
)
def test_bad_estimate_settings_are_400s(api: Api, body: object) -> None:
    answer = api.admin("POST", "/behaviour", body)
    assert answer.status_code == 400 and next(iter(body)) in answer.json()["detail"]  # type: ignore[call-overload]


def test_a_union_of_seeded_segments_is_what_an_export_of_both_writes(api: Api) -> None:
    api.admin("POST", "/config", {"job_new_seconds": 0, "job_processing_seconds": 0})
    api.admin("POST", "/behaviour", {"estimate_settle_seconds": 0}).raise_for_status()
    both = [{"segmentId": NEWSLETTER["id"]}, {"segmentId": FIREFOX["id"]}]
    job = api.create_job(api.create_dataset(), filter={"segments": both})
    api.advance(1)
    batch_id = api.job(int(job["id"]))["destination"]["batchId"]
    written = api.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
    union = f"({NEWSLETTER['pql']}) or ({FIREFOX['pql']})"
    ready = estimate(api, start(api, union))
    assert ready["state"] == "RESULT_READY"
    assert ready["estimatedSize"] == written["metrics"]["recordsWritten"]
    assert qualified(str(NEWSLETTER["id"])) < int(str(ready["estimatedSize"]))
