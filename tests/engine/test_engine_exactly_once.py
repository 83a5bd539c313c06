"""Exactly once on the platform as documented (issue 13): the create, cancel and wait protocols.

Against the emulator's documented profile (terse job records, marked cancels, the platform clock
2 h ahead, strict sandboxes) with its fault schedules, over HTTP.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_harness import Project, live_jobs

from reconciler.engine.connect import HTTP_TIMEOUT_ENV
from reconciler.engine.create import to_ms
from reconciler.engine.executor import Executor
from reconciler.engine.model import Action, Plan
from reconciler.engine.refresh import platform_now
from reconciler.engine.workflow import (
    ApprovalRequired,
    Console,
    RunsFailed,
    _report_waited,
    apply,
    settings_for,
)
from reconciler.platform import PlatformClient
from reconciler.spec.canonical import normalize_request, request_body
from reconciler.spec.loader import load_specs
from reconciler.spec.models import ExportJobDoc
from reconciler.state import Intent, StateStore, StateWriter

EMULATOR_PROFILES = ("documented",)
JOBS_POST = "POST /data/core/ups/export/jobs"
DATASETS_POST = "POST /data/foundation/catalog/dataSets"
DAILY = "exportjob/daily-emails"
AUDIENCE = "exportjob/newsletter-audience"


def job_doc(index: int) -> str:
    """Export jobs that differ only in what terse records do not carry (additionalFields)."""
    return (
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: job-{index}}}\n"
        "spec:\n"
        "  fields: identities.id,personalEmail.address\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        "  additionalFields:\n"
        "    eventList:\n"
        "      fields: environment.browserDetails.name\n"
        f'      filter: {{fromIngestTimestamp: "2020-01-01T00:{index:02d}:00Z"}}\n'
        "  destination: {dataset: crm-profiles}\n"
        "  schema: {name: _xdm.context.profile}\n"
    )


@pytest.fixture(autouse=True)
def no_faults_left(project: Project) -> Iterator[None]:
    yield
    project.admin("DELETE", "/faults")


def fault(project: Project, endpoint: str, **settings: object) -> None:
    project.admin("POST", "/faults", {"endpoint": endpoint, **settings})


def apply_ok(project: Project, *extra: str) -> str:
    result = project.run("apply", "--auto-approve", *extra)
    assert result.code == 0, result.out + result.err
    return result.out + result.err


def assert_exactly_once(project: Project, *, plan_clean: bool = True) -> None:
    """One live job per full request, every live job in state, nothing pending, plan clean."""
    jobs = live_jobs(project)
    state = project.state()
    twins = {req: n for req, n in Counter(req for _, _, req in jobs).items() if n > 1}
    assert not twins, f"duplicate jobs: {twins}"
    assert {j for j, _, _ in jobs} <= state.claimed_job_ids(), "a live job is not in state"
    assert state.pending == []
    if plan_clean:
        done = project.run("plan", "--detailed-exitcode")
        assert done.code == 0, done.out + done.err


def test_post_answered_past_the_read_timeout_is_found_not_resent(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 1: the POST is carried out, its answer comes after the client gave up."""
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "1")
    fault(project, JOBS_POST, schedule=["commit_slow"], slow_seconds=3)
    out = apply_ok(project)
    assert "found job" in out
    assert len(live_jobs(project)) == 2
    assert_exactly_once(project)


