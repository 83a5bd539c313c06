"""Suite-wide settings: hypothesis tests judge correctness, not speed; plans skip estimates.

CI machines are small and shared (2 cores, other test processes running), so hypothesis's
per-example deadline and its "input generation is slow" health check would fail tests for load
alone; speed is measured in bench/, not here.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

# reconciler.engine.plan_reads.NO_ESTIMATE_ENV, spelled out so collecting any test does not
# import the engine (tests/planner/test_impact_reads.py checks they agree).
NO_ESTIMATE_ENV = "RECONCILER_NO_ESTIMATE"

settings.register_profile(
    "reconciler",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("reconciler")


@pytest.fixture(autouse=True)
def no_estimates_unless_marked(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plans skip impact estimates (2-12 s each on the emulator) except in tests marked
    `@pytest.mark.estimates`; set in the environment, so CLI subprocesses inherit it."""
    if request.node.get_closest_marker("estimates") is None:
        monkeypatch.setenv(NO_ESTIMATE_ENV, "1")
    else:
        monkeypatch.delenv(NO_ESTIMATE_ENV, raising=False)
