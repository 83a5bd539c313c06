"""`reconciler lineage ID` on both backends, through the real command line (issue 16).

The state is written through each backend's own writer (a history with provenance, segments, a
retired resource, a document changed since); `lineage` reads it back from the state alone.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.state import BatchRef, ExportJobResource, Run, State, StateStore
from reconciler.state.postgres import PostgresStore, pg_target
from reconciler.state.protocol import Store

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
FP_OLD, FP_NEW = "a" * 64, "b" * 64
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _run(job: int, day: int, fp: str = FP_NEW, **extra: object) -> Run:
    fields: dict[str, object] = {
        "jobId": job,
        "fingerprint": fp,
        "status": "SUCCEEDED",
        "batchId": f"batch-{job}",
        "datasetId": "ds-1",
        "createdAt": T0 + timedelta(days=day),
        "finishedAt": T0 + timedelta(days=day, minutes=5),
        "reason": "rerun: refresh due" if day else "create",
    }
    return Run.model_validate({**fields, **extra})


def history() -> State:
    """exportjob/daily: 15 runs (the oldest made from an older request); exportjob/seg: one run
    per segment batch; exportjob/gone: retired by forget."""
    daily = [_run(100 + d, d, FP_OLD if d < 3 else FP_NEW) for d in range(15)]
    daily[14] = _run(
        114,
        14,
        commit=COMMIT,
        commitDirty=True,
        actor="octo-engineer",
        ciRun="https://github.com/data/specs/actions/runs/7",
        toolVersion="9.9.9",
    )
    seg = _run(200, 2, batchId=None)
    seg = seg.model_copy(
        update={
            "batches": [
                BatchRef(segmentId="seg-a", batchId="sb-a"),
                BatchRef(segmentId="seg-b", batchId="sb-b"),
            ]
        }
    )
    state = State(
        sandbox="prod",
        resources={
            "exportjob/daily": ExportJobResource(
                fingerprint=FP_NEW,
                request={"fields": "person.name", "destination": {"dataset": "crm"}},
                datasetAddress="dataset/crm",
                runs=daily,
            ),
            "exportjob/seg": ExportJobResource(
                fingerprint=FP_NEW, request={"segmentPerBatch": True}, runs=[seg]
            ),
            "exportjob/gone": ExportJobResource(
                fingerprint=FP_OLD, request={"fields": "x"}, runs=[_run(300, 1, FP_OLD)]
            ),
        },
    )
    state.retire("exportjob/gone", reason="forget", at=T0 + timedelta(days=20))
    return state


@pytest.fixture(params=["local", "postgres"])
def project(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A project whose state (in the parametrized backend) holds `history()`."""
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    backend = request.param
    yaml = "platform: local\nsandbox: prod\nspecs: [specs]\n"
    store: Store
    if backend == "postgres":
        env = request.getfixturevalue("pg_env")
        request.getfixturevalue("pg_target")  # the tables
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        store = PostgresStore(pg_target(env), "prod")
        yaml += "state: {backend: postgres}\n"
    else:
        store = StateStore(root / ".reconciler" / "state" / "prod.json", "prod")
    (root / "reconciler.yaml").write_text(yaml, encoding="utf-8")
    with store.lock("test") as writer:
        writer.read()
        writer.write(history())
    return root


