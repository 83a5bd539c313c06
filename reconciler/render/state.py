"""`reconciler state list`: one line per address, then the retired history."""

from __future__ import annotations

from reconciler.engine.records import StateListing
from reconciler.state import DatasetResource, ExportJobResource, format_time


def describe(res: DatasetResource | ExportJobResource) -> str:
    """`dataset <id>` or `2 runs, newest job 12 SUCCEEDED`."""
    if isinstance(res, DatasetResource):
        return f"dataset {res.datasetId}"
    newest = res.newest_run()
    last = f"job {newest.jobId} {newest.status}" if newest else "no run"
    count = res.run_count  # the history's runs too: the head holds only the newest
    return f"{count} run{'s' if count != 1 else ''}, newest {last}"


def render_state_list(listing: StateListing) -> str:
    """The listing as text lines (empty when the state holds nothing)."""
    lines = [f"{address}  {describe(res)}" for address, res in listing.resources]
    if listing.retired:
        lines += ["", "Retired (no longer managed, kept as history):"]
        lines += [
            f"{entry.address}  {describe(entry.resource)}  "
            f"({entry.reason} {format_time(entry.retiredAt)})"
            for entry in listing.retired
        ]
    return "".join(line + "\n" for line in lines)
