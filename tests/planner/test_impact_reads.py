"""The suite's estimate switch: plans skip estimates unless a test is marked `estimates`, and
PlanReads() (any caller's default) follows RECONCILER_NO_ESTIMATE like the CLI does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reconciler.engine.plan_reads import NO_ESTIMATE_ENV, PlanReads


def test_the_suite_switch_is_the_engine_variable() -> None:
    from tests.conftest import NO_ESTIMATE_ENV as SUITE_SWITCH

    assert SUITE_SWITCH == NO_ESTIMATE_ENV


def test_an_unmarked_test_plans_without_estimates() -> None:
    assert os.environ.get(NO_ESTIMATE_ENV) == "1"
    assert PlanReads().estimate is False
    # A CLI subprocess inherits it.
    code = f"import os; print(os.environ.get({NO_ESTIMATE_ENV!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


@pytest.mark.estimates
def test_a_marked_test_plans_with_estimates() -> None:
    assert NO_ESTIMATE_ENV not in os.environ
    assert PlanReads().estimate is True


@pytest.mark.parametrize(
    ("value", "wanted"), [("", True), ("0", True), ("1", False), ("yes", False)]
)
def test_the_variable_reads_like_the_cli(
    monkeypatch: pytest.MonkeyPatch, value: str, wanted: bool
) -> None:
    monkeypatch.setenv(NO_ESTIMATE_ENV, value)
    assert PlanReads().estimate is wanted
    assert PlanReads(estimate=True).estimate is True
