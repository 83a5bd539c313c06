"""The state file's lock file: who holds it (pid, host, command, since), as JSON in the file."""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import UTC, datetime
from typing import IO, Any

from reconciler.state.models import format_time


def record_holder(handle: IO[str], command: str | None) -> None:
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


def read_holder(handle: IO[str]) -> dict[str, Any] | None:
    handle.seek(0)
    try:
        info = json.loads(handle.read() or "null")
    except json.JSONDecodeError:
        return None  # the holder is still writing its details
    return info if isinstance(info, dict) else None


def left_by_a_killed_holder(handle: IO[str]) -> bool:
    """Whether the lock file, just locked, still names a holder: one that ended clears it, so it
    was killed (and may have left work half done)."""
    handle.seek(0)
    return bool(handle.read().strip())
