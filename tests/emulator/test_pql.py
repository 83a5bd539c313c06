"""The PQL subset the emulator evaluates: any text compiles or is one PqlUnsupported, and a
compiled predicate never raises on a profile (an estimate read can never be a 500)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.emulator import defaults, population
from reconciler.emulator.pql import PqlUnsupported, compile_expression

PROFILES = population.generate(40, 5)
_PIECES = st.sampled_from(
    [
        "(",
        ")",
        " and ",
        " or ",
        "not ",
        "true",
        "false",
        "=",
        "!=",
        "<",
        ">=",
        '"US"',
        "3",
        "-1.5",
        "homeAddress.countryCode",
        "person.name.firstName",
        ".isNull()",
        ".isNotNull()",
        'inSegment("' + str(defaults.SEGMENTS[0]["id"]) + '")',
        str(defaults.SEGMENTS[1]["pql"]),
        ".",
        ",",
        "x",
        '"',
        "\\",
        "chain(",
        " ",
    ]
)


def _total(expression: str) -> int | None:
    try:
        predicate = compile_expression(expression)
    except PqlUnsupported:
        return None
    return sum(1 for p in PROFILES if predicate(p))


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=12).map("".join) | st.text(max_size=40))
def test_any_text_compiles_or_is_unsupported(expression: str) -> None:
    _total(expression)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (
            'homeAddress.countryCode = "US"',
            lambda p: p.attributes["homeAddress"]["countryCode"] == "US",
        ),
        (
            'not (homeAddress.countryCode = "US")',
            lambda p: p.attributes["homeAddress"]["countryCode"] != "US",
        ),
        (
            'homeAddress.countryCode != "US" and person.name.firstName >= "K"',
            lambda p: (
                p.attributes["homeAddress"]["countryCode"] != "US"
                and p.attributes["person"]["name"]["firstName"] >= "K"
            ),
        ),
        ("personalEmail.address.isNull() or false", lambda p: "personalEmail" not in p.attributes),
        ("loyalty.points > 3", lambda p: False),  # a missing attribute compares false
        ("loyalty.points != 3", lambda p: True),
    ],
)
def test_what_an_expression_selects(
    expression: str, expected: Callable[[population.Profile], bool]
) -> None:
    assert _total(expression) == sum(1 for p in PROFILES if expected(p))


def test_deep_nesting_is_unsupported_not_a_crash() -> None:
    with pytest.raises(PqlUnsupported, match="nested too deeply"):
        compile_expression("(" * 5000 + "true" + ")" * 5000)
