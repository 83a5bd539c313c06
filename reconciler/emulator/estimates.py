"""Preview and estimate jobs (Segmentation guide, previews-and-estimates) and the Profile API's
preview sample status, answered from the sandbox's seeded population.

A preview job and its estimate job share one id (SEG: "These two jobs will share the same ID").
Its state is a pure function of the platform clock's progress since creation and the settle time
fixed at creation (behaviour `estimate_settle_seconds`): RUNNING while it reads its sample (the
estimate refines as more profiles are read), then RESULT_READY; FAILED when the expression cannot
be evaluated (pql.py).
"""

from __future__ import annotations

import base64
import json
import math
import random
import uuid
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reconciler.emulator import defaults, population
from reconciler.emulator.auth import PlatformScope
from reconciler.emulator.body import json_body
from reconciler.emulator.context import Emulator, Scope, emulator_of
from reconciler.emulator.openapi_docs import ERRORS, json_content
from reconciler.emulator.params import natural
from reconciler.emulator.pql import PqlUnsupported, compile_expression
from reconciler.emulator.problems import bad_request, not_found

router = APIRouter(tags=["Previews and estimates"])
PREVIEW = "/data/core/ups/preview"
ESTIMATE = "/data/core/ups/estimate"
SAMPLE_STATUS = "/data/core/ups/previewsamplestatus"
SERVICE = "UPS"
_OBJECT: dict[str, Any] = {"type": "object"}
_KEYS = ("predicateExpression", "predicateType", "predicateModel", "graphType", "mergePolicyId")
# predicateModel: the guide's example, and the OpenAPI document's stated default.
_MODELS = (defaults.PROFILE_SCHEMA_NAME, "xdm.model.profile")
_GRAPH_TYPES = ("pdg", "none")
# The first poll already shows a rough estimate over this share of the sample.
_FIRST_SHARE = 0.05
# Identity namespace ids as the Profile API's namespace report shows them (ECID 4, Email 6).
_NAMESPACE_IDS = {"ECID": "4", "Email": "6"}
_PREVIEW_LIMIT = 1000  # OAS: "If not specified, this value will be 1000"


@dataclass(frozen=True)
class Preview:
    """A stored preview (and estimate) job."""

    id: str
    scope: Scope
    query_id: str
    created_progress_ms: int
    settle_ms: int
    sample_ratio: float
    expression: str


def _validate(emu: Emulator, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_request(
            'preview: expected a JSON object such as {"predicateExpression": "...", '
            '"predicateType": "pql/text", "predicateModel": "_xdm.context.profile"}',
            SERVICE,
        )
    unknown = sorted(set(body) - set(_KEYS))
    if unknown:
        raise bad_request(
            f"preview: unknown key(s) {unknown}; known keys are {list(_KEYS)}", SERVICE
        )
    expression = body.get("predicateExpression")
    if not isinstance(expression, str) or not expression.strip():
        raise bad_request(
            "predicateExpression: required, the PQL text of the segment definition", SERVICE
        )
    checks: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("predicateType", ("pql/text",)),
        ("predicateModel", _MODELS),
        ("graphType", _GRAPH_TYPES),
    )
    for key, allowed in checks:
        if key in body and body[key] not in allowed:
            raise bad_request(f"{key}: expected one of {list(allowed)}, got {body[key]!r}", SERVICE)
    policy = body.get("mergePolicyId")
    if policy is not None:
        known = [str(p["id"]) for p in defaults.MERGE_POLICIES]
        if not isinstance(policy, str) or policy not in known:
            raise bad_request(
                f"mergePolicyId: {policy!r} is not a merge policy of this sandbox; "
                "list them with GET /data/core/ups/config/mergePolicies",
                SERVICE,
            )
    return {
        "predicateExpression": expression,
        "predicateType": body.get("predicateType", "pql/text"),
        "predicateModel": body.get("predicateModel", defaults.PROFILE_SCHEMA_NAME),
        **({"graphType": body["graphType"]} if "graphType" in body else {}),
        **({"mergePolicyId": policy} if policy is not None else {}),
    }


