"""Catalog datasets and their list parameters, changes, validation and sandbox isolation."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import DATASETS, UNION, Api


def test_create_answers_201_with_a_reference_and_the_dataset_reads_back(api: Api) -> None:
    answer = api.post(DATASETS, json={"name": "Profile Data Export", "schemaRef": UNION})
    assert answer.status_code == 201
    (ref,) = answer.json()
    dataset_id = ref.removeprefix("@/dataSets/")
    assert len(dataset_id) == 24 and int(dataset_id, 16) >= 0
    got = api.get(f"{DATASETS}/{dataset_id}")
    assert got.status_code == 200 and got.headers["E-Tag"] == '"1.0.0"'
    record = got.json()[dataset_id]
    assert record["name"] == "Profile Data Export" and record["schemaRef"] == UNION
    assert record["fileDescription"]["format"] == "parquet"
    assert record["imsOrg"] == api.org and record["version"] == "1.0.0"
    assert isinstance(record["created"], int) and record["tags"] == {}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"schemaRef": UNION}, "name"),
        ({"name": "", "schemaRef": UNION}, "name"),
        ({"name": "x"}, "schemaRef"),
        ({"name": "x", "schemaRef": {"id": "https://ns.adobe.com/x"}}, "schemaRef.contentType"),
        ({"name": "x", "schemaRef": UNION, "tags": {"a": "b"}}, "tags"),
        ({"name": "x", "schemaRef": UNION, "fileDescription": {"persisted": "yes"}}, "persisted"),
        ({"name": "x", "schemaRef": UNION, "id": "abc"}, "Read-only"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_invalid_dataset_bodies_are_400_with_the_field(
    api: Api, body: object, fragment: str
) -> None:
    answer = api.post(DATASETS, json=body)
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["status"] == 400 and fragment in problem["detail"]
    assert problem["type"].startswith("http://ns.adobe.com/aep/errors/")


def test_missing_content_type_gets_the_documented_answer(api: Api) -> None:
    answer = api.post(DATASETS, data=b'{"name": "x"}', headers={"Content-Type": "text/plain"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == "A valid content-type must be specified"


def test_malformed_json_is_a_400(api: Api) -> None:
    answer = api.post(DATASETS, data=b'{"name": ', headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and "not valid JSON" in answer.json()["detail"]


def test_list_is_keyed_by_id_with_limit_start_properties_and_order(api: Api) -> None:
    ids = [api.create_dataset(f"ds-{n}") for n in (3, 1, 2)]
    listing = api.get(DATASETS).json()
    assert list(listing) == ids
    assert api.get(DATASETS, params={"limit": 2}).json().keys() == set(ids[:2])
    assert list(api.get(DATASETS, params={"start": 1, "limit": 1}).json()) == [ids[1]]
    only_names = api.get(DATASETS, params={"properties": "name"}).json()
    assert only_names[ids[0]] == {"name": "ds-3"}
    ordered = api.get(DATASETS, params={"orderBy": "desc:name"}).json()
    assert [v["name"] for v in ordered.values()] == ["ds-3", "ds-2", "ds-1"]


@pytest.mark.parametrize("limit", ["0", "101", "ten", "-1"])
def test_limit_out_of_range_is_a_400(api: Api, limit: str) -> None:
    answer = api.get(DATASETS, params={"limit": limit})
    assert answer.status_code == 400 and "limit" in answer.json()["detail"]


def test_the_default_page_is_20(api: Api) -> None:
    for n in range(22):
        api.create_dataset(f"bulk-{n}")
    assert len(api.get(DATASETS).json()) == 20


def test_filters_by_property(api: Api) -> None:
    a = api.create_dataset("sales export", description="daily", tags={"team": ["crm"]})
    b = api.create_dataset("marketing export", tags={"team": ["growth"], "tier": ["gold"]})
    c = api.create_dataset("sales archive")

    def ids(**params: str) -> set[str]:
        answer = api.get(DATASETS, params=params)
        assert answer.status_code == 200, answer.text
        return set(answer.json())

    assert ids(name="sales export") == {a}
    assert ids(name="sales*") == {a, c}
    assert ids(name="!sales export") == {b, c}
    assert ids(name="sales export,marketing export") == {a, b}
    assert ids(property="description") == {a}
    assert ids(property="!description") == {b, c}
    assert ids(property="name~^sales") == {a, c}
    assert ids(property="name==sales archive") == {c}
    assert ids(tags="team:crm") == {a}
    assert ids(tags="tier:*") == {b}
    assert ids(tags="team:*,tier:gold") == {b}
    assert api.get(DATASETS, params={"property": "name~("}).status_code == 400


def test_merge_patch_renames_and_bumps_the_version(api: Api) -> None:
    dataset_id = api.create_dataset("old")
    answer = api.patch(f"{DATASETS}/{dataset_id}", json={"name": "new", "description": "d"})
    assert answer.status_code == 200 and answer.json() == [f"@/dataSets/{dataset_id}"]
    record = api.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]
    assert record["name"] == "new" and record["description"] == "d" and record["version"] == "1.0.1"
    assert record["schemaRef"] == UNION


def test_json_patch_adds_and_removes(api: Api) -> None:
    dataset_id = api.create_dataset("p", description="gone soon")
    ops = [
        {"op": "replace", "path": "/name", "value": "q"},
        {"op": "remove", "path": "/description"},
    ]
    answer = api.patch(
        f"{DATASETS}/{dataset_id}",
        data=json.dumps(ops),
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert answer.status_code == 200, answer.text
    record = api.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]
    assert record["name"] == "q" and "description" not in record


def test_schema_cannot_change_in_place(api: Api) -> None:
    dataset_id = api.create_dataset()
    other = {**UNION, "id": "https://ns.adobe.com/tenant/schemas/other"}
    answer = api.patch(f"{DATASETS}/{dataset_id}", json={"schemaRef": other})
    assert answer.status_code == 400 and "schemaRef" in answer.json()["detail"]


def test_if_match_guards_against_lost_updates(api: Api) -> None:
    dataset_id = api.create_dataset()
    stale = api.get(f"{DATASETS}/{dataset_id}").headers["E-Tag"]
    api.patch(f"{DATASETS}/{dataset_id}", json={"name": "first"})
    answer = api.patch(
        f"{DATASETS}/{dataset_id}", json={"name": "second"}, headers={"If-Match": stale}
    )
    assert answer.status_code == 412


def test_delete_answers_the_reference_then_404(api: Api) -> None:
    dataset_id = api.create_dataset()
    answer = api.delete(f"{DATASETS}/{dataset_id}")
    assert answer.status_code == 200 and answer.json() == [f"@/dataSets/{dataset_id}"]
    assert api.get(f"{DATASETS}/{dataset_id}").status_code == 404
    assert api.delete(f"{DATASETS}/{dataset_id}").status_code == 404
    assert api.patch(f"{DATASETS}/{dataset_id}", json={"name": "x"}).status_code == 404


def test_several_ids_in_one_lookup(api: Api) -> None:
    a, b = api.create_dataset("a"), api.create_dataset("b")
    both = api.get(f"{DATASETS}/{a},{b}", params={"properties": "name"}).json()
    assert both == {a: {"name": "a"}, b: {"name": "b"}}


def test_sandboxes_are_isolated(api: Api) -> None:
    dev = api.in_sandbox("dev-1")
    in_prod = api.create_dataset("prod only")
    in_dev = dev.create_dataset("dev only")
    assert set(api.get(DATASETS).json()) == {in_prod}
    assert set(dev.get(DATASETS).json()) == {in_dev}
    assert dev.get(f"{DATASETS}/{in_prod}").status_code == 404
    assert dev.delete(f"{DATASETS}/{in_prod}").status_code == 404
    assert api.get(f"{DATASETS}/{in_prod}").status_code == 200


def test_ui_changes_through_the_admin_endpoints(api: Api) -> None:
    seeded = "5b020a27e7040801dedba61b"
    made = api.admin("POST", "/dataSets", {"id": seeded, "name": "from the UI", "schemaRef": UNION})
    assert made.status_code == 201 and made.json() == [f"@/dataSets/{seeded}"]
    assert (
        api.admin(
            "POST", "/dataSets", {"id": seeded, "name": "again", "schemaRef": UNION}
        ).status_code
        == 409
    )
    assert api.admin("PATCH", f"/dataSets/{seeded}", {"name": "renamed"}).status_code == 200
    assert api.get(f"{DATASETS}/{seeded}").json()[seeded]["name"] == "renamed"
    assert api.admin("DELETE", f"/dataSets/{seeded}").status_code == 200
    assert api.get(f"{DATASETS}/{seeded}").status_code == 404


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(count=st.integers(0, 12), limit=st.integers(1, 5))
def test_paging_with_start_and_limit_visits_every_dataset_once(
    api: Api, count: int, limit: int
) -> None:
    sandbox = api.in_sandbox(f"page-{count}-{limit}")
    existing = list(sandbox.get(DATASETS, params={"limit": 100}).json())
    made = existing + [sandbox.create_dataset(f"n{i}") for i in range(count)]
    seen: list[str] = []
    start = 0
    while True:
        page = sandbox.get(DATASETS, params={"start": start, "limit": limit}).json()
        seen.extend(page)
        if len(page) < limit:
            break
        start += limit
    assert seen == made


@pytest.mark.parametrize(
    "raw",
    [b'{"name": NaN}', b'{"name": Infinity}', b"[" * 50_000 + b"]" * 50_000, b"\xff\xfe"],
)
def test_bodies_that_are_not_json_are_400(api: Api, raw: bytes) -> None:
    answer = api.post(DATASETS, data=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["status"] == 400
    clock = api.admin("GET", "/clock").json()
    bad_clock = api.session.post(
        f"{api.base_url}/_emulator/clock",
        data=b'{"advance_seconds": NaN}',
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert bad_clock.status_code == 400 and api.admin("GET", "/clock").json() == clock


def test_malformed_filters_are_400_even_with_nothing_to_list(api: Api) -> None:
    for params in (
        {"property": "name~("},
        {"tags": "no-colon"},
        {"createdAfter": "yesterday"},
        {"orderBy": "sideways:name"},
        {"property": "!name~x"},
    ):
        answer = api.get(DATASETS, params=params)
        assert answer.status_code == 400, params
        assert api.get("/data/foundation/catalog/batches", params=params).status_code == 400
