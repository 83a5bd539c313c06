"""The planner's dataset rules: create, adopt (by the address tag), update in place, replace."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from reconciler.engine.model import Action, field_changes
from reconciler.engine.plan_context import AMBIGUOUS, GROUP_DATASET, Planning, import_command
from reconciler.spec.models import DatasetDoc
from reconciler.state.models import DatasetResource

# Every dataset the tool creates carries its address here, so a lost create can be found again.
ADDRESS_TAG = "reconciler/address"
# Tags the platform itself sets or reserves: never compared, never sent back.
_RESERVED_TAG_PREFIXES = ("adobe", "unifiedProfile", "unifiedIdentity")


def dataset_request(doc: DatasetDoc) -> dict[str, Any]:
    """The Catalog body that creates the dataset of `doc`, ownership tag included."""
    body: dict[str, Any] = {
        "name": doc.spec.name,
        "schemaRef": doc.spec.schemaRef.model_dump(),
        "fileDescription": doc.spec.fileDescription.model_dump(),
        "tags": _desired_tags(doc),
    }
    if doc.spec.description is not None:
        body["description"] = doc.spec.description
    return body


def _desired_tags(doc: DatasetDoc) -> dict[str, list[str]]:
    tags = {k: sorted(v) for k, v in doc.spec.tags.items()}
    tags[ADDRESS_TAG] = [doc.address]
    return dict(sorted(tags.items()))


def _managed_tags(tags: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    return {
        k: sorted(v) for k, v in sorted(tags.items()) if not k.startswith(_RESERVED_TAG_PREFIXES)
    }


def _dataset_fields(
    name: str, description: str | None, tags: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    # "" and no description are the same to a reader (and the only way to clear one by PATCH)
    return {"name": name, "description": description or None, "tags": _managed_tags(tags)}


def plan_dataset(work: Planning, doc: DatasetDoc) -> None:
    address = doc.address
    res = work.state.dataset(address)
    body = dataset_request(doc)
    if res is None:
        found, several = _tagged_dataset(work, doc)
        if several:
            _ambiguous_datasets(work, address, several)
            return
        if found is not None:
            live_ds = work.live.datasets[found]
            work.adopted_datasets.add(found)
            work.dataset_plans[address] = "adopt"
            work.dataset_ids[address] = found
            work.act(
                GROUP_DATASET,
                Action(
                    address,
                    "dataset",
                    "adopt",
                    f"live dataset {found} is tagged {ADDRESS_TAG}={address}; take it into state",
                    diff=field_changes(
                        _dataset_fields(live_ds.name, live_ds.description, live_ds.tags),
                        _dataset_fields(doc.spec.name, doc.spec.description, body["tags"]),
                    ),
                    request=body,
                    adopt_id=found,
                ),
            )
            return
        work.dataset_plans[address] = "create"
        work.act(GROUP_DATASET, Action(address, "dataset", "create", "new document", request=body))
        return
    if res.datasetId not in work.live.datasets:
        work.find(
            address,
            "missing",
            f"dataset {res.datasetId} is gone from the platform",
            {"datasetId": res.datasetId},
        )
        work.dataset_plans[address] = "create"
        work.act(
            GROUP_DATASET,
            Action(
                address,
                "dataset",
                "create",
                f"dataset {res.datasetId} was deleted outside reconciler; create it again",
                request=body,
            ),
        )
        return
    if doc.spec.schemaRef.id != res.schemaId:
        work.dataset_plans[address] = "replace"
        work.act(
            GROUP_DATASET,
            Action(
                address,
                "dataset",
                "replace",
                "the schema cannot change in place: a new dataset is created and "
                f"{res.datasetId} is orphaned (needs --confirm-replace-dataset)",
                diff=field_changes(
                    {"schemaRef": {"id": res.schemaId}},
                    {"schemaRef": {"id": doc.spec.schemaRef.id}},
                ),
                request=body,
            ),
        )
        return
    work.dataset_ids[address] = res.datasetId
    _plan_dataset_update(work, doc, res, body)


def _plan_dataset_update(
    work: Planning, doc: DatasetDoc, res: DatasetResource, body: Mapping[str, Any]
) -> None:
    address = doc.address
    live_ds = work.live.datasets[res.datasetId]
    recorded = _dataset_fields(res.name, res.description, res.tags)
    seen = _dataset_fields(live_ds.name, live_ds.description, live_ds.tags)
    desired = _dataset_fields(doc.spec.name, doc.spec.description, body["tags"])
    changes = _update_request(
        doc, body, live_ds.tags, baseline=seen if seen != recorded else recorded
    )
    if seen != recorded:
        drift = field_changes(recorded, seen)
        work.find(
            address,
            "modified",
            f"dataset {res.datasetId} was changed outside reconciler ({', '.join(c.path for c in drift)})",
            {"datasetId": res.datasetId, "changes": [c.to_dict() for c in drift]},
        )
        work.act(
            GROUP_DATASET,
            Action(
                address,
                "dataset",
                "update",
                "set the fields changed outside reconciler back to the document",
                diff=field_changes(seen, desired),
                request=changes,
            ),
        )
    elif desired != recorded:
        work.act(
            GROUP_DATASET,
            Action(
                address,
                "dataset",
                "update",
                "the document changed",
                diff=field_changes(recorded, desired),
                request=changes,
            ),
        )


def _update_request(
    doc: DatasetDoc,
    body: Mapping[str, Any],
    live_tags: Mapping[str, Iterable[str]],
    *,
    baseline: Mapping[str, Any],
) -> dict[str, Any]:
    """The PATCH (merge) body: every field the tool manages, so state can record all of them."""
    # A merge replaces `tags` whole: keep the platform's own tags or the PATCH would drop them.
    reserved = {k: list(v) for k, v in live_tags.items() if k.startswith(_RESERVED_TAG_PREFIXES)}
    changes: dict[str, Any] = {
        "name": doc.spec.name,
        "tags": dict(sorted({**body["tags"], **reserved}.items())),
    }
    if doc.spec.description:
        changes["description"] = doc.spec.description
    elif baseline["description"]:
        changes["description"] = ""  # Catalog takes no null; an empty text clears it
    return changes


def _tagged_dataset(work: Planning, doc: DatasetDoc) -> tuple[str | None, list[str]]:
    """The live dataset to adopt for `doc` (by its address tag), or the ids it cannot choose from.

    Only datasets a managed resource holds are off limits: one retired from this address (its
    document was removed, then written again) carries this address's tag and is taken back.
    The schema decides between copies (a replace leaves the old dataset tagged, with the old
    schema); two with the document's schema are not guessed between.
    """
    address = doc.address
    claimed = {r.datasetId for r in work.state.resources.values() if isinstance(r, DatasetResource)}
    tagged = [
        ds
        for ds in work.live.datasets.values()
        if list(ds.tags.get(ADDRESS_TAG, ())) == [address] and ds.id not in claimed
    ]
    if not tagged:
        return None, []
    fitting = [ds for ds in tagged if ds.schema_id in (None, doc.spec.schemaRef.id)]
    if len(fitting) > 1:
        return None, sorted(ds.id for ds in fitting)
    if fitting:
        return fitting[0].id, []
    # None has the document's schema: the oldest is taken, and the plan after it replaces it
    # (which asks for --confirm-replace-dataset).
    return min(tagged, key=lambda ds: (ds.created_ms or 0, ds.id)).id, []


def _ambiguous_datasets(work: Planning, address: str, ids: list[str]) -> None:
    work.dataset_plans[address] = "ambiguous"
    commands = [import_command(address, i) for i in ids]
    work.find(
        address,
        AMBIGUOUS,
        f"live datasets {', '.join(ids)} are each tagged {ADDRESS_TAG}={address} with this "
        f"document's schema; not guessed: nothing is created or adopted here (nor for the jobs "
        f"writing into it) until '{commands[0]}' (or another of the ids) says which it is",
        {"datasetIds": ids, "commands": commands},
    )
