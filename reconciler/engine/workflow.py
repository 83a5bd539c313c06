"""The command use-cases: each function is one command of the CLI, returning its exit code.

The CLI parses options and hands over a `Console`; everything that decides is here, so the
commands can be driven in-process by tests as well as from the shell.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from reconciler.config import Settings, load_settings
from reconciler.engine.connect import connect
from reconciler.engine.executor import Executor, WaitedRun, dataset_resource, run_from_record
from reconciler.engine.model import LiveSnapshot, Plan, canonical_json, field_changes
from reconciler.engine.planner import make_plan, record_observations
from reconciler.engine.refresh import refresh
from reconciler.errors import ReconcilerError
from reconciler.platform import PlatformClient, disable_request_logging, enable_request_logging
from reconciler.render.audit import AuditEntry, render_audit
from reconciler.render.plan import PlanFormat, render_plan
from reconciler.render.status import StatusEntry, render_status
from reconciler.spec.canonical import canonical_request, fingerprint, normalize_request
from reconciler.spec.canonical import request_body as resolved_request
from reconciler.spec.loader import SpecSet, load_specs
from reconciler.spec.models import DatasetDoc, ExportJobDoc, parse_duration
from reconciler.state import (
    DatasetResource,
    ExportJobResource,
    State,
    StateStore,
    format_time,
    write_atomic,
)

DEFAULT_WAIT_TIMEOUT_S = 30 * 60.0


class StalePlan(ReconcilerError):
    """A saved plan whose state, specs or live facts changed since it was made."""


class ApprovalRequired(ReconcilerError):
    """apply without --auto-approve where nobody can answer the question."""


class RunsFailed(ReconcilerError):
    """apply --wait saw a run end FAILED (or CANCELLED)."""


class UsageError(ReconcilerError):
    """A command-line value the command cannot use."""


class NotInState(ReconcilerError):
    """An address that the state does not hold."""


@dataclass(frozen=True)
class Console:
    """Where a command writes, and what it may ask."""

    out: Callable[[str], None]  # results (stdout)
    err: Callable[[str], None]  # notes, progress of -v (stderr)
    color: bool = False
    verbose: int = 0
    interactive: bool = False  # stdin is a terminal, so a question can be answered
    tty: bool = False  # stdout is a terminal: progress may redraw one status line
    confirm: Callable[[str], bool] = lambda question: False


def settings_for(
    project_dir: Path, sandbox: str | None, env: Mapping[str, str] | None = None
) -> Settings:
    """The project's settings, with the process environment (AEP_SANDBOX) unless given."""
    return load_settings(project_dir, sandbox, dict(os.environ) if env is None else env)


def _now() -> datetime:
    return datetime.now(UTC)


def _store(settings: Settings) -> StateStore:
    return StateStore(settings.state_path, settings.sandbox)


@contextmanager
def _client(settings: Settings, console: Console) -> Iterator[PlatformClient]:
    """A connected client; with -v each request is logged and the count shown at the end."""
    handler = enable_request_logging(sys.stderr) if console.verbose else None
    try:
        with connect(settings) as client:
            try:
                yield client
            finally:
                if console.verbose:
                    console.err(f"http: {client.calls} requests")
    finally:
        if handler is not None:
            disable_request_logging(handler)


def _pending_note(state: State, console: Console) -> None:
    if state.pending:
        n = len(state.pending)
        console.err(
            f"note: the state holds {n} pending operation{'s' if n != 1 else ''} of an "
            "interrupted apply; the next 'reconciler apply' completes them"
        )


# plan


def plan(
    settings: Settings,
    console: Console,
    *,
    out: Path | None = None,
    fmt: str = "text",
    detailed_exitcode: bool = False,
    targets: tuple[str, ...] = (),
    refresh_only: bool = False,
    full_refresh: bool = False,
) -> int:
    """Refresh, plan and print; 2 with --detailed-exitcode when there is something to do."""
    specs = load_specs(settings)
    state = _store(settings).read()
    with _client(settings, console) as client:
        live = refresh(client, state, full=full_refresh)
    observed = record_observations(state, live)  # in memory only: plan never writes state
    result = make_plan(
        specs, observed, live, now=_now(), targets=targets, refresh_only=refresh_only
    )
    _pending_note(state, console)
    if out is not None:
        write_atomic(out, result.to_json())
    chosen_fmt = cast(PlanFormat, fmt if fmt in ("markdown", "json") else "text")
    console.out(render_plan(result, chosen_fmt, color=console.color).rstrip("\n"))
    if out is not None:
        console.err(f"saved the plan to {out}; apply exactly it with 'reconciler apply {out}'")
    return 2 if detailed_exitcode and result.has_changes else 0


