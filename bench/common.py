"""Shared pieces of the bench scripts: a figure (one row of the table) and command timing."""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Figure:
    """One row of the table."""

    scenario: str
    figure: str
    measured: float
    unit: str
    baseline: float | None
    baseline_name: str
    target: str
    holds: bool | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        assert self.baseline is not None
        return self.measured / self.baseline


Scenario = Callable[[bool], list[Figure]]


def timed_command(args: list[str], cwd: Path, repeat: int) -> float:
    """Median wall time of a command (seconds), after one warm-up run."""
    samples = []
    for i in range(repeat + 1):
        start = time.perf_counter()
        result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode not in (0, 2):
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr.strip()[-300:]}")
        if i:
            samples.append(elapsed)
    return statistics.median(samples)
