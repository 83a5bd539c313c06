"""Reading, locking and atomically writing the state file."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler.errors import ReconcilerError
from reconciler.gcpause import gc_paused
from reconciler.state.history import OTHER_RUNS, RunMatch, find_runs_in
from reconciler.state.journal import (
    JOURNAL_SUFFIX,
    MAX_LINES,
    Baseline,
    baseline,
    journal_line,
    replay,
    scan,
)
from reconciler.state.lockfile import read_holder, record_holder
from reconciler.state.migrations import StateFileError
from reconciler.state.models import STATE_VERSION, State
from reconciler.state.snapshot import (
    BACKUP_SUFFIX,
    fsync_dir,
    parse_snapshot,
    parse_state,
    truncate,
    write_atomic,
)

# A state this small is rewritten whole when the lock is released (see StateWriter.settle).
SETTLE_BYTES = 4 * 1024 * 1024

__all__ = ["StateLocked", "StateStore", "StateWriter", "parse_state", "write_atomic"]


class StateLocked(ReconcilerError):
    """Another process holds the state lock."""


class _JournalUnreadable(Exception):
    """The journal did not scan or replay (`error` says why); a reader tries once more."""

    def __init__(self, error: StateFileError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _Loaded:
    """A state as read from disk, with what a writer needs to journal after it."""

    state: State
    snapshot_serial: int | None  # None: no snapshot of the current version to journal after
    snapshot_bytes: int
    journal_lines: int
    journal_bytes: int  # up to the end of the last complete line


class StateWriter:
    """Handed out by `StateStore.lock()`: reads and writes the state while the lock is held.

    A write appends one journal line for the resources the caller changed; a write that names
    none (`changed=None`), or one after a journal grown past its bounds, rewrites the snapshot.
    """

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._serial: int | None = None  # the serial of the state last read or written
        self._base: int | None = None  # the snapshot's serial, if journal lines may follow it
        self._before: Baseline = {}
        self._snapshot_bytes = 0
        self._journal_lines = 0
        self._journal_bytes = 0

    @property
    def path(self) -> Path:
        return self._store.path

    def settle(self) -> None:
        """Fold a small journal into the snapshot, so that the state file alone is the state.

        Done when the lock is released: people and scripts read `<state>.json` directly. Above
        `SETTLE_BYTES` the journal stays (a rewrite would cost what the journal saves).
        """
        if self._journal_lines and self._snapshot_bytes + self._journal_bytes <= SETTLE_BYTES:
            self.compact()

    def compact(self) -> None:
        """Rewrite the snapshot as the state on disk now and empty the journal; the serial stays.

        The state is the same before and after (only its files change), so a plan saved against
        this serial is still current: compaction is not a write of the state.
        """
        self._write_snapshot(self.read())

    @property
    def journal_lines(self) -> int:
        """How many lines the journal holds (0 right after a snapshot)."""
        return self._journal_lines

    def read(self) -> State:
        """The current state on disk (as `StateStore.read`)."""
        loaded = self._store.load()
        self._serial = loaded.state.serial
        self._base = loaded.snapshot_serial
        self._before = baseline(loaded.state)
        self._snapshot_bytes = loaded.snapshot_bytes
        self._journal_lines = loaded.journal_lines
        self._journal_bytes = loaded.journal_bytes
        return loaded.state

    def read_history(self) -> State:
        """The whole state (as `read`: nothing is kept apart yet)."""
        return self.read()

    def write(self, state: State, changed: Iterable[str] | None = None) -> State:
        """Write `state` with serial + 1 (and a lineage on the first write); return what was written.

        `changed`: the addresses whose resources differ from the last state read or written
        (other top-level keys are compared here); None when unsure, which rewrites the snapshot.
        """
        written = state.model_copy(
            update={
                "serial": state.serial + 1,
                "lineage": state.lineage or str(uuid.uuid4()),
                "sandbox": state.sandbox or self._store.sandbox or "",
            }
        )
        if changed is not None and self._may_journal(state):
            assert self._base is not None
            line, after = journal_line(written, self._base, changed, self._before)
            self._append(line.encode("utf-8"))
            self._before = after  # only once the line is on disk
        else:
            self._write_snapshot(written)
        self._serial = written.serial
        return written

    def replace(self, state: State) -> State:
        """Write `state` as it is, serial and lineage kept (a copy from another backend)."""
        self._write_snapshot(state)
        self._serial = state.serial
        return state

    def _may_journal(self, state: State) -> bool:
        return (
            self._base is not None
            and state.serial == self._serial
            and self._journal_lines < MAX_LINES
            # past the snapshot's size, rewriting it costs less than what replay would
            and self._journal_bytes < self._snapshot_bytes
        )

    def _append(self, line: bytes) -> None:
        journal = self._store.journal_path
        new = not journal.exists()
        # Private like the snapshot (mkstemp makes it 0600): it holds the same resources.
        fd = os.open(journal, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)  # written by an older version, which left it 0644
        with os.fdopen(fd, "ab") as handle:
            try:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
            except BaseException:
                # leave no torn line for the next append to follow
                with contextlib.suppress(OSError):
                    handle.truncate(self._journal_bytes)
                raise
        if new:
            fsync_dir(journal.parent)
        self._journal_lines += 1
        self._journal_bytes += len(line)

    def _write_snapshot(self, written: State) -> None:
        text = written.to_json()
        keep_backup(self._store)
        write_atomic(self._store.path, text)
        # A crash here leaves lines whose `base` is not the new snapshot's serial: replay skips them.
        truncate(self._store.journal_path, 0)
        self._base = written.serial
        self._before = baseline(written)
        self._snapshot_bytes = len(text.encode("utf-8"))
        self._journal_lines = 0
        self._journal_bytes = 0


def keep_backup(store: StateStore) -> None:
    """Keep the snapshot and journal about to be replaced as `<state>.backup` (+ `.journal`).

    The old snapshot is hard-linked (no copy, whatever its size) before the new one replaces it;
    the journal (at most 1,000 lines) is copied. Both stay 0600. Nothing to keep: nothing done.
    """
    if not store.path.exists():
        return
    backup = store.backup
    tmp = backup.path.with_name(f".{backup.path.name}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(store.path, tmp)
    except OSError:  # a filesystem without hard links
        shutil.copy2(store.path, tmp)
    os.replace(tmp, backup.path)
    try:
        journal = store.journal_path.read_bytes()
    except FileNotFoundError:
        journal = b""
    if journal:
        fd = os.open(backup.journal_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(journal)
    else:
        with contextlib.suppress(FileNotFoundError):
            backup.journal_path.unlink()


class StateStore:
    """The state at `path` (`sandbox` fills a new state and is checked against the file).

    On disk: the snapshot `path` and the journal `path` + `.journal` (docs/contract.md section 6).
    """

    def __init__(self, path: Path, sandbox: str | None = None) -> None:
        self.path = Path(path)
        self.sandbox = sandbox

    @property
    def where(self) -> str:
        """Where the state is, for messages."""
        return str(self.path)

    @property
    def lock_path(self) -> Path:
        return self.path.with_name(self.path.name + ".lock")

    @property
    def journal_path(self) -> Path:
        return self.path.with_name(self.path.name + JOURNAL_SUFFIX)

    @property
    def backup(self) -> StateStore:
        """The state as it was before the snapshot was last rewritten (`<state>.backup`)."""
        return StateStore(self.path.with_name(self.path.name + BACKUP_SUFFIX), self.sandbox)

    def read(self) -> State:
        """The state without taking the lock; a new empty state if the file does not exist.

        A reader racing a writer may see an older state, never a broken one.
        """
        return self.load().state

    def read_history(self) -> State:
        """The whole state without the lock (as `read`: nothing is kept apart yet)."""
        return self.read()

    def find_runs(
        self, *, job_id: int | None = None, batch_id: str | None = None, others: int = OTHER_RUNS
    ) -> list[RunMatch]:
        """The runs with that job id or batch id, newest first (a scan of the state)."""
        return find_runs_in(self.read(), job_id=job_id, batch_id=batch_id, others=others)

    def load(self) -> _Loaded:
        """The snapshot plus the journal lines that extend it."""
        try:
            return self._load_once()
        except _JournalUnreadable:
            # Read without the lock, the journal may have been emptied and refilled by a
            # writer between two of our reads: once more, and what is broken then is broken.
            try:
                return self._load_once()
            except _JournalUnreadable as exc:
                raise exc.error from None

    def _load_once(self) -> _Loaded:
        snapshot = self._read_bytes(self.path)
        journal = self._read_bytes(self.journal_path) or b""
        if snapshot is None:
            if journal.strip():
                raise StateFileError(
                    f"{self.journal_path} exists but {self.path} does not: the journal only "
                    f"records changes to that snapshot; restore {self.path} from a backup (or "
                    "remove the journal to start from an empty state)"
                )
            return _Loaded(State(sandbox=self.sandbox or ""), None, 0, 0, 0)
        try:
            state, version = parse_snapshot(snapshot, str(self.path))
        except StateFileError as exc:
            raise self._with_backup_hint(exc) from exc
        snapshot_serial = state.serial if version == STATE_VERSION else None
        try:
            scanned = scan(journal, str(self.journal_path))
            with gc_paused():
                state = replay(state, scanned.entries, str(self.journal_path))
        except StateFileError as exc:
            raise _JournalUnreadable(self._with_backup_hint(exc)) from exc
        if self.sandbox and state.sandbox and state.sandbox != self.sandbox:
            raise StateFileError(
                f"{self.path} holds the state of sandbox '{state.sandbox}', not "
                f"'{self.sandbox}'; check --sandbox or the state path in reconciler.yaml"
            )
        return _Loaded(
            state,
            snapshot_serial,
            len(snapshot),
            len(scanned.entries),
            scanned.valid_length,
        )

    def _with_backup_hint(self, exc: StateFileError) -> StateFileError:
        """A broken state's error, naming the backup this tool kept when there is one."""
        backup = self.backup
        if self.path.name.endswith(BACKUP_SUFFIX) or not backup.path.exists():
            return exc
        journal = f" and {backup.journal_path}" if backup.journal_path.exists() else ""
        return StateFileError(
            f"{exc}; the state before its last rewrite is kept in {backup.path}{journal}: "
            f"to go back to it, copy it over {self.path}"
            + (
                f" (and the journal over {self.journal_path})"
                if journal
                else f" and remove {self.journal_path}"
            )
        )

    def _read_bytes(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StateFileError(f"cannot read {path}: {exc.strerror}") from exc

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
                record_holder(handle, command)
                self._remove_stale_temp_files()
                writer = StateWriter(self)
                self._tidy_journal(writer)
                try:
                    yield writer
                finally:
                    # Best effort: the journal is a complete record either way.
                    with contextlib.suppress(Exception):
                        writer.settle()
            finally:
                handle.seek(0)
                handle.truncate()
                handle.flush()
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()

    def _tidy_journal(self, writer: StateWriter) -> None:
        # Under the lock: drop a line a killed writer left torn (the next append must start on
        # a line of its own), and compact a journal that grew past its bounds.
        journal = self._read_bytes(self.journal_path)
        if not journal:
            return
        scanned = scan(journal, str(self.journal_path))
        if scanned.valid_length < len(journal):
            truncate(self.journal_path, scanned.valid_length)
        snapshot_bytes = self.path.stat().st_size if self.path.exists() else 0
        if len(scanned.entries) >= MAX_LINES or scanned.valid_length >= snapshot_bytes:
            writer.compact()

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
                return read_holder(handle) or {}
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            return None

    def _locked_message(self, handle: IO[str]) -> str:
        info = read_holder(handle)
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
