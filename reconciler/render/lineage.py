"""Text and JSON of `reconciler lineage` (issue 16)."""

from __future__ import annotations

import json
from typing import Any

from reconciler.engine.lineage import Lineage
from reconciler.render.status import table
from reconciler.state.history import OtherRun, RunMatch
from reconciler.state.models import PROVENANCE_FIELDS, Run, format_time

NOT_RECORDED = "not recorded"


def render_lineage(lineage: Lineage, fmt: str) -> str:
    """`fmt` "json": a document (`{"id", "sandbox", "runs": [...]}`); "text": one block a run."""
    if fmt == "json":
        doc = {
            "id": lineage.ident,
            "sandbox": lineage.sandbox,
            "runs": [_json_match(m, lineage.ident) for m in lineage.matches],
        }
        return json.dumps(doc, indent=2) + "\n"
    return "\n".join(_text_match(m, lineage.ident) for m in lineage.matches)


def _matched_by(match: RunMatch, ident: str) -> str:
    return "jobId" if str(match.run.jobId) == ident else "batchId"


def _run_json(run: Run) -> dict[str, Any]:
    """The run as the state holds it, its provenance keys always present (null: not recorded)."""
    doc = run.model_dump(mode="json")
    for key in PROVENANCE_FIELDS:
        doc.setdefault(key, None)
    return doc


def _json_match(match: RunMatch, ident: str) -> dict[str, Any]:
    res = match.resource
    retired = match.retired
    return {
        "matchedBy": _matched_by(match, ident),
        "address": match.address,
        "managed": retired is None,
        "retired": None
        if retired is None
        else {
            "seq": retired.seq,
            "retiredAt": format_time(retired.retiredAt),
            "reason": retired.reason,
        },
        **_run_json(match.run),
        # the document's request when this run was made from it (the same fingerprint); a
        # changed document keeps only its newest request, so an older run's is null
        "request": res.request if match.request_known else None,
        "documentFingerprint": res.fingerprint,
        "datasetAddress": res.datasetAddress,
        "otherRuns": [{**_run_json(o.run), "retired": o.retired} for o in match.others],
        "moreRuns": match.more,
    }


def _when(value: Any) -> str:
    return format_time(value) if value is not None else "-"


def _text_match(match: RunMatch, ident: str) -> str:
    run, res = match.run, match.resource
    what = "job" if _matched_by(match, ident) == "jobId" else "batch"
    lines = [f"{what} {ident}: run of {match.address} (job {run.jobId})"]
    if match.retired is None:
        document = f"{match.address} (managed)"
    else:
        retired = match.retired
        document = (
            f"{match.address} (retired by {retired.reason} at {format_time(retired.retiredAt)})"
        )
    if match.request_known:
        request = json.dumps(res.request, sort_keys=True, separators=(",", ":"))
    else:
        request = f"not kept (the document changed since: its fingerprint is now {res.fingerprint})"
    if run.batches:
        batches = ", ".join(f"{b.segmentId}: {b.batchId}" for b in run.batches)
    else:
        batches = run.batchId or "-"
    dataset = run.datasetId or res.datasetId or "-"
    if res.datasetAddress:
        dataset += f" ({res.datasetAddress})"
    ended = _when(run.finishedAt) if run.finishedAt else "not yet"
    if run.cancelledAt:
        ended += f" (cancel asked at {format_time(run.cancelledAt)})"
    commit = run.commit or NOT_RECORDED
    if run.commit and run.commitDirty:
        commit += " (uncommitted changes in the work tree)"
    rows = [
        ("document", document),
        ("status", f"{run.status} (reason: {run.reason})"),
        ("fingerprint", run.fingerprint),
        ("request", request),
        ("batches", batches),
        ("dataset", dataset),
        ("created", format_time(run.createdAt)),
        ("finished", ended),
        ("commit", commit),
        ("actor", run.actor or NOT_RECORDED),
        ("CI run", run.ciRun or "-"),
        ("tool", f"reconciler {run.toolVersion}" if run.toolVersion else NOT_RECORDED),
    ]
    lines += [f"  {label:<12} {value}" for label, value in rows]
    lines.append(_others(match))
    return "\n".join(lines) + "\n"


def _others(match: RunMatch) -> str:
    if not match.others:
        return f"  no other run of {match.address}"
    header = ("JOB", "STATUS", "CREATED", "FINISHED", "REASON", "COMMIT", "ACTOR")
    rows = [header] + [_other_row(o) for o in match.others]
    body = "\n".join("    " + line for line in table(rows).rstrip("\n").split("\n"))
    more = f"\n    ... and {match.more} more" if match.more else ""
    total = len(match.others) + match.more
    return f"  other runs of {match.address} ({total}, newest first):\n{body}{more}"


def _other_row(other: OtherRun) -> tuple[str, ...]:
    run = other.run
    return (
        str(run.jobId) + (" (retired)" if other.retired else ""),
        run.status,
        format_time(run.createdAt),
        _when(run.finishedAt),
        run.reason,
        (run.commit or "-")[:12],
        run.actor or "-",
    )
