"""/_emulator/: the clock, config, seeding, faults, stats and out-of-band platform changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from reconciler.emulator import batches as batches_mod
from reconciler.emulator import behaviour as behaviour_mod
from reconciler.emulator import datasets, defaults, job_record, jobs
from reconciler.emulator.auth import digest, sandbox_from_headers
from reconciler.emulator.body import json_body
from reconciler.emulator.config import apply_changes
from reconciler.emulator.context import ORG_ID, SANDBOX_NAME, Emulator, Scope, emulator_of
from reconciler.emulator.faults import parse_endpoint_fault, parse_job_outcomes
from reconciler.emulator.problems import bad_request, service_error

router = APIRouter(prefix="/_emulator", include_in_schema=False)
_MAX_MS = 10**14  # about the year 5138: far enough, and safe for SQLite integers


def admin_scope(request: Request) -> Scope:
    """Org and sandbox from the headers (no token needed); default org and prod."""
    org = request.headers.get("x-gw-ims-org-id", defaults.ORG_ID)
    if not ORG_ID.match(org):
        raise bad_request(f"x-gw-ims-org-id: {org!r} is not like 0123456789ABCDEF01234567@AdobeOrg")
    return Scope(org, sandbox_from_headers(request, required=False))


def _clock_json(emu: Emulator) -> dict[str, Any]:
    return {
        "now_ms": emu.clock.now_ms(),
        "frozen": emu.clock.frozen,
        "skew_ms": emu.clock.skew_ms(),
    }


@router.get("/clock")
def get_clock(request: Request) -> JSONResponse:
    """{"now_ms": ..., "frozen": ...}."""
    return JSONResponse(_clock_json(emulator_of(request)))


@router.post("/clock")
async def move_clock(request: Request) -> JSONResponse:
    """{"freeze": bool}, {"set_ms": ms}, {"advance_seconds": n}, applied in that order."""
    emu = emulator_of(request)
    body = await json_body(request)
    if (
        not isinstance(body, dict)
        or not body
        or set(body) - {"freeze", "set_ms", "advance_seconds"}
    ):
        raise bad_request(
            'clock: expected {"advance_seconds": N}, {"freeze": true} or {"set_ms": MS}'
        )
    if "freeze" in body:
        if not isinstance(body["freeze"], bool):
            raise bad_request("clock.freeze: expected true or false")
        emu.clock.freeze(body["freeze"])
    if "set_ms" in body:
        if (
            isinstance(body["set_ms"], bool)
            or not isinstance(body["set_ms"], int)
            or not 0 <= body["set_ms"] <= _MAX_MS
        ):
            raise bad_request(f"clock.set_ms: expected epoch milliseconds from 0 to {_MAX_MS}")
        emu.clock.set_ms(body["set_ms"])
    if "advance_seconds" in body:
        step = body["advance_seconds"]
        if isinstance(step, bool) or not isinstance(step, int | float) or abs(step) > 10**10:
            raise bad_request("clock.advance_seconds: expected a number of at most 1e10")
        emu.clock.advance(float(step))
    return JSONResponse(_clock_json(emu))


def _profile_json(emu: Emulator) -> dict[str, Any]:
    return {
        "name": emu.profile,
        "behaviour": emu.behaviour.to_json(),
        "clock_offset_seconds": round(emu.clock.offset_seconds()),
    }


@router.get("/behaviour")
def get_behaviour(request: Request) -> JSONResponse:
    """echo, cancel, cancel_delay_seconds, cancel_ends, catalog, sandboxes."""
    return JSONResponse(emulator_of(request).behaviour.to_json())


@router.post("/behaviour")
async def set_behaviour(request: Request) -> JSONResponse:
    """Change some behaviour settings; the others stay."""
    emu = emulator_of(request)
    changed = behaviour_mod.apply_changes(emu.behaviour, await json_body(request))
    emu.set_behaviour(changed)
    return JSONResponse(changed.to_json())


@router.get("/profile")
def get_profile(request: Request) -> JSONResponse:
    """The profile last applied (null once a setting changed on its own), behaviour, clock."""
    return JSONResponse(_profile_json(emulator_of(request)))


@router.post("/profile")
async def set_profile(request: Request) -> JSONResponse:
    """{"name": "cooperative" | "documented", "clock_offset_seconds"?}: every setting at once."""
    emu = emulator_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) - {"name", "clock_offset_seconds"}:
        raise bad_request('profile: expected {"name": "documented"} or {"name": "cooperative"}')
    name = body.get("name")
    behaviour_mod.profile(name)  # a 400 for an unknown name, before anything changes
    assert isinstance(name, str)
    emu.apply_profile(name, behaviour_mod.clock_offset_of(name, body))
    return JSONResponse(_profile_json(emu))


@router.get("/sandboxes")
def list_sandboxes(request: Request) -> JSONResponse:
    """{"sandboxes": [names]}: the seeded prod, dev, stage and every one added."""
    return JSONResponse({"sandboxes": emulator_of(request).sandboxes()})


@router.post("/sandboxes")
async def add_sandbox(request: Request) -> JSONResponse:
    """{"name": "x"}: create a sandbox (idempotent; needed under sandboxes: strict)."""
    emu = emulator_of(request)
    body = await json_body(request)
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not SANDBOX_NAME.match(name) or set(body) - {"name"}:
        raise bad_request(
            'sandboxes: expected {"name": "x"}, a name of lowercase letters, digits and "-" '
            "(at most 30)"
        )
    emu.add_sandbox(name)
    return JSONResponse({"name": name, "sandboxes": emu.sandboxes()}, status_code=201)


@router.get("/config")
def get_config(request: Request) -> JSONResponse:
    """The current configuration."""
    return JSONResponse(emulator_of(request).config.to_json())


@router.post("/config")
async def set_config(request: Request) -> JSONResponse:
    """Change job timings, token_ttl_seconds, delete_style ("200"/"204"), rows_per_file."""
    emu = emulator_of(request)
    config = apply_changes(emu.config, await json_body(request))
    emu.set_config(config)
    return JSONResponse(config.to_json())


@router.post("/seed")
async def seed(request: Request) -> JSONResponse:
    """{"profiles": N, "seed": S}: the scope's population, deterministic for (N, S)."""
    emu = emulator_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) - {"profiles", "seed"}:
        raise bad_request('seed: expected {"profiles": N, "seed": S}')
    count, rng_seed = body.get("profiles", defaults.DEFAULT_PROFILES), body.get("seed", 0)
    for name, value, high in (("profiles", count, 200_000), ("seed", rng_seed, 2**31)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
            raise bad_request(f"seed.{name}: expected an integer from 0 to {high}")
    emu.set_population(admin_scope(request), count, rng_seed)
    return JSONResponse({"profiles": count, "seed": rng_seed})


@router.get("/faults")
def get_faults(request: Request) -> JSONResponse:
    """Every active fault."""
    return JSONResponse(emulator_of(request).faults.to_json())


@router.post("/faults")
async def add_fault(request: Request) -> JSONResponse:
    """{"endpoint": "METHOD /path" | "*", latency_ms, rate_limit_per_second, error_rate,
    error_status, error_count, drop_after_commit, seed} and/or {"jobs": {"fail", "stuck", "errors"}}."""
    emu = emulator_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not body:
        raise bad_request('faults: expected {"endpoint": "...", ...} or {"jobs": {...}}')
    outcomes = parse_job_outcomes(body.pop("jobs")) if "jobs" in body else None
    fault = parse_endpoint_fault(body) if body else None
    if fault is not None:
        emu.faults.set_endpoint(fault)
    if outcomes is not None:
        emu.faults.add_job_outcomes(outcomes)
    return JSONResponse(emu.faults.to_json())


@router.delete("/faults")
def clear_faults(request: Request) -> JSONResponse:
    """Remove every fault, or only ?endpoint=METHOD%20/path."""
    emu = emulator_of(request)
    emu.faults.clear(request.query_params.get("endpoint"))
    return JSONResponse(emu.faults.to_json())


@router.get("/stats")
def get_stats(request: Request) -> JSONResponse:
    """{"total": N, "routes": {"METHOD /path/{}": n}} since start or the last reset."""
    return JSONResponse(emulator_of(request).stats.to_json())


@router.delete("/stats")
def reset_stats(request: Request) -> Response:
    """Reset the counts."""
    emulator_of(request).stats.reset()
    return Response(status_code=204)


@router.post("/credentials")
async def add_credentials(request: Request) -> JSONResponse:
    """Register another client {client_id, client_secret, org_id, scopes} (e.g. a second org)."""
    emu = emulator_of(request)
    body = await json_body(request)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) and body[k] for k in ("client_id", "client_secret", "org_id")
    ):
        raise bad_request("credentials: expected client_id, client_secret and org_id strings")
    if not ORG_ID.match(body["org_id"]):
        raise bad_request(
            "credentials.org_id: expected an id like 0123456789ABCDEF01234567@AdobeOrg"
        )
    scopes = body.get("scopes", list(defaults.SCOPES))
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise bad_request("credentials.scopes: expected a list of strings")
    with emu.store.tx() as db:
        db.execute(
            "INSERT OR REPLACE INTO credentials (client_id, client_secret, org_id, scopes) "
            "VALUES (?, ?, ?, ?)",
            (body["client_id"], digest(body["client_secret"]), body["org_id"], ",".join(scopes)),
        )
    return JSONResponse({"client_id": body["client_id"], "org_id": body["org_id"]}, status_code=201)