def _new_id(query_id: str) -> str:
    # The guide's ids are unpadded base64 of "0:app-<uuid>:<previewQueryId>:0"; url-safe here.
    raw = f"0:app-{uuid.uuid4()}:{query_id}:0".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _row(row: Any) -> Preview:
    return Preview(
        id=row["id"],
        scope=Scope(row["org"], row["sandbox"]),
        query_id=row["query_id"],
        created_progress_ms=int(row["created_progress_ms"]),
        settle_ms=int(row["settle_ms"]),
        sample_ratio=float(row["sample_ratio"]),
        expression=json.loads(row["request"])["predicateExpression"],
    )


def _require(emu: Emulator, scope: Scope, preview_id: str) -> Preview:
    with emu.store.tx() as db:
        row = db.execute(
            "SELECT * FROM previews WHERE id = ? AND org = ? AND sandbox = ?",
            (preview_id, scope.org, scope.sandbox),
        ).fetchone()
    if row is None:
        raise not_found(f"Preview {preview_id} was not found", SERVICE)
    return _row(row)


def sample_size(total: int, ratio: float) -> int:
    """Profiles an estimate reads: SEG's table (full below 1 million, 1 million up to 20 million,
    5 % above), or `ratio` of them when the behaviour sets one."""
    if total <= 0:
        return 0
    if ratio > 0:
        return max(1, min(total, math.ceil(total * ratio)))
    if total < 1_000_000:
        return total
    if total <= 20_000_000:
        return 1_000_000
    return math.ceil(total * 0.05)


def _order(count: int, seed: int, preview_id: str) -> array[int]:
    """The order this preview reads the population in (its sample is a prefix)."""
    indices = list(range(count))
    random.Random(f"{seed}:{preview_id}").shuffle(indices)
    return array("I", indices)


@dataclass(frozen=True)
class _Scan:
    """A preview's reading order over the population, with running counts: `matched[k]` and
    `emails[k]` are the matches (and matches with an Email identity) among the first k read."""

    order: Sequence[int]
    matched: Sequence[int]
    emails: Sequence[int]


@lru_cache(maxsize=32)
def _scan(count: int, seed: int, preview_id: str, expression: str) -> _Scan:
    profiles = population.generate(count, seed)
    predicate = compile_expression(expression)
    order = _order(count, seed, preview_id)
    # Compact arrays (4 bytes an entry): a scan of 100,000 profiles holds about 1 MB.
    matched, emails = array("I", [0]), array("I", [0])
    for index in order:
        profile = profiles[index]
        hit = predicate(profile)
        matched.append(matched[-1] + hit)
        emails.append(emails[-1] + (hit and "personalEmail" in profile.attributes))
    return _Scan(order, matched, emails)


@dataclass(frozen=True)
class Progress:
    """What an estimate job has read and found as of now."""

    state: str
    total: int
    to_read: int
    read: int
    matched: int
    with_email: int
    error: str
    scan: _Scan | None = None
    seed: int = 0

    def matched_profiles(self) -> list[population.Profile]:
        """The matching profiles read so far, in reading order."""
        if self.scan is None:
            return []
        profiles = population.generate(self.total, self.seed)
        cumulative = self.scan.matched
        return [
            profiles[self.scan.order[k]]
            for k in range(self.read)
            if cumulative[k + 1] > cumulative[k]
        ]


def progress(emu: Emulator, preview: Preview) -> Progress:
    """The job's state and its counts at the platform clock's current progress."""
    count, seed = emu.population(preview.scope)
    to_read = sample_size(count, preview.sample_ratio)
    elapsed = emu.clock.progress_ms() - preview.created_progress_ms
    try:
        compile_expression(preview.expression)
    except PqlUnsupported as exc:
        return Progress("FAILED", count, to_read, 0, 0, 0, f"predicateExpression: {exc}")
    if preview.settle_ms <= 0 or elapsed >= preview.settle_ms:
        state, read = "RESULT_READY", to_read
    else:
        share = max(_FIRST_SHARE, elapsed / preview.settle_ms)
        state, read = "RUNNING", min(to_read, max(1, math.ceil(to_read * share)))
    read = min(read, count)
    scan = _scan(count, seed, preview.id, preview.expression)
    return Progress(
        state, count, to_read, read, scan.matched[read], scan.emails[read], "", scan, seed
    )