def test_unreadable_answer_to_a_post_keeps_the_intent_and_adopts_the_job(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Case 2: a 2xx whose body cannot be read is no refusal; the job it made is adopted."""
    from reconciler.platform import PlatformClient, UnexpectedResponseError

    real = PlatformClient.create_export_job
    calls = []

    def unreadable_answer(self: PlatformClient, body: object) -> object:
        record = real(self, body)  # type: ignore[arg-type]
        calls.append(record.id)
        if len(calls) == 1:  # the first answer arrives garbled (the old client raised this)
            raise UnexpectedResponseError("POST /data/core/ups/export/jobs: not JSON")
        return record

    monkeypatch.setattr(PlatformClient, "create_export_job", unreadable_answer)
    apply_ok(project)
    assert len(calls) == 2  # one POST per document: the garbled one was not resent
    assert_exactly_once(project)


def test_clock_stepped_back_and_a_dropped_answer_make_no_duplicate(project: Project) -> None:
    """Case 4: resolution searches after the watermark by job id, not by creation time."""
    apply_ok(project, "--wait", "--timeout", "60s")
    apply_ok(project)  # records the watermark (the newest creation time seen)
    text = (project.root / "specs/exports/daily-emails.yaml").read_text()
    project.write(
        "specs/exports/daily-emails.yaml",
        text.replace("fields: identities.id,personalEmail.address", "fields: identities.id"),
    )
    project.admin("POST", "/clock", {"advance_seconds": -30})
    fault(project, JOBS_POST, schedule=["commit_drop"])
    out = apply_ok(project)
    assert "found job" in out
    # the new run's job carries an older creation time than the run it replaced: it is still
    # recorded as the newest, so the next plan does not replace it again
    assert_exactly_once(project)
    res = project.state().export_job(DAILY)
    assert res is not None and len({r.fingerprint for r in res.runs}) == 2
    assert res.newest_run().fingerprint == res.fingerprint  # type: ignore[union-attr]


def test_terse_records_and_committed_500s_give_one_job_per_document(project: Project) -> None:
    """Case 5: records without fields/additionalFields, 500s after committed POSTs."""
    for index in range(5):
        project.write(f"specs/exports/job-{index}.yaml", job_doc(index))
    fault(project, JOBS_POST, schedule=["commit_500", "commit_500", "ok", "commit_500", "500"])
    apply_ok(project)
    assert len(live_jobs(project)) == 7
    assert_exactly_once(project)


def test_a_500_before_anything_was_done_is_sent_again_after_the_settle_window(
    project: Project,
) -> None:
    """No job appears within the settle window: the POST did not happen, so it is sent again."""
    fault(project, JOBS_POST, schedule=["500"])
    started = time.monotonic()
    out = apply_ok(project)
    assert time.monotonic() - started >= 1.0  # the test settle window (conftest)
    assert "it did not happen; sending it again" in out
    assert len(live_jobs(project)) == 2
    assert_exactly_once(project)


def _pending_intent(project: Project, address: str, *, watermark: int | None) -> Intent:
    """The intent an apply killed mid-POST leaves (written as that apply would have)."""
    settings = settings_for(project.root, None, project.env)
    doc = load_specs(settings).by_address(address)
    assert isinstance(doc, ExportJobDoc)
    dataset = project.state().dataset("dataset/crm-profiles")
    assert dataset is not None
    body = normalize_request(request_body(doc, dataset.datasetId))
    now_ms = project.admin("GET", "/clock")["now_ms"]
    from datetime import UTC, datetime

    from reconciler.spec.canonical import fingerprint

    return Intent(
        id=f"intent-{address}",
        address=address,
        kind="exportjob",
        fingerprint=fingerprint(doc),
        request=body,
        watermarkJobId=watermark,
        platformTimeMs=now_ms,
        postedAtMs=now_ms,
        outcome="unknown",
        createdAt=datetime.now(UTC),
    )


def _only_datasets(project: Project) -> None:
    """Apply the datasets only (the jobs' documents moved aside), then put the jobs back."""
    exports = project.root / "specs" / "exports"
    aside = project.root / "aside"
    exports.rename(aside)
    try:
        apply_ok(project)
    finally:
        aside.rename(exports)


def _newest_job_id(project: Project) -> int:
    with project.client() as client:
        return max((r.id for r in client.iter_export_jobs()), default=0)


def _twin(project: Project, intent: Intent) -> int:
    created = project.admin("POST", "/exportJobs", dict(intent.request))
    return int(created["id"])


def test_two_candidates_stop_that_address_naming_them_and_the_import(project: Project) -> None:
    """Several candidates: nothing is guessed; the line names the ids and the command."""
    _only_datasets(project)
    mark = _newest_job_id(project)
    intent = _pending_intent(project, DAILY, watermark=mark)
    state = project.state()
    state.pending.append(intent)
    _write_state(project, state)
    first, second = _twin(project, intent), _twin(project, intent)

    result = project.run("apply", "--auto-approve")
    assert result.code == 1, result.out + result.err
    text = result.out + result.err
    line = next(x for x in text.splitlines() if x.startswith(f"{DAILY}: stopped"))
    assert f"{first}, {second}" in line and f"reconciler import {DAILY} {first}" in line
    state = project.state()
    assert [i.address for i in state.pending] == [DAILY]  # kept, never resent
    assert state.export_job(DAILY) is None
    assert state.export_job(AUDIENCE) is not None  # the other address went on
    assert len(live_jobs(project)) == 3

    settled = project.run("import", DAILY, str(first))
    assert settled.code == 0, settled.out + settled.err
    again = project.run("apply", "--auto-approve")
    assert again.code == 0, again.out + again.err
    state = project.state()
    assert state.pending == []
    assert [r.jobId for r in state.export_job(DAILY).runs] == [first]  # type: ignore[union-attr]
    assert second not in state.claimed_job_ids()  # the twin stays unmanaged, never adopted


def test_one_record_that_could_answer_two_intents_is_adopted_for_neither(
    project: Project,
) -> None:
    """Two documents with one request, both creates unknown, one job: do not guess."""
    daily = (project.root / "specs/exports/daily-emails.yaml").read_text()
    project.write(
        "specs/exports/daily-copy.yaml", daily.replace("name: daily-emails", "name: daily-copy")
    )
    _only_datasets(project)
    mark = _newest_job_id(project)
    state = project.state()
    one = _pending_intent(project, DAILY, watermark=mark)
    two = _pending_intent(project, "exportjob/daily-copy", watermark=mark)
    state.pending.extend([one, two])
    _write_state(project, state)
    job = _twin(project, one)

    result = project.run("apply", "--auto-approve")
    assert result.code == 1, result.out + result.err
    stops = [x for x in (result.out + result.err).splitlines() if ": stopped:" in x]
    assert len(stops) == 2 and all(str(job) in x and "reconciler import" in x for x in stops)
    assert job not in project.state().claimed_job_ids()


def _write_state(project: Project, state: object) -> None:
    with StateStore(project.state_path, project.sandbox).lock() as writer:
        writer.write(state)  # type: ignore[arg-type]


def test_dataset_replace_whose_post_gets_a_503_does_not_recover_an_orphan(
    project: Project,
) -> None:
    """Case 8: an older dataset an earlier replace orphaned carries the same address tag."""
    apply_ok(project)
    path = project.root / "specs" / "datasets.yaml"
    original = path.read_text()
    seen = [project.state().dataset("dataset/crm-profiles").datasetId]  # type: ignore[union-attr]
    # a dataset of another schema cannot be exported into: its export job goes first
    (project.root / "specs" / "exports" / "daily-emails.yaml").unlink()
    for version, schema in enumerate(("acme/schemas/crm", "acme/schemas/crm2")):
        project.write(
            "specs/datasets.yaml",
            original.replace(
                "  name: CRM profile export\n",
                f"  name: CRM profile export\n  schemaRef: {{id: https://ns.adobe.com/{schema}}}\n",
            ),
        )
        if version == 1:
            fault(project, DATASETS_POST, schedule=["503"])
        apply_ok(project, "--confirm-replace-dataset", "--target", "dataset/crm-profiles")
        res = project.state().dataset("dataset/crm-profiles")
        assert res is not None
        assert res.datasetId not in seen, "an orphaned dataset was taken for the new one"
        assert res.schemaId == f"https://ns.adobe.com/{schema}"
        seen.append(res.datasetId)
    with project.client() as client:
        assert client.get_dataset(seen[-1]) is not None


def _executor_for(project: Project, writer: StateWriter) -> tuple[Executor, PlatformClient]:
    settings = settings_for(project.root, None, project.env)
    specs = load_specs(settings)
    client = project.client()
    return Executor(client, writer, project.state(), specs, settle_s=1), client


def _plan_of(*actions: Action) -> Plan:
    return Plan(actions, (), "", 0, "", "")


def test_a_cancel_reads_first_and_never_deletes_a_finished_job(project: Project) -> None:
    """Case 7: the platform's "cancel or delete" would remove a SUCCEEDED record."""
    apply_ok(project, "--wait", "--timeout", "60s")
    job = project.state().export_job(AUDIENCE).newest_run().jobId  # type: ignore[union-attr]
    project.admin("DELETE", "/stats")
    with StateStore(project.state_path, project.sandbox).lock() as writer:
        executor, client = _executor_for(project, writer)
        with client:
            cancel = Action(AUDIENCE, "exportjob", "cancel", "test", cancel_job_id=job)
            [line] = executor.execute(_plan_of(cancel))
            assert "already ended SUCCEEDED" in line
            assert client.get_export_job(job) is not None
    routes = project.admin("GET", "/stats")["routes"]
    assert not any(k.startswith("DELETE") for k in routes), routes


def test_a_delete_whose_answer_is_lost_is_not_sent_again(project: Project) -> None:
    """Case 7: a retried DELETE would delete the record the first one cancelled."""
    project.admin("POST", "/config", {"job_processing_seconds": 30})
    try:
        apply_ok(project)
        job = project.state().export_job(AUDIENCE).newest_run().jobId  # type: ignore[union-attr]
        fault(project, "DELETE /data/core/ups/export/jobs/{jobId}", schedule=["commit_drop"])
        project.admin("DELETE", "/stats")
        with StateStore(project.state_path, project.sandbox).lock() as writer:
            executor, client = _executor_for(project, writer)
            with client:
                cancel = Action(AUDIENCE, "exportjob", "cancel", "test", cancel_job_id=job)
                executor.execute(_plan_of(cancel))
                run = executor.state.export_job(AUDIENCE).newest_run()  # type: ignore[union-attr]
                assert run is not None and run.cancelledAt is not None
                assert run.status in ("CANCELLING", "CANCELLED")
                [waited] = executor.wait([AUDIENCE], timeout_s=30, poll_s=0.2)
                assert waited.status == "CANCELLED"
                record = client.get_export_job(job)
                assert record is not None and record.status.upper() == "CANCELLED"
        routes = project.admin("GET", "/stats")["routes"]
        deletes = sum(n for k, n in routes.items() if k.startswith("DELETE"))
        assert deletes == 1, routes
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})


