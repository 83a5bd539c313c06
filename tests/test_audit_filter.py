"""`audit --status`: a status no audit can show is a usage error, not an empty audit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.engine.audit import parse_filter
from reconciler.errors import ReconcilerError

AT = datetime(2026, 12, 1, tzinfo=UTC)


def test_unknown_status_is_refused_with_the_choices() -> None:
    with pytest.raises(ReconcilerError, match=r"--status 'BOGUS' is not a status.*SUCCEEDED"):
        parse_filter(None, (), ("bogus",), at=AT)


def test_statuses_are_case_free_and_both_cancel_spellings_match() -> None:
    assert parse_filter(None, (), ("failed",), at=AT).statuses == {"FAILED"}
    assert parse_filter(None, (), ("canceled",), at=AT).statuses == {"CANCELED", "CANCELLED"}


def test_unreadable_records_are_listed_never_hidden() -> None:
    from reconciler.engine.audit import with_unreadable
    from reconciler.platform.models import UnreadableRecord
    from reconciler.render.audit import AuditEntry

    recorded = AuditEntry(
        "exportjob", "24001", "not on platform", "exportjob/a", "ds", ("b1",), "f", "create", AT
    )
    entries = with_unreadable(
        [recorded],
        [
            UnreadableRecord(24001, "status is a number"),
            UnreadableRecord(24002, "no id"),
            UnreadableRecord(None, "not an object"),
        ],
    )
    assert [(e.id, e.status, e.managedBy, e.name) for e in entries] == [
        ("24001", "UNREADABLE", "exportjob/a", "unreadable: status is a number"),
        ("24002", "UNREADABLE", None, "unreadable: no id"),
        ("-", "UNREADABLE", None, "unreadable: not an object"),
    ]
    assert entries[0].batches == ("b1",)
    assert parse_filter(None, (), ("unreadable",), at=AT).keeps(entries[1])
