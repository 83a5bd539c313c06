"""Plain values for planner tests: documents, a spec set, state runs and live objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.engine.model import LiveDataset, LiveRun, LiveSnapshot
from reconciler.engine.planner import ADDRESS_TAG
from reconciler.spec.canonical import (
    canonical_request,
    fingerprint,
    normalize_request,
    request_body,
)
from reconciler.spec.models import DatasetDoc, ExportJobDoc
from reconciler.state import DatasetResource, ExportJobResource, Run, State

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


@dataclass(frozen=True)
class Specs:
    """Stands in for reconciler.spec.loader.SpecSet (the planner reads only these fields)."""

    datasets: Mapping[str, DatasetDoc] = field(default_factory=dict)
    export_jobs: Mapping[str, ExportJobDoc] = field(default_factory=dict)
    digest: str = "spec-digest"


def specs(*docs: DatasetDoc | ExportJobDoc) -> Specs:
    return Specs(
        datasets={d.metadata.name: d for d in docs if isinstance(d, DatasetDoc)},
        export_jobs={d.metadata.name: d for d in docs if isinstance(d, ExportJobDoc)},
    )


def dataset_doc(name: str = "crm", **spec: Any) -> DatasetDoc:
    return DatasetDoc.model_validate(
        {
            "apiVersion": "reconciler/v1",
            "kind": "Dataset",
            "metadata": {"name": name},
            "spec": {"name": f"{name} export", **spec},
        }
    )


def job_doc(
    name: str = "daily", dataset: str = "crm", *, dataset_id: str | None = None, **spec: Any
) -> ExportJobDoc:
    body: dict[str, Any] = {
        "fields": "identities.id,personalEmail.address",
        "destination": {"datasetId": dataset_id} if dataset_id else {"dataset": dataset},
        "schema": {"name": "_xdm.context.profile"},
    }
    body.update(spec)
    return ExportJobDoc.model_validate(
        {
            "apiVersion": "reconciler/v1",
            "kind": "ExportJob",
            "metadata": {"name": name},
            "spec": body,
        }
    )


def ds_id(name: str) -> str:
    return (name.encode().hex() + "0" * 24)[:24]


def dataset_resource(doc: DatasetDoc, dataset_id: str | None = None) -> DatasetResource:
    tags = {k: sorted(v) for k, v in doc.spec.tags.items()}
    tags[ADDRESS_TAG] = [doc.address]
    return DatasetResource(
        datasetId=dataset_id or ds_id(doc.metadata.name),
        name=doc.spec.name,
        description=doc.spec.description,
        tags=tags,
        schemaId=doc.spec.schemaRef.id,
        deletionPolicy=doc.spec.deletionPolicy,
        createdAt=NOW - timedelta(days=2),
    )


def live_dataset(res: DatasetResource, **changes: Any) -> LiveDataset:
    values: dict[str, Any] = {
        "id": res.datasetId,
        "name": res.name,
        "description": res.description,
        "tags": {k: tuple(v) for k, v in res.tags.items()},
        "schema_id": res.schemaId,
        "created_ms": NOW_MS - 86_400_000,
    }
    values.update(changes)
    return LiveDataset(**values)


def run_for(
    doc: ExportJobDoc,
    job_id: int,
    status: str = "SUCCEEDED",
    *,
    age: timedelta = timedelta(hours=1),
    dataset_id: str | None = None,
    **extra: Any,
) -> Run:
    return Run(
        jobId=job_id,
        fingerprint=fingerprint(doc),
        status=status,
        datasetId=dataset_id or ds_id(doc.spec.destination.dataset or "x"),
        createdAt=NOW - age - timedelta(minutes=5),
        finishedAt=(NOW - age) if status in ("SUCCEEDED", "FAILED", "CANCELLED") else None,
        reason="create",
        **extra,
    )


def job_resource(doc: ExportJobDoc, *runs: Run) -> ExportJobResource:
    dest = doc.spec.destination
    return ExportJobResource(
        fingerprint=fingerprint(doc),
        request=canonical_request(doc),
        datasetAddress=f"dataset/{dest.dataset}" if dest.dataset else None,
        datasetId=dest.datasetId,
        runs=list(runs),
    )


def live_run(
    doc: ExportJobDoc,
    job_id: int,
    status: str = "SUCCEEDED",
    *,
    dataset_id: str | None = None,
    **extra: Any,
) -> LiveRun:
    dataset_id = (
        dataset_id or doc.spec.destination.datasetId or ds_id(doc.spec.destination.dataset or "x")
    )
    return LiveRun(
        job_id=job_id,
        status=status,
        created_ms=extra.pop("created_ms", NOW_MS - 3_600_000),
        updated_ms=extra.pop("updated_ms", None),
        dataset_id=dataset_id,
        request=normalize_request(request_body(doc, dataset_id)),
        **extra,
    )


def state_of(*pairs: tuple[str, DatasetResource | ExportJobResource], serial: int = 3) -> State:
    return State(lineage="lineage-1", serial=serial, sandbox="prod", resources=dict(pairs))


def steady(*docs: DatasetDoc | ExportJobDoc) -> tuple[Specs, State, LiveSnapshot]:
    """Specs, state and live for a world where every document has been applied and succeeded."""
    resources: list[tuple[str, DatasetResource | ExportJobResource]] = []
    datasets: dict[str, LiveDataset] = {}
    for n, doc in enumerate(docs):
        if isinstance(doc, DatasetDoc):
            res = dataset_resource(doc)
            datasets[res.datasetId] = live_dataset(res)
            resources.append((doc.address, res))
        else:
            resources.append((doc.address, job_resource(doc, run_for(doc, 100 + n))))
    return specs(*docs), state_of(*resources), LiveSnapshot(datasets=datasets)
