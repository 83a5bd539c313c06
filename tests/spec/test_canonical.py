"""The canonical request and its fingerprint; normalize_request on POST bodies and live records."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normal_forms_agree,
    normalize_request,
    request_body,
    request_matches,
    requests_answered,
)
from reconciler.spec.models import ExportJobDoc, format_timestamp

NAME = st.from_regex(r"[a-z][a-z0-9-]{0,20}[a-z0-9]", fullmatch=True)
FIELD = st.from_regex(
    r"[a-zA-Z_][a-zA-Z0-9_]{0,8}(\.[a-zA-Z_][a-zA-Z0-9_]{0,8}){0,2}", fullmatch=True
)
FIELDS = st.lists(FIELD, min_size=1, max_size=5, unique=True)
IDENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,30}", fullmatch=True)
OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))]
)
TIMES = st.builds(
    lambda seconds, tz: datetime.fromtimestamp(seconds, UTC).astimezone(tz),
    st.integers(0, 2_000_000_000),
    OFFSETS,
)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid ExportJob spec as a user would write it (fields always as a list here)."""
    spec: dict[str, Any] = {"schema": {"name": draw(IDENT)}}
    if draw(st.booleans()):
        spec["fields"] = draw(FIELDS)
    if draw(st.booleans()):
        policy: dict[str, Any] = {"id": draw(IDENT)}
        if draw(st.booleans()):
            policy["version"] = draw(st.integers(1, 50))
        spec["mergePolicy"] = policy
    if draw(st.booleans()):
        event_list: dict[str, Any] = {"fields": draw(FIELDS)}
        if draw(st.booleans()):
            event_list["filter"] = {"fromIngestTimestamp": format_timestamp(draw(TIMES))}
        spec["additionalFields"] = {"eventList": event_list}
    segments = None
    if draw(st.booleans()):
        ids = draw(st.lists(IDENT, min_size=1, max_size=3, unique=True))
        segments = [{"segmentId": i, "segmentNs": "ups", "status": ["realized"]} for i in ids]
        start = draw(TIMES)
        spec["filter"] = {
            "segments": segments,
            "segmentQualificationTime": {
                "startTime": format_timestamp(start),
                "endTime": format_timestamp(start + timedelta(days=draw(st.integers(1, 90)))),
            },
            "emptyProfiles": draw(st.booleans()),
        }
    destination: dict[str, Any] = (
        {"dataset": draw(NAME)} if draw(st.booleans()) else {"datasetId": draw(IDENT)}
    )
    if segments and draw(st.booleans()):
        destination["segmentPerBatch"] = True
    spec["destination"] = destination
    return spec


def doc(spec: dict[str, Any], **policy: Any) -> ExportJobDoc:
    return ExportJobDoc.model_validate(
        {
            "apiVersion": "reconciler/v1",
            "kind": "ExportJob",
            "metadata": {"name": "job"},
            "spec": {**spec, **policy},
        }
    )


def shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every mapping's keys in a random order."""
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [shuffled(v, rng) for v in value]
    return value


def as_strings(spec: dict[str, Any], separator: str) -> dict[str, Any]:
    """The same spec with every `fields` list written as a comma-separated string."""
    result = copy.deepcopy(spec)
    if "fields" in result:
        result["fields"] = separator.join(result["fields"])
    event_list = result.get("additionalFields", {}).get("eventList")
    if event_list:
        event_list["fields"] = separator.join(event_list["fields"])
    return result


@settings(max_examples=100, deadline=None)
@given(specs(), st.randoms(use_true_random=False), st.sampled_from([",", ", ", " , "]))
def test_fingerprint_ignores_key_order_and_the_form_of_fields(
    spec: dict[str, Any], rng: random.Random, separator: str
) -> None:
    original = fingerprint(doc(spec))
    assert fingerprint(doc(shuffled(spec, rng))) == original
    assert fingerprint(doc(as_strings(spec, separator))) == original
    # Reconciler policy is not sent, so it is not part of the fingerprint.
    assert fingerprint(doc(spec, refresh="24h", onFailure="report")) == original
    explicit = copy.deepcopy(spec)
    explicit["destination"].setdefault("segmentPerBatch", False)
    assert fingerprint(doc(explicit)) == original


