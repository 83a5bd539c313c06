"""The state file: round trip, clear errors, atomic writes, the lock across processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.state import (
    BatchRef,
    DatasetResource,
    ExportJobResource,
    Intent,
    Run,
    State,
    StateFileError,
    StateLocked,
    StateStore,
)
from reconciler.state.migrations import upgrade

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def sample_state() -> State:
    run = Run(
        jobId=42,
        fingerprint="f" * 64,
        status="SUCCEEDED",
        batchId="b1",
        batches=[{"segmentId": "s1", "batchId": "b1"}],
        datasetId="d" * 24,
        createdAt=T0,
        finishedAt=T0,
        reason="create",
    )
    return State(
        sandbox="prod",
        resources={
            "dataset/crm": DatasetResource(
                datasetId="d" * 24,
                name="CRM",
                tags={"reconciler/address": ["dataset/crm"]},
                schemaId="https://ns.adobe.com/xdm/context/profile__union",
                createdAt=T0,
            ),
            "exportjob/daily": ExportJobResource(
                fingerprint="f" * 64,
                request={"fields": "a,b", "destination": {"dataset": "crm"}},
                datasetAddress="dataset/crm",
                runs=[run],
            ),
        },
        pending=[
            Intent(
                id="i1",
                address="exportjob/daily",
                kind="exportjob",
                fingerprint="f" * 64,
                request={"fields": "a,b"},
                watermarkMs=1,
                createdAt=T0,
            )
        ],
    )


def test_missing_file_reads_as_a_new_empty_state(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "s.json", sandbox="dev").read()
    assert state.serial == 0 and state.lineage == "" and state.sandbox == "dev"
    assert state.resources == {} and state.pending == []


def test_write_round_trips_and_bumps_serial(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "nested" / "s.json")
    with store.lock() as writer:
        first = writer.write(sample_state())
        second = writer.write(first)
    assert (first.serial, second.serial) == (1, 2)
    assert first.lineage and second.lineage == first.lineage
    back = store.read()
    assert back == second
    raw = json.loads(store.path.read_text())
    run = raw["resources"]["exportjob/daily"]["runs"][0]
    assert run["createdAt"] == "2026-01-02T03:04:05.678Z"
    assert run["batches"] == [{"segmentId": "s1", "batchId": "b1"}]
    assert raw["observed"] == {"watermarkMs": None, "watermarkJobId": None, "unmanagedJobs": {}}
    # no temp file is left behind; the snapshot the second write replaced is the backup
    names = sorted(p.name for p in store.path.parent.iterdir())
    assert names == ["s.json", "s.json.backup", "s.json.lock"]
    assert store.backup.read() == first


def test_unmanaged_job_keys_survive_json(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    state = State.model_validate(
        {"observed": {"watermarkMs": 5, "unmanagedJobs": {"7": {"status": "NEW", "createdMs": 4}}}}
    )
    with store.lock() as writer:
        writer.write(state)
    assert store.read().observed.unmanagedJobs[7].status == "NEW"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "is not valid JSON (line 1, column 2"),
        ("[]", "is not a JSON object"),
        ('{"version": 1, "serial": "x"}', "serial: Input should be a valid integer"),
        ('{"version": 1, "resources": {"a": {"kind": "Nope"}}}', "resources.a"),
        ('{"version": 9}', "newer than this reconciler reads (2); upgrade reconciler"),
        ('{"serial": 1}', "has no integer 'version'"),
        ('{"version": 0}', "version 0, which this reconciler cannot upgrade"),
    ],
)
def test_bad_files_give_one_line_errors_naming_the_file(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(text)
    with pytest.raises(StateFileError) as info:
        StateStore(path).read()
    message = str(info.value)
    assert str(path) in message and expected in message and "\n" not in message


def test_sandbox_mismatch_is_refused(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json", sandbox="prod")
    with store.lock() as writer:
        writer.write(State())
    with pytest.raises(StateFileError, match="sandbox 'prod', not 'dev'"):
        StateStore(tmp_path / "s.json", sandbox="dev").read()


def test_migrations_run_in_order() -> None:
    steps = {
        0: lambda raw: {"version": 0, "resources": raw["things"]},
        1: lambda raw: {**raw, "added": True},
    }
    out = upgrade({"version": 0, "things": {}}, "s.json", target=2, migrations=steps)
    assert out == {"version": 2, "resources": {}, "added": True}


_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reconciler.state import StateStore
    with StateStore(Path(sys.argv[1])).lock(command="reconciler apply --auto-approve"):
        print("locked", flush=True)
        time.sleep(30)
    """
)


