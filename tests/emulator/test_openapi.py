"""/openapi.json documents the platform endpoints; generated requests never get a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from reconciler.emulator import defaults
from reconciler.emulator.server import RunningEmulator, start_in_thread

from .helpers import JOBS, Api, get_token


@pytest.fixture(scope="module", params=["cooperative", "documented"])
def live(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[RunningEmulator, Api]]:
    """One emulator per profile, with a dataset and a finished job to find."""
    data_dir = tmp_path_factory.mktemp("openapi")
    with start_in_thread(data_dir, profile=request.param) as running:
        api = Api(running.base_url, get_token(running.base_url))
        api.admin("POST", "/config", {"job_new_seconds": 0, "job_processing_seconds": 0})
        api.create_job(api.create_dataset())
        yield running, api


def test_the_document_lists_the_platform_paths_and_hides_the_admin_ones(
    live: tuple[RunningEmulator, Api],
) -> None:
    running, _ = live
    paths = requests.get(f"{running.base_url}/openapi.json", timeout=10).json()["paths"]
    for path in (
        "/ims/token/v3",
        "/data/foundation/catalog/dataSets",
        "/data/foundation/catalog/batches/{batch_id}",
        "/data/core/ups/export/jobs",
        "/data/core/ups/export/jobs/{job_id}",
        "/data/core/ups/segment/definitions",
        "/data/core/ups/config/mergePolicies",
        "/data/core/ups/preview",
        "/data/core/ups/preview/{preview_id}",
        "/data/core/ups/estimate/{preview_id}",
        "/data/core/ups/previewsamplestatus",
        "/data/foundation/export/batches/{batch_id}/files",
        "/data/foundation/export/files/{file_id}",
    ):
        assert path in paths, path
    assert not [p for p in paths if p.startswith("/_emulator")]


@pytest.mark.timeout(120)
def test_generated_requests_get_no_server_error_and_match_the_schema(
    live: tuple[RunningEmulator, Api],
) -> None:
    running, api = live
    schema = schemathesis.openapi.from_url(f"{running.base_url}/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case: schemathesis.Case) -> None:
            headers = {**api.headers(), **(case.headers or {})}
            case.call_and_validate(headers=headers, checks=checks)

        run()


@pytest.mark.timeout(120)
def test_invalid_generated_requests_get_a_4xx_never_a_5xx(
    live: tuple[RunningEmulator, Api],
) -> None:
    running, api = live
    schema = schemathesis.openapi.from_url(f"{running.base_url}/openapi.json")
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(
            max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case: schemathesis.Case) -> None:
            headers = {**api.headers(), **(case.headers or {})}
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
            tried += 1
        except Unsatisfiable:
            continue  # nothing in this operation can be made invalid (e.g. free-form strings)
    assert tried >= 3


def test_job_records_of_each_profile_match_the_documented_schema(
    live: tuple[RunningEmulator, Api],
) -> None:
    running, api = live
    document = requests.get(f"{running.base_url}/openapi.json", timeout=10).json()

    def schema_of(path: str) -> dict[str, Any]:
        answer = document["paths"][path]["get"]["responses"]["200"]
        found: dict[str, Any] = answer["content"]["application/json"]["schema"]
        return found

    dataset_id = api.create_dataset("schema check")
    segments = [{"segmentId": s, "status": ["realized"]} for s in defaults.SEGMENT_IDS[:2]]
    api.create_job(dataset_id, filter={"segments": segments[:1]})
    api.create_job(dataset_id, filter={"segments": segments})
    listed = api.get(JOBS).json()
    jsonschema.validate(listed, schema_of("/data/core/ups/export/jobs"))
    for record in listed["records"]:
        single = api.job(record["id"])
        jsonschema.validate(single, schema_of("/data/core/ups/export/jobs/{job_id}"))
