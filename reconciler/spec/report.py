"""What `reconciler validate` says: every located error, then a one-line summary."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.config import load_settings
from reconciler.errors import ReconcilerError
from reconciler.spec.errors import SpecErrors, plural
from reconciler.spec.loader import load_specs


class ValidationFailed(ReconcilerError):
    """Raised by the command after printing the errors; its message is the summary."""


@dataclass(frozen=True)
class ValidationReport:
    """The located errors (one line each, sorted by file and line) and a one-line summary."""

    ok: bool
    errors: tuple[str, ...]
    summary: str


def validate_project(
    project_dir: Path, sandbox: str | None, env: Mapping[str, str]
) -> ValidationReport:
    """Load settings and every document offline; never raises SpecErrors, reports them."""
    try:
        specs = load_specs(load_settings(project_dir, sandbox, env))
    except SpecErrors as exc:
        return ValidationReport(False, tuple(str(e) for e in exc.errors), exc.summary)
    summary = f"{plural(len(specs), 'document')} in {plural(specs.files, 'file')}: OK"
    return ValidationReport(True, (), summary)