def test_second_locker_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(store.path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        assert store.holder() is not None
        started = time.monotonic()
        with pytest.raises(StateLocked) as info, store.lock():
            pass
        assert time.monotonic() - started < 1.0
        message = str(info.value)
        assert f"pid {proc.pid}" in message
        assert "'reconciler apply --auto-approve'" in message and str(store.path) in message
        # reading never needs the lock
        assert store.read().serial == 0
    finally:
        proc.kill()
        proc.wait()
    # the kernel drops a dead holder's lock, so the next locker gets in
    with store.lock() as writer:
        writer.write(State())
    assert store.holder() is None


def test_lock_is_released_after_an_error(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "s.json")
    with pytest.raises(RuntimeError), store.lock():
        raise RuntimeError("boom")
    with store.lock():
        pass


def test_a_folder_in_place_of_the_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s.json").mkdir()
    with pytest.raises(StateFileError, match=r"cannot read .*s\.json: Is a directory"):
        StateStore(tmp_path / "s.json").read()


run_strategy = st.builds(
    Run,
    jobId=st.integers(1, 2**53),
    fingerprint=st.text("0123456789abcdef", min_size=64, max_size=64),
    status=st.sampled_from(["NEW", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLED", "WEIRD"]),
    batchId=st.none() | st.text(min_size=1, max_size=12),
    batches=st.lists(
        st.builds(BatchRef, segmentId=st.text(max_size=8), batchId=st.text(max_size=8)), max_size=3
    ),
    datasetId=st.none() | st.text(min_size=1, max_size=24),
    createdAt=st.datetimes(timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)
    ),
    finishedAt=st.none(),
    reason=st.sampled_from(["create", "replace", "rerun: failed", "adopt"]),
)


@settings(max_examples=50, deadline=None)
@given(runs=st.lists(run_strategy, max_size=5), text=st.text(max_size=30))
def test_any_state_survives_a_write_and_read(
    tmp_path_factory: pytest.TempPathFactory, runs: list[Run], text: str
) -> None:
    store = StateStore(tmp_path_factory.mktemp("s") / "state.json", sandbox="prod")
    state = State(
        resources={
            "exportjob/x": ExportJobResource(
                fingerprint="f", request={"fields": text, "n": [1, None, True]}, runs=runs
            )
        }
    )
    with store.lock() as writer:
        written = writer.write(state)
    assert store.read() == written


def test_a_version_1_file_reads_with_an_empty_history_and_is_written_as_version_2(
    tmp_path: Path,
) -> None:
    written = sample_state().model_dump(mode="json")
    del written["retired"]
    written["version"] = 1
    path = tmp_path / "s.json"
    path.write_text(json.dumps(written))
    store = StateStore(path, sandbox="prod")
    state = store.read()
    assert state.version == 2 and state.retired == []
    assert state.resources == sample_state().resources
    with store.lock() as writer:
        writer.write(state)
    assert json.loads(path.read_text())["version"] == 2


def test_retire_keeps_the_resource_and_only_forget_keeps_claiming_it() -> None:
    state = sample_state()
    assert state.claimed_job_ids() == {42} and state.claimed_dataset_ids() == {"d" * 24}
    state.retire("exportjob/daily", reason="forget", at=T0)
    state.retire("dataset/crm", reason="state rm", at=T0)
    assert state.resources == {}
    assert [(r.address, r.reason) for r in state.retired] == [
        ("exportjob/daily", "forget"),
        ("dataset/crm", "state rm"),
    ]
    assert state.claimed_job_ids() == {42}  # the forgotten run still speaks for its job
    assert state.claimed_dataset_ids() == set()  # state rm gave the dataset up
    assert [r.reason for r in state.retired_at("dataset/crm")] == ["state rm"]
    back = State.model_validate_json(state.to_json())
    assert back == state
    raw = json.loads(state.to_json())["retired"][0]
    assert raw["retiredAt"] == "2026-01-02T03:04:05.678Z"
    assert raw["resource"]["runs"][0]["jobId"] == 42  # jobId -> batch history kept


resources_strategy = st.dictionaries(
    st.from_regex(r"exportjob/[a-z]{1,6}", fullmatch=True),
    st.lists(run_strategy, max_size=3, unique_by=lambda r: r.jobId),
    max_size=4,
)


@settings(max_examples=50, deadline=None)
@given(
    runs_by_address=resources_strategy,
    reasons=st.lists(st.sampled_from(["forget", "state rm", None]), min_size=4, max_size=4),
)
def test_claimed_jobs_are_the_managed_runs_plus_the_forgotten_ones(
    runs_by_address: dict[str, list[Run]], reasons: list[str | None]
) -> None:
    state = State(
        resources={
            a: ExportJobResource(fingerprint="f", request={}, runs=runs)
            for a, runs in runs_by_address.items()
        }
    )
    expected: set[int] = set()
    for (address, runs), reason in zip(sorted(runs_by_address.items()), reasons, strict=False):
        if reason is None or reason == "forget":
            expected.update(r.jobId for r in runs)
        if reason is not None:
            state.retire(address, reason=reason, at=T0)  # type: ignore[arg-type]
    assert state.claimed_job_ids() == expected
    back = State.model_validate_json(state.to_json())
    assert back.claimed_job_ids() == expected and back.retired == state.retired


def test_a_hand_edited_file_with_loosely_typed_values_still_reads(tmp_path: Path) -> None:
    # the fast path is strict; anything it refuses goes through the lax one
    path = tmp_path / "s.json"
    raw = json.loads(sample_state().to_json())
    raw["serial"] = "7"
    raw["resources"]["exportjob/daily"]["runs"][0]["createdAt"] = "2026-01-02T03:04:05.678+00:00"
    path.write_text(json.dumps(raw, indent=2))
    state = StateStore(path).read()
    assert state.serial == 7
    res = state.export_job("exportjob/daily")
    assert res is not None and res.runs[0].createdAt == T0


def test_a_file_written_before_the_issue_13_fields_reads_with_their_defaults(
    tmp_path: Path,
) -> None:
    store = StateStore(tmp_path / "s.json")
    old = json.loads(sample_state().model_copy(update={"serial": 3, "lineage": "l"}).to_json())
    for key in ("watermarkJobId", "platformTimeMs", "postedAtMs", "answerJobId", "outcome"):
        del old["pending"][0][key]
    old["observed"]["unmanagedJobs"] = {"7": {"status": "NEW", "createdMs": 4}}
    store.path.write_text(json.dumps(old, indent=2))
    state = store.read()
    intent = state.pending[0]
    assert (intent.watermarkJobId, intent.platformTimeMs, intent.postedAtMs) == (None, None, None)
    assert (intent.answerJobId, intent.outcome) == (None, "pending")
    assert state.observed.unmanagedJobs[7].request is None
    # ... and the new ones round-trip, a run may be CANCELLING.
    state.pending[0] = intent.model_copy(
        update={
            "watermarkJobId": 24000,
            "postedAtMs": 5,
            "answerJobId": 24001,
            "outcome": "unknown",
        }
    )
    state.observed.unmanagedJobs[7] = state.observed.unmanagedJobs[7].model_copy(
        update={"request": {"schema": {"name": "_xdm.context.profile"}}}
    )
    job = state.export_job("exportjob/daily")
    assert job is not None
    job.runs[0] = job.runs[0].model_copy(update={"status": "CANCELLING"})
    with store.lock() as writer:
        written = writer.write(state)
    back = store.read()
    assert back == written
    assert back.pending[0].outcome == "unknown" and back.pending[0].answerJobId == 24001
    assert back.observed.unmanagedJobs[7].request == {"schema": {"name": "_xdm.context.profile"}}
    with pytest.raises(StateFileError, match="outcome"):
        bad = json.loads(back.to_json())
        bad["pending"][0]["outcome"] = "maybe"
        store.path.write_text(json.dumps(bad))
        store.read()
