"""Reading, locking and atomically writing the state file."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from reconciler.errors import ReconcilerError
from reconciler.gcpause import gc_paused
from reconciler.state import file_history
from reconciler.state.file_history import CLAIMS_SUFFIX, HISTORY_SUFFIX, FileClaims
from reconciler.state.file_lineage import find_runs_in_file
from reconciler.state.file_writer import StateWriter, claimed_in_history, keep_backup
from reconciler.state.head import known_archived, whole
from reconciler.state.history import OTHER_RUNS, RunMatch
from reconciler.state.journal import JOURNAL_SUFFIX, MAX_LINES, replay, scan
from reconciler.state.lockfile import left_by_a_killed_holder, read_holder, record_holder
from reconciler.state.migrations import StateFileError
from reconciler.state.models import STATE_VERSION, State
from reconciler.state.snapshot import (
    BACKUP_SUFFIX,
    parse_snapshot,
    parse_state,
    truncate,
    write_atomic,
)

# A state this small is rewritten whole when the lock is released (see StateWriter.settle).
SETTLE_BYTES = 4 * 1024 * 1024

__all__ = [
    "StateLocked",
    "StateStore",
    "StateWriter",
    "keep_backup",
    "parse_state",
    "write_atomic",
]


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
    claims: FileClaims | None = None  # the claims index attached to `state`, if it is a head


class StateStore:
    """The state at `path` (`sandbox` fills a new state and is checked against the file).

    On disk (docs/contract.md section 6): the head, the snapshot `path` and the journal `path` +
    `.journal`; the history, `path` + `.history` (runs moved out of the head) and `path` +
    `.claims` (their claimed job ids): reconciler.state.file_history.
    """

    def __init__(self, path: Path, sandbox: str | None = None, *, history_of: Path | None = None):
        self.path = Path(path)
        self.sandbox = sandbox
        # a backup's head: its runs moved out are in the history of the state at `history_of`
        self._history_of = history_of

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
    def history_path(self) -> Path:
        base = self._history_of or self.path
        return base.with_name(base.name + HISTORY_SUFFIX)

    @property
    def own_claims_path(self) -> Path:
        return self.path.with_name(self.path.name + CLAIMS_SUFFIX)

    @property
    def claims_path(self) -> Path:
        """The claims of the history runs this head counts (a backup's own, kept by a `state
        rm`'s rebuild, else the state's: only appended to since the backup was made)."""
        own = self.own_claims_path
        if self._history_of is None or own.exists():
            return own
        return self._history_of.with_name(self._history_of.name + CLAIMS_SUFFIX)

    @property
    def backup(self) -> StateStore:
        """The state as it was before the snapshot was last rewritten (`<state>.backup`)."""
        return StateStore(
            self.path.with_name(self.path.name + BACKUP_SUFFIX),
            self.sandbox,
            history_of=self._history_of or self.path,
        )

    def read(self) -> State:
        """The state's head without taking the lock; a new empty state if there is no file.

        Only the snapshot and the journal are read (never the history); the claims file is
        opened, and read only if a decision asks about an id the head does not hold.
        A reader racing a writer may see an older state, never a broken one.
        """
        return self.load().state

    def read_history(self) -> State:
        """The whole state without the lock: the head and the history merged."""
        return self.merge_history(self.read())

    def merge_history(self, head: State) -> State:
        """`head` with the runs its history holds: the whole state (archivedRuns 0)."""
        wanted = known_archived(head)
        if not any(wanted.values()):
            return head.model_copy().attach_history(None)
        return whole(head, file_history.read_history(self.history_path, wanted))

    def find_runs(
        self, *, job_id: int | None = None, batch_id: str | None = None, others: int = OTHER_RUNS
    ) -> list[RunMatch]:
        """The runs with that job id or batch id, newest first: the head, then one streamed
        pass over the history (only its lines holding the id, then those of its address, parsed)."""
        return find_runs_in_file(
            self.read(), self.history_path, job_id=job_id, batch_id=batch_id, others=others
        )

    def load(self) -> _Loaded:
        """The head: the snapshot plus the journal lines that extend it, and its claims index.

        The claims file is opened before the head is read; a rebuild (`state rm`) between the
        two is seen (the file replaced) and the head read once more.
        """
        for attempt in range(2):
            claims = FileClaims(self.claims_path)
            loaded = self._load_head()
            if not any(known_archived(loaded.state).values()):
                return loaded
            if attempt or claims.same_file():
                if claims.missing:  # an index of the history: made from it (a restore)
                    claims.fallback = functools.partial(
                        claimed_in_history, self.history_path, loaded.state
                    )
                loaded.state.attach_history(claims)
                return dataclasses.replace(loaded, claims=claims)
        raise AssertionError("unreachable")

    def _load_head(self) -> _Loaded:
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
        if self._history_of is not None or not backup.path.exists():
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
            + (
                f" (and {backup.own_claims_path} over {self.own_claims_path})"
                if backup.own_claims_path.exists()
                else f" (and remove {self.own_claims_path}: it is rebuilt from the history)"
                if self.own_claims_path.exists()
                else ""
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
                killed = left_by_a_killed_holder(handle)
                record_holder(handle, command)
                self._remove_stale_temp_files()
                writer = StateWriter(self)
                self._tidy_journal(writer)
                writer.recover_claims(killed=killed)
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
