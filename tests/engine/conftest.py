"""Fixtures for end-to-end engine tests: one emulator per module, one sandbox per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_harness import Project, emulator_with_short_jobs, make_project

from reconciler.emulator.server import RunningEmulator


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    """An emulator with short job timings, shared by the tests of a module."""
    with emulator_with_short_jobs(tmp_path_factory.mktemp("emulator")) as emu:
        yield emu


@pytest.fixture
def project(tmp_path: Path, emulator: RunningEmulator) -> Project:
    """A fresh specs repository (the example specs) in its own sandbox."""
    return make_project(tmp_path / "repo", emulator.base_url)
