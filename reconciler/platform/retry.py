"""When to retry and how long to wait: full-jitter exponential backoff, `Retry-After`, a budget."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# 500 included: the troubleshooting guide says a 500 can mean "the API limit was reached: wait
# and try again", and aepp retries it too. Only for calls that may be repeated (GET, PATCH, token).
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Backoff:
    """Full jitter: attempt n waits uniform(0, min(cap, base * 2**n)) seconds."""

    base: float = 0.25
    cap: float = 8.0

    def ceiling(self, attempt: int) -> float:
        """The largest wait before retry number `attempt` (0-based)."""
        # min() first on the exponent keeps 2**attempt from overflowing on long runs.
        return min(self.cap, self.base * 2.0 ** min(attempt, 62))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """A random wait in [0, ceiling(attempt)]."""
        return (rng or random).uniform(0.0, self.ceiling(attempt))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date); None if unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds and seconds != float("inf") else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass
class RetryBudget:
    """A total time allowance for one logical call, across all of its attempts."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=-1.0)

    def __post_init__(self) -> None:
        if self.started < 0:
            self.started = self.clock()

    def remaining(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.seconds - (self.clock() - self.started))

    def allows(self, wait: float) -> bool:
        """Whether waiting `wait` seconds and trying again still fits in the budget."""
        return wait <= self.remaining()


def next_wait(
    attempt: int,
    retry_after: float | None,
    backoff: Backoff,
    rng: random.Random | None = None,
) -> float:
    """The wait before the next attempt: the server's `Retry-After` when given, else backoff."""
    if retry_after is not None:
        return retry_after
    return backoff.delay(attempt, rng)
