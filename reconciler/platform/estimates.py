"""The estimate of a segment's size (Segmentation API, previews-and-estimates), read tolerantly.

What the documents show (SEG guide and OAS `EstimateResponse`): `estimatedSize` (integer),
`standardError` (integer), `confidenceInterval` as the confidence *level*, the string `"95%"`,
`state` RUNNING until RESULT_READY or FAILED, counts `numRowsToRead`, `totalRows`,
`profilesReadSoFar`, `profilesMatchedSoFar`. No document shows the interval's bounds, so they are
`estimatedSize +- z * standardError` at that level (z = 1.96 for 95 %), clipped at 0 and at
`totalRows`. Read tolerantly too: counts as numeric strings (the Profile API sends `"41003"`), with
K/M/B suffixes (`"1.2K"`), and a `confidenceInterval` that is itself a range (`"1.2K-1.5K"`,
`[1200, 1500]`, `{"low": ..., "high": ...}`).
"""

from __future__ import annotations

import math
import re
from statistics import NormalDist
from typing import Any

from pydantic import Field, field_validator

from reconciler.platform.models import ApiModel

READY = "RESULT_READY"
FAILED = "FAILED"
DEFAULT_LEVEL = 0.95
_NUMBER = r"\s*(\d+(?:[.,]\d+)*)\s*([kKmMbB]?)\s*"
_COUNT = re.compile(rf"^{_NUMBER}$")
_RANGE = re.compile(rf"^{_NUMBER}(?:-|–|to|\.\.)\s*{_NUMBER}$")
_LEVEL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_SCALE = {"": 1, "k": 1_000, "m": 1_000_000, "b": 1_000_000_000}


def _scaled(digits: str, suffix: str) -> float:
    # "1,2K" as some locales write it; "41,003" with a thousands separator.
    value = float(digits.replace(",", ".")) if suffix else float(digits.replace(",", ""))
    return value * _SCALE[suffix.lower()]


def parse_count(value: Any) -> int | None:
    """A count sent as a number or a string (`"41003"`, `'"300803"'`, `"1.2K"`); else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return None if not math.isfinite(value) or value < 0 else round(value)
    if isinstance(value, str):
        match = _COUNT.match(value.strip().strip('"'))
        if match:
            try:
                return round(_scaled(*match.groups()))
            except ValueError:  # "1.234.567"
                return None
    return None


def parse_range(value: Any) -> tuple[int, int] | None:
    """Bounds when `confidenceInterval` is itself an interval; None for a level or anything else."""
    low: int | None
    high: int | None
    if isinstance(value, str):
        match = _RANGE.match(value.strip())
        if not match:
            return None
        a, b, c, d = match.groups()
        try:
            low, high = round(_scaled(a, b)), round(_scaled(c, d))
        except ValueError:
            return None
    elif isinstance(value, list | tuple) and len(value) == 2:
        low, high = parse_count(value[0]), parse_count(value[1])
    elif isinstance(value, dict):
        low = next((parse_count(value[k]) for k in ("low", "lower", "min") if k in value), None)
        high = next((parse_count(value[k]) for k in ("high", "upper", "max") if k in value), None)
    else:
        return None
    if low is None or high is None:
        return None
    return (min(low, high), max(low, high))


def parse_level(value: Any) -> float | None:
    """The confidence level of `"95%"` (0.95), of 0.95 or of 95; None when it is not a level."""
    if isinstance(value, str):
        match = _LEVEL.match(value)
        level = float(match.group(1)) / 100 if match else None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        level = float(value) / 100 if value > 1 else float(value)
    else:
        level = None
    return level if level is not None and 0 < level < 1 else None


class Estimate(ApiModel):
    """An estimate job's answer. `interval` is (low, high); `ready` once RESULT_READY."""

    state: str = ""
    estimatedSize: int | None = None
    standardError: float | None = None
    confidenceInterval: Any = None
    numRowsToRead: int | None = None
    totalRows: int | None = None
    profilesReadSoFar: int | None = None
    profilesMatchedSoFar: int | None = None
    error: dict[str, Any] | None = None
    links: dict[str, Any] = Field(default_factory=dict, alias="_links")

    @field_validator(
        "estimatedSize",
        "numRowsToRead",
        "totalRows",
        "profilesReadSoFar",
        "profilesMatchedSoFar",
        mode="before",
    )
    @classmethod
    def _counts(cls, value: Any) -> int | None:
        return parse_count(value)

    @field_validator("standardError", mode="before")
    @classmethod
    def _error(cls, value: Any) -> float | None:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) if math.isfinite(value) and value >= 0 else None
        count = parse_count(value)
        return None if count is None else float(count)

    @field_validator("state", mode="before")
    @classmethod
    def _state(cls, value: Any) -> str:
        return "" if value is None else str(value).strip().upper()

    @field_validator("error", mode="before")
    @classmethod
    def _error_object(cls, value: Any) -> dict[str, Any] | None:
        if isinstance(value, str):
            return {"description": value}
        return value if isinstance(value, dict) else None

    @property
    def ready(self) -> bool:
        """Whether the estimate has settled (RESULT_READY) with a size."""
        return self.state == READY and self.estimatedSize is not None

    @property
    def failed(self) -> bool:
        """Whether the platform (or the client, for a call that failed) gave up on it."""
        return self.state == FAILED

    @property
    def error_description(self) -> str:
        """Why it failed, as the platform said (may be empty)."""
        return str((self.error or {}).get("description") or "")

    @property
    def level(self) -> float:
        """The confidence level: from `confidenceInterval` when it is one, else 95 %."""
        return parse_level(self.confidenceInterval) or DEFAULT_LEVEL

    @property
    def interval(self) -> tuple[int, int] | None:
        """(low, high) profiles: the range the platform sent, else the estimate +- z * standard
        error at `level`; None without an estimated size."""
        sent = parse_range(self.confidenceInterval)
        if sent is not None:
            return sent
        if self.estimatedSize is None:
            return None
        spread = 0.0
        if self.standardError:
            z = NormalDist().inv_cdf((1 + self.level) / 2)
            spread = z * self.standardError
        low = max(0, math.floor(self.estimatedSize - spread))
        high = math.ceil(self.estimatedSize + spread)
        if self.totalRows is not None and self.totalRows >= self.estimatedSize:
            high = min(high, self.totalRows)
        return (low, high)


def failed_estimate(description: str) -> Estimate:
    """The Estimate shown for a preview the client could not start or read (`failed` is True)."""
    return Estimate(state=FAILED, error={"description": description})


def sample_total(body: Any) -> int | None:
    """Profiles in the store from a preview sample status answer: `totalRows` (PROF), a string
    there; None when it holds no readable count."""
    if not isinstance(body, dict):
        return None
    return parse_count(body.get("totalRows"))


def union_pql(expressions: list[str]) -> str:
    """One PQL expression selecting a profile in any of `expressions` (`(A) or (B) ...`): the
    audience an export of several segments writes, estimated with one preview."""
    distinct = list(dict.fromkeys(e.strip() for e in expressions if e.strip()))
    if len(distinct) == 1:
        return distinct[0]
    return " or ".join(f"({e})" for e in distinct)
