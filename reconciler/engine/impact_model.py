"""The impact of one run-starting action (issue 17): the profiles it will export, as a value.

Built by `engine.impact.estimate_impact`, carried by `Action.impact`, saved in the plan file
(`impact` per action, docs/plan-format.md) and shown by the renderers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

# ready: an estimate settled; pending: not settled within --estimate-timeout (never a failure);
# failed: the platform could not estimate it (`reason` says why); skipped: --no-estimate.
ImpactState = Literal["ready", "pending", "failed", "skipped"]
# segments: one preview of the union of filter.segments' PQL; store: the profile store's total
ImpactBasis = Literal["segments", "store"]
IMPACT_STATES: tuple[str, ...] = get_args(ImpactState)
IMPACT_BASES: tuple[str, ...] = get_args(ImpactBasis)


@dataclass(frozen=True)
class LastRun:
    """What the document's newest successful run wrote (its batches' Catalog record counts)."""

    job_id: int
    records: int | None = None  # None: no batch of it showed a record count
    bytes: int | None = None  # outputByteSize summed; None when no batch showed one
    batches: int = 0  # batches read

    def to_dict(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "records": self.records,
            "bytes": self.bytes,
            "batches": self.batches,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LastRun:
        return cls(
            job_id=int(data["jobId"]),
            records=_count(data.get("records")),
            bytes=_count(data.get("bytes")),
            batches=int(data.get("batches") or 0),
        )


@dataclass(frozen=True)
class Impact:
    """The estimated profiles of one create, replace or rerun, and the policy that applies."""

    state: ImpactState
    basis: ImpactBasis
    profiles: int | None = None  # the estimate (ready; a pending one may carry a rough one)
    low: int | None = None  # the interval's bounds (at `level`)
    high: int | None = None
    level: float | None = None  # the confidence level of the interval (0.95); None: exact
    segments: tuple[str, ...] = ()  # the segment ids estimated together
    merge_policy_id: str | None = None  # the document's; None: the sandbox default
    reason: str | None = None  # failed / skipped / pending: why, in a few words
    last_run: LastRun | None = None
    max_profiles: int | None = None  # the document's maxProfiles
    allowed: bool = False  # over maxProfiles, allowed by apply --allow-large

    @property
    def over_limit(self) -> bool:
        """The interval's lower bound (ready estimates only) exceeds maxProfiles."""
        return (
            self.state == "ready"
            and self.max_profiles is not None
            and self.low is not None
            and self.low > self.max_profiles
        )

    def with_last_run(self, last_run: LastRun | None) -> Impact:
        return replace(self, last_run=last_run)

    def to_dict(self) -> dict[str, Any]:
        """The `impact` object of an action in the plan JSON (stable keys; docs/plan-format.md)."""
        interval = (
            {"low": self.low, "high": self.high, "level": self.level}
            if self.low is not None and self.high is not None
            else None
        )
        return {
            "state": self.state,
            "basis": self.basis,
            "profiles": self.profiles,
            "interval": interval,
            "segments": list(self.segments),
            "mergePolicyId": self.merge_policy_id,
            "reason": self.reason,
            "lastRun": self.last_run.to_dict() if self.last_run is not None else None,
            "maxProfiles": self.max_profiles,
            "overLimit": self.over_limit,
            "allowedLarge": self.allowed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Impact:
        """Read back `to_dict()`; a ValueError/KeyError/TypeError for anything else."""
        interval = data.get("interval") or {}
        if not isinstance(interval, Mapping):
            raise ValueError("impact.interval is not an object")
        last = data.get("lastRun")
        level = interval.get("level")
        return cls(
            state=_choice(data["state"], IMPACT_STATES, "impact.state"),
            basis=_choice(data["basis"], IMPACT_BASES, "impact.basis"),
            profiles=_count(data.get("profiles")),
            low=_count(interval.get("low")),
            high=_count(interval.get("high")),
            level=float(level) if level is not None else None,
            segments=tuple(str(s) for s in data.get("segments") or ()),
            merge_policy_id=_text(data.get("mergePolicyId")),
            reason=_text(data.get("reason")),
            last_run=LastRun.from_dict(last) if isinstance(last, Mapping) else None,
            max_profiles=_count(data.get("maxProfiles")),
            allowed=bool(data.get("allowedLarge", False)),
        )


def _count(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"impact: {value!r} is not a count")
    return value


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _choice(value: Any, allowed: tuple[str, ...], name: str) -> Any:
    if value not in allowed:
        raise ValueError(f"{name} '{value}' is not one of {', '.join(allowed)}")
    return value