def test_removed_document_is_cancelled_and_with_wait_forgotten_in_the_same_apply(
    project: Project,
) -> None:
    project.admin("POST", "/config", {"job_processing_seconds": 30})
    try:
        apply_ok(project)
        (project.root / "specs/exports/audiences.yaml").unlink()
        out = apply_ok(project)  # without --wait: the cancel is asked for; forgotten later
        assert f"{AUDIENCE}: " in out and "forgets it" in out, out
        res = project.state().export_job(AUDIENCE)
        assert res is not None and res.newest_run().cancelledAt is not None  # type: ignore[union-attr]
        (project.root / "specs/exports/daily-emails.yaml").unlink()
        out = apply_ok(project, "--wait", "--timeout", "60s")
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})
    state = project.state()
    assert state.export_job(AUDIENCE) is None and state.export_job(DAILY) is None, out
    retired = {r.address: r for r in state.retired}
    for address in (AUDIENCE, DAILY):
        run = retired[address].resource.runs[-1]  # type: ignore[union-attr]
        assert run.status == "CANCELLED" and run.cancelledAt is not None
    assert project.run("plan", "--detailed-exitcode").code == 0


def test_wait_exits_1_when_the_followed_job_vanished(project: Project) -> None:
    """Case 12: a job gone from the platform while followed is no success."""
    project.admin("POST", "/config", {"job_processing_seconds": 30})
    try:
        apply_ok(project)
        job = project.state().export_job(DAILY).newest_run().jobId  # type: ignore[union-attr]
        with project.client() as client:  # gone: cancelled, then its record deleted
            client.cancel_export_job(job)
            deadline = time.monotonic() + 10
            while not client.get_export_job(job).is_terminal:  # type: ignore[union-attr]
                assert time.monotonic() < deadline
                time.sleep(0.2)
            client.cancel_export_job(job)
            assert client.get_export_job(job) is None
        with StateStore(project.state_path, project.sandbox).lock() as writer:
            executor, client = _executor_for(project, writer)
            with client:
                waited = executor.wait([DAILY], timeout_s=10, poll_s=0.2)
        assert [(w.address, w.status) for w in waited] == [(DAILY, "MISSING")]
        console = Console(out=lambda line: None, err=lambda line: None)
        with pytest.raises(RunsFailed, match="MISSING"):
            _report_waited(waited, console)
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})


