"""The previous snapshot is kept as `<state>.backup`, and a broken state's error names it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.state import State, StateStore
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
