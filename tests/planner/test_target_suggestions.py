"""A --target that names nothing suggests the closest address of its own kind."""

from __future__ import annotations

import pytest

from reconciler.engine.planner import _suggest


@pytest.mark.parametrize(
    ("target", "hint"),
    [
        ("dataset/crm-profile", "did you mean dataset/crm-profiles?"),
        (
            "dataset/nope",
            "the dataset addresses are: dataset/audience-exports, dataset/crm-profiles",
        ),
        ("exportjob/daily-email", "did you mean exportjob/daily-emails?"),
        ("datset/crm-profiles", "addresses look like dataset/<name> or exportjob/<name>"),
    ],
)
def test_suggestion(target: str, hint: str) -> None:
    known = {
        "dataset/crm-profiles",
        "dataset/audience-exports",
        "exportjob/daily-emails",
        "exportjob/newsletter-audience",
    }
    assert _suggest(target, known).startswith(hint)
