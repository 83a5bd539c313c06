"""The previous snapshot is kept as `<state>.backup`, and a broken state's error names it."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.state import ExportJobResource, Run, State, StateStore
from reconciler.state.migrations import StateFileError


def _write(store: StateStore, times: int) -> State:
    with store.lock() as writer:
        state = State(sandbox="prod")
        for _ in range(times):
            state = writer.write(state)  # no `changed`: every write rewrites the snapshot
    return state


def test_the_replaced_snapshot_is_the_backup_and_stays_private(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    last = _write(store, 3)
    assert store.read() == last
    assert store.backup.read().serial == last.serial - 1
    assert os.stat(store.backup.path).st_mode & 0o777 == 0o600


def test_a_corrupted_state_names_its_backup(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    _write(store, 2)
    store.path.write_text('{"version": 2, "serial": ', encoding="utf-8")
    with pytest.raises(StateFileError) as caught:
        store.read()
    message = str(caught.value)
    assert "is not valid JSON" in message
    assert f"the state before its last rewrite is kept in {store.backup.path}" in message
    assert f"copy it over {store.path}" in message
    assert "\n" not in message


def test_without_a_backup_the_message_is_unchanged(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    store.path.write_text("[]", encoding="utf-8")
    with pytest.raises(StateFileError, match="is not a JSON object") as caught:
        store.read()
    assert "kept in" not in str(caught.value)


def _runs(first: int, count: int) -> list[Run]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Run(jobId=i, fingerprint="f", status="SUCCEEDED", createdAt=at, reason="create")
        for i in range(first, first + count)
    ]


def test_the_backup_head_reads_whole_from_the_states_history(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    with store.lock() as writer:
        state = writer.write(State(resources={"exportjob/a": ExportJobResource(
            fingerprint="f", request={}, runs=_runs(1, 25))}))  # fmt: skip
        res = state.export_job("exportjob/a")
        assert res is not None and res.archivedRuns == 15
        grown = res.model_copy(update={"runs": [*res.runs, *_runs(26, 20)]})
        state.resources["exportjob/a"] = grown
        writer.write(state)  # a snapshot: the first one is the backup now
    backup = store.backup
    assert backup.read().serial == 1 and backup.read().is_head
    assert not backup.history_path.name.startswith("prod.json.backup")  # no copy of it
    whole = backup.read_history().export_job("exportjob/a")
    assert whole is not None and [r.jobId for r in whole.runs] == list(range(1, 26))
    # the claims file is the state's, appended to since: it names the later runs too ...
    assert backup.read().claimed_job_ids().among(range(50)) == set(range(1, 36))
    # ... so a restore removes it (the hint says so): it is made again from the history
    store.path.write_bytes(backup.path.read_bytes())
    store.journal_path.unlink(missing_ok=True)
    store.claims_path.unlink()
    assert store.read().claimed_job_ids().among(range(50)) == set(range(1, 26))
    with store.lock() as writer:  # and the next lock writes it again
        assert writer.read().claimed_job_ids().max() == 25
    assert store.claims_path.stat().st_size == 15 * 8


def test_after_a_state_rm_the_hint_names_the_backups_claims(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "prod.json", "prod")
    with store.lock() as writer:
        writer.write(State(resources={"exportjob/a": ExportJobResource(
            fingerprint="f", request={}, runs=_runs(1, 25))}))  # fmt: skip
    with store.lock() as writer:
        state = writer.read_history()
        state.retire("exportjob/a", reason="state rm", at=datetime(2026, 1, 2, tzinfo=UTC))
        writer.write(state)
    # the backup (before the rm) still claims a's jobs: its own claims file was kept
    assert store.backup.read().claimed_job_ids().among([3]) == {3}
    assert store.read().claimed_job_ids().among([3]) == set()
    assert stat.S_IMODE(os.stat(store.backup.own_claims_path).st_mode) == 0o600
    store.path.write_text("{", encoding="utf-8")
    with pytest.raises(StateFileError) as caught:
        store.read()
    assert f"(and {store.backup.own_claims_path} over {store.own_claims_path})" in str(caught.value)
    store.backup.own_claims_path.unlink()
    with pytest.raises(StateFileError) as caught:
        store.read()
    assert f"(and remove {store.own_claims_path}: it is rebuilt from the history)" in str(
        caught.value
    )
