"""catalog: realistic: classification, platform tags, system datasets, listing order."""

from __future__ import annotations

from .helpers import DATASETS, Api


def _realistic(api: Api) -> None:
    api.admin("POST", "/behaviour", {"catalog": "realistic"}).raise_for_status()


def test_a_plain_catalog_lists_only_what_was_created_in_creation_order(api: Api) -> None:
    ids = [api.create_dataset(f"d{i}") for i in range(6)]
    listed = api.get(DATASETS).json()
    assert list(listed) == ids
    assert all("classification" not in r for r in listed.values())


def test_created_datasets_carry_classification_and_platform_tags(api: Api) -> None:
    _realistic(api)
    dataset_id = api.create_dataset("Profile Data Export", tags={"team": ["growth"]})
    record = api.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]
    assert record["classification"] == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert record["tags"]["adobe/pqs/table"] == ["profile_data_export"]
    assert record["tags"]["unifiedProfile"] == ["enabled:false"]
    assert record["tags"]["team"] == ["growth"]
    events = api.post(
        DATASETS,
        json={
            "name": "Events",
            "schemaRef": {
                "id": "https://ns.adobe.com/xdm/context/experienceevent",
                "contentType": "application/vnd.adobe.xed+json;version=1",
            },
        },
    ).json()[0]
    event_id = events.rsplit("/", 1)[1]
    event_record = api.get(f"{DATASETS}/{event_id}").json()[event_id]
    assert event_record["classification"]["dataBehavior"] == "time-series"


def test_a_patch_of_tags_keeps_the_platform_tags(api: Api) -> None:
    _realistic(api)
    dataset_id = api.create_dataset("x", tags={"team": ["growth"]})
    answer = api.patch(f"{DATASETS}/{dataset_id}", json={"tags": {"team": ["retention"]}})
    assert answer.status_code == 200, answer.text
    tags = api.get(f"{DATASETS}/{dataset_id}").json()[dataset_id]["tags"]
    assert tags["team"] == ["retention"] and tags["adobe/pqs/table"] == ["x"]


def test_each_sandbox_holds_system_datasets(api: Api) -> None:
    _realistic(api)
    for sandbox in ("prod", "dev"):
        listed = api.in_sandbox(sandbox).get(DATASETS).json()
        system = [r for r in listed.values() if r["classification"]["managedBy"] == "SYSTEM"]
        assert len(system) == 2, listed
        assert all(r["name"].endswith(f" - {sandbox}") for r in system)
        assert all("adobe/pqs/table" in r["tags"] for r in system)
    # Listing again creates nothing more.
    assert len(api.get(DATASETS).json()) == 2


def test_the_default_order_is_not_creation_order_but_order_by_is_honoured(api: Api) -> None:
    _realistic(api)
    ids = []
    for i in range(8):
        ids.append(api.create_dataset(f"d{i}"))
        api.advance(1)
    listed = list(api.get(f"{DATASETS}?limit=100").json())
    assert set(ids) <= set(listed)
    ours = [i for i in listed if i in ids]
    assert ours == sorted(ids)  # by id: random ids, so not the order they were made in
    by_created = list(api.get(f"{DATASETS}?limit=100&orderBy=asc:created").json())
    assert [i for i in by_created if i in ids] == ids
    by_name = api.get(f"{DATASETS}?limit=100&orderBy=desc:name&property=name~^d").json()
    assert [r["name"] for r in by_name.values()] == [f"d{i}" for i in reversed(range(8))]