def _estimate_numbers(p: Progress) -> tuple[int, int]:
    """(estimatedSize, standardError) scaled from the sample read so far to the whole store,
    with the finite-population correction (a full read is exact: standardError 0)."""
    if p.read == 0 or p.total == 0:
        return 0, 0
    share = p.matched / p.read
    size = round(share * p.total)
    variance = share * (1 - share) / p.read * max(0.0, 1 - p.read / p.total)
    return size, round(p.total * math.sqrt(variance))


def _preview_url(request: Request, preview_id: str) -> str:
    return f"{str(request.base_url).rstrip('/')}{PREVIEW}/{preview_id}"


@router.post(
    PREVIEW,
    summary="Create a preview job (and its estimate job, same id)",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "predicateExpression": {"type": "string"},
                            "predicateType": {"type": "string", "enum": ["pql/text"]},
                            "predicateModel": {"type": "string"},
                            "graphType": {"type": "string", "enum": list(_GRAPH_TYPES)},
                            "mergePolicyId": {"type": "string"},
                        },
                        "required": ["predicateExpression"],
                    }
                }
            },
        }
    },
    responses={201: json_content(_OBJECT, "The preview job (state NEW)"), **ERRORS},
)
async def create_preview(request: Request, scope: PlatformScope) -> JSONResponse:
    """201 {state: NEW, previewQueryId, previewQueryStatus, previewId, previewExecutionId}."""
    emu = emulator_of(request)
    body = _validate(emu, await json_body(request))
    query_id = str(uuid.uuid4())
    preview_id = _new_id(query_id)
    behaviour = emu.behaviour
    with emu.store.tx() as db:
        db.execute(
            "INSERT INTO previews (id, org, sandbox, query_id, created_progress_ms, settle_ms, "
            "sample_ratio, request) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                preview_id,
                scope.org,
                scope.sandbox,
                query_id,
                emu.clock.progress_ms(),
                round(behaviour.estimate_settle_seconds * 1000),
                behaviour.estimate_sample_ratio,
                json.dumps(body),
            ),
        )
    answer = {
        "state": "NEW",
        "previewQueryId": query_id,
        "previewQueryStatus": "NEW",
        "previewId": preview_id,
        "previewExecutionId": 0,
    }
    # OAS: the 201 carries X-Location, "the HREF to the profile preview".
    headers = {"X-Location": _preview_url(request, preview_id)}
    return JSONResponse(answer, status_code=201, headers=headers)


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    value = natural(raw)
    if value is None or not low <= value <= high:
        raise bad_request(f"{name}: expected an integer from {low} to {high}, got {raw!r}", SERVICE)
    return value


def _result(profile: population.Profile, base: str) -> dict[str, Any]:
    identities = profile.attributes.get("identities", [])
    ids = [str(i["id"]) for i in identities]
    return {
        "objectId": ids[0] if ids else "",
        "_href": f"{base}/data/core/ups/models/profile/{ids[0] if ids else ''}",
        "relatedObjects": [
            {"objectId": other, "_href": f"{base}/data/core/ups/models/profile/{other}"}
            for other in ids[1:]
        ],
    }


@router.get(
    PREVIEW + "/{preview_id}",
    summary="Retrieve the results of a preview job",
    responses={200: json_content(_OBJECT, "The qualifying profiles, paged"), **ERRORS},
)
def get_preview(request: Request, preview_id: str, scope: PlatformScope) -> JSONResponse:
    """{state, results: [{objectId, _href, relatedObjects}], page: {offset, size}, links}."""
    emu = emulator_of(request)
    offset = _int_param(request, "offset", 0, 0, 1_000_000_000)
    limit = _int_param(request, "limit", _PREVIEW_LIMIT, 1, _PREVIEW_LIMIT)
    p = progress(emu, _require(emu, scope, preview_id))
    ready = p.state == "RESULT_READY"
    window = p.matched_profiles()[offset : offset + limit] if ready else []
    base = str(request.base_url).rstrip("/")
    more = ready and offset + limit < p.matched
    this = f"{base}{PREVIEW}/{preview_id}?offset={offset}&limit={limit}"
    nxt = f"{base}{PREVIEW}/{preview_id}?offset={offset + limit}&limit={limit}" if more else ""
    body: dict[str, Any] = {
        "state": p.state,
        "results": [_result(profile, base) for profile in window],
        "page": {"offset": offset, "size": len(window)},
        "links": {"_self": this, "next": nxt, "prev": ""},
    }
    if p.error:
        body["error"] = {"description": p.error, "traceback": ""}
    return JSONResponse(body)


