"""Every rule of the spec language: a document that breaks it and the exact located error."""

from __future__ import annotations

from pathlib import Path

import pytest

from spec.helpers import DATASET, EXPORT_JOB, errors, load, make_project

JOB_HEAD = """\
apiVersion: reconciler/v1
kind: ExportJob
metadata: {name: daily-emails}
spec:
"""


def job(body: str) -> str:
    """An ExportJob document whose spec is `body` (indented two spaces), next to DATASET."""
    return DATASET + "---\n" + JOB_HEAD + body


CASES: dict[str, tuple[str, list[str]]] = {
    "unknown key suggests the near one": (
        job(
            "  feilds: identities.id\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:11:3: exportjob/daily-emails: spec.feilds: "
            "unknown key 'feilds'; did you mean 'fields'?"
        ],
    ),
    "unknown key lists the allowed ones": (
        DATASET + "  colour: red\n",
        [
            "specs/crm.yaml:6:3: dataset/crm-profiles: spec.colour: unknown key 'colour'; "
            "allowed keys: name, description, schemaRef, fileDescription, tags, deletionPolicy"
        ],
    ),
    "missing required key": (
        job("  destination: {dataset: crm-profiles}\n"),
        [
            "specs/crm.yaml:10:1: exportjob/daily-emails: spec.schema: required key is missing; add it"
        ],
    ),
    "dangling dataset reference with suggestion": (
        job("  destination:\n    dataset: crm-profile\n  schema: {name: _xdm.context.profile}\n"),
        [
            "specs/crm.yaml:12:14: exportjob/daily-emails: spec.destination.dataset: "
            "no Dataset named 'crm-profile'; did you mean 'crm-profiles'?"
        ],
    ),
    "dangling dataset reference without a near name": (
        job("  destination: {dataset: billing}\n  schema: {name: _xdm.context.profile}\n"),
        [
            "specs/crm.yaml:11:26: exportjob/daily-emails: spec.destination.dataset: "
            "no Dataset named 'billing'; add a Dataset document with that name, or use "
            "datasetId for a dataset this repository does not manage"
        ],
    ),
    "both dataset and datasetId": (
        job(
            "  destination:\n"
            "    dataset: crm-profiles\n"
            "    datasetId: 5b020a27e7040801dedba61b\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:12:5: exportjob/daily-emails: spec.destination: "
            "give exactly one of destination.dataset and destination.datasetId"
        ],
    ),
    "neither dataset nor datasetId": (
        job("  destination: {segmentPerBatch: false}\n  schema: {name: _xdm.context.profile}\n"),
        [
            "specs/crm.yaml:11:16: exportjob/daily-emails: spec.destination: "
            "give exactly one of destination.dataset and destination.datasetId"
        ],
    ),
    "segmentPerBatch without segments": (
        job(
            "  destination: {dataset: crm-profiles, segmentPerBatch: true}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:11:57: exportjob/daily-emails: spec.destination.segmentPerBatch: "
            "segmentPerBatch: true needs filter.segments (one batch per segment); "
            "add segments or set it to false"
        ],
    ),
    "qualification window out of order": (
        job(
            "  filter:\n"
            "    segmentQualificationTime:\n"
            "      startTime: 2018-02-01T00:00:00Z\n"
            "      endTime: '2018-01-01T00:00:00Z'\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:14:16: exportjob/daily-emails: "
            "spec.filter.segmentQualificationTime.endTime: endTime 2018-01-01T00:00:00Z is not "
            "after startTime 2018-02-01T00:00:00Z; swap them or fix the dates"
        ],
    ),
    "same segment twice": (
        job(
            "  filter:\n"
            "    segments:\n"
            "      - segmentId: 52c26d0d-45f2-47a2-ab30-ed06abc981ff\n"
            "      - segmentId: 52c26d0d-45f2-47a2-ab30-ed06abc981ff\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:14:20: exportjob/daily-emails: spec.filter.segments[1].segmentId: "
            "segment '52c26d0d-45f2-47a2-ab30-ed06abc981ff' is listed twice; remove one"
        ],
    ),
    "segment status typo": (
        job(
            "  filter:\n"
            "    segments: [{segmentId: s1, status: [realised]}]\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:12:41: exportjob/daily-emails: spec.filter.segments[0].status[0]: "
            "the string 'realised' is not allowed; use one of: realized, existing, exited; "
            "did you mean 'realized'?"
        ],
    ),
    "fields with a stray comma": (
        job(
            "  fields: identities.id,,personalEmail.address\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:11:11: exportjob/daily-emails: spec.fields: "
            "fields has an empty entry; remove the stray comma"
        ],
    ),
    "fields listing one path twice": (
        job(
            "  fields: [identities.id, identities.id]\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:11:11: exportjob/daily-emails: spec.fields: "
            "'identities.id' is listed twice; remove one"
        ],
    ),
    "timestamp without offset": (
        job(
            "  filter: {fromIngestTimestamp: 2018-01-01T00:00:00}\n"
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
        ),
        [
            "specs/crm.yaml:11:33: exportjob/daily-emails: spec.filter.fromIngestTimestamp: "
            "'2018-01-01T00:00:00' is not an RFC 3339 timestamp; write e.g. "
            "2018-10-25T13:22:04-07:00"
        ],
    ),
    "bad duration": (
        job(
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
            "  refresh: 1.5h\n"
        ),
        [
            "specs/crm.yaml:13:12: exportjob/daily-emails: spec.refresh: '1.5h' is not a "
            "duration; write a positive number and a unit, e.g. 30m, 24h, 7d"
        ],
    ),
    "onFailure typo": (
        job(
            "  destination: {dataset: crm-profiles}\n"
            "  schema: {name: _xdm.context.profile}\n"
            "  onFailure: retyr\n"
        ),
        [
            "specs/crm.yaml:13:14: exportjob/daily-emails: spec.onFailure: the string 'retyr' "
            "is not allowed; use one of: retry, report; did you mean 'retry'?"
        ],
    ),
    "bad resource name": (
        DATASET.replace("crm-profiles}", "CRM_Profiles}"),
        [
            "specs/crm.yaml:3:18: dataset/CRM_Profiles: metadata.name: 'CRM_Profiles' is not a valid name; use at most "
            "63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ],
    ),
    "label value that is not a string": (
        DATASET.replace("{name: crm-profiles}", "{name: crm-profiles, labels: {tier: 1}}"),
        [
            "specs/crm.yaml:3:47: dataset/crm-profiles: metadata.labels.tier: "
            "expected a string, found the number 1; put it in quotes"
        ],
    ),
    "wrong apiVersion": (
        DATASET.replace("reconciler/v1", "reconciler/v2"),
        [
            "specs/crm.yaml:1:13: dataset/crm-profiles: apiVersion: the string 'reconciler/v2' "
            "is not allowed; use one of: reconciler/v1; did you mean 'reconciler/v1'?"
        ],
    ),
    "unknown kind": (
        DATASET.replace("kind: Dataset", "kind: Datset"),
        ["specs/crm.yaml:2:7: kind: unknown kind 'Datset'; did you mean 'Dataset'?"],
    ),
    "missing kind": (
        DATASET.replace("kind: Dataset\n", ""),
        [
            "specs/crm.yaml:1:1: kind: missing required key 'kind'; "
            "add kind: Dataset or kind: ExportJob"
        ],
    ),
    "a list instead of a mapping": (
        job("  destination: [crm-profiles]\n  schema: {name: _xdm.context.profile}\n"),
        [
            "specs/crm.yaml:11:16: exportjob/daily-emails: spec.destination: "
            "expected a mapping, found a list"
        ],
    ),
    "boolean that is not one": (
        DATASET + "  fileDescription: {persisted: sometimes}\n",
        [
            "specs/crm.yaml:6:32: dataset/crm-profiles: spec.fileDescription.persisted: "
            "expected true or false, found the string 'sometimes'"
        ],
    ),
    "tag reserved by the tool": (
        DATASET + "  tags: {reconciler/address: [dataset/other]}\n",
        [
            "specs/crm.yaml:6:30: dataset/crm-profiles: spec.tags.reconciler/address: "
            "tag 'reconciler/address' is reserved by this tool (it marks the datasets it "
            "manages); choose another name"
        ],
    ),
    "reserved dataset tag": (
        DATASET + "  tags: {unifiedProfile: ['enabled:true']}\n",
        [
            "specs/crm.yaml:6:26: dataset/crm-profiles: spec.tags.unifiedProfile: "
            "tag 'unifiedProfile' is reserved by Adobe Experience Platform; choose another name"
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule(tmp_path: Path, case: str) -> None:
    text, expected = CASES[case]
    make_project(tmp_path, {"specs/crm.yaml": text})
    assert errors(tmp_path) == expected


def test_duplicate_names_across_files(tmp_path: Path) -> None:
    make_project(tmp_path, {"specs/a.yaml": DATASET, "specs/b/c.yml": "# again\n" + DATASET})
    assert errors(tmp_path) == [
        "specs/b/c.yml:4:18: dataset/crm-profiles: metadata.name: 'dataset/crm-profiles' is "
        "already defined at specs/a.yaml:1:1; rename one of them"
    ]


def test_same_name_in_two_kinds_is_fine(tmp_path: Path) -> None:
    same = EXPORT_JOB.replace("daily-emails", "crm-profiles")
    make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n" + same})
    specs = load(tmp_path)
    assert set(specs.locations) == {"dataset/crm-profiles", "exportjob/crm-profiles"}


def test_two_datasets_with_one_catalog_name(tmp_path: Path) -> None:
    other = DATASET.replace("{name: crm-profiles}", "{name: crm-copy}")
    make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n" + other})
    assert errors(tmp_path) == [
        "specs/a.yaml:11:9: dataset/crm-copy: spec.name: dataset/crm-profiles already uses the "
        "dataset name 'CRM profile export'; give each Dataset its own name"
    ]


def test_several_errors_sorted_by_file_and_line(tmp_path: Path) -> None:
    bad_job = EXPORT_JOB.replace("fields:", "feilds:")
    make_project(
        tmp_path,
        {
            "specs/b.yaml": bad_job + "---\n" + DATASET.replace("kind: Dataset", "kind: X"),
            "specs/a.yaml": DATASET + "  colour: red\n",
        },
    )
    lines = errors(tmp_path)
    assert [line.split(": ")[0] for line in lines] == [
        "specs/a.yaml:6:3",
        "specs/b.yaml:5:3",
        "specs/b.yaml:10:7",
    ]


def test_invalid_dataset_does_not_add_a_dangling_reference(tmp_path: Path) -> None:
    broken = DATASET + "  colour: red\n"
    make_project(tmp_path, {"specs/a.yaml": broken + "---\n" + EXPORT_JOB})
    assert len(errors(tmp_path)) == 1


def test_valid_project_loads_with_defaults(tmp_path: Path) -> None:
    make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n---\n" + EXPORT_JOB + "---\n"})
    specs = load(tmp_path)
    dataset = specs.datasets["crm-profiles"]
    assert dataset.spec.schemaRef.id == "https://ns.adobe.com/xdm/context/profile__union"
    assert dataset.spec.deletionPolicy == "Orphan"
    job_doc = specs.export_jobs["daily-emails"]
    assert job_doc.spec.fields == ("identities.id", "personalEmail.address")
    assert job_doc.spec.destination.segmentPerBatch is False
    assert job_doc.spec.onFailure == "retry"
    assert specs.by_address("exportjob/daily-emails") is job_doc
    assert specs.by_address("dataset/nope") is None
    assert str(specs.locations["exportjob/daily-emails"]) == "specs/a.yaml:8:1"


def test_unquoted_yaml_timestamp_keeps_its_offset(tmp_path: Path) -> None:
    body = EXPORT_JOB.replace(
        "  destination:",
        "  filter: {fromIngestTimestamp: 2018-10-25T13:22:04-07:00}\n  destination:",
    )
    make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n" + body})
    job_doc = load(tmp_path).export_jobs["daily-emails"]
    assert job_doc.spec.filter is not None
    stamp = job_doc.spec.filter.fromIngestTimestamp
    assert stamp is not None and stamp.isoformat() == "2018-10-25T13:22:04-07:00"


def test_merge_keys_and_anchors_are_plain_yaml(tmp_path: Path) -> None:
    segments = (
        "  filter:\n"
        "    segments:\n"
        "      - &base {segmentId: a, segmentNs: ups, status: [realized]}\n"
        "      - {<<: *base, segmentId: b}\n"
    )
    make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n" + EXPORT_JOB + segments})
    job_doc = load(tmp_path).export_jobs["daily-emails"]
    assert job_doc.spec.filter is not None and job_doc.spec.filter.segments is not None
    second = job_doc.spec.filter.segments[1]
    assert (second.segmentId, second.segmentNs, second.status) == ("b", "ups", ["realized"])


def test_digest_changes_with_any_document(tmp_path: Path) -> None:
    make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n" + EXPORT_JOB})
    before = load(tmp_path).digest
    make_project(tmp_path, {"specs/a.yaml": "# a comment\n" + DATASET + "---\n" + EXPORT_JOB})
    assert load(tmp_path).digest == before
    labelled = DATASET.replace("{name: crm-profiles}", "{name: crm-profiles, labels: {a: b}}")
    make_project(tmp_path, {"specs/a.yaml": labelled + "---\n" + EXPORT_JOB})
    assert load(tmp_path).digest != before
