"""Fixtures: an emulator per test over real HTTP, its admin endpoints, and a client for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_helpers import Admin, make_client

from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.platform import PlatformClient


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[RunningEmulator]:
    # Pinned: each test turns on exactly the documented behaviour it is about
    # (test_documented_profile.py runs the client under the whole documented profile).
    with start_in_thread(tmp_path / "emulator", profile="cooperative") as running:
        yield running


@pytest.fixture
def admin(emulator: RunningEmulator) -> Iterator[Admin]:
    admin = Admin(emulator.base_url)
    # Short job timings keep the lifecycle tests fast.
    admin.config(job_new_seconds=0.05, job_processing_seconds=0.1)
    yield admin
    admin.session.close()


@pytest.fixture
def client(emulator: RunningEmulator, admin: Admin) -> Iterator[PlatformClient]:
    with make_client(emulator.base_url) as platform_client:
        yield platform_client


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Long client runs (`@pytest.mark.slow`, real default timeouts) run only with `-m slow`."""
    if "slow" in (config.getoption("markexpr", "") or ""):
        return
    skip = pytest.mark.skip(reason="a long run: select it with -m slow")
    for item in items:
        if "slow" in item.keywords and item.nodeid.startswith("tests/platform/"):
            item.add_marker(skip)
