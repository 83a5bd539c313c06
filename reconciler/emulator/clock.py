"""The emulator's clock: real time plus an offset, or frozen; persisted so restarts keep it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from reconciler.emulator.store import Store


@dataclass(frozen=True)
class ClockState:
    """offset_ms is added to real time; frozen_ms, when set, is the time itself."""

    offset_ms: int = 0
    frozen_ms: int | None = None


class Clock:
    """Reads and moves the emulated time that drives job lifecycles and token expiry."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _state(self) -> ClockState:
        raw = self._store.get_meta("clock")
        if raw is None:
            return ClockState()
        return ClockState(offset_ms=int(raw["offset_ms"]), frozen_ms=raw["frozen_ms"])

    def _save(self, state: ClockState) -> None:
        self._store.set_meta("clock", {"offset_ms": state.offset_ms, "frozen_ms": state.frozen_ms})

    def now_ms(self) -> int:
        """The current emulated time in epoch milliseconds."""
        state = self._state()
        if state.frozen_ms is not None:
            return state.frozen_ms
        return int(time.time() * 1000) + state.offset_ms

    @property
    def frozen(self) -> bool:
        """Whether the clock is stopped."""
        return self._state().frozen_ms is not None

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number) by seconds."""
        state = self._state()
        delta = round(seconds * 1000)
        if state.frozen_ms is not None:
            self._save(ClockState(state.offset_ms, state.frozen_ms + delta))
        else:
            self._save(ClockState(state.offset_ms + delta, None))

    def set_ms(self, now_ms: int) -> None:
        """Jump to an absolute time, keeping the frozen/running mode."""
        state = self._state()
        if state.frozen_ms is not None:
            self._save(ClockState(state.offset_ms, now_ms))
        else:
            self._save(ClockState(now_ms - int(time.time() * 1000), None))

    def freeze(self, frozen: bool) -> None:
        """Stop the clock at the current time, or let it run on from where it stands."""
        state = self._state()
        if frozen and state.frozen_ms is None:
            self._save(ClockState(state.offset_ms, self.now_ms()))
        elif not frozen and state.frozen_ms is not None:
            self._save(ClockState(state.frozen_ms - int(time.time() * 1000), None))
