"""End to end: token, dataset, job through its lifecycle, batch, files."""

from __future__ import annotations

import io

import pyarrow.parquet as pq

from .helpers import JOBS, Api


def test_a_job_runs_to_success_and_its_batch_is_readable(api: Api) -> None:
    dataset_id = api.create_dataset()
    job = api.create_job(dataset_id, fields="identities.id,personalEmail.address")
    assert job["status"] == "NEW"
    api.advance(1)
    assert api.job(job["id"])["status"] == "PROCESSING"
    api.advance(2)
    done = api.job(job["id"])
    assert done["status"] == "SUCCEEDED", done
    batch_id = done["destination"]["batchId"]
    batch = api.get(f"/data/foundation/catalog/batches/{batch_id}").json()[batch_id]
    assert batch["status"] == "success"
    files = api.get(f"/data/foundation/export/batches/{batch_id}/files").json()
    file_id = files["data"][0]["dataSetFileId"]
    parts = api.get(f"/data/foundation/export/files/{file_id}").json()["data"]
    raw = api.get(f"/data/foundation/export/files/{file_id}", params={"path": parts[0]["name"]})
    table = pq.read_table(io.BytesIO(raw.content))
    assert table.num_rows == batch["metrics"]["recordsWritten"] > 0
    listing = api.get(JOBS).json()
    assert [r["id"] for r in listing["records"]] == [job["id"]]