def test_a_declined_approval_changes_nothing(project: Project) -> None:
    """Case 14: recovery and observations are written only once the apply is approved."""
    apply_ok(project, "--wait", "--timeout", "60s")
    project.admin(
        "POST",
        "/exportJobs",
        {
            "fields": "identities.id",
            "mergePolicy": {"id": "timestampOrdered-none-mp", "version": 1},
            "destination": {
                "datasetId": project.state().dataset("dataset/crm-profiles").datasetId  # type: ignore[union-attr]
            },
            "schema": {"name": "_xdm.context.profile"},
        },
    )
    text = (project.root / "specs/exports/daily-emails.yaml").read_text()
    project.write(
        "specs/exports/daily-emails.yaml",
        text.replace("fields: identities.id,personalEmail.address", "fields: identities.id"),
    )
    before = project.state_path.read_bytes()
    journal = sorted(p.name for p in project.state_path.parent.iterdir())
    settings = settings_for(project.root, None, project.env)
    console = Console(out=lambda line: None, err=lambda line: None, interactive=True)
    import os

    from reconciler.engine.connect import LOCAL_ENDPOINT_ENV

    os.environ[LOCAL_ENDPOINT_ENV] = project.base_url
    try:
        with pytest.raises(ApprovalRequired, match="nothing was changed"):
            apply(settings, console)
    finally:
        del os.environ[LOCAL_ENDPOINT_ENV]
    assert project.state_path.read_bytes() == before
    assert sorted(p.name for p in project.state_path.parent.iterdir()) == journal


