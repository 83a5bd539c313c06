"""History questions on the PostgreSQL backend: one indexed query each (docs/state.md)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from reconciler.state.history import OtherRun, RetiredAt, RunMatch
from reconciler.state.models import ExportJobResource, RetireReason, Run, UtcTime

if TYPE_CHECKING:
    import psycopg

# The runs with that job id or batch id (runs_job_id, runs_batch_id, batches_batch_id), each with
# its resource (managed or retired), its retired entry, and the other runs of its address
# (newest first, at most %(limit)s, by the runs key's (sandbox, address) prefix) and their count.
FIND_RUNS = """
WITH hit AS (
    SELECT address, retired_seq, position FROM runs
    WHERE sandbox = %(sandbox)s AND (job_id = %(job)s::bigint OR batch_id = %(batch)s::text)
    UNION
    SELECT address, retired_seq, run_position FROM batches
    WHERE sandbox = %(sandbox)s AND batch_id = %(batch)s::text
)
SELECT h.address, h.retired_seq, r.doc, coalesce(res.body, ret.body)::text,
       to_json(ret.retired_at)::text, ret.reason,
       (SELECT count(*) - 1 FROM runs o WHERE o.sandbox = %(sandbox)s AND o.address = h.address),
       (SELECT coalesce(json_agg(json_build_array(x.retired_seq, x.doc::json)
                                 ORDER BY x.created_at DESC, x.job_id DESC), '[]')::text
        FROM (SELECT o.retired_seq, o.doc, o.created_at, o.job_id FROM runs o
              WHERE o.sandbox = %(sandbox)s AND o.address = h.address
                AND (o.retired_seq, o.position) <> (h.retired_seq, h.position)
              ORDER BY o.created_at DESC, o.job_id DESC LIMIT %(limit)s) x)
FROM hit h
JOIN runs r ON r.sandbox = %(sandbox)s AND r.address = h.address
    AND r.retired_seq = h.retired_seq AND r.position = h.position
LEFT JOIN resources res ON h.retired_seq = 0 AND res.sandbox = %(sandbox)s
    AND res.address = h.address
LEFT JOIN retired ret ON h.retired_seq > 0 AND ret.sandbox = %(sandbox)s
    AND ret.seq = h.retired_seq
ORDER BY r.created_at DESC, r.job_id DESC
"""

_REASON: TypeAdapter[RetireReason] = TypeAdapter(RetireReason)
_TIME: TypeAdapter[datetime] = TypeAdapter(UtcTime)


def find_runs(
    conn: psycopg.Connection[Any],
    sandbox: str,
    *,
    job_id: int | None,
    batch_id: str | None,
    others: int,
) -> list[RunMatch]:
    """The runs of `sandbox` with that job id or batch id, as `history.find_runs_in` answers."""
    params = {"sandbox": sandbox, "job": job_id, "batch": batch_id, "limit": others}
    found = []
    for address, seq, doc, body, retired_at, reason, total, rest in conn.execute(FIND_RUNS, params):
        retired = (
            RetiredAt(seq, _TIME.validate_json(retired_at), _REASON.validate_python(reason))
            if seq
            else None
        )
        listed = tuple(
            OtherRun(Run.model_validate(run), bool(other_seq))
            for other_seq, run in json.loads(rest)
        )
        found.append(
            RunMatch(
                address=address,
                resource=ExportJobResource.model_validate_json(body),
                run=Run.model_validate_json(doc),
                retired=retired,
                others=listed,
                more=max(0, int(total) - len(listed)),
            )
        )
    return found
