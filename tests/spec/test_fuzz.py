"""Whatever the bytes or values, loading gives documents or located errors, never an exception."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.spec.errors import SpecErrors
from reconciler.spec.yamlread import load_file
from spec.helpers import load, make_project

YAMLISH = st.text(
    alphabet=st.sampled_from(list("ab:-[]{},&*!?|>'\"#% \n\t0123456789.~<=@`")), max_size=200
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
BASE = {
    "apiVersion": "reconciler/v1",
    "kind": "ExportJob",
    "metadata": {"name": "job"},
    "spec": {
        "fields": "identities.id",
        "filter": {"segments": [{"segmentId": "s1"}]},
        "destination": {"datasetId": "5b020a27e7040801dedba61b"},
        "schema": {"name": "_xdm.context.profile"},
    },
}
PATHS = [
    ("kind",),
    ("metadata",),
    ("metadata", "name"),
    ("metadata", "labels"),
    ("spec",),
    ("spec", "fields"),
    ("spec", "destination"),
    ("spec", "destination", "dataset"),
    ("spec", "filter"),
    ("spec", "filter", "segments"),
    ("spec", "mergePolicy"),
    ("spec", "refresh"),
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(YAMLISH.map(str.encode), st.binary(max_size=200)))
def test_any_bytes_give_documents_or_located_errors(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.yaml"
        path.write_bytes(data)
        _, problems = load_file(path, Path("x.yaml"))
    for problem in problems:
        assert str(problem).startswith("x.yaml:")
        assert problem.location.line >= 1 and problem.location.column >= 1


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PATHS), JSON)
def test_any_value_anywhere_gives_located_errors(path: tuple[str, ...], value: object) -> None:
    document = json.loads(json.dumps(BASE))
    parent = document
    for part in path[:-1]:
        parent = parent[part]
    parent[path[-1]] = value
    with tempfile.TemporaryDirectory() as folder:
        # JSON is YAML, so any value can be written where a specific one is expected.
        root = make_project(Path(folder), {"specs/a.yaml": json.dumps(document, indent=2)})
        try:
            load(root)
        except SpecErrors as exc:
            assert exc.errors
            assert all(str(e).startswith("specs/a.yaml:") for e in exc.errors)
