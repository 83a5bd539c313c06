"""Fixtures for end-to-end engine tests: one emulator per module, one sandbox per test.

A module that sets `BOTH_PROFILES = True` runs each of its tests against the emulator in both
behaviour profiles, `cooperative` and `documented` (terse echo, marked cancels, realistic
catalog, strict sandboxes, the platform clock 2 h ahead); the others use `cooperative`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from engine_harness import Project, emulator_with_short_jobs, make_project

from reconciler.emulator.server import RunningEmulator
from reconciler.engine.workflow import SETTLE_ENV
from reconciler.state import State, StateStore, StateWriter

PROFILES = ("cooperative", "documented")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`BOTH_PROFILES = True` or `EMULATOR_PROFILES = (...)` in a module picks its profiles."""
    if "emulator_profile" not in metafunc.fixturenames:
        return
    chosen = getattr(metafunc.module, "EMULATOR_PROFILES", None)
    if chosen is None and getattr(metafunc.module, "BOTH_PROFILES", False):
        chosen = PROFILES
    if chosen:
        metafunc.parametrize("emulator_profile", chosen, scope="module", indirect=True)


@pytest.fixture(scope="module")
def emulator_profile(request: pytest.FixtureRequest) -> str:
    """The emulator's behaviour profile for this module's tests (cooperative unless parametrized)."""
    return str(getattr(request, "param", "cooperative"))


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory, emulator_profile: str
) -> Iterator[RunningEmulator]:
    """An emulator with short job timings in the module's profile, shared by its tests."""
    emu = emulator_with_short_jobs(tmp_path_factory.mktemp("emulator"), profile=emulator_profile)
    with emu:
        yield emu


@pytest.fixture(autouse=True)
def short_settle_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lost create shows up at once in the emulator: a 1 s settle window keeps tests fast."""
    monkeypatch.setenv(SETTLE_ENV, "1")


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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a module with `SLOW_ONLY_WITH_M_SLOW = True`, `@pytest.mark.slow` runs need `-m slow`."""
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="a long run: select it with -m slow")
    for item in items:
        module = getattr(item, "module", None)
        if "slow" in item.keywords and getattr(module, "SLOW_ONLY_WITH_M_SLOW", False):
            item.add_marker(skip)