@router.get(
    ESTIMATE + "/{preview_id}",
    summary="Retrieve the results of an estimate job (the preview's id)",
    responses={200: json_content(_OBJECT, "The estimate"), **ERRORS},
)
def get_estimate(request: Request, preview_id: str, scope: PlatformScope) -> JSONResponse:
    """The guide's estimate answer; it refines while RUNNING and settles at RESULT_READY."""
    emu = emulator_of(request)
    preview = _require(emu, scope, preview_id)
    p = progress(emu, preview)
    size, error = _estimate_numbers(p)
    body = {
        "estimatedSize": size,
        "numRowsToRead": p.to_read,
        # Every seeded profile has an ECID; Email identities where personalEmail is set.
        "estimatedNamespaceDistribution": [
            {"namespaceId": _NAMESPACE_IDS["ECID"], "profilesMatchedSoFar": p.matched},
            {"namespaceId": _NAMESPACE_IDS["Email"], "profilesMatchedSoFar": p.with_email},
        ],
        "state": p.state,
        "profilesReadSoFar": p.read,
        "standardError": error,
        "error": {"description": p.error, "traceback": ""},
        "profilesMatchedSoFar": p.matched,
        "totalRows": p.total,
        # SEG and OAS: the confidence level, as a string; the interval follows from standardError.
        "confidenceInterval": "95%",
        "_links": {"preview": _preview_url(request, preview_id)},
    }
    return JSONResponse(body)


@router.delete(
    PREVIEW + "/{preview_id}",
    summary="Cancel or delete a preview job",
    responses={200: json_content(_OBJECT, '{"status": true, "message": "KILLED"}'), **ERRORS},
)
def delete_preview(request: Request, preview_id: str, scope: PlatformScope) -> JSONResponse:
    """200 {"status": true, "message": "KILLED"} (SEG); the preview and its estimate are gone."""
    emu = emulator_of(request)
    preview = _require(emu, scope, preview_id)
    with emu.store.tx() as db:
        db.execute("DELETE FROM previews WHERE id = ?", (preview.id,))
    return JSONResponse({"status": True, "message": "KILLED"})


def _sample_time(ms: int) -> str:
    # The Profile guide's form: "2020-08-01 17:57:57.0".
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S") + ".0"


@router.get(
    SAMPLE_STATUS,
    summary="The last successful sample job (Profile API, preview sample status)",
    responses={200: json_content(_OBJECT, "The last sample"), **ERRORS},
)
def sample_status(request: Request, scope: PlatformScope) -> JSONResponse:
    """The Profile guide's answer, counts as strings as it shows them; totalRows = profiles."""
    emu = emulator_of(request)
    count, seed = emu.population(scope)
    profiles = population.generate(count, seed)
    to_read = sample_size(count, emu.behaviour.estimate_sample_ratio)
    events = sum(len(p.events) for p in profiles)
    # The sample job runs every 15 minutes (batch ingestion): the last one at the quarter hour.
    sampled = emu.clock.now_ms() // 900_000 * 900_000
    body = {
        "numRowsToRead": str(to_read),
        "sampleJobRunning": {"status": False, "submissionTimestamp": _sample_time(sampled)},
        "cosmosDocCount": f'"{count + events}"',
        "totalFragmentCount": count,
        "lastSuccessfulBatchTimestamp": '"null"',
        "streamingDriven": '"false"',
        "totalRows": str(count),
        "lastBatchId": '"null"',
        "status": "TASK_FINISHED",
        "samplingRatio": round(to_read / count, 6) if count else 1.0,
        "mergeStrategy": "timestampOrdered_auto",
        "lastSampledTimestamp": _sample_time(sampled),
    }
    return JSONResponse(body)
