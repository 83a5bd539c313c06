"""Small helpers for the spec tests: write a throwaway project and collect its errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

from reconciler.config import load_settings
from reconciler.spec.errors import SpecErrors
from reconciler.spec.loader import SpecSet, load_specs

DATASET = """\
apiVersion: reconciler/v1
kind: Dataset
metadata: {name: crm-profiles}
spec:
  name: CRM profile export
"""

EXPORT_JOB = """\
apiVersion: reconciler/v1
kind: ExportJob
metadata: {name: daily-emails}
spec:
  fields: identities.id,personalEmail.address
  destination: {dataset: crm-profiles}
  schema: {name: _xdm.context.profile}
"""


def make_project(root: Path, files: dict[str, str | bytes]) -> Path:
    """Write `files` (path -> text, dedented, or bytes) under `root`; returns `root`."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    return root


def load(root: Path) -> SpecSet:
    """Load the project's specs (raises SpecErrors)."""
    return load_specs(load_settings(root, env={}))


def errors(root: Path) -> list[str]:
    """Every error line of loading the project (empty when it is valid)."""
    try:
        load(root)
    except SpecErrors as exc:
        return [str(e) for e in exc.errors]
    return []
