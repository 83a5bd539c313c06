"""The options plan and apply share for the reads beyond the refresh (estimates, --replace)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from reconciler.engine.plan_reads import PlanReads


def _estimate_options(fn: Callable[..., None]) -> Callable[..., None]:
    """--replace, --no-estimate, --estimate-timeout: what plan and apply share."""
    fn = click.option(
        "--estimate-timeout",
        default=None,
        metavar="DURATION",
        help="Wait at most this long for impact estimates (default 20s).",
    )(fn)
    fn = click.option(
        "--no-estimate", is_flag=True, help="Do not estimate the profiles each run will export."
    )(fn)
    return click.option(
        "--replace",
        "replace",
        multiple=True,
        metavar="ADDR",
        help="Start a new run of this export job whatever its status (repeatable).",
    )(fn)


def _reads(
    no_estimate: bool,
    estimate_timeout: str | None,
    allow_large: tuple[str, ...] = (),
    *,
    apply: bool = False,
) -> PlanReads:
    from reconciler.engine.plan_reads import (
        DEFAULT_ESTIMATE_TIMEOUT_S,
        NO_ESTIMATE_ENV,
        PlanReads,
    )
    from reconciler.engine.workflow import UsageError
    from reconciler.spec.models import parse_duration

    timeout_s = DEFAULT_ESTIMATE_TIMEOUT_S
    if estimate_timeout is not None:
        try:
            timeout_s = float(parse_duration(estimate_timeout).total_seconds())
        except ValueError as exc:
            raise UsageError(f"--estimate-timeout: {exc}") from None
    off = os.environ.get(NO_ESTIMATE_ENV, "").strip() not in ("", "0")
    return PlanReads(
        estimate=not (no_estimate or off),
        estimate_timeout_s=timeout_s,
        allow_large=tuple(allow_large),
        scope="policy" if apply else "all",
    )
