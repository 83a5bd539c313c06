"""Upgrading state files written by older versions of the tool, one version step at a time."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.state.models import STATE_VERSION

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def _to_version_2(raw: dict[str, Any]) -> dict[str, Any]:
    """1 -> 2: the `retired` history list (nothing was retired before it existed); the document
    may now be followed by a journal, which needs no change to the document itself."""
    return {**raw, "retired": raw.get("retired", [])}


# version N -> a function turning a version-N document into a version-N+1 one.
MIGRATIONS: Mapping[int, Migration] = {1: _to_version_2}


class StateFileError(ReconcilerError):
    """The state file exists but cannot be used as it is."""


def upgrade(
    raw: dict[str, Any],
    source: str,
    *,
    target: int = STATE_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
) -> dict[str, Any]:
    """Bring a parsed state document to `target`; refuse newer or unknown versions clearly."""
    version = raw.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise StateFileError(
            f"{source} has no integer 'version'; restore it from a backup or version control"
        )
    if version > target:
        raise StateFileError(
            f"{source} has state version {version}, newer than this reconciler reads "
            f"({target}); upgrade reconciler"
        )
    while version < target:
        step = migrations.get(version)
        if step is None:
            raise StateFileError(
                f"{source} has state version {version}, which this reconciler cannot upgrade; "
                "restore it from a backup"
            )
        raw = step(raw)
        version += 1
        raw["version"] = version
    return raw
