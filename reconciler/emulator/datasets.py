"""Catalog datasets: creation rules, storage, listing filters, and changes."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

from reconciler.emulator.context import Emulator, Scope
from reconciler.emulator.params import natural
from reconciler.emulator.problems import bad_request, not_found, service_error

SERVICE = "CAT"
READ_ONLY = frozenset(
    {
        "id",
        "imsOrg",
        "created",
        "updated",
        "createdClient",
        "createdUser",
        "updatedUser",
        "version",
        "files",
        "viewId",
    }
)
# A dataset's schema cannot change once created: the engine must replace such a dataset.
IMMUTABLE = frozenset({"schemaRef"})
DATASET_ID = re.compile(r"^[0-9a-f]{24}$")
# Tags the platform adds and owns (behaviour catalog: realistic): a PATCH of tags keeps them.
PLATFORM_TAG_PREFIXES = ("adobe/", "unifiedProfile", "unifiedIdentity")
_SYSTEM_CREATED_MS = 1609459200000  # 2021-01-01: the sandbox's system datasets are older
# The system datasets every sandbox holds (OAS, aepp): (name, schema id, dataBehavior).
_SYSTEM_DATASETS = (
    (
        "Profile Snapshot Export",
        "https://ns.adobe.com/xdm/context/profile__union",
        "record",
    ),
    (
        "Journey Step Events",
        "https://ns.adobe.com/experience/journeyOrchestration/stepEvents/journeyStepEvent",
        "time-series",
    ),
)


def _table_name(name: str) -> str:
    """The query-service table name the platform derives from a dataset name."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "dataset"


def _realistic(record: dict[str, Any], managed_by: str, behaviour: str) -> None:
    """What the platform adds to a dataset record: classification and its own tags."""
    record["classification"] = {"dataBehavior": behaviour, "managedBy": managed_by}
    own = {
        "adobe/pqs/table": [_table_name(str(record["name"]))],
        "adobe/siphon/table/format": ["parquet"],
        "unifiedProfile": ["enabled:false"],
        "unifiedIdentity": ["enabled:false"],
    }
    record["tags"] = {**own, **(record.get("tags") or {})}


def _data_behaviour(schema_id: str) -> str:
    return "time-series" if "experienceevent" in schema_id.lower() else "record"


def _check_string(body: Mapping[str, Any], key: str, *, required: bool, where: str) -> None:
    value = body.get(key)
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{where}{key}: expected a non-empty string", SERVICE)


def validate_fields(body: Any, *, creating: bool) -> dict[str, Any]:
    """The dataset fields of a POST (creating) or merge-PATCH body; a 400 names the bad field."""
    if not isinstance(body, dict):
        raise bad_request("The dataset body must be a JSON object", SERVICE)
    read_only = sorted(set(body) & READ_ONLY)
    if read_only:
        raise bad_request(f"Read-only dataset field(s) {read_only} cannot be set", SERVICE)
    _check_string(body, "name", required=creating, where="")
    if "description" in body and not isinstance(body["description"], str):
        raise bad_request("description: expected a string", SERVICE)
    if creating or "schemaRef" in body:
        ref = body.get("schemaRef")
        if not isinstance(ref, dict):
            raise bad_request(
                'schemaRef: required, e.g. {"id": "https://ns.adobe.com/xdm/context/profile__union",'
                ' "contentType": "application/vnd.adobe.xed+json;version=1"}',
                SERVICE,
            )
        _check_string(ref, "id", required=True, where="schemaRef.")
        _check_string(ref, "contentType", required=True, where="schemaRef.")
    if "fileDescription" in body:
        fd = body["fileDescription"]
        if not isinstance(fd, dict):
            raise bad_request("fileDescription: expected an object", SERVICE)
        if "persisted" in fd and not isinstance(fd["persisted"], bool):
            raise bad_request("fileDescription.persisted: expected true or false", SERVICE)
        for key in ("containerFormat", "format"):
            if key in fd and not isinstance(fd[key], str):
                raise bad_request(f"fileDescription.{key}: expected a string", SERVICE)
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, dict) or not all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in tags.values()
        ):
            raise bad_request("tags: expected a map of name to a list of strings", SERVICE)
    return dict(body)


