"""Turn pydantic validation errors into located, actionable one-line errors."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from reconciler.spec.errors import LocatedError, format_path
from reconciler.spec.models import NAME_PATTERN
from reconciler.spec.suggest import did_you_mean
from reconciler.spec.yamlread import Path_, SourceDocument


def describe(value: Any) -> str:
    """What a YAML value is, in words a spec author knows."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _members(annotation: Any) -> list[Any]:
    """The concrete types inside Annotated / Optional / unions."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def model_at(model: type[BaseModel], path: Path_) -> type[BaseModel] | None:
    """The model class that describes the mapping at `path`, if any."""
    current: Any = model
    for part in path:
        candidates: list[Any] = []
        if isinstance(part, str):
            if not (isinstance(current, type) and issubclass(current, BaseModel)):
                return None
            for name, field in current.model_fields.items():
                if part in (name, field.alias):
                    candidates = _members(field.annotation)
        else:
            for member in _members(current):
                if typing.get_origin(member) in (list, tuple):
                    candidates = _members(typing.get_args(member)[0])
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        lists = [c for c in candidates if typing.get_origin(c) in (list, tuple)]
        current = models[0] if models else (lists[0] if lists else None)
        if current is None:
            return None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def allowed_keys(model: type[BaseModel]) -> list[str]:
    """The keys a mapping of this model may have, as written in a spec."""
    return [field.alias or name for name, field in model.model_fields.items()]


def _message(error: ErrorDetails, root: type[BaseModel], path: Path_) -> str:
    kind = error["type"]
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return "required key is missing; add it"
    if kind == "extra_forbidden":
        parent = model_at(root, path[:-1])
        keys = allowed_keys(parent) if parent else []
        hint = did_you_mean(str(path[-1]), keys)
        if not hint and keys:
            hint = "; allowed keys: " + ", ".join(keys)
        return f"unknown key '{path[-1]}'{hint}"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        choices = ", ".join(expected)
        return f"{describe(value)} is not allowed; use one of: {choices}" + did_you_mean(
            str(value), expected
        )
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == NAME_PATTERN:
        return (
            f"'{value}' is not a valid name; use at most 63 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    if kind == "string_too_long":
        return f"longer than {ctx.get('max_length')} characters; shorten it"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "too_short":
        return "the list is empty; add an entry or remove the key"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a mapping, found {describe(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"expected a list, found {describe(value)}"
    if kind == "string_type":
        return f"expected a string, found {describe(value)}; put it in quotes"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, found {describe(value)}"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"expected a whole number, found {describe(value)}"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    return str(error["msg"])


def located_errors(
    exc: ValidationError, model: type[BaseModel], doc: SourceDocument, address: str | None
) -> list[LocatedError]:
    """One located error per pydantic error, pointing at the key or value at fault."""
    result = []
    for error in exc.errors(include_url=False):
        path: Path_ = tuple(p for p in error["loc"] if isinstance(p, str | int))
        kind = error["type"]
        # Unknown keys point at the key; missing keys at their parent's key; others at the value.
        location = doc.location(path, key=kind in ("extra_forbidden", "missing"))
        message = _message(error, model, path)
        result.append(LocatedError(location, address, format_path(path), message))
    return result
