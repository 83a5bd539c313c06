"""The generated JSON Schema: checked in, printed by `reconciler schema`, true to the models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.spec.schema import json_schema, json_schema_text
from reconciler.spec.yamlread import load_file

ROOT = Path(__file__).resolve().parents[2]
BAD = Path(__file__).parent / "bad"
VALIDATOR = Draft202012Validator(json_schema())
EXAMPLES = sorted((ROOT / "specs").rglob("*.y*ml"))
SCHEMA_LEVEL = sorted(p.name for p in BAD.glob("*.yaml") if b"# schema: reject" in p.read_bytes())


def documents(path: Path) -> list[object]:
    docs, problems = load_file(path, Path(path.name))
    assert problems == []
    return [d.value for d in docs]


def test_schema_is_valid_and_discriminated_on_kind() -> None:
    schema = json_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["discriminator"]["propertyName"] == "kind"
    assert len(schema["oneOf"]) == 2


def test_checked_in_schema_is_current() -> None:
    checked_in = (ROOT / "docs/reconciler.schema.json").read_text(encoding="utf-8")
    assert checked_in == json_schema_text(), (
        "regenerate: reconciler schema > docs/reconciler.schema.json"
    )


def test_schema_command_prints_it() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "schema"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0
    assert json.loads(result.stdout) == json_schema()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_document_is_valid(path: Path) -> None:
    for doc in documents(path):
        errors = list(VALIDATOR.iter_errors(doc))
        assert errors == [], errors[0].message if errors else ""


def test_the_corpus_marks_enough_schema_level_cases() -> None:
    assert len(SCHEMA_LEVEL) >= 20


@pytest.mark.parametrize("name", SCHEMA_LEVEL)
def test_schema_rejects_the_schema_level_bad_documents(name: str) -> None:
    verdicts = [VALIDATOR.is_valid(doc) for doc in documents(BAD / name)]
    assert False in verdicts
