"""Fault settings (latency, 429, 5xx, dropped connections, job outcomes) and request counts."""

from __future__ import annotations

import math
import random
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator.problems import bad_request

_PARAM = re.compile(r"\{[^}]*\}")
SCHEDULE_ENTRIES = (
    "ok",
    "500",
    "502",
    "503",
    "504",
    "429",
    "commit_500",
    "commit_drop",
    "commit_slow",
)
LISTINGS = ("repeat", "ignore_start")
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def endpoint_key(method: str, path_template: str) -> str:
    """Normal form of "METHOD /path/{param}": parameters unnamed, no trailing slash."""
    path = _PARAM.sub("{}", path_template).rstrip("/") or "/"
    return f"{method.upper()} {path}"


@dataclass
class EndpointFault:
    """What to do to requests of one endpoint (or of every endpoint, "*")."""

    endpoint: str
    latency_ms: int = 0
    rate_limit_per_second: float | None = None
    error_rate: float = 0.0
    error_status: int = 503
    error_count: int | None = None  # None: every matching request rolls error_rate
    drop_after_commit: int = 0
    seed: int | None = None
    # "service": problem details (the default); "gateway": {"error_code", "message"} (TS).
    error_body: str = "service"
    schedule: deque[str] = field(default_factory=deque)
    slow_seconds: float = 35.0
    listing: str | None = None
    window: deque[float] = field(default_factory=deque)
    rng: random.Random = field(default_factory=random.Random)

    def to_json(self) -> dict[str, Any]:
        """As the admin endpoint shows it."""
        return {
            "endpoint": self.endpoint,
            "latency_ms": self.latency_ms,
            "rate_limit_per_second": self.rate_limit_per_second,
            "error_rate": self.error_rate,
            "error_status": self.error_status,
            "error_count": self.error_count,
            "drop_after_commit": self.drop_after_commit,
            "error_body": self.error_body,
            "schedule": list(self.schedule),
            "slow_seconds": self.slow_seconds,
            "listing": self.listing,
        }


@dataclass
class JobOutcomes:
    """The next created jobs that fail (with these errors) or stay in PROCESSING."""

    fail: int = 0
    stuck: int = 0
    errors: list[dict[str, str]] | None = None