def test_ages_are_measured_on_the_platform_clock(project: Project) -> None:
    """Case 16: with the platform clock 2 h ahead, `refresh: 1h` still comes due after 1 h."""
    daily = project.root / "specs/exports/daily-emails.yaml"
    daily.write_text(daily.read_text().replace("refresh: 24h", "refresh: 1h"))
    apply_ok(project, "--wait", "--timeout", "60s")
    plan = json.loads(project.run("plan", "--format", "json").out)
    assert not [a for a in plan["actions"] if a["action"] == "rerun"]  # just finished
    project.admin("POST", "/clock", {"advance_seconds": 3700})
    plan = json.loads(project.run("plan", "--format", "json").out)
    reruns = [a for a in plan["actions"] if a["action"] == "rerun"]
    assert [a["address"] for a in reruns] == [DAILY], plan["actions"]
    assert re.search(r"last success (1h|6\dm)", reruns[0]["reason"]), reruns[0]["reason"]


def test_the_platform_clock_is_read_from_the_answers(project: Project) -> None:
    with project.client() as client:
        list(client.iter_datasets())
        seen = to_ms(platform_now(client))
    emulator_now = project.admin("GET", "/clock")["now_ms"]
    assert seen is not None and abs(seen - emulator_now) < 5_000  # 2 h ahead of the wall clock
    assert abs(emulator_now - time.time() * 1000) > 3_000_000


def test_job_status_canceled_is_terminal_for_the_engine(tmp_path: Path) -> None:
    """Case 15: both spellings end a run, so --wait cannot hang on CANCELED."""
    from reconciler.engine.model import is_terminal, job_status
    from reconciler.engine.refresh import live_run
    from reconciler.platform.models import ExportJobRecord

    assert is_terminal("CANCELED") and is_terminal("CANCELLED") and not is_terminal("CANCELLING")
    assert job_status("canceled") == "CANCELLED"
    record = ExportJobRecord.model_validate(
        {
            "id": 7,
            "status": "CANCELED",
            "creationTime": 1,
            "destination": {"datasetId": "d", "batchId": "b"},
        }
    )
    assert live_run(record).status == "CANCELLED" and live_run(record).terminal


def test_adopt_is_the_same_under_incremental_and_full_refresh(project: Project) -> None:
    """Case 3: a job below the incremental watermark is still adopted, not created again."""
    apply_ok(project, "--wait", "--timeout", "60s")
    apply_ok(project)  # its refresh lists the jobs: the watermark is past them now
    job = project.state().export_job(DAILY).newest_run().jobId  # type: ignore[union-attr]
    assert project.run("state", "rm", DAILY).code == 0
    for mode in ("incremental", "full"):
        plan = json.loads(project.run("plan", "--format", "json", f"--refresh={mode}").out)
        actions = {(a["address"], a["action"], a["adoptId"]) for a in plan["actions"]}
        assert actions == {(DAILY, "adopt", str(job))}, (mode, plan["actions"])
    apply_ok(project)
    assert [r.jobId for r in project.state().export_job(DAILY).runs] == [job]  # type: ignore[union-attr]
    assert_exactly_once(project)


