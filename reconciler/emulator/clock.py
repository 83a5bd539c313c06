"""The platform clock: real time plus an offset, or frozen; persisted so restarts keep it.

The clock may step backwards (advance by a negative number, set_ms to an earlier time). Times the
platform reports follow it; job progress does not go back: `skew_ms` sums every backwards step, so
`progress_ms()` (now + skew) never decreases while the clock is moved.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from reconciler.emulator.store import Store


@dataclass(frozen=True)
class ClockState:
    """offset_ms is added to real time; frozen_ms, when set, is the time itself."""

    offset_ms: int = 0
    frozen_ms: int | None = None
    skew_ms: int = 0


def _wall_ms() -> int:
    return int(time.time() * 1000)


class Clock:
    """Reads and moves the emulated time that drives job lifecycles and token expiry."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._cached: ClockState | None = None

    def _state(self) -> ClockState:
        # Only this object writes the clock, so the stored state is read once and then cached.
        cached = self._cached
        if cached is not None:
            return cached
        raw = self._store.get_meta("clock")
        state = (
            ClockState()
            if raw is None
            else ClockState(
                offset_ms=int(raw["offset_ms"]),
                frozen_ms=raw["frozen_ms"],
                skew_ms=int(raw.get("skew_ms", 0)),
            )
        )
        self._cached = state
        return state

    def _save(self, state: ClockState) -> None:
        self._store.set_meta(
            "clock",
            {"offset_ms": state.offset_ms, "frozen_ms": state.frozen_ms, "skew_ms": state.skew_ms},
        )
        self._cached = state

    @staticmethod
    def _now(state: ClockState) -> int:
        return state.frozen_ms if state.frozen_ms is not None else _wall_ms() + state.offset_ms

    def now_ms(self) -> int:
        """The current platform time in epoch milliseconds."""
        return self._now(self._state())

    def skew_ms(self) -> int:
        """The sum of every backwards step so far (0 when the clock never stepped back)."""
        return self._state().skew_ms

    def progress_ms(self) -> int:
        """A time that never goes back when the clock is stepped back: now + skew."""
        state = self._state()
        return self._now(state) + state.skew_ms

    @property
    def frozen(self) -> bool:
        """Whether the clock is stopped."""
        return self._state().frozen_ms is not None

    def _move_to(self, state: ClockState, target_ms: int) -> None:
        back = max(0, self._now(state) - target_ms)
        if state.frozen_ms is not None:
            self._save(ClockState(state.offset_ms, target_ms, state.skew_ms + back))
        else:
            self._save(ClockState(target_ms - _wall_ms(), None, state.skew_ms + back))

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative number) by seconds."""
        with self._lock:
            state = self._state()
            self._move_to(state, self._now(state) + round(seconds * 1000))

    def set_ms(self, now_ms: int) -> None:
        """Jump to an absolute time, keeping the frozen/running mode."""
        with self._lock:
            self._move_to(self._state(), now_ms)

    def set_offset(self, seconds: float) -> None:
        """Run (or stand, when frozen) `seconds` ahead of the wall clock."""
        with self._lock:
            self._move_to(self._state(), _wall_ms() + round(seconds * 1000))

    def offset_seconds(self) -> float:
        """How far the platform clock is from the wall clock now."""
        return (self.now_ms() - _wall_ms()) / 1000

    def freeze(self, frozen: bool) -> None:
        """Stop the clock at the current time, or let it run on from where it stands."""
        with self._lock:
            state = self._state()
            if frozen and state.frozen_ms is None:
                self._save(ClockState(state.offset_ms, self._now(state), state.skew_ms))
            elif not frozen and state.frozen_ms is not None:
                self._save(ClockState(state.frozen_ms - _wall_ms(), None, state.skew_ms))