def stale_reasons(saved: Plan, state: State, spec_digest: str, live: LiveSnapshot) -> list[str]:
    """What changed since a saved plan was made: the state, the specs, the live platform."""
    reasons = []
    if saved.state_lineage != state.lineage or saved.state_serial != state.serial:
        reasons.append(
            f"the state changed (serial {saved.state_serial} -> {state.serial})"
            if saved.state_lineage == state.lineage
            else "the state was replaced (a different lineage)"
        )
    if saved.spec_digest != spec_digest:
        reasons.append("the specs changed")
    if saved.live_digest != live.digest():
        reasons.append("the live platform changed")
    return reasons


# apply


def parse_timeout(text: str | None) -> float:
    """`--timeout 10m` -> seconds (default 30 minutes)."""
    if text is None:
        return DEFAULT_WAIT_TIMEOUT_S
    try:
        return float(parse_duration(text).total_seconds())
    except ValueError as exc:
        raise UsageError(f"--timeout: {exc}") from None


def apply(
    settings: Settings,
    console: Console,
    *,
    planfile: Path | None = None,
    auto_approve: bool = False,
    wait: bool = False,
    timeout: str | None = None,
    targets: tuple[str, ...] = (),
    confirm_replace_dataset: bool = False,
    poll_s: float = 1.0,
) -> int:
    """Carry out a fresh plan (after asking) or exactly a saved one; with --wait, follow the runs."""
    timeout_s = parse_timeout(timeout)
    saved = _read_plan(planfile) if planfile is not None else None
    if saved is not None and targets:
        raise UsageError(
            "--target cannot be combined with a saved plan; it applies exactly as planned"
        )
    specs = load_specs(settings)
    store = _store(settings)
    with store.lock() as writer, _client(settings, console) as client:
        executor = Executor(client, writer, writer.read(), specs, clock=_now, progress=console.out)
        recovered = executor.resolve_pending()
        live = refresh(client, executor.state)
        if saved is not None:
            reasons = stale_reasons(saved, executor.state, specs.digest, live)
            if recovered:
                reasons.insert(0, "an interrupted apply was completed")
            if reasons:
                raise StalePlan(
                    f"the saved plan {planfile} is stale: {'; '.join(reasons)} since it was made; "
                    f"run 'reconciler plan --out {planfile}' again"
                )
        executor.observe(live)
        if saved is not None:
            chosen = saved
        else:
            chosen = make_plan(specs, executor.state, live, now=_now(), targets=targets)
        console.out(render_plan(chosen, "text", color=console.color).rstrip("\n"))
        _check_replace_confirmed(chosen, confirm_replace_dataset)
        work = [a for a in chosen.actions if a.action != "wait"]
        if work and saved is None and not auto_approve:
            _ask(console)
        done = executor.execute(chosen)
        if done:
            console.out(f"Apply complete: {len(done)} action{'s' if len(done) != 1 else ''} done.")
        elif not wait or not chosen.actions:
            console.out("Nothing to apply.")
        if not wait:
            return 0
        addresses = [
            a.address
            for a in chosen.actions
            if a.kind == "exportjob" and a.action not in ("cancel", "forget")
        ]
        line = _StatusLine(console) if console.tty else None
        executor.progress = line.print if line is not None else console.out
        try:
            waited = executor.wait(
                addresses,
                timeout_s=timeout_s,
                poll_s=poll_s,
                tick=line.show if line is not None else None,
            )
        finally:
            if line is not None:
                line.clear()
    return _report_waited(waited, console)


