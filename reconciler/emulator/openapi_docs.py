"""OpenAPI fragments for /openapi.json (the routes read raw bodies, so they are declared here)."""

from __future__ import annotations

from typing import Any

_STR: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer"}
_OBJ: dict[str, Any] = {"type": "object"}


def json_content(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_GATEWAY = {
    "type": "object",
    "properties": {"error_code": _STR, "message": _STR},
    "required": ["error_code", "message"],
}
_SERVICE = {
    "type": "object",
    "properties": {"type": _STR, "title": _STR, "status": _INT, "detail": _STR},
    "required": ["type", "title", "status"],
}
_ERROR = {"anyOf": [_GATEWAY, _SERVICE]}

ERRORS: dict[int | str, dict[str, Any]] = {
    400: json_content(_ERROR, "Bad request: a missing header or an invalid body"),
    401: json_content(_ERROR, "Token not valid, or sandbox validation error"),
    403: json_content(_ERROR, "Missing token, API key or org; unknown sandbox (strict)"),
    404: json_content(_ERROR, "Not found in this org and sandbox"),
    409: json_content(_ERROR, "Conflict"),
    412: json_content(_ERROR, "If-Match does not match"),
    429: json_content(_ERROR, "Too many requests (Retry-After)"),
}

_TIME = {"type": "string", "format": "date-time"}
_SEGMENT = {
    "type": "object",
    "properties": {
        "segmentId": _STR,
        "segmentNs": _STR,
        "status": {
            "type": "array",
            "items": {"type": "string", "enum": ["realized", "existing", "exited"]},
        },
    },
    "required": ["segmentId"],
}
EXPORT_JOB_REQUEST: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "fields": _STR,
                    "evaluationInfo": {
                        "type": "object",
                        "additionalProperties": {"type": ["boolean", "object"]},
                    },
                    "mergePolicy": {
                        "type": "object",
                        "properties": {"id": _STR, "version": _INT},
                        "required": ["id"],
                    },
                    "additionalFields": {
                        "type": "object",
                        "properties": {
                            "eventList": {
                                "type": "object",
                                "properties": {
                                    "fields": _STR,
                                    "filter": {
                                        "type": "object",
                                        "properties": {
                                            "fromIngestTimestamp": _TIME,
                                            "toIngestTimestamp": _TIME,
                                        },
                                    },
                                },
                            }
                        },
                    },
                    "filter": {
                        "type": "object",
                        "properties": {
                            "segments": {"type": "array", "items": _SEGMENT},
                            "segmentQualificationTime": {
                                "type": "object",
                                "properties": {"startTime": _TIME, "endTime": _TIME},
                            },
                            "fromIngestTimestamp": _TIME,
                            "emptyProfiles": {"type": "boolean"},
                        },
                    },
                    "destination": {
                        "type": "object",
                        "properties": {"datasetId": _STR, "segmentPerBatch": {"type": "boolean"}},
                        "required": ["datasetId"],
                    },
                    "schema": {
                        "type": "object",
                        "properties": {"name": _STR},
                        "required": ["name"],
                    },
                },
                "required": ["destination", "schema"],
            }
        }
    },
}

_BATCH_ENTRY = {
    "type": "object",
    "properties": {
        "segmentId": _STR,
        "segmentNs": _STR,
        # A list of statuses or, for one status, a plain string (SEG current, OAS).
        "status": {"oneOf": [_STR, {"type": "array", "items": _STR}]},
        "batchId": _STR,
    },
    "required": ["segmentId", "status", "batchId"],
}
_RECORD = {
    "type": "object",
    "properties": {
        "id": _INT,
        "jobType": _STR,
        "status": {
            "type": "string",
            "enum": ["NEW", "PROCESSING", "SUCCEEDED", "FAILED", "CANCELLED"],
        },
        "imsOrgId": _STR,
        "profileInstanceId": _STR,
        "requestId": _STR,
        "computeGatewayJobId": _OBJ,
        "metrics": _OBJ,
        "destination": {
            "type": "object",
            # echo full sends both spellings; echo terse dataSetId (single) or datasetId (list).
            "properties": {
                "datasetId": _STR,
                "dataSetId": _STR,
                "segmentPerBatch": {"type": "boolean"},
                "batchId": _STR,
                "batches": {"oneOf": [_BATCH_ENTRY, {"type": "array", "items": _BATCH_ENTRY}]},
            },
            "anyOf": [{"required": ["datasetId"]}, {"required": ["dataSetId"]}],
            "required": ["batchId"],
        },
        "schema": _OBJ,
        "mergePolicy": _OBJ,
        "errors": {"type": "array", "items": _OBJ},
        "creationTime": _INT,
        "updateTime": _INT,
    },
    "required": ["id", "status", "creationTime", "updateTime", "destination", "metrics"],
}
JOB_RECORD = json_content(_RECORD, "The export job")
JOB_LIST = json_content(
    {
        "type": "object",
        "properties": {
            "records": {"type": "array", "items": _RECORD},
            "page": {
                "type": "object",
                "properties": {
                    "sortField": _STR,
                    "sort": _STR,
                    "pageOffset": _STR,
                    "pageSize": _INT,
                },
            },
            "link": {"type": "object", "properties": {"next": _STR}},
        },
        "required": ["records", "page", "link"],
    },
    "A page of export jobs, newest first",
)

_KEYED = {"type": "object", "additionalProperties": _OBJ}
DATASET_MAP = json_content(_KEYED, "Objects keyed by id")
REFERENCE_LIST = json_content({"type": "array", "items": _STR}, "References like @/dataSets/<id>")
DATASET_REQUEST: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "name": _STR,
                    "description": _STR,
                    "schemaRef": {
                        "type": "object",
                        "properties": {"id": _STR, "contentType": _STR},
                        "required": ["id", "contentType"],
                    },
                    "fileDescription": {
                        "type": "object",
                        "properties": {
                            "persisted": {"type": "boolean"},
                            "containerFormat": _STR,
                            "format": _STR,
                        },
                    },
                    "tags": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": _STR},
                    },
                },
                "required": ["name", "schemaRef"],
            }
        }
    },
}
DATASET_PATCH: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    "name": _STR,
                    "description": _STR,
                    "tags": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": _STR},
                    },
                },
            }
        },
        "application/json-patch+json": {
            "schema": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "op": {"type": "string", "enum": ["add", "replace", "remove"]},
                        "path": _STR,
                        "value": {},
                    },
                    "required": ["op", "path"],
                },
            }
        },
    },
}
FILES_LIST = json_content(
    {
        "type": "object",
        "properties": {"data": {"type": "array", "items": _OBJ}, "_page": _OBJ},
        "required": ["data", "_page"],
    },
    "Files",
)