@router.post("/dataSets")
async def ui_create_dataset(request: Request) -> JSONResponse:
    """Create a dataset as the UI would; an explicit "id" (24 hex) is allowed."""
    emu = emulator_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("dataSets: expected a JSON object")
    fields = dict(body)
    explicit = fields.pop("id", None)
    if explicit is not None and not isinstance(explicit, str):
        raise bad_request("id: expected 24 lowercase hex characters")
    new_id = datasets.create(emu, admin_scope(request), fields, dataset_id=explicit)
    return JSONResponse(datasets.reference(new_id), status_code=201)


@router.patch("/dataSets/{dataset_id}")
async def ui_change_dataset(request: Request, dataset_id: str) -> JSONResponse:
    """Change any dataset fields (rename etc.) as the UI would."""
    emu = emulator_of(request)
    body = await json_body(request)
    if not isinstance(body, dict):
        raise bad_request("dataSets: expected a JSON object of fields to change")
    datasets.update(emu, admin_scope(request), dataset_id, body, json_patch=False, if_match=None)
    return JSONResponse(datasets.reference(dataset_id))


@router.delete("/dataSets/{dataset_id}")
def ui_delete_dataset(request: Request, dataset_id: str) -> JSONResponse:
    """Delete a dataset as the UI would."""
    datasets.delete(emulator_of(request), admin_scope(request), dataset_id)
    return JSONResponse(datasets.reference(dataset_id))


