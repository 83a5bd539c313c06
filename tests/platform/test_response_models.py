"""The tolerant response models, read from the seeds' and reference documents' examples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.platform.models import (
    BatchFile,
    CatalogBatch,
    CatalogDataset,
    ExportJobRecord,
    MergePolicy,
    SegmentDefinition,
)
from reconciler.platform.paging import catalog_entries, id_from_ref

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


REF = load("reference_examples.json")
KNOWN_FIELDS = {*ExportJobRecord.model_fields, "schema", "imsOrgId", "computeGatewayJobId"}


def test_profile_guide_create_answer_reads_dataSetId_and_keeps_raw() -> None:
    raw = load("job_create_response.json")
    job = ExportJobRecord.model_validate(raw)
    assert job.id == 24115
    assert job.status == "NEW"
    assert not job.is_terminal
    assert job.destination.datasetId == "5cf6bcf79ecc7c14530fe436"  # sent as dataSetId
    assert job.destination.segmentPerBatch is False
    assert job.batch_ids == ["da5cfb4de32c4b93a09f7e37fa53ad52"]
    assert job.schema_ == {"name": "_xdm.context.profile"}
    assert job.raw() == raw
    assert job.raw() is not job.raw()  # a copy every time
    assert job.model_extra is not None and job.model_extra["imsOrgId"] == "{ORG_ID}"


def test_profile_guide_list_answer_has_a_failed_job_with_errors() -> None:
    body = load("job_list_response.json")
    jobs = [ExportJobRecord.model_validate(r) for r in body["records"]]
    assert [j.id for j in jobs] == [726, 722]
    assert [j.status for j in jobs] == ["SUCCEEDED", "FAILED"]
    assert all(j.is_terminal for j in jobs)
    failed = jobs[1]
    assert [e.code for e in failed.errors] == ["0090000009", "unknown"]
    assert failed.errors[1].msg == "Job aborted."
    assert failed.batch_ids == []  # the guide's empty batchId is no batch
    assert failed.filter == {"segments": [{"segmentId": "7a93d2ff-a220-4bae-9a4e-5f3c35032be3"}]}


def test_segmentation_record_reads_a_single_batches_object_as_a_list() -> None:
    job = ExportJobRecord.model_validate(REF["segmentation_job_record"])
    assert len(job.destination.batches) == 1
    batch = job.destination.batches[0]
    assert batch.segmentId == "52c26d0d-45f2-47a2-ab30-ed06abc981ff"
    assert batch.status == ["realized"]
    assert job.batch_ids == ["da5cfb4de32c4b93a09f7e37fa53ad52"]
    assert job.fields == "identities.id,personalEmail.address"
    assert job.mergePolicy == {"id": "timestampOrdered-none-mp", "version": 1}


def test_unknown_status_and_fields_are_kept_and_numbers_read_as_strings() -> None:
    raw = {
        "id": "7",
        "status": "QUEUED_FOR_SOMETHING_NEW",
        "creationTime": 1,
        "brandNewField": {"x": 1},
        "errors": {"code": 42, "msg": "one object, numeric code"},
        "fields": ["a.b", "c"],
    }
    job = ExportJobRecord.model_validate(raw)
    assert job.id == 7
    assert job.status == "QUEUED_FOR_SOMETHING_NEW" and not job.is_terminal
    assert job.errors[0].code == "42"
    assert job.fields == "a.b,c"
    assert job.model_extra == {"brandNewField": {"x": 1}}


@given(
    extra=st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in KNOWN_FIELDS),
        st.recursive(st.none() | st.booleans() | st.integers() | st.text(), st.lists, max_leaves=5),
        max_size=5,
    ),
    status=st.text(min_size=1),
)
def test_any_added_field_or_status_never_breaks_parsing(extra: dict[str, Any], status: str) -> None:
    raw = {**load("job_get_response.json"), **extra, "status": status}
    job = ExportJobRecord.model_validate(raw)
    assert job.status == status
    assert job.raw() == raw


def test_dataset_lookup_and_list_are_keyed_by_id() -> None:
    [(dataset_id, obj)] = catalog_entries(REF["dataset_lookup_response"])
    dataset = CatalogDataset.model_validate({**obj, "id": dataset_id})
    assert dataset.id == "5ba9452f7de80400007fc52a"
    assert dataset.tags == {"adobe/pqs/table": ["sample_dataset"]}
    assert dataset.model_extra is not None and dataset.model_extra["state"] == "DRAFT"
    listed = [
        CatalogDataset.model_validate({**o, "id": i})
        for i, o in catalog_entries(REF["dataset_list_response"])
    ]
    assert [(d.id, d.name) for d in listed] == [
        ("5ba9452f7de80400007fc52a", "DS 1"),
        ("5bceaa4c26c115000039b24b", "DS 3"),
    ]


def test_full_dataset_record() -> None:
    dataset = CatalogDataset.model_validate({**REF["dataset_record"], "id": "x"})
    assert dataset.version == "1.0.0"
    assert dataset.created == 1536536917382 and dataset.updated == 1539793978215
    assert dataset.tags["unifiedProfile"] == ["enabled:false"]


def test_a_single_string_tag_value_becomes_a_list() -> None:
    dataset = CatalogDataset.model_validate({"id": "x", "tags": {"team": "crm"}})
    assert dataset.tags == {"team": ["crm"]}


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        (["@/datasets/5b020a27e7040801dedba61b"], "5b020a27e7040801dedba61b"),
        (["@/dataSets/5c8c3c555033b814b69f947f"], "5c8c3c555033b814b69f947f"),
        ("@/dataSets/abc/", "abc"),
        ([], None),
        (["a", "b"], None),
        ({"id": "x"}, None),
    ],
)
def test_dataset_id_from_create_reference(ref: Any, expected: str | None) -> None:
    assert id_from_ref(ref) == expected


def test_batches_and_their_record_count() -> None:
    [(batch_id, obj)] = catalog_entries(REF["batch_lookup_response"])
    staging = CatalogBatch.model_validate({**obj, "id": batch_id})
    assert staging.status == "staging" and staging.record_count is None
    done = CatalogBatch.model_validate({**REF["batch_list_entry"], "id": "b"})
    assert done.record_count == 2
    assert done.relatedObjects[0] == {"id": "5b7c86968f7b6501e21ba9df", "type": "dataSet"}
    ingested = CatalogBatch.model_validate({"id": "c", "metrics": {"outputRecordSize": 5}})
    assert ingested.record_count == 5


def test_batch_files_merge_policy_and_segment_definitions() -> None:
    [entry] = [BatchFile.model_validate(e) for e in REF["batch_files_response"]["data"]]
    assert entry.dataSetFileId == "8dcedb36-1cb2-4496-9a38-7b2041114b56-1"
    assert entry.links["self"]["href"].endswith(entry.dataSetFileId)
    policy = MergePolicy.model_validate(REF["merge_policy"])
    assert policy.default is True and policy.version == 1
    assert policy.schema_ == {"name": "_xdm.context.profile"}
    [segment] = [
        SegmentDefinition.model_validate(s) for s in REF["segment_definitions_response"]["segments"]
    ]
    assert segment.mergePolicyId == "b83185bb-0bc6-489c-9363-0075eb30b4c8"
    assert segment.creationTime == 1573253640000
