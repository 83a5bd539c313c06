"""Suite-wide settings: hypothesis tests judge correctness, not speed.

CI machines are small and shared (2 cores, other test processes running), so hypothesis's
per-example deadline and its "input generation is slow" health check would fail tests for load
alone; speed is measured in bench/, not here.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "reconciler",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("reconciler")
