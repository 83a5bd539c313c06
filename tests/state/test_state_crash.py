"""A writer killed (SIGKILL) at random moments never leaves a state file that does not parse."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from reconciler.state import StateStore

_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from reconciler.state import StateStore, State
    store = StateStore(Path(sys.argv[1]), sandbox="prod")
    with store.lock() as writer:
        state = writer.read()
        print("ready", flush=True)
        while True:
            # a large-ish document so that a write takes measurable time
            state = state.model_copy(update={"observed": state.observed.model_copy(
                update={"watermarkMs": state.serial, "unmanagedJobs": {
                    i: {"status": "SUCCEEDED", "createdMs": i, "datasetId": "d" * 24}
                    for i in range(2000)}})})
            state = writer.write(state)
    """
)


def test_killed_writers_leave_a_parsable_state_with_a_growing_serial(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.json", sandbox="prod")
    rng = random.Random(6)
    last_serial = 0
    for _ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(store.path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.01, 0.15))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        state = store.read()  # parses, or raises and fails the test
        assert state.serial >= last_serial
        last_serial = state.serial
        with store.lock():  # the dead writer's lock is gone
            pass
    assert last_serial > 0
    # temp files of killed writers are cleared by the next lock holder
    left = sorted(p.name for p in tmp_path.iterdir() if ".backup" not in p.name)
    assert left == ["state.json", "state.json.lock"]
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
