"""What the engine may ask of a state backend: the local file or PostgreSQL (docs/state.md)."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, Protocol

from reconciler.state.history import RunMatch
from reconciler.state.models import State


class Writer(Protocol):
    """Handed out by `Store.lock()`: reads and writes the state while the lock is held."""

    def read(self) -> State:
        """The current state's head (and the baseline the next write is compared with).

        The head (docs/state.md): every resource, but of an export job only the runs from
        position `archivedRuns` on (`head_start`: the newest, those in flight, the newest
        succeeded); the claimed job ids of the rest through `state.claimed_job_ids()`.
        """
        ...

    def read_history(self) -> State:
        """The current state whole: every run of every resource (`archivedRuns` 0 everywhere).

        Also the baseline of the next write, as `read`.
        """
        ...

    def write(self, state: State, changed: Iterable[str] | None = None) -> State:
        """Write `state` with serial + 1; `changed`: the addresses that differ (None: all).

        `state` may be a head (from `read`) or whole (from `read_history`), changed either way:
        runs the backend already keeps in its history are not written again, and runs the head
        no longer needs (`head_start`) move to the history. Returns the head written.
        """
        ...

    def replace(self, state: State) -> State:
        """Write `state` exactly as it is (its serial and lineage kept): `state migrate`."""
        ...

    def compact(self) -> None:
        """Fold what a backend keeps apart into its main record; the state stays the same."""
        ...


class Store(Protocol):
    """One sandbox's state in one backend."""

    @property
    def where(self) -> str:
        """Where the state is, for messages (never a password)."""
        ...

    def read(self) -> State:
        """The state's head without taking the lock; a new empty state if there is none yet.

        What every command that decides reads: its cost does not grow with the history.
        """
        ...

    def read_history(self) -> State:
        """The whole state without taking the lock: for audit, report, state show, lineage."""
        ...

    def lock(self, command: str | None = None) -> AbstractContextManager[Writer]:
        """Hold the exclusive state lock; fail fast with `StateLocked` naming the holder."""
        ...

    def holder(self) -> dict[str, Any] | None:
        """Who holds the lock now (pid, host, command, startedAt), or None if nobody does."""
        ...

    def find_runs(
        self, *, job_id: int | None = None, batch_id: str | None = None, others: int = 10
    ) -> list[RunMatch]:
        """The runs (of managed and retired resources) with that job id or batch id, newest first.

        A batch id matches a run's own and its segments'. No lock is taken.
        """
        ...