def lineage(root: Path, *args: str) -> tuple[int, str, str]:
    """The command line's entry point in-process (its one-line errors and exit codes)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["-C", str(root), "lineage", *args])
        except SystemExit as stop:
            code = int(stop.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_a_job_id_names_document_request_provenance_and_other_runs(project: Path) -> None:
    code, out, err = lineage(project, "114", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["id"] == "114" and doc["sandbox"] == "prod"
    [run] = doc["runs"]
    assert run["matchedBy"] == "jobId" and run["address"] == "exportjob/daily"
    assert run["managed"] is True and run["retired"] is None
    assert run["jobId"] == 114 and run["fingerprint"] == FP_NEW and run["status"] == "SUCCEEDED"
    assert run["request"] == {"fields": "person.name", "destination": {"dataset": "crm"}}
    assert run["datasetAddress"] == "dataset/crm" and run["batchId"] == "batch-114"
    assert run["createdAt"] == "2026-03-15T06:00:00.000Z"
    assert run["finishedAt"] == "2026-03-15T06:05:00.000Z"
    assert (run["commit"], run["commitDirty"], run["actor"], run["toolVersion"]) == (
        COMMIT,
        True,
        "octo-engineer",
        "9.9.9",
    )
    assert run["ciRun"] == "https://github.com/data/specs/actions/runs/7"
    # the 14 others, newest first, bounded at 10, the rest counted
    assert [o["jobId"] for o in run["otherRuns"]] == list(range(113, 103, -1))
    assert run["moreRuns"] == 4


def test_text_says_the_same_and_marks_what_was_not_recorded(project: Path) -> None:
    code, out, err = lineage(project, "114")
    assert code == 0, err
    assert out.startswith("job 114: run of exportjob/daily (job 114)\n")
    assert "exportjob/daily (managed)" in out and COMMIT in out
    assert "(uncommitted changes in the work tree)" in out and "octo-engineer" in out
    assert "reconciler 9.9.9" in out and "https://github.com/data/specs/actions/runs/7" in out
    assert "other runs of exportjob/daily (14, newest first):" in out
    assert "... and 4 more" in out
    # a run recorded before provenance existed reads fine and says so
    code, out, err = lineage(project, "batch-101", "--format", "json")
    assert code == 0, err
    [old] = json.loads(out)["runs"]
    assert [old[k] for k in ("commit", "commitDirty", "actor", "ciRun", "toolVersion")] == [
        None
    ] * 5
    assert old["request"] is None and old["documentFingerprint"] == FP_NEW
    code, out, err = lineage(project, "batch-101")
    assert code == 0, err
    assert out.startswith("batch batch-101: run of exportjob/daily (job 101)\n")
    assert "commit       not recorded" in out and "actor        not recorded" in out
    # made from an older request: its fingerprint is kept, the request is not
    assert f"fingerprint  {FP_OLD}" in out
    assert f"not kept (the document changed since: its fingerprint is now {FP_NEW})" in out


def test_a_segment_batch_id_finds_its_run(project: Path) -> None:
    code, out, err = lineage(project, "sb-b", "--format", "json")
    assert code == 0, err
    [run] = json.loads(out)["runs"]
    assert run["matchedBy"] == "batchId" and run["address"] == "exportjob/seg"
    assert run["jobId"] == 200 and run["batchId"] is None
    assert run["batches"] == [
        {"segmentId": "seg-a", "batchId": "sb-a"},
        {"segmentId": "seg-b", "batchId": "sb-b"},
    ]
    assert run["otherRuns"] == [] and run["moreRuns"] == 0
    code, out, _ = lineage(project, "sb-a")
    assert (
        code == 0 and "seg-a: sb-a, seg-b: sb-b" in out and "no other run of exportjob/seg" in out
    )


def test_a_retired_resource_is_searched(project: Path) -> None:
    code, out, err = lineage(project, "300", "--format", "json")
    assert code == 0, err
    [run] = json.loads(out)["runs"]
    assert run["managed"] is False and run["address"] == "exportjob/gone"
    assert run["retired"] == {"seq": 1, "retiredAt": "2026-03-21T06:00:00.000Z", "reason": "forget"}
    assert run["request"] == {"fields": "x"}
    code, out, _ = lineage(project, "batch-300")
    assert code == 0 and "retired by forget at 2026-03-21T06:00:00.000Z" in out


def test_an_unknown_id_is_one_line_naming_the_state_searched(project: Path) -> None:
    for ident, kinds in (("999", "job id or batch id"), ("no-such-batch", "batch id")):
        code, out, err = lineage(project, ident)
        assert code == 1 and out == ""
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert f"has {kinds} '{ident}'" in lines[0] and "of sandbox 'prod'" in lines[0]
        assert "Traceback" not in err
    code, _, err = lineage(project, " ")
    assert code == 1 and len(err.strip().splitlines()) == 1 and "empty" in err


def test_an_empty_state_has_no_lineage(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "specs").mkdir(parents=True)
    (root / "reconciler.yaml").write_text("platform: local\nsandbox: dev\nspecs: [specs]\n")
    code, _, err = lineage(root, "42")
    assert code == 1 and "no run in the state of sandbox 'dev'" in err
    assert str(root / ".reconciler" / "state" / "dev.json") in err


def test_both_backends_answer_every_id_alike(tmp_path: Path, pg_store: PostgresStore) -> None:
    local = StateStore(tmp_path / "prod.json", "prod")
    for store in (local, pg_store):
        with store.lock("test") as writer:
            writer.read()
            writer.write(history())
    state = local.read()
    runs = [r for res in state.resources.values() for r in getattr(res, "runs", [])]
    runs += [r for e in state.retired for r in getattr(e.resource, "runs", [])]
    idents = [(r.jobId, None) for r in runs] + [(None, r.batchId) for r in runs if r.batchId]
    idents += [(None, "sb-a"), (None, "sb-b"), (999, "999"), (None, "nothing")]
    for job_id, batch_id in idents:
        for others in (0, 3, 10):
            on_file = local.find_runs(job_id=job_id, batch_id=batch_id, others=others)
            on_pg = pg_store.find_runs(job_id=job_id, batch_id=batch_id, others=others)
            assert on_file == on_pg, (job_id, batch_id, others)
    [hit] = local.find_runs(job_id=114, others=3)
    assert [o.run.jobId for o in hit.others] == [113, 112, 111] and hit.more == 11
