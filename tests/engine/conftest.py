"""Fixtures for end-to-end engine tests: one emulator per module, one sandbox per test."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from engine_harness import Project, emulator_with_short_jobs, make_project

from reconciler.emulator.server import RunningEmulator
from reconciler.state import State, StateStore, StateWriter


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulator with short job timings, shared by the tests of a module."""
    with emulator_with_short_jobs(tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture
def project(tmp_path: Path, emulator: RunningEmulator) -> Project:
    """A fresh specs repository (the example specs) in its own sandbox."""
    return make_project(tmp_path / "repo", emulator.base_url)


@pytest.fixture(autouse=True)
def journal_writes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every state write of an in-process command must read back from disk exactly as written."""
    # A write that names too few changed addresses leaves the journal short of the state: the
    # command fails at that write, and so does its test.
    write = StateWriter.write

    def checked(self: StateWriter, state: State, changed: Iterable[str] | None = None) -> State:
        written = write(self, state, changed)
        on_disk = StateStore(self.path).read()
        # compared as JSON: the file keeps timestamps to the millisecond
        assert on_disk.to_json() == written.to_json(), f"a write naming {changed} is not on disk"
        return written

    monkeypatch.setattr(StateWriter, "write", checked)
