"""Located errors: every problem in a spec or settings file points at a file, line and column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import ReconcilerError


@dataclass(frozen=True, order=True)
class Location:
    """A position in a file: 1-based line and column; `file` is relative to the project dir."""

    file: Path
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file.as_posix()}:{self.line}:{self.column}"


@dataclass(frozen=True)
class LocatedError:
    """One problem: where it is, which resource and field, and what to do about it."""

    location: Location
    address: str | None
    path: str
    message: str

    def __str__(self) -> str:
        parts = [str(self.location)]
        if self.address:
            parts.append(self.address)
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return ": ".join(parts)

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, line, column, then text, so output is stable."""
        loc = self.location
        return (loc.file.as_posix(), loc.line, loc.column, str(self))


def format_path(path: tuple[str | int, ...]) -> str:
    """`("spec", "filter", "segments", 0, "segmentId")` -> `spec.filter.segments[0].segmentId`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def plural(count: int, noun: str) -> str:
    """`1 error`, `2 errors`."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class SpecErrors(ReconcilerError):
    """Every problem found in one load, sorted by file and line."""

    def __init__(self, errors: Iterable[LocatedError]) -> None:
        self.errors: list[LocatedError] = sorted(set(errors), key=LocatedError.sort_key)
        super().__init__(self._one_line())

    @property
    def summary(self) -> str:
        """`2 errors in 1 file`."""
        files = {e.location.file for e in self.errors}
        return f"{plural(len(self.errors), 'error')} in {plural(len(files), 'file')}"

    def _one_line(self) -> str:
        if not self.errors:
            return "no errors"
        first = str(self.errors[0])
        more = len(self.errors) - 1
        if more:
            first += f" (and {more} more; run 'reconciler validate' to list them all)"
        return first
