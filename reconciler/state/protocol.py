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
        """The current state (and the baseline the next write is compared with)."""
        ...

    def write(self, state: State, changed: Iterable[str] | None = None) -> State:
        """Write `state` with serial + 1; `changed`: the addresses that differ (None: all)."""
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
        """The state without taking the lock; a new empty state if there is none yet."""
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