def _mutations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Every way to change one thing that is sent to the API."""
    out = []

    def changed(fn: Any) -> None:
        clone = copy.deepcopy(spec)
        fn(clone)
        out.append(clone)

    changed(lambda s: s["schema"].update(name=s["schema"]["name"] + "x"))
    changed(lambda s: s.update(fields=[*s.get("fields", []), "zz.extra"]))
    if "fields" in spec and len(spec["fields"]) > 1:
        changed(lambda s: s.update(fields=list(reversed(s["fields"]))))
    if "fields" in spec:
        changed(lambda s: s.pop("fields"))
    changed(lambda s: s.update(mergePolicy={"id": s.get("mergePolicy", {}).get("id", "m") + "x"}))
    if "mergePolicy" in spec:
        changed(lambda s: s["mergePolicy"].update(version=s["mergePolicy"].get("version", 0) + 1))
    if "dataset" in spec["destination"]:
        changed(lambda s: s["destination"].update(dataset=s["destination"]["dataset"] + "x"))
    else:
        changed(lambda s: s["destination"].update(datasetId=s["destination"]["datasetId"] + "x"))
    if "filter" in spec:
        changed(lambda s: s["filter"]["segments"].append({"segmentId": "another"}))
        changed(lambda s: s["filter"].update(emptyProfiles=not s["filter"]["emptyProfiles"]))
        changed(
            lambda s: s["destination"].update(
                segmentPerBatch=not s["destination"].get("segmentPerBatch", False)
            )
        )
        changed(lambda s: s["filter"]["segmentQualificationTime"].pop("endTime"))
        changed(lambda s: s["filter"].update(fromIngestTimestamp="2018-01-01T00:00:00Z"))
    if "additionalFields" in spec:
        changed(lambda s: s["additionalFields"]["eventList"]["fields"].append("zz.more"))
        changed(lambda s: s.pop("additionalFields"))
    return out


@settings(max_examples=100, deadline=None)
@given(specs())
def test_fingerprint_changes_when_a_sent_field_changes(spec: dict[str, Any]) -> None:
    original = fingerprint(doc(spec))
    for mutated in _mutations(spec):
        assert fingerprint(doc(mutated)) != original, mutated


def test_timestamp_offset_is_part_of_the_request() -> None:
    base = {"schema": {"name": "s"}, "destination": {"datasetId": "d"}}
    a = doc({**base, "filter": {"fromIngestTimestamp": "2018-10-25T13:22:04-07:00"}})
    b = doc({**base, "filter": {"fromIngestTimestamp": "2018-10-25T20:22:04Z"}})
    assert canonical_request(a)["filter"] == {"fromIngestTimestamp": "2018-10-25T13:22:04-07:00"}
    assert fingerprint(a) != fingerprint(b)


def test_canonical_request_matches_the_documented_body() -> None:
    spec = {
        "fields": "identities.id, personalEmail.address",
        "mergePolicy": {"id": "e5bc94de-cd14-4cdf-a2bc-88b6e8cbfac2", "version": 1},
        "additionalFields": {
            "eventList": {
                "fields": ["environment.browserDetails.name", "environment.browserDetails.version"],
                "filter": {"fromIngestTimestamp": "2018-10-25T13:22:04-07:00"},
            }
        },
        "destination": {"dataset": "crm-profiles"},
        "schema": {"name": "_xdm.context.profile"},
        "refresh": "24h",
    }
    assert canonical_request(doc(spec)) == {
        "additionalFields": {
            "eventList": {
                "fields": "environment.browserDetails.name,environment.browserDetails.version",
                "filter": {"fromIngestTimestamp": "2018-10-25T13:22:04-07:00"},
            }
        },
        "destination": {"dataset": "crm-profiles", "segmentPerBatch": False},
        "fields": "identities.id,personalEmail.address",
        "mergePolicy": {"id": "e5bc94de-cd14-4cdf-a2bc-88b6e8cbfac2", "version": 1},
        "schema": {"name": "_xdm.context.profile"},
    }
    body = request_body(doc(spec), "5b020a27e7040801dedba61b")
    assert body["destination"] == {
        "datasetId": "5b020a27e7040801dedba61b",
        "segmentPerBatch": False,
    }
    assert list(body) == sorted(body)


def live_record(body: dict[str, Any], rng: random.Random, job_id: int) -> dict[str, Any]:
    """What the API answers for a job created from `body`: extra keys, other spellings."""
    record = copy.deepcopy(body)
    destination = record["destination"]
    if rng.random() < 0.5:
        destination["dataSetId"] = destination.pop("datasetId")
    if not destination["segmentPerBatch"] and rng.random() < 0.5:
        del destination["segmentPerBatch"]  # the documented default
    destination["batchId"] = "da5cfb4de32c4b93a09f7e37fa53ad52"
    destination["batches"] = [{"segmentId": "s", "batchId": "b"}]
    if isinstance(record.get("fields"), str) and rng.random() < 0.5:
        record["fields"] = record["fields"].split(",")
    record.update(
        id=job_id,
        status=rng.choice(["NEW", "PROCESSING", "SUCCEEDED", "FAILED"]),
        jobType="BATCH",
        profileInstanceId="ups",
        imsOrgId="1BD6382559DF0C130A49422D@AdobeOrg",
        requestId="IwkVcD4RupdSmX376OBVORvcvTdA4ypN",
        computeGatewayJobId={},
        metrics={"totalTime": {"startTimeInMs": 1559674261657}},
        errors=[{"code": "0090000009", "msg": "x", "callStack": "y"}],
        creationTime=1559674261657,
        updateTime=1559674261868,
    )
    return shuffled(record, rng)


@settings(max_examples=100, deadline=None)
@given(specs(), st.randoms(use_true_random=False), st.integers(1, 10**9), IDENT)
def test_normalize_request_recognises_the_live_job(
    spec: dict[str, Any], rng: random.Random, job_id: int, dataset_id: str
) -> None:
    job_doc = doc(spec)
    body = request_body(job_doc, dataset_id)
    expected = normalize_request(body)
    assert normalize_request(live_record(body, rng, job_id)) == expected
    assert normalize_request(expected) == expected  # idempotent
    other = request_body(job_doc, dataset_id + "x")
    assert normalize_request(live_record(other, rng, job_id)) != expected
    # Every change to what is sent shows through the live record's extra keys and spellings.
    for mutated in _mutations(spec):
        changed = request_body(doc(mutated), dataset_id)
        if normalize_request(changed) != expected:  # a dataset rename is not sent: skip it
            assert normalize_request(live_record(changed, rng, job_id)) != expected


def test_normalize_request_on_the_documented_response() -> None:
    sent = {
        "fields": "identities.id,personalEmail.address",
        "mergePolicy": {"id": "0bf16e61-90e9-4204-b8fa-ad250360957b", "version": 1},
        "destination": {"datasetId": "5cf6bcf79ecc7c14530fe436", "segmentPerBatch": False},
        "schema": {"name": "_xdm.context.profile"},
    }
    answer = {
        "profileInstanceId": "ups",
        "jobType": "BATCH",
        "id": 24115,
        "schema": {"name": "_xdm.context.profile"},
        "fields": "identities.id,personalEmail.address",
        "mergePolicy": {"id": "0bf16e61-90e9-4204-b8fa-ad250360957b", "version": 1},
        "status": "NEW",
        "requestId": "IwkVcD4RupdSmX376OBVORvcvTdA4ypN",
        "computeGatewayJobId": {},
        "metrics": {"totalTime": {"startTimeInMs": 1559674261657}},
        "destination": {
            "dataSetId": "5cf6bcf79ecc7c14530fe436",
            "segmentPerBatch": False,
            "batchId": "da5cfb4de32c4b93a09f7e37fa53ad52",
        },
        "updateTime": 1559674261868,
        "imsOrgId": "{ORG_ID}",
        "creationTime": 1559674261657,
    }
    assert normalize_request(answer) == normalize_request(sent) == sent


@settings(max_examples=100, deadline=None)
@given(specs(), st.randoms(use_true_random=False), IDENT, st.integers(1, 9))
def test_request_matches_allows_only_what_the_platform_fills_in(
    spec: dict[str, Any], rng: random.Random, dataset_id: str, version: int
) -> None:
    body = request_body(doc(spec), dataset_id)
    record = live_record(body, rng, 1)
    assert request_matches(body, record)
    # The platform names the merge policy (and its version) it used when the request did not.
    policy = body.get("mergePolicy", {"id": "default-policy"})
    record["mergePolicy"] = {"version": version, **policy}
    if "mergePolicy" not in body or "version" not in body["mergePolicy"]:
        assert request_matches(body, record)
    if "mergePolicy" in body:
        record["mergePolicy"] = {"id": policy["id"] + "x", "version": version}
        assert not request_matches(body, record)
    for mutated in _mutations(spec):
        changed = request_body(doc(mutated), dataset_id)
        if normalize_request(changed) == normalize_request(body):
            continue
        # A top-level key the record does not carry neither proves nor refutes.
        added = set(normalize_request(changed)) - set(normalize_request(body))
        record = live_record(body, rng, 1)
        assert request_matches(changed, record) == bool(added), mutated
        # the same answer from normal forms (what the planner compares many of)
        agree = normal_forms_agree(normalize_request(changed), normalize_request(record))
        assert agree == bool(added), mutated


def terse_record(body: dict[str, Any], job_id: int = 24001) -> dict[str, Any]:
    """A job record as the Profile guide shows it: no fields, `dataSetId`, defaults filled in."""
    record = {
        k: copy.deepcopy(v) for k, v in body.items() if k not in ("fields", "additionalFields")
    }
    destination = record["destination"]
    destination["dataSetId"] = destination.pop("datasetId")
    for segment in record.get("filter", {}).get("segments", []):
        segment.setdefault("status", ["realized", "existing"])
        segment.setdefault("segmentNs", "ups")
    record.setdefault("mergePolicy", {"id": "default-policy", "version": 3})
    record.update(id=job_id, status="NEW", creationTime=1, updateTime=2, jobType="BATCH")
    return record


TERSE_SPEC: dict[str, Any] = {
    "fields": "identities.id,personalEmail.address",
    "additionalFields": {"eventList": {"fields": ["environment.browserDetails.name"]}},
    "filter": {"segments": [{"segmentId": "seg-1"}]},
    "destination": {"datasetId": "5cf6bcf79ecc7c14530fe436"},
    "schema": {"name": "_xdm.context.profile"},
}


def test_a_terse_record_does_not_contradict_the_request_it_was_made_from() -> None:
    body = request_body(doc(TERSE_SPEC), "5cf6bcf79ecc7c14530fe436")
    record = terse_record(body)
    assert normalize_request(record) != normalize_request(body)  # equality would miss it
    assert request_matches(body, record)
    # What the record does carry still refutes.
    for key, value in (
        ("schema", {"name": "other"}),
        ("destination", {"dataSetId": "another-dataset"}),
        ("mergePolicy", {"id": "someone-elses", "version": 1}),
    ):
        assert not request_matches({**body, "mergePolicy": {"id": "mine"}}, {**record, key: value})
    other_segment = copy.deepcopy(record)
    other_segment["filter"]["segments"][0]["segmentId"] = "seg-2"
    assert not request_matches(body, other_segment)


def test_segment_status_defaults_are_not_differences_but_other_statuses_are() -> None:
    body = request_body(doc(TERSE_SPEC), "d")
    record = terse_record(body)
    record["filter"]["segments"][0]["status"] = ["existing", "realized"]  # order is not meaning
    assert request_matches(body, record)
    record["filter"]["segments"][0]["status"] = "exited"  # a plain string is a list of one
    assert not request_matches(body, record)
    exited = copy.deepcopy(TERSE_SPEC)
    exited["filter"]["segments"][0]["status"] = ["exited"]
    assert request_matches(request_body(doc(exited), "d"), record)
    record["filter"]["emptyProfiles"] = False  # the documented default
    assert request_matches(request_body(doc(exited), "d"), record)
    record["filter"]["emptyProfiles"] = True
    assert not request_matches(request_body(doc(exited), "d"), record)


def test_requests_answered_counts_the_documents_a_record_cannot_tell_apart() -> None:
    one = request_body(doc(TERSE_SPEC), "d")
    two = request_body(doc({**TERSE_SPEC, "fields": "identities.id"}), "d")
    three = request_body(doc({**TERSE_SPEC, "schema": {"name": "other"}}), "d")
    terse = terse_record(one)
    # The record carries no fields: it could answer one or two, never three.
    assert requests_answered(terse, [one, two, three]) == 2
    assert requests_answered(terse, [one, one, three]) == 1  # the same request twice is one
    full = {**terse, "fields": one["fields"]}
    assert requests_answered(full, [one, two, three]) == 1
    assert requests_answered(full, [three]) == 0
