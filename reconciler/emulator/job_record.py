"""The job record as the guides show it (the answer of create, get and list)."""

from __future__ import annotations

import uuid
from typing import Any

from reconciler.emulator import defaults
from reconciler.emulator.context import Emulator
from reconciler.emulator.job_request import DEFAULT_SEGMENT_STATUSES
from reconciler.emulator.jobs import Job, batches_of, job_now
from reconciler.emulator.lifecycle import Phase, metrics


def _default_errors(job: Job) -> list[dict[str, str]]:
    # The Profile guide's FAILED example.
    return [
        {
            "code": "0090000009",
            "msg": f"Error writing profiles to output path 'adl://emulator/snapshot/{job.id}'",
            "callStack": "com.adobe.aep.unifiedprofile.common.logging.Logger",
        },
        {
            "code": "unknown",
            "msg": "Job aborted.",
            "callStack": "org.apache.spark.SparkException: Job aborted.",
        },
    ]


def _filled_filter(request: dict[str, Any]) -> dict[str, Any]:
    # The defaults the platform fills in (SEG, OAS): segmentNs "ups", status realized+existing.
    filt = dict(request.get("filter") or {})
    if "segments" in filt:
        filt["segments"] = [
            {
                "segmentId": s["segmentId"],
                "segmentNs": s.get("segmentNs", "ups"),
                "status": s.get("status", list(DEFAULT_SEGMENT_STATUSES)),
            }
            for s in filt["segments"]
        ]
    return filt


def _terse(record: dict[str, Any], request: dict[str, Any], *, listing: bool) -> dict[str, Any]:
    """The record as the Profile guide's answers show it (behaviour echo: terse)."""
    destination = dict(record["destination"])
    # PROF: single-job answers spell dataSetId, the list answer datasetId; never both.
    destination.pop("dataSetId" if listing else "datasetId")
    batches = destination.get("batches")
    if batches is not None:
        entries = batches if isinstance(batches, list) else [batches]
        for entry in entries:
            # SEG current, OAS: an entry's status is a list or, for one status, a plain string.
            if len(entry["status"]) == 1:
                entry["status"] = entry["status"][0]
    terse = {k: v for k, v in record.items() if k not in ("fields", "additionalFields")}
    terse["destination"] = destination
    if "filter" in request:
        terse["filter"] = _filled_filter(request)
    return terse


def _echoed_policy(emu: Emulator, policy: dict[str, Any]) -> dict[str, Any]:
    """The record's mergePolicy: the request's, or (policy_echo: other) another stable id."""
    if emu.behaviour.policy_echo == "other":
        return {**policy, "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"policy/{policy['id']}"))}
    return policy


def render(emu: Emulator, job: Job, phase: Phase, *, listing: bool = False) -> dict[str, Any]:
    """The job record as the seeds show it (create, get and, with listing, list answers)."""
    request = job.request
    produced = phase.status not in ("FAILED", "CANCELLED")
    batches = batches_of(emu, job.id)
    batch_id = batches[0]["id"] if produced and batches else ""
    destination: dict[str, Any] = {
        "datasetId": request["destination"]["datasetId"],
        # The Profile guide's create/get answers spell it dataSetId; its list answer and the
        # Segmentation guide spell it datasetId. Both are sent so clients of either work.
        "dataSetId": request["destination"]["datasetId"],
        "segmentPerBatch": request["destination"]["segmentPerBatch"],
        "batchId": batch_id,
    }
    segments = (request.get("filter") or {}).get("segments") or []
    if segments:
        by_segment = {b["segment"]: b["id"] for b in batches}
        entries = [
            {
                "segmentId": s["segmentId"],
                "segmentNs": s.get("segmentNs", "ups"),
                "status": list(s.get("status", DEFAULT_SEGMENT_STATUSES)),
                "batchId": (by_segment.get(s["segmentId"]) or by_segment.get(None) or "")
                if produced
                else "",
            }
            for s in segments
        ]
        # The Segmentation guide shows one segment's batch as a single object, not a list.
        destination["batches"] = entries[0] if len(entries) == 1 else entries
    gateway: dict[str, str] = {}
    if phase.processing_start_ms is not None:
        gateway["exportJob"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"export/{job.id}"))
    if phase.status == "SUCCEEDED":
        gateway["pushJob"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"push/{job.id}"))
    record: dict[str, Any] = {
        "id": job.id,
        "jobType": "BATCH",
        "profileInstanceId": "ups",
        "imsOrgId": job.scope.org,
        "status": phase.status,
        "requestId": job.request_id,
        "computeGatewayJobId": gateway,
        "metrics": metrics(job.timeline, phase, job_now(emu, job)),
        "destination": destination,
        "schema": request["schema"],
        # Without mergePolicy the export uses the segments' policy, which is the default one.
        "mergePolicy": _echoed_policy(
            emu,
            {"version": 1, **request.get("mergePolicy", {"id": defaults.DEFAULT_MERGE_POLICY_ID})},
        ),
        "creationTime": job.timeline.creation_ms,
        "updateTime": phase.update_ms,
    }
    for key in ("fields", "filter", "additionalFields"):
        if key in request:
            record[key] = request[key]
    if phase.status == "FAILED":
        record["errors"] = job.fail_errors or _default_errors(job)
    if emu.behaviour.echo == "terse":
        return _terse(record, request, listing=listing)
    return record
