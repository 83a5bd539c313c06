"""Behaviour settings: which of the documented ways the emulator answers, persisted in the store.

Each key selects one code path (docs/emulator.md, "Behaviour profiles"); a profile sets them all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from reconciler.emulator.problems import bad_request
from reconciler.emulator.store import Store

Echo = Literal["full", "terse"]
Cancel = Literal["immediate", "marked"]
CancelEnd = Literal["CANCELLED", "FAILED"]
Catalog = Literal["plain", "realistic"]
Sandboxes = Literal["lazy", "strict"]
PolicyEcho = Literal["sent", "other"]

PROFILE_ENV = "RECONCILER_EMULATOR_PROFILE"
PROFILES = ("cooperative", "documented")
DEFAULT_CLOCK_OFFSET_SECONDS = 7200.0
_CHOICES: dict[str, tuple[str, ...]] = {
    "echo": ("full", "terse"),
    "cancel": ("immediate", "marked"),
    "cancel_ends": ("CANCELLED", "FAILED"),
    "catalog": ("plain", "realistic"),
    "sandboxes": ("lazy", "strict"),
    "policy_echo": ("sent", "other"),
}


@dataclass(frozen=True)
class Behaviour:
    """One documented behaviour per key; the defaults are the cooperative profile."""

    echo: Echo = "full"
    cancel: Cancel = "immediate"
    cancel_delay_seconds: float = 3.0
    cancel_ends: CancelEnd = "CANCELLED"
    catalog: Catalog = "plain"
    sandboxes: Sandboxes = "lazy"
    # PROF: "the mergePolicy id in the answer differs from the one sent" (api-variability.md).
    # other: job records name another id than the request's; sent: the request's (both profiles
    # keep sent, so adoption tests see the policy; tests of the create protocol switch it).
    policy_echo: PolicyEcho = "sent"
    # Seconds of platform clock an estimate job runs before RESULT_READY (SEG: "10 to 15 s").
    estimate_settle_seconds: float = 2.0
    # Share of the population an estimate samples; 0 = the Segmentation guide's table (the full
    # store below 1 million profiles, so a settled estimate is exact and its standardError 0).
    estimate_sample_ratio: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """As GET /_emulator/behaviour shows it."""
        return asdict(self)


COOPERATIVE = Behaviour()
DOCUMENTED = Behaviour(
    echo="terse",
    cancel="marked",
    catalog="realistic",
    sandboxes="strict",
    estimate_settle_seconds=12.0,
)


def apply_changes(current: Behaviour, body: Any) -> Behaviour:
    """A new Behaviour with the given keys changed; unknown keys and bad values are 400s."""
    if not isinstance(body, dict) or not body:
        raise bad_request('behaviour: expected a JSON object such as {"echo": "terse"}')
    known = set(asdict(current))
    unknown = sorted(set(body) - known)
    if unknown:
        raise bad_request(f"behaviour: unknown key(s) {unknown}; known keys are {sorted(known)}")
    changes: dict[str, Any] = {}
    for key, choices in _CHOICES.items():
        if key in body:
            if body[key] not in choices:
                raise bad_request(
                    f"behaviour.{key}: expected one of {list(choices)}, got {body[key]!r}"
                )
            changes[key] = body[key]
    if "cancel_delay_seconds" in body:
        delay = body["cancel_delay_seconds"]
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 86400:
            raise bad_request(
                f"behaviour.cancel_delay_seconds: expected seconds from 0 to 86400, got {delay!r}"
            )
        changes["cancel_delay_seconds"] = float(delay)
    if "estimate_settle_seconds" in body:
        settle = body["estimate_settle_seconds"]
        if (
            isinstance(settle, bool)
            or not isinstance(settle, int | float)
            or not 0 <= settle <= 3600
        ):
            raise bad_request(
                f"behaviour.estimate_settle_seconds: expected seconds from 0 to 3600, got {settle!r}"
            )
        changes["estimate_settle_seconds"] = float(settle)
    if "estimate_sample_ratio" in body:
        ratio = body["estimate_sample_ratio"]
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
            raise bad_request(
                "behaviour.estimate_sample_ratio: expected a share from 0 to 1 "
                f"(0: the documents' sample sizes), got {ratio!r}"
            )
        changes["estimate_sample_ratio"] = float(ratio)
    return replace(current, **changes)


def profile(name: Any) -> Behaviour:
    """The Behaviour a profile name stands for; a 400 for an unknown name."""
    if name == "cooperative":
        return COOPERATIVE
    if name == "documented":
        return DOCUMENTED
    raise bad_request(f"profile.name: expected one of {list(PROFILES)}, got {name!r}")


def clock_offset_of(name: str, body: dict[str, Any]) -> float:
    """Seconds the platform clock runs ahead of the wall clock under this profile."""
    if name == "cooperative":
        if body.get("clock_offset_seconds") not in (None, 0):
            raise bad_request(
                "profile.clock_offset_seconds: the cooperative profile shares the clock"
            )
        return 0.0
    offset = body.get("clock_offset_seconds", DEFAULT_CLOCK_OFFSET_SECONDS)
    if isinstance(offset, bool) or not isinstance(offset, int | float) or abs(offset) > 10**9:
        raise bad_request(
            f"profile.clock_offset_seconds: expected seconds of at most 1e9, got {offset!r}"
        )
    return float(offset)


def load(store: Store) -> Behaviour:
    """The stored behaviour, or the cooperative defaults."""
    raw = store.get_meta("behaviour")
    return COOPERATIVE if not raw else apply_changes(COOPERATIVE, raw)


def save(store: Store, behaviour: Behaviour) -> None:
    """Persist the behaviour."""
    store.set_meta("behaviour", behaviour.to_json())
