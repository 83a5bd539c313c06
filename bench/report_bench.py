"""`reconciler report` at size: 1,000 exports and 100,000 runs written in under 5 s, and opened.

    python bench/report_bench.py [--quick] [--no-browser]

The state (1,000 export documents of 100 runs each into 100 datasets) and the listings (the
newest 10 runs of each document still listed, plus 1,000 unmanaged jobs) are built here in memory
and the state is written to a file, so the figure is the tool's own work, not the platform's:
reading the state file, joining it with the listings (`audit_entries`), grouping, rendering and
writing the page. The record counts a report reads from the Catalog are filled in as the
platform would answer them. Then headless Chromium (the system's) opens the page and every
chart is counted. `SCENARIOS` has it as a scenario for bench/run.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, Scenario

from reconciler.engine.audit import audit_entries
from reconciler.platform import CatalogDataset, ExportJobRecord
from reconciler.report import paused_gc, write_text
from reconciler.report.data import RECORDED_RUNS_PER_EXPORT, build_report
from reconciler.report.html import render_report
from reconciler.state import (
    BatchRef,
    DatasetResource,
    ExportJobResource,
    Run,
    State,
    StateStore,
    write_atomic,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
STATUSES = ["SUCCEEDED"] * 90 + ["FAILED"] * 6 + ["CANCELLED"] * 3 + ["PROCESSING"]


def build(
    exports: int, runs_per_export: int, datasets: int
) -> tuple[State, list[CatalogDataset], list[ExportJobRecord], dict[str, dict[str, str]]]:
    """The state, the dataset listing, the job listing and the owner labels of a large sandbox."""
    resources: dict[str, DatasetResource | ExportJobResource] = {}
    live_datasets: list[CatalogDataset] = []
    for d in range(datasets):
        ds_id = f"{d:024x}"
        resources[f"dataset/ds-{d}"] = DatasetResource(
            datasetId=ds_id, name=f"Dataset {d}", schemaId="s", createdAt=NOW - timedelta(days=400)
        )
        live_datasets.append(CatalogDataset(id=ds_id, name=f"Dataset {d}"))
    jobs: list[ExportJobRecord] = []
    job_id = 1_000_000
    step = timedelta(days=365) / runs_per_export
    for e in range(exports):
        ds_id = f"{e % datasets:024x}"
        runs = []
        for r in range(runs_per_export):
            job_id += 1
            status = STATUSES[(e * 7 + r) % len(STATUSES)] if r else "SUCCEEDED"
            if r == runs_per_export - 1 and e % 50 == 0:
                status = "PROCESSING"
            elif status == "PROCESSING":
                status = "SUCCEEDED"
            created = NOW - timedelta(days=365) + step * r + timedelta(minutes=e % 60)
            runs.append(
                Run(
                    jobId=job_id,
                    fingerprint="f",
                    status=status,
                    batchId=f"b{job_id}",
                    batches=[BatchRef(segmentId="seg", batchId=f"b{job_id}")] if e % 2 else [],
                    datasetId=ds_id,
                    createdAt=created,
                    finishedAt=None if status == "PROCESSING" else created + timedelta(hours=1),
                    reason="refresh due" if r else "create",
                )
            )
            if r >= runs_per_export - 10:
                jobs.append(
                    ExportJobRecord.model_validate(
                        {
                            "id": job_id,
                            "status": status,
                            "creationTime": int(created.timestamp() * 1000),
                            "destination": {"datasetId": ds_id, "batchId": f"b{job_id}"},
                        }
                    )
                )
        resources[f"exportjob/export-{e}"] = ExportJobResource(
            fingerprint="f",
            request={},
            datasetAddress=f"dataset/ds-{e % datasets}",
            datasetId=ds_id,
            runs=runs,
        )
    for u in range(exports):  # strangers: one job each, a few requests shapes
        job_id += 1
        jobs.append(
            ExportJobRecord.model_validate(
                {
                    "id": job_id,
                    "status": "SUCCEEDED",
                    "creationTime": int((NOW - timedelta(hours=u)).timestamp() * 1000),
                    "fields": f"f{u % 20}",
                    "destination": {"datasetId": f"{u % datasets:024x}"},
                }
            )
        )
    labels = {f"exportjob/export-{e}": {"team": f"team-{e % 8}"} for e in range(exports)}
    state = State(sandbox="bench", resources=resources)
    return state, live_datasets, jobs, labels


def report_figures(quick: bool, browser: bool = True) -> list[Figure]:
    exports, runs, datasets = (100, 100, 10) if quick else (1000, 100, 100)
    state, live_datasets, jobs, labels = build(exports, runs, datasets)
    with tempfile.TemporaryDirectory() as tmp:
        state_path = Path(tmp) / "bench.json"
        write_atomic(state_path, state.to_json())
        out = Path(tmp) / "report.html"

        with paused_gc():
            start = time.perf_counter()
            read = StateStore(state_path, "bench").read()
            read_s = time.perf_counter() - start
            entries = audit_entries(read, live_datasets, jobs, labels)
            # as record_counts answers: the newest runs of each export, by job id
            seen: dict[str, int] = {}
            records: dict[str, int] = {}
            for entry in entries:
                group = entry.managedBy or "unmanaged"
                seen[group] = seen.get(group, 0) + 1
                if entry.type == "exportjob" and seen[group] <= RECORDED_RUNS_PER_EXPORT:
                    records[entry.id] = 1000 + int(entry.id) % 997
            data = build_report(
                read, entries, live_datasets, jobs, sandbox="bench", at=NOW, records=records
            )
            gathered_s = time.perf_counter() - start
            write_text(out, render_report(data))
            total_s = time.perf_counter() - start
        size_mb = out.stat().st_size / 1e6
        assert data.run_count == exports * runs + exports, data.run_count

        figures = [
            Figure(
                "report",
                f"report for {len(data.exports):,} exports, {data.run_count:,} runs written",
                total_s,
                "s",
                None,
                "-",
                "< 5 s" if not quick else "-",
                total_s < 5 if not quick else None,
                f"state read {read_s:.2f} s, join+group {gathered_s - read_s:.2f} s, "
                f"render+write {total_s - gathered_s:.2f} s; page {size_mb:.1f} MB",
            )
        ]
        if browser:
            figures.extend(_opened(out, len(data.exports), quick))
    return figures


def _opened(out: Path, exports: int, quick: bool) -> list[Figure]:
    path = next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p),
        None,
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        path = None
    if path is None:
        print("note: no chromium or playwright: the page is not opened", file=sys.stderr)
        return []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            page = browser.new_context(offline=True).new_page()
            start = time.perf_counter()
            page.goto(out.as_uri(), wait_until="load", timeout=120_000)
            charts = page.locator("svg.chart[data-export]").count()
            opened_s = time.perf_counter() - start
        finally:
            browser.close()
    return [
        Figure(
            "report",
            "report opened in headless Chromium (load, charts counted)",
            opened_s,
            "s",
            None,
            "-",
            f"{exports:,} charts",
            charts == exports,
            f"{charts:,} charts found",
        )
    ]


def scenario_report(quick: bool) -> list[Figure]:
    """The report at 1,000 exports and 100,000 runs (100 and 10,000 with --quick)."""
    return report_figures(quick)


SCENARIOS: dict[str, Scenario] = {"report": scenario_report}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 exports, 10,000 runs")
    parser.add_argument("--no-browser", action="store_true", help="do not open the page")
    args = parser.parse_args()
    for f in report_figures(args.quick, browser=not args.no_browser):
        holds = "-" if f.holds is None else ("yes" if f.holds else "NO")
        print(f"{f.figure}: {f.measured:.3f} {f.unit} (target {f.target}: {holds}); {f.note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