def create(
    emu: Emulator, scope: Scope, body: Any, *, dataset_id: str | None = None, client: str = ""
) -> str:
    """Store a new dataset; its id (24 hex characters)."""
    fields = validate_fields(body, creating=True)
    if dataset_id is not None and not DATASET_ID.match(dataset_id):
        raise bad_request("id: expected 24 lowercase hex characters", SERVICE)
    new_id = dataset_id or secrets.token_hex(12)
    now = emu.clock.now_ms()
    view_id = secrets.token_hex(12)
    record = {
        "name": fields.pop("name"),
        **fields,
        "imsOrg": scope.org,
        "created": now,
        "updated": now,
        "createdClient": client,
        "createdUser": f"{client}@techacct.adobe.com" if client else "ui-user@AdobeID",
        "updatedUser": f"{client}@techacct.adobe.com" if client else "ui-user@AdobeID",
        "version": "1.0.0",
        "state": "DRAFT",
        "namespace": "ACP",
        "tags": fields.get("tags", {}),
        "viewId": view_id,
        "files": f"@/dataSets/{new_id}/views/{view_id}/files",
    }
    record.setdefault(
        "fileDescription", {"persisted": True, "containerFormat": "parquet", "format": "parquet"}
    )
    if emu.behaviour.catalog == "realistic":
        schema_id = str((record.get("schemaRef") or {}).get("id", ""))
        _realistic(record, "CUSTOMER", _data_behaviour(schema_id))
    with emu.store.tx() as db:
        if db.execute("SELECT 1 FROM datasets WHERE id = ?", (new_id,)).fetchone():
            raise service_error(409, f"A dataset with id {new_id} already exists", SERVICE, 1409)
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM datasets").fetchone()[0]
        db.execute(
            "INSERT INTO datasets (id, org, sandbox, seq, body) VALUES (?, ?, ?, ?, ?)",
            (new_id, scope.org, scope.sandbox, seq, json.dumps(record)),
        )
    return new_id


def get(emu: Emulator, scope: Scope, dataset_id: str) -> dict[str, Any] | None:
    """The dataset record, or None when it is not in this org and sandbox."""
    with emu.store.tx() as db:
        row = db.execute(
            "SELECT body FROM datasets WHERE id = ? AND org = ? AND sandbox = ?",
            (dataset_id, scope.org, scope.sandbox),
        ).fetchone()
    return None if row is None else dict(json.loads(row["body"]))


def require(emu: Emulator, scope: Scope, dataset_id: str) -> dict[str, Any]:
    """The dataset record, or a 404."""
    record = get(emu, scope, dataset_id)
    if record is None:
        raise not_found(f"Dataset {dataset_id} was not found in this sandbox", SERVICE)
    return record


def _ensure_system_datasets(emu: Emulator, scope: Scope) -> None:
    """catalog realistic: the sandbox's system datasets, created the first time it is listed."""
    marker = f"system_datasets/{scope.org}/{scope.sandbox}"
    with emu.store.tx() as db:
        if emu.store.get_meta(marker):
            return
        for name, schema_id, behaviour in _SYSTEM_DATASETS:
            new_id = secrets.token_hex(12)
            view_id = secrets.token_hex(12)
            record: dict[str, Any] = {
                "name": f"{name} - {scope.sandbox}",
                "description": "Managed by Adobe Experience Platform",
                "schemaRef": {
                    "id": schema_id,
                    "contentType": "application/vnd.adobe.xed-full+json;version=1",
                },
                "imsOrg": scope.org,
                "created": _SYSTEM_CREATED_MS,
                "updated": _SYSTEM_CREATED_MS,
                "createdClient": "acp_foundation_catalog",
                "createdUser": "acp_foundation_catalog@AdobeID",
                "updatedUser": "acp_foundation_catalog@AdobeID",
                "version": "1.0.0",
                "state": "DRAFT",
                "namespace": "ACP",
                "viewId": view_id,
                "files": f"@/dataSets/{new_id}/views/{view_id}/files",
                "fileDescription": {
                    "persisted": True,
                    "containerFormat": "parquet",
                    "format": "parquet",
                },
            }
            _realistic(record, "SYSTEM", behaviour)
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM datasets").fetchone()[0]
            db.execute(
                "INSERT INTO datasets (id, org, sandbox, seq, body) VALUES (?, ?, ?, ?, ?)",
                (new_id, scope.org, scope.sandbox, seq, json.dumps(record)),
            )
        emu.store.set_meta(marker, True)


