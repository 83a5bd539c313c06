"""apply's closing lines: the batches written, what was done by kind, how it ended."""

from __future__ import annotations

from collections import Counter

from reconciler.engine.results import ApplyReport


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'s' if count != 1 else ''}"


def _it(count: int) -> str:
    return "it" if count == 1 else "them"


def summary_line(report: ApplyReport) -> str:
    """`Summary: 2 created, 0 replaced, 0 cancelled, 0 failed, 2 still in flight (elapsed 1 s).`"""
    c = report.counts()
    parts = [f"{c['created']} created"]
    for key, word in (("updated", "updated"), ("rerun", "rerun"), ("adopted", "adopted")):
        if c[key]:
            parts.append(f"{c[key]} {word}")
    parts += [f"{c['replaced']} replaced", f"{c['cancelled']} cancelled"]
    for key, word in (("deleted", "deleted"), ("forgotten", "forgotten")):
        if c[key]:
            parts.append(f"{c[key]} {word}")
    parts.append(f"{c['failed']} failed")
    if c["skipped"]:
        parts.append(f"{c['skipped']} not carried out")
    parts.append(f"{c['inFlight']} still in flight")
    return f"Summary: {', '.join(parts)} (elapsed {report.elapsed_s:.0f} s)."


def closing_lines(report: ApplyReport) -> list[str]:
    """The lines after the work (and after --wait); on an error they come before its line."""
    lines = []
    if report.followed:
        lines += [
            f"{w.address}: job {w.job_id} wrote batch {w.batch_id}"
            for w in report.runs
            if w.status == "SUCCEEDED" and w.batch_id
        ]
    if report.interrupted and report.in_flight:
        n = len(report.in_flight)
        runs = ", ".join(f"{r.address} (job {r.job_id})" for r in report.in_flight)
        keep = "1 run keeps" if n == 1 else f"{n} runs keep"
        lines.append(
            f"Interrupted: {keep} running on the platform: {runs}; "
            f"'reconciler apply --wait' (or 'reconciler status') picks {_it(n)} up"
        )
    if report.pending and report.error is not None:
        lines.append(
            f"The state keeps {_n(report.pending, 'create')} whose outcome is not known yet; "
            f"the next 'reconciler apply' settles {_it(report.pending)}"
        )
    failed = [a.address for a in report.actions if a.result == "failed"]
    if failed:
        lines.append(f"Failed: {', '.join(failed)}")
    unreached = [
        a.address
        for a in report.actions
        if a.result == "skipped" and a.address not in report.stopped
    ]
    if unreached:
        lines.append(
            f"Not reached: {', '.join(unreached)}; 'reconciler apply' again carries "
            f"{_it(len(unreached))} out"
        )
    if report.done or report.runs or report.in_flight or report.error is not None:
        lines.append(summary_line(report))
    if report.executed and (report.followed or not report.waited):
        done = _n(len(report.done), "action")
        if report.waited and (report.done or report.runs):
            counts = Counter(w.status.lower() for w in report.runs)
            ended = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
            followed = _n(len(report.runs), "run") + " followed" + (f": {ended}" if ended else "")
            lines.append(f"Apply complete: {done} done; {followed} ({report.elapsed_s:.0f} s).")
        elif not report.waited and report.done:
            lines.append(f"Apply complete: {done} done.")
    return lines
