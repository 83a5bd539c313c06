"""`maxProfiles` on an ExportJob document: a policy key (an int >= 1), never part of the request
or the fingerprint, in the JSON Schema, and refused with a located error when malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.spec.canonical import canonical_request, fingerprint
from reconciler.spec.schema import json_schema
from tests.spec.helpers import DATASET, EXPORT_JOB, errors, load, make_project


def project(tmp_path: Path, extra: str) -> Path:
    return make_project(tmp_path, {"specs/a.yaml": DATASET + "---\n" + EXPORT_JOB + extra})


def test_max_profiles_is_policy_not_request(tmp_path: Path) -> None:
    plain = load(project(tmp_path / "a", "")).export_jobs["daily-emails"]
    capped = load(project(tmp_path / "b", "  maxProfiles: 5000\n")).export_jobs["daily-emails"]
    assert capped.spec.maxProfiles == 5000 and plain.spec.maxProfiles is None
    assert "maxProfiles" not in canonical_request(capped)
    assert fingerprint(capped) == fingerprint(plain)


@pytest.mark.parametrize("value", ["0", "-3", '"5000"', "1.5", "true", "[1]"])
def test_a_bad_max_profiles_is_one_located_error(tmp_path: Path, value: str) -> None:
    found = errors(project(tmp_path, f"  maxProfiles: {value}\n"))
    assert len(found) == 1, found
    assert found[0].startswith("specs/a.yaml:") and "spec.maxProfiles" in found[0]
    assert "\n" not in found[0]


def test_the_schema_documents_max_profiles() -> None:
    spec = json_schema()["$defs"]["ExportJobSpec"]["properties"]["maxProfiles"]
    number = next(s for s in spec["anyOf"] if s.get("type") == "integer")
    assert number["minimum"] == 1 and "allow-large" in number["description"]