def all_in_scope(emu: Emulator, scope: Scope) -> list[tuple[str, dict[str, Any]]]:
    """Every dataset of the scope: in creation order (catalog plain), or with the sandbox's
    system datasets, in the order of their ids (catalog realistic: not creation order)."""
    realistic = emu.behaviour.catalog == "realistic"
    if realistic:
        _ensure_system_datasets(emu, scope)
    with emu.store.tx() as db:
        rows = db.execute(
            "SELECT id, body FROM datasets WHERE org = ? AND sandbox = ? "
            + ("ORDER BY id" if realistic else "ORDER BY seq"),
            (scope.org, scope.sandbox),
        ).fetchall()
    return [(row["id"], json.loads(row["body"])) for row in rows]


def _bump(version: str) -> str:
    parts = version.split(".")
    if len(parts) == 3 and all(natural(p) is not None for p in parts):
        return f"{parts[0]}.{parts[1]}.{int(parts[2]) + 1}"
    return "1.0.1"


def _json_patch(record: dict[str, Any], ops: Any) -> dict[str, Any]:
    if not isinstance(ops, list) or not ops:
        raise bad_request(
            'A JSON Patch body is a list like [{"op": "add", "path": "/name", "value": "x"}]',
            SERVICE,
        )
    changes: dict[str, Any] = {}
    for index, op in enumerate(ops):
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace", "remove"):
            raise bad_request(f"patch[{index}].op: expected add, replace or remove", SERVICE)
        path = op.get("path")
        if not isinstance(path, str) or not re.match(r"^/[A-Za-z0-9_.-]+$", path):
            raise bad_request(f"patch[{index}].path: expected a top-level path like /name", SERVICE)
        key = path[1:]
        if op["op"] == "remove":
            if key not in record:
                raise bad_request(f"patch[{index}].path: {path} does not exist", SERVICE)
            changes[key] = None
        else:
            if "value" not in op:
                raise bad_request(f"patch[{index}].value: required for {op['op']}", SERVICE)
            changes[key] = op["value"]
    return changes


def update(
    emu: Emulator,
    scope: Scope,
    dataset_id: str,
    body: Any,
    *,
    json_patch: bool,
    if_match: str | None,
    client: str = "",
) -> None:
    """Apply a merge (application/json) or RFC 6902 (json-patch+json) change."""
    with emu.store.tx():
        record = require(emu, scope, dataset_id)
        if if_match is not None and if_match.strip('"') != record["version"]:
            raise service_error(
                412,
                f"If-Match {if_match} does not match version {record['version']}; read the "
                "dataset again",
                SERVICE,
                1412,
            )
        changes = _json_patch(record, body) if json_patch else body
        removed = [k for k, v in changes.items() if v is None] if json_patch else []
        kept = {k: v for k, v in changes.items() if k not in removed}
        validate_fields(kept, creating=False)
        immutable = sorted(set(changes) & IMMUTABLE)
        if immutable and any(changes[k] != record.get(k) for k in immutable):
            raise bad_request(
                f"{immutable[0]} of a dataset cannot be changed; create a new dataset", SERVICE
            )
        if "name" in removed:
            raise bad_request("name cannot be removed", SERVICE)
        if "tags" in kept and emu.behaviour.catalog == "realistic":
            # The platform's own tags stay when a client replaces the tags.
            own = {
                k: v
                for k, v in (record.get("tags") or {}).items()
                if k.startswith(PLATFORM_TAG_PREFIXES)
            }
            kept["tags"] = {**own, **(kept["tags"] or {})}
        for key in removed:
            record.pop(key, None)
        record.update(kept)
        record["updated"] = emu.clock.now_ms()
        record["version"] = _bump(str(record["version"]))
        if client:
            record["updatedUser"] = f"{client}@techacct.adobe.com"
        save(emu, dataset_id, record)


def save(emu: Emulator, dataset_id: str, record: Mapping[str, Any]) -> None:
    """Write a dataset record back."""
    with emu.store.tx() as db:
        db.execute("UPDATE datasets SET body = ? WHERE id = ?", (json.dumps(record), dataset_id))


def delete(emu: Emulator, scope: Scope, dataset_id: str) -> None:
    """Remove a dataset (its batches stay, as Catalog keeps them until they expire)."""
    with emu.store.tx() as db:
        require(emu, scope, dataset_id)
        db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))


def reference(dataset_id: str) -> list[str]:
    """The Catalog answer to create, PATCH and DELETE (api-facts.md: "@/dataSets/<id>")."""
    return [f"@/dataSets/{dataset_id}"]