def test_an_unreadable_job_record_holds_its_address(project: Project) -> None:
    """Nothing acts on an address whose run's job record cannot be read; the others go on."""
    from reconciler.engine.model import LiveSnapshot
    from reconciler.platform.models import UnreadableRecord

    project.admin("POST", "/config", {"job_processing_seconds": 30})
    try:
        apply_ok(project)
        audience = project.state().export_job(AUDIENCE).newest_run().jobId  # type: ignore[union-attr]
        daily = project.state().export_job(DAILY).newest_run().jobId  # type: ignore[union-attr]
        project.admin("DELETE", "/stats")
        with StateStore(project.state_path, project.sandbox).lock() as writer:
            executor, client = _executor_for(project, writer)
            with client:
                executor.live = LiveSnapshot(
                    unreadable=(UnreadableRecord(id=audience, reason="status: not a string"),)
                )
                lines: list[str] = []
                executor.progress = lines.append
                done = executor.execute(
                    _plan_of(
                        Action(AUDIENCE, "exportjob", "cancel", "t", cancel_job_id=audience),
                        Action(DAILY, "exportjob", "cancel", "t", cancel_job_id=daily),
                    )
                )
        assert list(executor.stopped) == [AUDIENCE]
        assert f"job {audience} cannot be read (status: not a string)" in lines[0]
        assert len(done) == 1 and done[0].startswith(f"{DAILY}: ")
        routes = project.admin("GET", "/stats")["routes"]
        assert sum(n for k, n in routes.items() if k.startswith("DELETE")) == 1  # daily's only
    finally:
        project.admin("POST", "/config", {"job_processing_seconds": 0.3})


def test_a_bad_http_timeout_setting_is_one_error_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HTTP_TIMEOUT_ENV, "soon")
    result = project.run("plan")
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"error: {HTTP_TIMEOUT_ENV}='soon' is not a number of seconds between 0 and 3600; "
        "set it to e.g. 30 or unset it"
    ]


def test_waiting_on_retries_is_said_on_stderr(project: Project) -> None:
    """connect() hands the client a notifier: a wait of more than ~2 s is not silent."""
    fault(
        project,
        "GET /data/foundation/catalog/dataSets",
        schedule=["500"] * 8,
    )
    result = project.run("plan")
    assert result.code == 0, result.err
    assert re.search(r"waiting .*GET /data/foundation/catalog/dataSets", result.err), result.err


def test_a_frozen_platform_clock_cannot_make_the_settle_window_hang(project: Project) -> None:
    """The window is platform time since the POST, but never longer than this apply's own wait."""
    project.admin("POST", "/clock", {"freeze": True})
    try:
        fault(project, JOBS_POST, schedule=["500"])
        started = time.monotonic()
        out = apply_ok(project)
        assert time.monotonic() - started < 20
        assert "it did not happen; sending it again" in out
    finally:
        project.admin("POST", "/clock", {"freeze": False})
    assert len(live_jobs(project)) == 2
    assert_exactly_once(project)


def test_records_naming_another_merge_policy_id_make_no_duplicate(project: Project) -> None:
    """The Profile guide's answers name another mergePolicy id than the one sent: the POST's
    own job, its answer lost or a 500, is still found (never sent again), and the plan after
    it is clean (the record's policy id is no difference)."""
    project.admin("POST", "/behaviour", {"policy_echo": "other"})
    fault(project, JOBS_POST, schedule=["commit_drop", "commit_500"])
    out = apply_ok(project)
    assert out.count("found job") == 2, out
    jobs = live_jobs(project)
    assert len(jobs) == 2
    with project.client() as client:  # the records do name another id than the specs send
        assert all(
            j.mergePolicy is not None and j.mergePolicy.get("id") != "timestampOrdered-none-mp"
            for j in client.iter_export_jobs()
        )
    assert_exactly_once(project)
