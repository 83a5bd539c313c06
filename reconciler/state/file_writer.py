"""The file backend's writer: the head (snapshot + journal) and the history beside it.

A write starts with `head.to_head`: runs the history already holds are dropped, runs the head no
longer needs move out. Their history lines and claimed job ids are appended (fsynced) BEFORE the
head that counts them is written, so a writer killed at any point leaves a head whose history is
complete (docs/state.md, reconciler.state.file_history).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING

from reconciler.state import file_history
from reconciler.state.file_history import FileClaims
from reconciler.state.head import known_archived, slots, to_head
from reconciler.state.journal import MAX_LINES, Baseline, baseline, journal_line
from reconciler.state.models import ExportJobResource, State
from reconciler.state.snapshot import fsync_dir, truncate, write_atomic

if TYPE_CHECKING:
    from pathlib import Path

    from reconciler.state.store import StateStore


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
        # what the history holds, as the last head read or written says
        self._known: dict[tuple[str, int], int] = {}
        self._retired = 0  # how many retired entries that head has
        self._claims: FileClaims | None = None  # the claims index handed out with heads

    @property
    def path(self) -> Path:
        return self._store.path

    def settle(self) -> None:
        """Fold a small journal into the snapshot, so that the state file alone is the state.

        Done when the lock is released: people and scripts read `<state>.json` directly. Above
        `SETTLE_BYTES` the journal stays (a rewrite would cost what the journal saves).
        """
        from reconciler.state.store import SETTLE_BYTES

        if self._journal_lines and self._snapshot_bytes + self._journal_bytes <= SETTLE_BYTES:
            self.compact()

    def compact(self) -> None:
        """Rewrite the snapshot as the state on disk now and empty the journal; the serial stays.

        The state is the same before and after (only its files change), so a plan saved against
        this serial is still current: compaction is not a write of the state. The history stays
        as it is: the head rewritten counts the same runs in it.
        """
        self._write_snapshot(self.read())

    @property
    def journal_lines(self) -> int:
        """How many lines the journal holds (0 right after a snapshot)."""
        return self._journal_lines

    def read(self) -> State:
        """The current state's head on disk (as `StateStore.read`)."""
        loaded = self._store.load()
        self._serial = loaded.state.serial
        self._base = loaded.snapshot_serial
        self._before = baseline(loaded.state)
        self._snapshot_bytes = loaded.snapshot_bytes
        self._journal_lines = loaded.journal_lines
        self._journal_bytes = loaded.journal_bytes
        self._track(loaded.state, loaded.claims)
        return loaded.state

    def read_history(self) -> State:
        """The whole state (every run), and the baseline of the next write as `read`."""
        return self._store.merge_history(self.read())

    def write(self, state: State, changed: Iterable[str] | None = None) -> State:
        """Write `state` with serial + 1 (and a lineage on the first write); return the head written.

        `changed`: the addresses whose resources differ from the last state read or written
        (other top-level keys are compared here); None when unsure, which rewrites the snapshot.
        `state` may be a head or whole: runs the history holds are not written again.
        """
        retired_from = self._retired + 1 if len(state.retired) >= self._retired else None
        hw = to_head(state, self._known, changed, new_retired_from=retired_from)
        written = hw.state.model_copy(
            update={
                "serial": state.serial + 1,
                "lineage": state.lineage or str(uuid.uuid4()),
                "sandbox": state.sandbox or self._store.sandbox or "",
            }
        )
        if hw.archived:
            lines = b"".join(file_history.history_line(a) for a in hw.archived)
            ids = file_history.claimed_ids(hw.archived)
            # History first, then the claims, then the head that counts them.
            if any(self._known.values()):
                file_history.append(self._store.history_path, lines)
                file_history.append(self._store.claims_path, file_history.pack(ids), unit=8)
            else:
                # The head counts no history: files there are another state's (its snapshot
                # removed to start over), whose job ids must not be claimed. Started afresh.
                file_history.write_new(self._store.history_path, lines)
                file_history.write_new(self._store.claims_path, file_history.pack(ids))
                self._claims = None
            if self._claims is not None and not self._claims.add(ids):
                self._claims = None  # opened before the file existed: the next head opens it
        if changed is not None and self._may_journal(state):
            assert self._base is not None
            names = set(changed) | hw.changed
            line, after = journal_line(written, self._base, names, self._before)
            self._append(line.encode("utf-8"))
            self._before = after  # only once the line is on disk
        else:
            self._write_snapshot(written)
        self._serial = written.serial
        if self._unclaims(written, retired_from):
            # After the head: a writer killed before this rebuild leaves ids claimed that the
            # removed resource had (no object reported unmanaged wrongly), never the reverse.
            self._rebuild_claims(written)
        self._track(written, self._claims)
        return written

    def replace(self, state: State) -> State:
        """Write `state` as it is, serial and lineage kept (a copy from another backend).

        The history and the claims are written from scratch with it; `state` must be whole.
        """
        hw = to_head(state, {}, None)
        head = hw.state
        history = self._store.history_path
        history.parent.mkdir(parents=True, exist_ok=True)
        lines = b"".join(file_history.history_line(a) for a in hw.archived)
        file_history.write_new(history, lines)
        file_history.write_new(
            self._store.claims_path, file_history.pack(file_history.claimed_ids(hw.archived))
        )
        self._claims = None
        self._write_snapshot(head)
        self._serial = head.serial
        self._track(head, None)
        return head

    def _track(self, head: State, claims: FileClaims | None) -> None:
        """Remember what `head` says the history holds; attach the claims index to it."""
        self._known = known_archived(head)
        self._retired = len(head.retired)
        if claims is not None:
            self._claims = claims  # opened with the head just read (states held keep theirs)
        if not any(self._known.values()):
            head.attach_history(None)
            return
        if self._claims is None:
            self._claims = FileClaims(self._store.claims_path)
        head.attach_history(self._claims)

    def _unclaims(self, head: State, retired_from: int | None) -> bool:
        """Whether this write retired by `state rm` an export job whose history runs (or a
        killed writer's leftovers) the claims file may hold."""
        first = retired_from or 1
        removed = [
            entry.resource
            for entry in head.retired[first - 1 :]
            if entry.reason == "state rm" and isinstance(entry.resource, ExportJobResource)
        ]
        if not removed:
            return False
        if any(res.archivedRuns for res in removed):
            return True
        try:
            return os.stat(self._store.claims_path).st_size > 0
        except FileNotFoundError:
            return False

    def recover_claims(self, *, killed: bool) -> None:
        """Rebuild the claims from the history after a lock holder was `killed`, or if the
        claims file is missing (the history is there): it is an index of the history.

        A writer killed between its claims append and its head write leaves ids claimed that
        no head counts (runs it was adding), and one killed before a `state rm`'s rebuild ids
        of the removed resource: neither may decide anything under the lock. Costs a read of
        the history, only after a crash (or a restore that removed the claims).
        """
        history, claims = self._store.history_path, self._store.claims_path
        left = killed and (history.exists() or claims.exists())
        if not left and (claims.exists() or not history.exists()):
            return
        head = self.read()
        self._rebuild_claims(head, keep=False)
        self.read()  # the head again, with an index of the new file

    def _rebuild_claims(self, head: State, *, keep: bool = True) -> None:
        ids = claimed_in_history(self._store.history_path, head)
        if keep:
            claims, backup = self._store.claims_path, self._store.backup.own_claims_path
            file_history.keep_claims(claims, backup)
        file_history.write_new(self._store.claims_path, file_history.pack(ids))
        self._claims = None  # the next head gets an index of the new file

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


def claimed_in_history(history: Path, head: State) -> list[int]:
    """The job ids of `head`'s history runs of claiming resources (managed, or forget)."""
    wanted = {
        (slot.address, slot.generation): res.archivedRuns
        for slot, res in slots(head)
        if not slot.retired_seq or head.retired[slot.retired_seq - 1].claims
    }
    runs = file_history.read_history(history, wanted)
    return [run.jobId for key, count in wanted.items() for run in runs.get(key, [])[:count]]


def keep_backup(store: StateStore) -> None:
    """Keep the snapshot and journal about to be replaced as `<state>.backup` (+ `.journal`).

    The old snapshot is hard-linked (no copy, whatever its size) before the new one replaces it;
    the journal (at most 1,000 lines) is copied. Both stay 0600. Nothing to keep: nothing done.
    The history needs no copy: it is only appended to, so the backup's head finds all its runs
    in the same file. The claims too but after a `state rm`, which rebuilds them: it keeps the
    file it replaces as `<backup>.claims` first (removed here: it belongs to the backup now
    replaced).
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
    with contextlib.suppress(FileNotFoundError):
        backup.own_claims_path.unlink()
