"""Seeded segment definitions and merge policies, in every sandbox."""

from __future__ import annotations

from .helpers import Api

SEGMENTS = "/data/core/ups/segment/definitions"
POLICIES = "/data/core/ups/config/mergePolicies"


def test_segment_definitions_are_seeded_in_every_sandbox(api: Api) -> None:
    for sandbox in ("prod", "dev-2"):
        listing = api.in_sandbox(sandbox).get(SEGMENTS).json()
        ids = [s["id"] for s in listing["segments"]]
        assert {
            "52c26d0d-45f2-47a2-ab30-ed06abc981ff",
            "7a93d2ff-a220-4bae-9a4e-5f3c35032be3",
        } <= set(ids)
        assert listing["page"]["totalCount"] == len(ids) and listing["link"] == {}
        assert {s["sandbox"]["sandboxName"] for s in listing["segments"]} == {sandbox}
    one = api.get(f"{SEGMENTS}/52c26d0d-45f2-47a2-ab30-ed06abc981ff").json()
    assert one["profileInstanceId"] == "ups" and one["expression"]["type"] == "PQL"
    assert api.get(f"{SEGMENTS}/nope").status_code == 404
    paged = api.get(SEGMENTS, params={"limit": 1, "start": 1}).json()
    assert [s["id"] for s in paged["segments"]] == [ids[1]]
    assert api.get(SEGMENTS, params={"limit": "x"}).status_code == 400


def test_merge_policies_are_seeded_with_one_default(api: Api) -> None:
    listing = api.get(POLICIES).json()
    ids = {p["id"] for p in listing["children"]}
    assert {
        "timestampOrdered-none-mp",
        "e5bc94de-cd14-4cdf-a2bc-88b6e8cbfac2",
        "0bf16e61-90e9-4204-b8fa-ad250360957b",
        "7972e3d6-96ea-4ece-9627-cbfd62709c5d",
    } <= ids
    assert listing["_links"]["next"]["href"] == ""
    default = api.get(POLICIES, params={"default": "true"}).json()["children"]
    assert [p["id"] for p in default] == ["0bf16e61-90e9-4204-b8fa-ad250360957b"]
    first = api.get(POLICIES, params={"limit": 2}).json()
    assert len(first["children"]) == 2 and first["_links"]["next"]["href"].startswith(
        "@/mergePolicies?"
    )
    one = api.get(f"{POLICIES}/timestampOrdered-none-mp").json()
    assert one["attributeMerge"] == {"type": "timestampOrdered"} and one["version"] == 1
    assert api.get(f"{POLICIES}/missing").status_code == 404
    assert api.get(POLICIES, params={"orderBy": "size"}).status_code == 400
