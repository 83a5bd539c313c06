"""`reconciler report`: the sandbox's exports as one self-contained HTML page.

`data` gathers the state and the live listings into a plain `ReportData`; `html` renders it
(jinja2 and inline SVG charts). Imported only by the `report` command, so the CLI's other
commands never load jinja2.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from reconciler.errors import ReconcilerError
from reconciler.gcpause import gc_paused


class ReportError(ReconcilerError):
    """The report could not be written."""


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` whole or not at all (a temporary file renamed over it)."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ReportError(f"cannot write the report {path}: folder {folder} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ReportError(f"cannot write the report {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ReportError(f"cannot write the report {path}: {exc.strerror}") from None


paused_gc = gc_paused  # the report builds millions of objects and no cycles
