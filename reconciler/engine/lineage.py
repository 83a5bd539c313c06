"""`reconciler lineage ID` (issue 16): the run that made a batch or a job, and its document's others.

To be filled by the issue-16 owner: `find_lineage(settings, ident) -> Lineage` reads the state
(through the backend, which may answer from an index: a SQL query on PostgreSQL) and returns a
value that `reconciler.render.lineage.render_lineage` shows as text or JSON.
"""

from __future__ import annotations

from reconciler.config import Settings
from reconciler.errors import NotImplementedYet


class Lineage:
    """What is known of one batch id or job id (fields chosen by the issue-16 owner)."""


def find_lineage(settings: Settings, ident: str) -> Lineage:
    raise NotImplementedYet("'reconciler lineage' is not implemented yet")