@router.post("/exportJobs")
async def ui_create_job(request: Request) -> JSONResponse:
    """Create an export job outside the tool; same body and checks as the API, optional "id"."""
    emu = emulator_of(request)
    body = await json_body(request)
    explicit = body.pop("id", None) if isinstance(body, dict) else None
    if explicit is not None and (
        isinstance(explicit, bool) or not isinstance(explicit, int) or not 0 < explicit < 10**15
    ):
        raise bad_request("id: expected a positive integer")
    job = jobs.create(emu, admin_scope(request), body, job_id=explicit)
    job, phase = jobs.observe(emu, job)
    return JSONResponse(job_record.render(emu, job, phase))


@router.post("/exportJobs/{job_id}/cancel")
def ui_cancel_job(request: Request, job_id: str) -> JSONResponse:
    """Cancel an in-flight job (409 when it has finished)."""
    emu = emulator_of(request)
    scope = admin_scope(request)
    job = jobs.require(emu, scope, job_id)
    jobs.interrupt(emu, job, "cancelled_ms")
    job, phase = jobs.observe(emu, jobs.require(emu, scope, job_id))
    return JSONResponse(job_record.render(emu, job, phase))


@router.post("/exportJobs/{job_id}/fail")
async def ui_fail_job(request: Request, job_id: str) -> JSONResponse:
    """Fail an in-flight job now; optional body {"errors": [{code, msg, callStack}]}."""
    emu = emulator_of(request)
    scope = admin_scope(request)
    errors = None
    if await request.body():
        body = await json_body(request)
        errors = parse_job_outcomes(
            {"errors": body.get("errors")} if isinstance(body, dict) else None
        ).errors
    job = jobs.require(emu, scope, job_id)
    jobs.interrupt(emu, job, "failed_ms", errors)
    job, phase = jobs.observe(emu, jobs.require(emu, scope, job_id))
    return JSONResponse(job_record.render(emu, job, phase))


@router.post("/batches/{batch_id}/expire")
def expire_batch(request: Request, batch_id: str) -> JSONResponse:
    """Mark a batch inactive (expired): Catalog shows it, Data Access no longer serves it."""
    emu = emulator_of(request)
    scope = admin_scope(request)
    batch = batches_mod.row(emu, scope, batch_id)
    if batch["status"] != "success":
        raise service_error(
            409, f"Batch {batch_id} is not successful; only exported batches expire"
        )
    with emu.store.tx() as db:
        db.execute("UPDATE batches SET status = 'inactive' WHERE id = ?", (batch_id,))
    return JSONResponse(
        {batch_id: batches_mod.record(emu, scope, batches_mod.row(emu, scope, batch_id))}
    )
