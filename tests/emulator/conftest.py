"""A started emulator per test (fresh data directory, frozen clock) and an Api for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from reconciler.emulator.server import RunningEmulator, start_in_thread

from .helpers import Api, get_token


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    """A running emulator on a fresh data directory with its clock frozen."""
    with start_in_thread(tmp_path / "emulator") as running:
        requests.post(
            f"{running.base_url}/_emulator/clock", json={"freeze": True}, timeout=10
        ).raise_for_status()
        yield running


@pytest.fixture
def api(emulator: RunningEmulator) -> Api:
    """The default client in the default org, sandbox prod."""
    return Api(emulator.base_url, get_token(emulator.base_url))
