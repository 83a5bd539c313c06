"""The whole client against the emulator's `documented` profile: terse records, marked cancels,
a realistic Catalog, strict sandboxes and the platform clock 2 h ahead, all at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_helpers import Admin, credentials, dataset_body, job_body, make_client

from reconciler.emulator.server import RunningEmulator, start_in_thread
from reconciler.platform import (
    AuthError,
    Endpoints,
    ExportJobRecord,
    PlatformClient,
    UnreadableRecord,
)


@pytest.fixture
def documented(tmp_path: Path) -> Iterator[RunningEmulator]:
    with start_in_thread(tmp_path / "emulator", profile="documented") as running:
        Admin(running.base_url).config(job_new_seconds=0.05, job_processing_seconds=0.1)
        yield running


def wait_terminal(client: PlatformClient, job_id: int) -> ExportJobRecord:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        record = client.get_export_job(job_id)
        assert record is not None
        if record.is_terminal:
            return record
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_full_client_run_under_the_documented_profile(documented: RunningEmulator) -> None:
    admin = Admin(documented.base_url)
    assert admin.call("GET", "behaviour")["echo"] == "terse"
    with make_client(documented.base_url) as client:
        system = [d for d in client.iter_datasets()]
        assert system and all(d.classification for d in system)  # the sandbox's own datasets
        made = [client.create_dataset(dataset_body(f"doc {n}")) for n in range(3)]
        listed = [d.id for d in client.iter_datasets(page_size=2)]
        assert [i for i in listed if i in made] == made  # oldest first, whatever the default
        assert len(listed) == len(set(listed)) == len(system) + 3

        job = client.create_export_job(job_body(made[0]))
        assert job.destination.datasetId == made[0] and job.fields is None
        done = wait_terminal(client, job.id)
        assert done.status == "SUCCEEDED" and done.batch_ids
        unreadable: list[UnreadableRecord] = []
        assert [j.id for j in client.iter_export_jobs(unreadable=unreadable)] == [job.id]
        assert unreadable == []

        admin.config(job_new_seconds=30, delete_style="200")
        admin.call("POST", "behaviour", {"cancel_delay_seconds": 0.3})
        running = client.create_export_job(job_body(made[1]))
        answer = client.cancel_export_job(running.id)
        assert answer.marked
        ended = wait_terminal(client, running.id)
        assert ended.is_cancelled or ended.status == "FAILED"

        now_ms = client.platform_now_ms()
        assert now_ms is not None
        ahead = now_ms / 1000 - time.time()
        assert 7190 < ahead < 7210  # the platform's clock, 2 h ahead of ours


def test_an_unknown_sandbox_is_refused_in_one_line(documented: RunningEmulator) -> None:
    base = documented.base_url
    with (
        PlatformClient(Endpoints(base, base), credentials(), "no-such-sandbox") as client,
        pytest.raises(AuthError) as info,
    ):
        list(client.iter_datasets())
    assert info.value.status == 403 and "\n" not in str(info.value)
