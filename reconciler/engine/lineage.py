"""`reconciler lineage ID` (issue 16): the run that made a batch or a job, and its document's others.

Read from the state only (no platform call), through the backend, which answers from an index
(one SQL query on PostgreSQL, a scan of the file). Managed and retired resources are searched.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.config import Settings
from reconciler.errors import ReconcilerError
from reconciler.state.backends import open_store
from reconciler.state.history import OTHER_RUNS, RunMatch

_BIGINT_MAX = 2**63 - 1


class LineageNotFound(ReconcilerError):
    """No run in the state has the id asked for."""


@dataclass(frozen=True)
class Lineage:
    """The runs whose job id or batch id is `ident` (newest first), and where they were found."""

    ident: str
    sandbox: str
    where: str  # the state searched, for messages (never a password)
    matches: tuple[RunMatch, ...]


def _state_label(where: str, sandbox: str) -> str:
    """`of sandbox 'x' in postgresql://...` or `of sandbox 'x' (path)`."""
    return where if where.startswith("of sandbox ") else f"of sandbox '{sandbox}' ({where})"


def find_lineage(settings: Settings, ident: str, *, others: int = OTHER_RUNS) -> Lineage:
    """The runs with job id or batch id `ident`; `LineageNotFound` (one line) when none has it."""
    wanted = ident.strip()
    if not wanted:
        raise LineageNotFound("lineage needs a job id or a batch id, not an empty string")
    job_id = int(wanted) if wanted.isascii() and wanted.isdigit() else None
    if job_id is not None and job_id > _BIGINT_MAX:
        job_id = None  # no platform job has such an id; it may still be a batch id
    store = open_store(settings)
    label = _state_label(store.where, settings.sandbox)
    found = store.find_runs(job_id=job_id, batch_id=wanted, others=others)
    if not found:
        kinds = "job id or batch id" if job_id is not None else "batch id"
        raise LineageNotFound(
            f"no run in the state {label} has {kinds} '{wanted}' (managed and retired "
            "resources searched); check the id and --sandbox"
        )
    return Lineage(wanted, settings.sandbox, label, tuple(found))
