"""The state file: format, atomic write, lock, migrations (docs/contract.md section 6)."""

from reconciler.state.migrations import StateFileError
from reconciler.state.models import (
    STATE_VERSION,
    BatchRef,
    DatasetResource,
    ExportJobResource,
    Intent,
    Observed,
    Resource,
    RetiredResource,
    RetireReason,
    Run,
    State,
    UnmanagedJob,
    format_time,
)
from reconciler.state.store import StateLocked, StateStore, StateWriter, parse_state, write_atomic

__all__ = [
    "STATE_VERSION",
    "BatchRef",
    "DatasetResource",
    "ExportJobResource",
    "Intent",
    "Observed",
    "Resource",
    "RetireReason",
    "RetiredResource",
    "Run",
    "State",
    "StateFileError",
    "StateLocked",
    "StateStore",
    "StateWriter",
    "UnmanagedJob",
    "format_time",
    "parse_state",
    "write_atomic",
]