class _StatusLine:
    """One redrawn line at the bottom of a terminal; other lines print above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.shown = False

    def show(self, text: str) -> None:
        sys.stdout.write("\r\x1b[2K" + text)
        sys.stdout.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stdout.write("\r\x1b[2K")
            sys.stdout.flush()
            self.shown = False

    def print(self, text: str) -> None:
        self.clear()
        self.console.out(text)


def _read_plan(planfile: Path) -> Plan:
    try:
        text = planfile.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read the saved plan {planfile}: {exc.strerror}") from None
    return Plan.from_json(text, source=str(planfile))


def _check_replace_confirmed(chosen: Plan, confirmed: bool) -> None:
    replaced = [a.address for a in chosen.actions if a.kind == "dataset" and a.action == "replace"]
    if replaced and not confirmed:
        raise ApprovalRequired(
            f"the plan replaces {', '.join(replaced)}, which orphans the data in the old dataset; "
            "rerun with --confirm-replace-dataset to allow it (nothing was changed)"
        )


def _ask(console: Console) -> None:
    if not console.interactive:
        raise ApprovalRequired(
            "apply needs approval but stdin is not a terminal; review the plan and rerun with "
            "--auto-approve, or apply a saved plan (nothing was changed)"
        )
    if not console.confirm("Apply these changes?"):
        raise ApprovalRequired("apply cancelled; nothing was changed")


def _report_waited(waited: list[WaitedRun], console: Console) -> int:
    bad = [w for w in waited if w.status != "SUCCEEDED"]
    for w in waited:
        batch = f", batch {w.batch_id}" if w.batch_id else ""
        console.out(f"{w.address}: job {w.job_id} {w.status}{batch}")
    if bad:
        detail = "; ".join(
            f"{w.address} job {w.job_id} {w.status}"
            + (f" ({w.errors[0].get('msg', '')})" if w.errors else "")
            for w in bad
        )
        raise RunsFailed(f"{len(bad)} run{'s' if len(bad) != 1 else ''} did not succeed: {detail}")
    return 0


# status and audit


def status(settings: Settings, console: Console, *, fmt: str = "text") -> int:
    """Every managed resource with its live status, newest run and batches."""
    state = _store(settings).read()
    with _client(settings, console) as client:
        live = refresh(client, state)
    entries = status_entries(state, live)
    _pending_note(state, console)
    console.out(render_status(entries, fmt).rstrip("\n"))
    return 0


def status_entries(state: State, live: LiveSnapshot) -> list[StatusEntry]:
    """The state's resources, each with what the live snapshot says of it now."""
    entries = []
    for address, res in sorted(state.resources.items()):
        if isinstance(res, DatasetResource):
            present = res.datasetId in live.datasets
            entries.append(
                StatusEntry(address, "dataset", "present" if present else "missing", res.datasetId)
            )
            continue
        newest = res.newest_run()
        if newest is None:
            entries.append(StatusEntry(address, "exportjob", "no run", res.datasetId))
            continue
        run = live.runs.get(newest.jobId)
        status_text = (
            "missing"
            if newest.jobId in live.missing_runs
            else (run.status if run else newest.status)
        )
        batches = (
            tuple(b for _, b in run.batches) or ((run.batch_id,) if run.batch_id else ())
            if run is not None
            else tuple(b.batchId for b in newest.batches)
            or ((newest.batchId,) if newest.batchId else ())
        )
        entries.append(
            StatusEntry(
                address,
                "exportjob",
                status_text,
                newest.datasetId,
                job_id=newest.jobId,
                batches=batches,
                finished_at=format_time(newest.finishedAt) if newest.finishedAt else None,
                runs=len(res.runs),
                note=newest.reason,
            )
        )
    return entries


def audit(settings: Settings, console: Console, *, fmt: str = "text") -> int:
    """Every export job and dataset in the sandbox, managed or not, with runs and batches."""
    state = _store(settings).read()
    with _client(settings, console) as client:
        datasets = list(client.iter_datasets())
        jobs = list(client.iter_export_jobs())
    console.out(render_audit(audit_entries(state, datasets, jobs), fmt).rstrip("\n"))
    return 0


def audit_entries(state: State, datasets: list[Any], jobs: list[Any]) -> list[AuditEntry]:
    """Live datasets and jobs joined with the state's claims; recorded runs no longer listed too."""
    owners = {r.datasetId: a for a, r in state.resources.items() if isinstance(r, DatasetResource)}
    runs = {
        run.jobId: (a, run)
        for a, r in state.resources.items()
        if isinstance(r, ExportJobResource)
        for run in r.runs
    }
    entries = [
        AuditEntry(
            "dataset",
            ds.id,
            "present",
            owners.get(ds.id),
            ds.id,
            (),
            None,
            None,
            format_time(datetime.fromtimestamp(ds.created / 1000, UTC)) if ds.created else None,
            ds.name,
        )
        for ds in sorted(datasets, key=lambda d: d.id)
    ]
    listed = set()
    for job in sorted(jobs, key=lambda j: j.id):
        listed.add(job.id)
        address, run = runs.get(job.id, (None, None))
        entries.append(
            AuditEntry(
                "exportjob",
                str(job.id),
                job.status.upper(),
                address,
                job.destination.datasetId,
                tuple(job.batch_ids),
                run.fingerprint if run else None,
                run.reason if run else None,
                format_time(datetime.fromtimestamp(job.creationTime / 1000, UTC)),
            )
        )
    for job_id, (address, run) in sorted(runs.items()):
        if job_id not in listed:
            batches = tuple(b.batchId for b in run.batches) or (
                (run.batchId,) if run.batchId else ()
            )
            entries.append(
                AuditEntry(
                    "exportjob",
                    str(job_id),
                    "not on platform",
                    address,
                    run.datasetId,
                    batches,
                    run.fingerprint,
                    run.reason,
                    format_time(run.createdAt),
                )
            )
    return entries


# import


