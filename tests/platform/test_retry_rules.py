"""Backoff schedule with full jitter, `Retry-After` parsing and the retry budget (pure helpers)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler.platform.retry import Backoff, RetryBudget, next_wait, parse_retry_after


@given(
    base=st.floats(0.001, 5),
    cap=st.floats(0.01, 60),
    attempt=st.integers(0, 10_000),
    seed=st.integers(),
)
def test_every_delay_lies_between_zero_and_the_capped_exponential(
    base: float, cap: float, attempt: int, seed: int
) -> None:
    backoff = Backoff(base=base, cap=cap)
    delay = backoff.delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= backoff.ceiling(attempt) <= cap


def test_ceiling_doubles_until_the_cap() -> None:
    backoff = Backoff(base=0.25, cap=2.0)
    assert [backoff.ceiling(n) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_jitter_spreads_the_delays() -> None:
    rng = random.Random(1)
    delays = [Backoff(base=1, cap=1).delay(0, rng) for _ in range(200)]
    assert min(delays) < 0.1 and max(delays) > 0.9  # full jitter, not a fixed wait


@pytest.mark.parametrize(
    ("header", "expected"),
    [("3", 3.0), (" 0 ", 0.0), ("1.5", 1.5), ("-4", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_in_seconds(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_retry_after_as_http_date() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    assert later.endswith("GMT")
    assert parse_retry_after(later, now=now) == pytest.approx(7.0)
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    assert parse_retry_after("Sun, 22 Nov 2026 12:00:05 GMT", now=now) == pytest.approx(5.0)


@given(st.integers(0, 10**6))
def test_retry_after_seconds_round_trip(seconds: int) -> None:
    assert parse_retry_after(str(seconds)) == float(seconds)


def test_server_wait_wins_over_backoff() -> None:
    assert next_wait(5, 2.5, Backoff(base=100, cap=100)) == 2.5
    assert 0 <= next_wait(0, None, Backoff(base=0.1, cap=0.1)) <= 0.1


def test_budget_counts_elapsed_time() -> None:
    now = [100.0]
    budget = RetryBudget(10.0, clock=lambda: now[0])
    assert budget.allows(10.0) and not budget.allows(10.01)
    now[0] = 107.0
    assert budget.remaining() == pytest.approx(3.0)
    assert budget.allows(3.0) and not budget.allows(3.5)
    now[0] = 200.0
    assert budget.remaining() == 0.0
