"""Reading, locking and atomically writing the state file."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from reconciler.errors import ReconcilerError
from reconciler.state.migrations import StateFileError, upgrade
from reconciler.state.models import State, format_time


class StateLocked(ReconcilerError):
    """Another process holds the state lock."""


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "top level"
    return f"{where}: {err['msg']}"


def parse_state(text: str, source: str) -> State:
    """The text of a state file -> State, upgraded to the current version; one-line errors."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateFileError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "restore it from a backup or version control"
        ) from exc
    if not isinstance(raw, dict):
        raise StateFileError(f"{source} is not a JSON object; restore it from a backup")
    raw = upgrade(raw, source)
    try:
        return State.model_validate(raw)
    except ValidationError as exc:
        raise StateFileError(
            f"{source} is not a valid state file ({_first_error(exc)}); "
            "repair it with 'reconciler state' commands or restore it from a backup"
        ) from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so a crash leaves either the old or the new file, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


class StateWriter:
    """Handed out by `StateStore.lock()`: reads and writes the state while the lock is held."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    @property
    def path(self) -> Path:
        return self._store.path

    def read(self) -> State:
        """The current state on disk (as `StateStore.read`)."""
        return self._store.read()

    def write(self, state: State) -> State:
        """Write `state` with serial + 1 (and a lineage on the first write); return what was written."""
        written = state.model_copy(
            update={
                "serial": state.serial + 1,
                "lineage": state.lineage or str(uuid.uuid4()),
                "sandbox": state.sandbox or self._store.sandbox or "",
            }
        )
        write_atomic(self._store.path, written.to_json())
        return written


class StateStore:
    """The state file at `path` (`sandbox` fills a new state and is checked against the file)."""

    def __init__(self, path: Path, sandbox: str | None = None) -> None:
        self.path = Path(path)
        self.sandbox = sandbox

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    def read(self) -> State:
        """The state without taking the lock; a new empty state if the file does not exist."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return State(sandbox=self.sandbox or "")
        except OSError as exc:
            raise StateFileError(f"cannot read {self.path}: {exc.strerror}") from exc
        state = parse_state(text, str(self.path))
        if self.sandbox and state.sandbox and state.sandbox != self.sandbox:
            raise StateFileError(
                f"{self.path} holds the state of sandbox '{state.sandbox}', not "
                f"'{self.sandbox}'; check --sandbox or the state path in reconciler.yaml"
            )
        return state

    @contextlib.contextmanager
    def lock(self, command: str | None = None) -> Iterator[StateWriter]:
        """Hold the exclusive state lock; fail fast with `StateLocked` naming the holder."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateLocked(self._locked_message(handle)) from None
            try:
                _record_holder(handle, command)
                self._remove_stale_temp_files()
                yield StateWriter(self)
            finally:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()

    def _remove_stale_temp_files(self) -> None:
        # Left by a writer killed between creating its temp file and the rename; only the lock
        # holder writes, so under the lock none of them is in use.
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now (pid, host, command, startedAt), or None if nobody does."""
        if not self.lock_path.exists():
            return None
        with open(self.lock_path, encoding="utf-8") as handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_holder(handle) or {}
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None

    def _locked_message(self, handle: IO[str]) -> str:
        info = _read_holder(handle)
        if info:
            who = (
                f"pid {info.get('pid', '?')} on {info.get('host', '?')} running "
                f"'{info.get('command', '?')}' since {info.get('startedAt', '?')}"
            )
        else:
            who = "another process"
        return (
            f"the state {self.path} is locked by {who}; wait for it to finish "
            f"(or, if that process is gone, check and remove {self.lock_path})"
        )


def _record_holder(handle: IO[str], command: str | None) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": command or " ".join(["reconciler", *sys.argv[1:]]),
        "startedAt": format_time(datetime.now(UTC)),
    }
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(info) + "\n")
    handle.flush()
    os.fsync(handle.fileno())


def _read_holder(handle: IO[str]) -> dict[str, Any] | None:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or "null")
    except json.JSONDecodeError:
        return None  # the holder is still writing its details
    return info if isinstance(info, dict) else None
