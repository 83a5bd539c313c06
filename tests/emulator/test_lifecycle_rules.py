"""General rules of the pure pieces: job phases over time, and field projection."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.emulator.exporter import project
from reconciler.emulator.lifecycle import Phase, Timeline, metrics, phase_at

ORDER = {"NEW": 0, "PROCESSING": 1, "SUCCEEDED": 2, "FAILED": 2, "CANCELLED": 2}
ms = st.integers(0, 10_000)


@st.composite
def timelines(draw: st.DrawFn) -> Timeline:
    creation = draw(st.integers(1_500_000_000_000, 1_500_000_100_000))
    return Timeline(
        creation_ms=creation,
        new_ms=draw(ms),
        processing_ms=draw(ms),
        outcome=draw(st.sampled_from(["succeed", "fail", "stuck"])),
        cancelled_ms=draw(st.none() | st.integers(creation, creation + 30_000)),
        failed_ms=draw(st.none() | st.integers(creation, creation + 30_000)),
    )


@given(timelines(), st.lists(st.integers(0, 40_000), min_size=2, max_size=8))
def test_status_never_goes_back_and_terminal_states_stick(t: Timeline, offsets: list[int]) -> None:
    phases = [phase_at(t, t.creation_ms + o) for o in sorted(offsets)]
    for before, after in itertools.pairwise(phases):
        assert ORDER[before.status] <= ORDER[after.status]
        if before.terminal:
            assert after == before


@given(timelines(), st.integers(0, 40_000))
def test_times_reported_are_consistent(t: Timeline, offset: int) -> None:
    now = t.creation_ms + offset
    phase: Phase = phase_at(t, now)
    assert t.creation_ms <= phase.update_ms <= max(now, t.creation_ms)
    block = metrics(t, phase, now)
    assert block["totalTime"]["startTimeInMs"] == t.creation_ms
    if phase.terminal:
        assert phase.end_ms == phase.update_ms
        assert block["totalTime"]["totalTimeInMs"] == phase.end_ms - t.creation_ms
    for span in block.values():
        if "endTimeInMs" in span:
            assert span["startTimeInMs"] <= span["endTimeInMs"] <= now
    if phase.status == "SUCCEEDED":
        assert t.outcome == "succeed" and "aCPDatasetWriteTime" in block
    if phase.status == "PROCESSING":
        assert t.outcome == "stuck" or now < (t.natural_end_ms or 0)


@given(timelines())
def test_without_interruptions_a_job_ends_by_its_outcome(t: Timeline) -> None:
    t = Timeline(t.creation_ms, t.new_ms, t.processing_ms, t.outcome)
    far = phase_at(t, t.creation_ms + 10**9).status
    assert far == {"succeed": "SUCCEEDED", "fail": "FAILED", "stuck": "PROCESSING"}[t.outcome]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abc"), inner, max_size=3)
    ),
    max_leaves=12,
)
paths = st.lists(
    st.lists(st.sampled_from("abc"), min_size=1, max_size=3).map(tuple), min_size=1, max_size=3
)


def _leaves(value: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if isinstance(value, dict):
        return (
            set().union(*(_leaves(v, (*prefix, k)) for k, v in value.items())) if value else set()
        )
    if isinstance(value, list):
        return set().union(*(_leaves(v, prefix) for v in value)) if value else set()
    return {prefix}


@given(st.dictionaries(st.sampled_from("abc"), json_values, max_size=3), paths)
def test_projection_keeps_only_named_paths(
    doc: dict[str, Any], wanted: list[tuple[str, ...]]
) -> None:
    result = project(doc, tuple(wanted))
    if result is None:
        return
    for leaf in _leaves(result):
        assert any(leaf[: len(p)] == p for p in wanted), (leaf, wanted)
    # Projecting again changes nothing.
    assert project(result, tuple(wanted)) == result
