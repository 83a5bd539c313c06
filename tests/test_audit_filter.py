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
