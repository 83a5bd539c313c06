"""`apply --format json`: the apply report as one JSON document (docs/apply-format.md)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.engine.results import APPLY_FORMAT_VERSION, ApplyReport


def apply_document(report: ApplyReport) -> dict[str, Any]:
    """The report as the JSON document of docs/apply-format.md (formatVersion 1)."""
    return {
        "formatVersion": APPLY_FORMAT_VERSION,
        "sandbox": report.where.sandbox,
        "platform": report.where.platform,
        "state": report.where.state,
        "planFile": str(report.planfile) if report.planfile is not None else None,
        "outcome": report.outcome,
        "wait": report.waited,
        "planned": report.planned,
        "actions": [
            {
                "address": a.address,
                "kind": a.kind,
                "action": a.action,
                "result": a.result,
                "message": a.line,
                "jobId": a.job_id,
                "datasetId": a.dataset_id,
            }
            for a in report.actions
        ],
        "runs": [
            {
                "address": w.address,
                "jobId": w.job_id,
                "status": w.status,
                "batchId": w.batch_id,
                "error": str(w.errors[0].get("msg", "")) if w.errors else None,
            }
            for w in report.runs
        ],
        "inFlight": [
            {"address": r.address, "jobId": r.job_id, "status": r.status} for r in report.in_flight
        ],
        "stopped": [
            {"address": address, "message": line}
            for address, line in sorted(report.stopped.items())
        ],
        "heldBack": list(report.held_back),
        "pendingIntents": report.pending,
        "summary": report.counts(),
        "elapsedSeconds": round(report.elapsed_s, 3),
        "error": (
            {"type": report.error_type, "message": report.error}
            if report.error is not None
            else None
        ),
    }


def render_apply_json(report: ApplyReport) -> str:
    """The document, indented, with a final newline."""
    return json.dumps(apply_document(report), indent=2, ensure_ascii=False) + "\n"
