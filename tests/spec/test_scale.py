"""Loading stays linear: thousands of documents, many broken references, in about a second."""

from __future__ import annotations

from pathlib import Path

from spec.helpers import errors, make_project

DOCS = 10_000
PER_FILE = 100


def write_project(root: Path, broken_every: int) -> int:
    """Write DOCS documents; every `broken_every`-th job names a missing dataset. Returns those."""
    files = {}
    broken = 0
    for f in range(DOCS // PER_FILE):
        parts = []
        for i in range(PER_FILE // 2):
            k = f * PER_FILE + i
            parts.append(
                "apiVersion: reconciler/v1\nkind: Dataset\n"
                f"metadata: {{name: ds-{k}, labels: {{team: t{k % 7}}}}}\n"
                f"spec:\n  name: Dataset {k}\n"
            )
            ref = f"ds-{k}x" if k % broken_every == 0 else f"ds-{k}"
            broken += k % broken_every == 0
            parts.append(
                "apiVersion: reconciler/v1\nkind: ExportJob\n"
                f"metadata: {{name: job-{k}}}\nspec:\n"
                "  fields: identities.id,personalEmail.address\n"
                f"  destination: {{dataset: {ref}}}\n"
                "  schema: {name: _xdm.context.profile}\n  refresh: 24h\n"
            )
        files[f"specs/f{f:03}.yaml"] = "---\n".join(parts)
    make_project(root, files)
    return broken


def test_ten_thousand_documents_with_suggestions(tmp_path: Path) -> None:
    broken = write_project(tmp_path, broken_every=4)
    found = errors(tmp_path)
    assert len(found) == broken > 1000
    assert found[0].endswith("no Dataset named 'ds-0x'; did you mean 'ds-0'?")
    # Its speed (under 2 s) is measured by `python bench/run.py --only validate-scale`.
