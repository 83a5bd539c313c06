"""Projects for the engine benches: spec files, their live objects, and a state that records them.

Applying 1,000 datasets and 1,000 jobs through the CLI takes minutes (it writes the state after
every effect, which is what scenario 4 measures), so the steady state is built directly: the
live objects through the platform client, the state with the engine's own record helpers,
written through StateStore. The scenarios then check it with the tool itself
(`plan --detailed-exitcode` must say nothing to do).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.config import load_settings
from reconciler.engine.connect import local_credentials, local_endpoints
from reconciler.engine.executor import run_from_record
from reconciler.engine.planner import dataset_request
from reconciler.platform import PlatformClient
from reconciler.spec.canonical import canonical_request, fingerprint, request_body
from reconciler.spec.loader import load_specs
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state import DatasetResource, ExportJobResource, Run, State, StateStore

# Synthetic history runs get ids far above anything the emulator hands out in a bench.
HISTORY_JOB_ID_BASE = 50_000_000
SETTINGS_YAML = "platform: local\nsandbox: prod\nspecs: [specs]\n"


def dataset_doc(name: str) -> str:
    """A Dataset document."""
    return (
        "apiVersion: reconciler/v1\nkind: Dataset\n"
        f"metadata: {{name: {name}, labels: {{team: bench}}}}\n"
        f"spec: {{name: Bench {name}, description: bench dataset}}\n"
    )


def job_doc(name: str, *, dataset: str | None = None, dataset_id: str | None = None) -> str:
    """An ExportJob document; its own field makes every request distinct (no accidental twins)."""
    destination = f"dataset: {dataset}" if dataset else f"datasetId: {dataset_id}"
    return (
        "apiVersion: reconciler/v1\nkind: ExportJob\n"
        f"metadata: {{name: {name}}}\n"
        "spec:\n"
        f"  fields: identities.id,personalEmail.address,bench.{name.replace('-', '_')}\n"
        "  mergePolicy: {id: timestampOrdered-none-mp, version: 1}\n"
        f"  destination: {{{destination}, segmentPerBatch: false}}\n"
        "  schema: {name: _xdm.context.profile}\n"
    )


def write_specs(project: Path, file_name: str, documents: Iterable[str]) -> None:
    """Write documents into specs/<file_name> (creating the project's settings on first use)."""
    (project / "specs").mkdir(parents=True, exist_ok=True)
    settings = project / "reconciler.yaml"
    if not settings.exists():
        settings.write_text(SETTINGS_YAML)
    (project / "specs" / file_name).write_text("---\n".join(documents))


def steady_documents(jobs: int) -> list[str]:
    """`jobs` datasets and one export job writing into each."""
    docs = []
    for i in range(jobs):
        docs.append(dataset_doc(f"ds-{i:05d}"))
        docs.append(job_doc(f"job-{i:05d}", dataset=f"ds-{i:05d}"))
    return docs


def client_for(base_url: str) -> PlatformClient:
    """A client of the emulator at base_url, with the engine's pool size."""
    return PlatformClient(local_endpoints(base_url), local_credentials(), "prod", max_workers=8)


@dataclass
class Built:
    """A project whose every document is live and recorded in its state (one run per job)."""

    project: Path
    state: State
    state_path: Path


def build_live(project: Path, base_url: str) -> Built:
    """Create every document's dataset and job on the emulator and write the matching state."""
    settings = load_settings(project, None, {})
    specs = load_specs(settings)
    now = datetime.now(UTC)
    state = State(sandbox="prod", lineage=str(uuid.uuid4()), serial=1)
    with client_for(base_url) as client:
        datasets: list[DatasetDoc] = list(specs.datasets.values())
        bodies = [dataset_request(doc) for doc in datasets]
        ids = client.map(client.create_dataset, bodies)
        for doc, body, dataset_id in zip(datasets, bodies, ids, strict=True):
            state.resources[doc.address] = DatasetResource(
                datasetId=dataset_id,
                name=body["name"],
                description=body.get("description"),
                tags=body["tags"],
                schemaId=body["schemaRef"]["id"],
                deletionPolicy=doc.spec.deletionPolicy,
                createdAt=now,
            )
        jobs: list[ExportJobDoc] = list(specs.export_jobs.values())
        targets = [_destination(state, doc) for doc in jobs]
        records = client.map(
            client.create_export_job,
            [
                request_body(doc, dataset_id)
                for doc, (_, dataset_id) in zip(jobs, targets, strict=True)
            ],
        )
    for doc, (address, dataset_id), record in zip(jobs, targets, records, strict=True):
        run = run_from_record(
            record, fingerprint=fingerprint(doc), reason="create", dataset_id=dataset_id
        )
        state.resources[doc.address] = ExportJobResource(
            fingerprint=fingerprint(doc),
            request=canonical_request(doc),
            datasetAddress=address,
            datasetId=None if address else dataset_id,
            runs=[run],
        )
    state.observed.watermarkMs = max((r.creationTime for r in records), default=None)
    built = Built(project, state, settings.state_path)
    save_state(built, state)
    return built


def _destination(state: State, doc: ExportJobDoc) -> tuple[str | None, str]:
    dest = doc.spec.destination
    if dest.datasetId is not None:
        return None, dest.datasetId
    address = f"dataset/{dest.dataset}"
    res = state.dataset(address)
    assert res is not None, f"{doc.address}: its dataset {address} was not built"
    return address, res.datasetId


def with_history(state: State, runs_per_job: int) -> State:
    """A copy of `state` where each job has `runs_per_job` runs: older finished runs added."""
    history = state.model_copy(deep=True)
    jobs = [r for r in history.resources.values() if isinstance(r, ExportJobResource)]
    for index, res in enumerate(jobs):
        live = res.runs[-1]
        older = []
        for k in range(1, runs_per_job):
            created = live.createdAt - timedelta(days=k)
            older.append(
                Run(
                    jobId=HISTORY_JOB_ID_BASE + index * runs_per_job + k,
                    fingerprint=live.fingerprint,
                    status="SUCCEEDED",
                    batchId=f"{index:08x}{k:08x}00000000",
                    datasetId=live.datasetId,
                    createdAt=created,
                    finishedAt=created + timedelta(minutes=7),
                    reason="rerun: refresh due",
                )
            )
        res.runs = [*reversed(older), live]
    return history


def count_runs(state: State) -> int:
    """Every run recorded in the state."""
    return sum(len(r.runs) for r in state.resources.values() if isinstance(r, ExportJobResource))


def save_state(built: Built, state: State) -> None:
    """Replace the project's state with `state`, through the store (whatever its format)."""
    with StateStore(built.state_path, "prod").lock(command="bench") as writer:
        writer.write(state)
