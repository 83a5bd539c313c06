"""`reconciler report`'s data over the emulator (real HTTP), its command line and its errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from engine_harness import Project

from reconciler.engine.audit import audit_entries
from reconciler.engine.connect import LOCAL_ENDPOINT_ENV
from reconciler.engine.model import DriftFinding
from reconciler.engine.workflow import Console, settings_for
from reconciler.platform import CatalogDataset, ExportJobRecord
from reconciler.report.data import ReportData, build_report, gather
from reconciler.report.html import render_report
from reconciler.state import DatasetResource, ExportJobResource, Run, State

ROOT = Path(__file__).resolve().parents[2]
URL = re.compile(r"https?://", re.IGNORECASE)


def gathered(project: Project, monkeypatch: pytest.MonkeyPatch) -> tuple[ReportData, list[str]]:
    monkeypatch.setenv(LOCAL_ENDPOINT_ENV, project.base_url)
    notes: list[str] = []
    console = Console(out=notes.append, err=notes.append)
    return gather(settings_for(project.root, None), console), notes


def test_gather_shows_every_export_with_owners_runs_records_drift_and_datasets(
    applied_project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, notes = gathered(applied_project, monkeypatch)
    assert notes == []
    assert data.sandbox == applied_project.sandbox
    state = applied_project.state()
    exports = {e.key: e for e in data.exports}
    statuses: set[str] = set()
    for address in ("exportjob/daily-emails", "exportjob/newsletter-audience"):
        res = state.export_job(address)
        assert res is not None
        export = exports[address]
        assert export.managed and not export.retired
        # every run of the state, oldest first, with the status the platform lists
        assert [r.job_id for r in export.runs] == [str(r.jobId) for r in res.runs]
        assert [r.status for r in export.runs] == [r.status for r in res.runs]
        target = state.dataset(res.datasetAddress or "")
        assert target is not None and export.dataset_id == (res.datasetId or target.datasetId)
        statuses |= {r.category for r in export.runs}
        for run in export.runs:
            if run.status == "SUCCEEDED":
                assert run.records is not None and run.records > 0 and run.batches
    assert {"succeeded", "failed"} <= statuses
    assert dict(exports["exportjob/daily-emails"].labels) == {"team": "crm"}
    assert dict(exports["exportjob/newsletter-audience"].labels) == {"team": "activation"}

    crm = state.dataset("dataset/crm-profiles")
    assert crm is not None
    unmanaged = [e for e in data.exports if not e.managed]
    assert len(unmanaged) == 1 and unmanaged[0].dataset_id == crm.datasetId
    assert unmanaged[0].labels == () and len(unmanaged[0].runs) == 1

    # The open drift is the planner's: what `plan --refresh-only` finds.
    kinds = {(d.subject, d.kind) for d in data.drift}
    refresh_only = applied_project.run("plan", "--refresh-only", "--format", "json")
    planned = {(f["address"], f["finding"]) for f in json.loads(refresh_only.out)["findings"]}
    assert kinds == planned
    assert (f"exportjob@{unmanaged[0].runs[0].job_id}", "unmanaged") in kinds
    failed_newest = [e.key for e in data.exports if e.managed and e.runs[-1].status == "FAILED"]
    for address in failed_newest:
        assert (address, "failed") in kinds

    datasets = {d.id: d for d in data.datasets}
    crm_view = datasets[crm.datasetId]
    assert crm_view.managed_by == "dataset/crm-profiles" and crm_view.present
    assert dict(crm_view.labels) == {"team": "crm", "owner": "marketing-ops"}
    writers = {w.key: w for w in crm_view.writers}
    assert writers["exportjob/daily-emails"].runs == len(exports["exportjob/daily-emails"].runs)
    assert unmanaged[0].key in writers and not writers[unmanaged[0].key].managed
    ui = [d for d in data.datasets if d.name == "Made in the UI"]
    assert len(ui) == 1 and ui[0].managed_by is None and ui[0].writers == ()


def test_report_command_writes_one_self_contained_file(
    applied_project: Project, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    result = applied_project.run("report", "--out", str(out))
    assert result.code == 0, result.err
    assert result.out.startswith(f"wrote {out}: 3 exports, ")
    html = out.read_text(encoding="utf-8")
    assert not URL.search(html), URL.search(html)
    assert "<script" not in html and "<link" not in html
    for address in ("exportjob/daily-emails", "exportjob/newsletter-audience"):
        assert re.search(f'<svg class="chart" id="chart-\\d+" data-export="{address}"', html)
    assert "team=crm" in html and "owner=marketing-ops" in html
    assert "claimed by no document" in html and "Made in the UI" in html


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("missing-folder/report.html", "folder"),
        (".", "it is a folder"),
    ],
)
def test_an_unwritable_out_is_one_error_line(
    applied_project: Project, tmp_path: Path, target: str, message: str
) -> None:
    result = applied_project.run("report", "--out", str(tmp_path / target))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot write the report "), result.err
    assert message in lines[0] and "Traceback" not in result.err


def test_help_does_not_import_jinja2() -> None:
    code = (
        "import sys\n"
        "from reconciler.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('jinja2', 'markupsafe', 'reconciler') and m.startswith(('jinja2', 'markupsafe', "
        "'reconciler.report'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
    assert "report" in done.stdout  # the command is listed


# build_report on a state and listings made here (no platform)

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _run(job: int, status: str, hours_ago: float, **extra: object) -> Run:
    return Run.model_validate(
        {
            "jobId": job,
            "fingerprint": "f",
            "status": status,
            "datasetId": "ds1",
            "createdAt": AT - timedelta(hours=hours_ago),
            "reason": "create",
            **extra,
        }
    )


def _ms(hours_ago: float) -> int:
    return int((AT - timedelta(hours=hours_ago)).timestamp() * 1000)


def _job(
    job: int, status: str, hours_ago: float, dataset: str = "ds1", fields: str | None = None
) -> ExportJobRecord:
    return ExportJobRecord.model_validate(
        {
            "id": job,
            "fields": fields,
            "status": status,
            "creationTime": _ms(hours_ago),
            "updateTime": _ms(hours_ago - 0.5),
            "destination": {"datasetId": dataset},
        }
    )


def _state(*runs: Run) -> State:
    return State(
        sandbox="s",
        resources={
            "dataset/d": DatasetResource(
                datasetId="ds1", name="D", schemaId="x", createdAt=AT - timedelta(days=9)
            ),
            "exportjob/e": ExportJobResource(
                fingerprint="f",
                request={},
                datasetAddress="dataset/d",
                datasetId="ds1",
                runs=list(runs),
            ),
        },
    )


def _report(
    state: State, jobs: list[ExportJobRecord], datasets: list[CatalogDataset]
) -> ReportData:
    entries = audit_entries(state, datasets, jobs, {"exportjob/e": {"team": "x"}})
    return build_report(state, entries, datasets, jobs, sandbox="s", at=AT)


def test_the_report_lists_the_findings_it_is_given() -> None:
    ds = [CatalogDataset(id="ds1", name="D")]
    finding = DriftFinding("exportjob/e", "cancelled", "job 1 was cancelled outside")
    entries = audit_entries(_state(), ds, [], {})
    data = build_report(_state(), entries, ds, [], sandbox="s", at=AT, findings=[finding])
    assert [(d.subject, d.kind, d.detail) for d in data.drift] == [
        ("exportjob/e", "cancelled", "job 1 was cancelled outside")
    ]


def test_runs_no_longer_listed_keep_their_recorded_status_and_a_deleted_dataset_is_drift() -> None:
    state = _state(_run(1, "SUCCEEDED", 30), _run(2, "PROCESSING", 1))
    data = _report(state, [_job(1, "SUCCEEDED", 30)], [])
    (export,) = data.exports
    assert [(r.job_id, r.status, r.listed) for r in export.runs] == [
        ("1", "SUCCEEDED", True),
        ("2", "PROCESSING", False),
    ]
    assert export.counts["in flight"] == 1 and export.counts["succeeded"] == 1
    assert dict(export.labels) == {"team": "x"}
    assert data.drift == ()  # the drift is what the planner found (none given here)
    (ds,) = data.datasets
    assert not ds.present and ds.writers[0].runs == 2
    html = render_report(data)
    assert "(no longer listed)" in html and "(not listed)" in html


def test_unmanaged_jobs_alike_form_one_export_and_text_is_escaped() -> None:
    ds = [CatalogDataset(id="ds1", name="D"), CatalogDataset(id="ds2", name="<b>odd</b>")]
    jobs = [_job(7, "SUCCEEDED", 5, "ds2"), _job(8, "FAILED", 3, "ds2"), _job(9, "NEW", 1, "ds1")]
    data = _report(_state(), jobs, ds)
    unmanaged = {e.title: e for e in data.exports if not e.managed}
    assert set(unmanaged) == {"unmanaged: 2 jobs into <b>odd</b>", "unmanaged: 1 job into D"}
    runs = unmanaged["unmanaged: 2 jobs into <b>odd</b>"].runs
    assert [r.job_id for r in runs] == ["7", "8"]
    # an ended job this tool never followed ends at its record's updateTime
    assert runs[0].finished == AT - timedelta(hours=4.5)
    (in_flight,) = unmanaged["unmanaged: 1 job into D"].runs
    assert in_flight.category == "in flight" and in_flight.finished is None
    html = render_report(data)
    assert "<b>odd</b>" not in html and "&lt;b&gt;odd&lt;/b&gt;" in html


def test_unmanaged_jobs_that_ask_for_different_fields_are_told_apart() -> None:
    ds = [CatalogDataset(id="ds2", name="E")]
    jobs = [
        _job(7, "SUCCEEDED", 5, "ds2", "identities.id"),
        _job(8, "SUCCEEDED", 4, "ds2", "personalEmail.address"),
        _job(9, "SUCCEEDED", 3, "ds2", "identities.id"),
    ]
    data = _report(_state(), jobs, ds)
    titles = sorted(e.title for e in data.exports if not e.managed)
    assert titles == [
        "unmanaged: 1 job into E (fields personalEmail.address)",
        "unmanaged: 2 jobs into E (fields identities.id)",
    ]
    (ds_view,) = [d for d in data.datasets if d.id == "ds2"]
    assert sorted(w.runs for w in ds_view.writers) == [1, 2]


def test_an_empty_sandbox_is_a_page_that_says_so() -> None:
    data = build_report(State(sandbox="s"), [], [], [], sandbox="s", at=AT)
    assert data.exports == () and data.start is None
    html = render_report(data)
    assert "0 exports · 0 runs · 0 datasets" in html and "No drift" in html
    assert 'id="overview"' in html and not URL.search(html)
