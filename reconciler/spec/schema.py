"""The JSON Schema of resource documents, generated from the models (for editors and CI)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from reconciler.spec.models import Document

SCHEMA_ID = "https://github.com/aep-export-reconciler/schema/reconciler-v1.json"


def json_schema() -> dict[str, Any]:
    """One schema for any document: a `oneOf` of Dataset and ExportJob, discriminated by `kind`."""
    schema = TypeAdapter(Document).json_schema(mode="validation", by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "aep-export-reconciler resource document (apiVersion reconciler/v1)",
        **schema,
    }


def json_schema_text() -> str:
    """The schema as the stable, indented JSON checked in at docs/reconciler.schema.json."""
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"
