"""Rendered audits: golden files in every format (regenerate with UPDATE_GOLDEN=1, review the diff)."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.render.audit import AUDIT_COLUMNS, AuditEntry, format_age, render_audit

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def sample() -> list[AuditEntry]:
    return [
        AuditEntry(
            "dataset",
            "5b020a27e7040801dedba61b",
            "present",
            "dataset/crm-profiles",
            "5b020a27e7040801dedba61b",
            (),
            None,
            None,
            NOW - timedelta(days=9),
            "CRM profile export",
            (("owner", "marketing-ops"), ("team", "crm")),
        ),
        AuditEntry(
            "dataset",
            "5cf6bcf79ecc7c14530fe436",
            "present",
            None,
            "5cf6bcf79ecc7c14530fe436",
            (),
            None,
            None,
            NOW - timedelta(days=30),
            "Made | in the UI",
        ),
        AuditEntry(
            "exportjob",
            "24117",
            "PROCESSING",
            None,
            "5cf6bcf79ecc7c14530fe436",
            (),
            None,
            None,
            NOW - timedelta(minutes=4),
        ),
        AuditEntry(
            "exportjob",
            "24116",
            "SUCCEEDED",
            "exportjob/daily-emails",
            "5b020a27e7040801dedba61b",
            ("da5cfb4de32c4b93a09f7e37fa53ad52",),
            "ab" * 32,
            "rerun: refresh due",
            NOW - timedelta(hours=3),
            labels=(("team", "crm"),),
            newest=True,
            records=1250,
            commit="0123abcd" * 5,
            actor="octo-engineer",
            ciRun="https://github.com/data/specs/actions/runs/4242",
            toolVersion="0.1.0",
        ),
        AuditEntry(
            "exportjob",
            "24115",
            "FAILED",
            "exportjob/daily-emails",
            "5b020a27e7040801dedba61b",
            (),
            "ab" * 32,
            "create",
            NOW - timedelta(days=1, hours=3),
            labels=(("team", "crm"),),
        ),
        AuditEntry(
            "exportjob",
            "722",
            "not on platform",
            "exportjob/newsletter-audience",
            "5b020a27e7040801dedba61b",
            ("b1", "b2"),
            "cd" * 32,
            "create",
            NOW - timedelta(days=400),
            newest=True,
            records=None,
        ),
        AuditEntry(
            "exportjob",
            "640",
            "SUCCEEDED",
            "exportjob/spring-campaign",
            "5b020a27e7040801dedba61b",
            ("c3",),
            "ef" * 32,
            "create",
            NOW - timedelta(days=500),
            records=77,
            retired=True,
        ),
    ]


CASES = {"audit.txt": "text", "audit.md": "markdown", "audit.json": "json", "audit.csv": "csv"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str) -> None:
    text = render_audit(sample(), CASES[name], NOW)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def test_json_and_csv_carry_every_column() -> None:
    objects = json.loads(render_audit(sample(), "json", NOW))["objects"]
    assert all(set(o) == set(AUDIT_COLUMNS) for o in objects)
    rows = list(csv.DictReader(io.StringIO(render_audit(sample(), "csv", NOW))))
    assert len(rows) == len(objects)
    assert rows[3]["labels"] == "team=crm" and rows[3]["records"] == "1250"
    assert rows[5]["batches"] == "b1;b2"
    assert rows[3]["actor"] == "octo-engineer" and rows[3]["commit"] == "0123abcd" * 5
    assert objects[3]["ciRun"] == "https://github.com/data/specs/actions/runs/4242"
    assert objects[3]["toolVersion"] == "0.1.0" and objects[0]["actor"] is None


def test_text_says_who_started_a_run() -> None:
    text = render_audit(sample(), "text", NOW, width=None)
    assert "octo-engineer at 0123abc" in text.splitlines()[4]


def test_empty_audit() -> None:
    assert render_audit([], "text", NOW).startswith("0 objects")
    assert json.loads(render_audit([], "json", NOW))["objects"] == []
    assert render_audit([], "csv", NOW).strip() == ",".join(AUDIT_COLUMNS)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (-5, "0s"), (59, "59s"), (60, "1m"), (3599, "59m"), (7200, "2h"), (90000, "1d")],
)
def test_format_age(seconds: float | None, text: str) -> None:
    assert format_age(seconds) == text


def test_summary_counts_are_singular_for_one() -> None:
    one_job = [e for e in sample() if e.type == "exportjob"][:1]
    first = render_audit(one_job, "text", NOW)
    assert "1 object (0 datasets, 1 export job): " in first