def _int(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_request(f"faults.{key}: expected an integer from {low} to {high}, got {value!r}")
    return value


def _parse_endpoint(raw: Any) -> str:
    if raw == "*":
        return "*"
    if not isinstance(raw, str) or " " not in raw.strip():
        raise bad_request(
            'faults.endpoint: expected "*" or "METHOD /path-template", '
            'e.g. "POST /data/core/ups/export/jobs"'
        )
    method, path = raw.strip().split(" ", 1)
    if method.upper() not in _METHODS or not path.startswith("/"):
        raise bad_request(f'faults.endpoint: {raw!r} is not "METHOD /path"')
    return endpoint_key(method, path.strip())


def parse_endpoint_fault(body: dict[str, Any]) -> EndpointFault:
    """An EndpointFault from the admin body; a 400 for any bad value."""
    fault = EndpointFault(endpoint=_parse_endpoint(body.get("endpoint")))
    fault.latency_ms = _int(body, "latency_ms", 0, 0, 60_000)
    rate = body.get("rate_limit_per_second")
    if rate is not None and (
        isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0
    ):
        raise bad_request("faults.rate_limit_per_second: expected a positive number or null")
    fault.rate_limit_per_second = None if rate is None else float(rate)
    error_rate = body.get("error_rate", 0.0)
    if isinstance(error_rate, bool) or not isinstance(error_rate, int | float):
        raise bad_request("faults.error_rate: expected a number from 0 to 1")
    if not 0 <= error_rate <= 1:
        raise bad_request("faults.error_rate: expected a number from 0 to 1")
    fault.error_rate = float(error_rate)
    fault.error_status = _int(body, "error_status", 503, 500, 599)
    if fault.error_status not in (500, 502, 503, 504):
        raise bad_request("faults.error_status: expected 500, 502, 503 or 504")
    if body.get("error_count") is not None:
        fault.error_count = _int(body, "error_count", 0, 0, 1_000_000)
    fault.drop_after_commit = _int(body, "drop_after_commit", 0, 0, 1_000_000)
    if body.get("seed") is not None:
        fault.seed = _int(body, "seed", 0, 0, 2**31)
        fault.rng = random.Random(fault.seed)
    fault.error_body = body.get("error_body", "service")
    if fault.error_body not in ("service", "gateway"):
        raise bad_request('faults.error_body: expected "service" or "gateway"')
    schedule = body.get("schedule", [])
    if not isinstance(schedule, list) or not all(e in SCHEDULE_ENTRIES for e in schedule):
        raise bad_request(
            f"faults.schedule: expected a list of {list(SCHEDULE_ENTRIES)}, got {schedule!r}"
        )
    if len(schedule) > 100_000:
        raise bad_request("faults.schedule: at most 100000 entries")
    fault.schedule = deque(schedule)
    slow = body.get("slow_seconds", 35.0)
    if isinstance(slow, bool) or not isinstance(slow, int | float) or not 0 <= slow <= 600:
        raise bad_request(f"faults.slow_seconds: expected seconds from 0 to 600, got {slow!r}")
    fault.slow_seconds = float(slow)
    listing = body.get("listing")
    if listing is not None and listing not in LISTINGS:
        raise bad_request(f"faults.listing: expected one of {list(LISTINGS)} or null")
    fault.listing = listing
    return fault


def parse_job_outcomes(raw: Any) -> JobOutcomes:
    """JobOutcomes from {"fail": N, "stuck": M, "errors": [{code, msg, callStack}]}."""
    if not isinstance(raw, dict) or set(raw) - {"fail", "stuck", "errors"}:
        raise bad_request('faults.jobs: expected {"fail": N, "stuck": M, "errors": [...]}')
    errors = raw.get("errors")
    if errors is not None and not (
        isinstance(errors, list)
        and all(isinstance(e, dict) and all(isinstance(v, str) for v in e.values()) for e in errors)
    ):
        raise bad_request("faults.jobs.errors: expected a list of {code, msg, callStack} strings")
    return JobOutcomes(
        fail=_int(raw, "fail", 0, 0, 1_000_000),
        stuck=_int(raw, "stuck", 0, 0, 1_000_000),
        errors=errors,
    )


class Faults:
    """The active faults; in memory on purpose, so a restart starts clean."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.endpoints: dict[str, EndpointFault] = {}
        self.jobs = JobOutcomes()

    def set_endpoint(self, fault: EndpointFault) -> None:
        """Replace the fault of fault.endpoint."""
        with self._lock:
            self.endpoints[fault.endpoint] = fault

    def add_job_outcomes(self, outcomes: JobOutcomes) -> None:
        """Queue outcomes for the next created jobs (adds to what is queued)."""
        with self._lock:
            self.jobs = JobOutcomes(
                fail=self.jobs.fail + outcomes.fail,
                stuck=self.jobs.stuck + outcomes.stuck,
                errors=outcomes.errors if outcomes.errors is not None else self.jobs.errors,
            )

    def clear(self, endpoint: str | None = None) -> None:
        """Remove one endpoint's fault, or every fault."""
        with self._lock:
            if endpoint is None:
                self.endpoints.clear()
                self.jobs = JobOutcomes()
            else:
                self.endpoints.pop(_parse_endpoint(endpoint), None)

    def to_json(self) -> dict[str, Any]:
        """Every active fault."""
        with self._lock:
            return {
                "endpoints": [f.to_json() for f in self.endpoints.values()],
                "jobs": {
                    "fail": self.jobs.fail,
                    "stuck": self.jobs.stuck,
                    "errors": self.jobs.errors,
                },
            }

    def next_job_outcome(self) -> tuple[str, list[dict[str, str]] | None]:
        """ "fail", "stuck" or "succeed" for a job being created now (fail is taken first)."""
        with self._lock:
            if self.jobs.fail > 0:
                self.jobs.fail -= 1
                return "fail", self.jobs.errors
            if self.jobs.stuck > 0:
                self.jobs.stuck -= 1
                return "stuck", None
            return "succeed", None

    def match(self, key: str) -> list[EndpointFault]:
        """The faults that apply to an endpoint: its own, then the wildcard."""
        with self._lock:
            return [f for k in (key, "*") if (f := self.endpoints.get(k)) is not None]

    def retry_after(self, fault: EndpointFault) -> int | None:
        """Seconds to wait if this request is over the rate limit, else None (and count it)."""
        if fault.rate_limit_per_second is None:
            return None
        with self._lock:
            now = time.monotonic()
            while fault.window and now - fault.window[0] >= 1.0:
                fault.window.popleft()
            if len(fault.window) >= fault.rate_limit_per_second:
                return max(1, math.ceil(1.0 - (now - fault.window[0])))
            fault.window.append(now)
            return None

    def roll_error(self, fault: EndpointFault) -> bool:
        """Whether this request gets an injected 5xx."""
        with self._lock:
            if fault.error_count is not None:
                if fault.error_count <= 0:
                    return False
                hit = fault.rng.random() < fault.error_rate
                if hit:
                    fault.error_count -= 1
                return hit
            return fault.error_rate > 0 and fault.rng.random() < fault.error_rate

    def take_scheduled(self, fault: EndpointFault) -> str | None:
        """The next entry of the fault's schedule (consumed), or None once it is used up."""
        with self._lock:
            return fault.schedule.popleft() if fault.schedule else None

    def listing(self, key: str) -> str | None:
        """The listing misbehaviour set for an endpoint (its own fault first, then "*")."""
        for fault in self.match(key):
            if fault.listing is not None:
                return fault.listing
        return None

    def take_drop(self, fault: EndpointFault) -> bool:
        """Whether this request's connection is dropped after its effect is committed."""
        with self._lock:
            if fault.drop_after_commit > 0:
                fault.drop_after_commit -= 1
                return True
            return False


class Stats:
    """Request counts per endpoint, for benches and tests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, key: str) -> None:
        """Count one request."""
        with self._lock:
            self._counts[key] += 1

    def to_json(self) -> dict[str, Any]:
        """{"total": N, "routes": {"METHOD /path": n}}."""
        with self._lock:
            return {
                "total": sum(self._counts.values()),
                "routes": dict(sorted(self._counts.items())),
            }

    def reset(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()