def import_(settings: Settings, console: Console, address: str, live_id: str) -> int:
    """Adopt a live dataset or export job into state for the document at `address`."""
    specs = load_specs(settings)
    doc = specs.by_address(address)
    if doc is None:
        raise UsageError(
            f"{address} names no document; write the document first, then import into it"
        )
    store = _store(settings)
    with store.lock() as writer, _client(settings, console) as client:
        state = writer.read()
        if address in state.resources:
            raise UsageError(
                f"{address} is already in state; run 'reconciler state rm {address}' first to replace it"
            )
        if isinstance(doc, DatasetDoc):
            line = _import_dataset(state, client, doc, live_id)
        else:
            line = _import_job(state, client, specs, doc, live_id)
        writer.write(state)
    console.out(line)
    return 0


def _import_dataset(state: State, client: PlatformClient, doc: DatasetDoc, live_id: str) -> str:
    owner = next(
        (
            a
            for a, r in state.resources.items()
            if isinstance(r, DatasetResource) and r.datasetId == live_id
        ),
        None,
    )
    if owner is not None:
        raise UsageError(f"dataset {live_id} is already managed as {owner}")
    live = client.get_dataset(live_id)
    if live is None:
        raise UsageError(f"dataset {live_id} does not exist in sandbox '{client.sandbox}'")
    state.resources[doc.address] = dataset_resource(
        live, deletion_policy=doc.spec.deletionPolicy, created_at=_now()
    )
    return f"{doc.address}: imported dataset {live.id} ('{live.name}'); 'reconciler plan' shows what differs from the document"


def _import_job(
    state: State, client: PlatformClient, specs: SpecSet, doc: ExportJobDoc, live_id: str
) -> str:
    try:
        job_id = int(live_id)
    except ValueError:
        raise UsageError(f"'{live_id}' is not an export job id (a number)") from None
    if job_id in state.claimed_job_ids():
        raise UsageError(f"export job {job_id} is already recorded in state")
    record = client.get_export_job(job_id)
    if record is None:
        raise UsageError(f"export job {job_id} does not exist in sandbox '{client.sandbox}'")
    live_request = normalize_request(record.raw())
    dest = doc.spec.destination
    dataset_address = f"dataset/{dest.dataset}" if dest.dataset else None
    dataset_id = dest.datasetId
    if dataset_address is not None:
        res = state.dataset(dataset_address)
        dataset_id = res.datasetId if res is not None else None
    wanted = (
        normalize_request(resolved_request(doc, dataset_id)) if dataset_id is not None else None
    )
    if wanted == live_request:
        job_fp, request, note = fingerprint(doc), canonical_request(doc), "matches the document"
    else:
        # Recorded under its own request, so the next plan shows the difference as a replace.
        job_fp = hashlib.sha256(canonical_json(live_request).encode()).hexdigest()
        request = live_request
        changed = (
            ", ".join(c.path for c in field_changes(live_request, wanted or {})) or "the request"
        )
        note = f"differs from the document ({changed}), so the next plan replaces it"
    run = run_from_record(
        record, fingerprint=job_fp, reason="adopt (import)", dataset_id=record.destination.datasetId
    )
    state.resources[doc.address] = ExportJobResource(
        fingerprint=job_fp,
        request=request,
        datasetAddress=dataset_address,
        datasetId=None if dataset_address else dataset_id,
        runs=[run],
    )
    state.observed.unmanagedJobs.pop(job_id, None)
    return f"{doc.address}: imported export job {job_id} ({record.status}); its request {note}"


# state list | show | rm


def state_list(settings: Settings, console: Console) -> int:
    """One line per address in state (no network)."""
    state = _store(settings).read()
    for address, res in sorted(state.resources.items()):
        if isinstance(res, DatasetResource):
            console.out(f"{address}  dataset {res.datasetId}")
        else:
            newest = res.newest_run()
            last = f"job {newest.jobId} {newest.status}" if newest else "no run"
            console.out(
                f"{address}  {len(res.runs)} run{'s' if len(res.runs) != 1 else ''}, newest {last}"
            )
    _pending_note(state, console)
    return 0


def state_show(settings: Settings, console: Console, address: str) -> int:
    """One resource's state as JSON, runs included."""
    state = _store(settings).read()
    res = state.resources.get(address)
    if res is None:
        raise NotInState(f"{address} is not in state; see 'reconciler state list'")
    console.out(res.model_dump_json(indent=2))
    return 0


def state_rm(settings: Settings, console: Console, address: str) -> int:
    """Stop managing `address`: drop it from state, leave the live object alone."""
    with _store(settings).lock() as writer:
        state = writer.read()
        if address not in state.resources:
            raise NotInState(f"{address} is not in state; see 'reconciler state list'")
        del state.resources[address]
        writer.write(state)
    console.out(f"{address}: removed from state (the live object is left alone)")
    return 0
