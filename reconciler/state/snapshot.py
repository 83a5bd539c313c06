"""The state file's snapshot on disk: parsing it (fast path and upgrades), writing it atomically."""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path

from pydantic import ValidationError

from reconciler.gcpause import gc_paused
from reconciler.state.journal import first_error
from reconciler.state.migrations import StateFileError, upgrade
from reconciler.state.models import STATE_VERSION, State

# What this tool writes first; anything else (an older version, a version missing or elsewhere)
# takes the slow path, which upgrades or explains.
BACKUP_SUFFIX = ".backup"  # the state before the snapshot was last rewritten
_CURRENT = re.compile(rb'\s*\{\s*"version"\s*:\s*%d\s*[,}]' % STATE_VERSION)


def parse_snapshot(text: bytes | str, source: str) -> tuple[State, int]:
    """A snapshot's text -> (State at the current version, the version it was written in)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    if _CURRENT.match(data):
        try:
            # pydantic-core's own JSON parser: no intermediate dicts (time and memory). Strict:
            # no coercions to try (a fifth faster), as this tool writes every value typed.
            with gc_paused():
                return State.model_validate_json(data, strict=True), STATE_VERSION
        except ValidationError:
            pass  # written by hand, or broken: the lax slow path reads or explains
    try:
        raw = json.loads(data)
    except json.JSONDecodeError as exc:
        raise StateFileError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "restore it from a backup or version control"
        ) from exc
    if not isinstance(raw, dict):
        raise StateFileError(f"{source} is not a JSON object; restore it from a backup")
    version = raw.get("version")
    raw = upgrade(raw, source)  # checks that `version` is an int
    try:
        return State.model_validate(raw), int(version or 0)
    except ValidationError as exc:
        raise StateFileError(
            f"{source} is not a valid state file ({first_error(exc)}); "
            "repair it with 'reconciler state' commands or restore it from a backup"
        ) from exc


def parse_state(text: bytes | str, source: str) -> State:
    """The text of a state snapshot -> State, upgraded to the current version; one-line errors."""
    return parse_snapshot(text, source)[0]


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` so a crash leaves either the old or the new file, never half
    (temp file 0600, fsync, rename, fsync of the folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = text.encode("utf-8") if isinstance(text, str) else text
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def truncate(path: Path, length: int) -> None:
    try:
        handle = open(path, "r+b")  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return
    with handle:
        handle.truncate(length)
        handle.flush()
        os.fsync(handle.fileno())
