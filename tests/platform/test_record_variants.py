"""Every documented variant of an export job record parses (pure helpers on the documents' JSON).

Variants from ../shared/reference/api-variability.md: `batches` one object (SEG seed) or a list
(SEG current, OAS); an entry's `status` a list (`["realized"]`) or a plain string (`"exited"`);
`dataSetId` (PROF single-job answers) or `datasetId` (lists, SEG); no `fields`/`additionalFields`
(PROF); statuses beyond the OAS enum kept; `CANCELLED` and `CANCELED` both terminal.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.platform import UnreadableRecord, canonical_job_status, job_status_is_terminal
from reconciler.platform.models import CatalogDataset, ExportJobRecord
from reconciler.platform.paging import older_than

FIXTURES = Path(__file__).parent / "fixtures"
PROF_GET = json.loads((FIXTURES / "job_get_response.json").read_text())
SEG_RECORD = json.loads((FIXTURES / "reference_examples.json").read_text())[
    "segmentation_job_record"
]


def seg_current(batches: Any) -> dict[str, Any]:
    """The SEG record with `destination.batches` as the current guide and the OAS show it."""
    record: dict[str, Any] = copy.deepcopy(SEG_RECORD)
    record["destination"]["segmentPerBatch"] = True
    record["destination"]["batches"] = batches
    return record


def test_batches_as_one_object_and_as_a_list_read_the_same() -> None:
    entry = {
        "segmentId": "52c26d0d-45f2-47a2-ab30-ed06abc981ff",
        "segmentNs": "ups",
        "status": ["realized"],
        "batchId": "da5cfb4de32c4b93a09f7e37fa53ad52",
    }
    one = ExportJobRecord.model_validate(seg_current(entry))
    listed = ExportJobRecord.model_validate(seg_current([entry]))
    assert one.destination.batches == listed.destination.batches
    assert [b.status for b in one.destination.batches] == [["realized"]]


def test_a_batch_status_may_be_a_list_or_a_plain_string() -> None:
    job = ExportJobRecord.model_validate(
        seg_current(
            [
                {"segmentId": "a", "segmentNs": "ups", "status": ["realized"], "batchId": "b1"},
                {"segmentId": "b", "segmentNs": "ups", "status": "exited", "batchId": "b2"},
                {"segmentId": "c", "segmentNs": "ups", "status": ["realized", "existing"]},
                {"segmentId": "d", "segmentNs": "ups"},
            ]
        )
    )
    assert [b.status for b in job.destination.batches] == [
        ["realized"],
        ["exited"],
        ["realized", "existing"],
        [],
    ]
    assert job.batch_ids == ["da5cfb4de32c4b93a09f7e37fa53ad52", "b1", "b2"]


@pytest.mark.parametrize("spelling", ["dataSetId", "datasetId"])
def test_either_spelling_of_the_dataset_id(spelling: str) -> None:
    record = copy.deepcopy(PROF_GET)
    destination = record["destination"]
    value = destination.pop("dataSetId", None) or destination.pop("datasetId")
    destination[spelling] = value
    job = ExportJobRecord.model_validate(record)
    assert job.destination.datasetId == value
    assert job.raw()["destination"] == destination  # the record as received


def test_a_profile_guide_record_without_fields_reads() -> None:
    record = copy.deepcopy(PROF_GET)
    record.pop("fields", None)
    record.pop("additionalFields", None)
    job = ExportJobRecord.model_validate(record)
    assert job.fields is None and job.additionalFields is None
    assert job.mergePolicy is not None


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("NEW", False),
        ("PROCESSING", False),
        ("SUCCEEDED", True),
        ("FAILED", True),
        ("CANCELLED", True),
        ("CANCELED", True),
        ("canceled", True),
        ("QUEUED", False),  # beyond the OAS enum: kept, in flight
    ],
)
def test_statuses_and_which_are_terminal(status: str, terminal: bool) -> None:
    job = ExportJobRecord.model_validate({**PROF_GET, "status": status})
    assert job.status == status  # kept as sent
    assert job.is_terminal is terminal
    assert job_status_is_terminal(status) is terminal
    assert job.is_cancelled is (status.upper() in ("CANCELLED", "CANCELED"))


def test_both_cancel_spellings_have_one_canonical_form() -> None:
    assert canonical_job_status("CANCELED") == canonical_job_status("cancelled") == "CANCELLED"
    assert canonical_job_status("succeeded") == "SUCCEEDED"
    assert canonical_job_status("SOMETHING_NEW") == "SOMETHING_NEW"


def test_an_unreadable_record_is_a_plain_value() -> None:
    found = UnreadableRecord(24004, "ExportJobRecord.status: Input should be a valid string")
    assert found == UnreadableRecord(id=24004, reason=found.reason)
    assert UnreadableRecord(None, "not an object").id is None
    with pytest.raises(AttributeError):
        found.id = 1  # type: ignore[misc]


def test_a_realistic_catalog_dataset_with_classification_and_platform_tags() -> None:
    dataset = CatalogDataset.model_validate(
        {
            "id": "5c8c3c555033b814b69f947f",
            "name": None,
            "classification": {"dataBehavior": "record", "managedBy": "CUSTOMER"},
            "tags": {"adobe/pqs/table": "profile_export", "unifiedProfile": ["enabled:false"]},
        }
    )
    assert dataset.name == ""
    assert dataset.classification == {"dataBehavior": "record", "managedBy": "CUSTOMER"}
    assert dataset.tags["adobe/pqs/table"] == ["profile_export"]


@pytest.mark.parametrize(
    ("created", "older"),
    [(999, True), (1000, False), ("999", True), (" 1001 ", False), ("soon", False), (None, False)],
)
def test_the_early_stop_reads_creation_times_as_the_model_does(created: Any, older: bool) -> None:
    assert older_than(created, 1000) is older
    assert older_than(created, None) is False
