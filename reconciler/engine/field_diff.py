"""Field-level differences between two JSON values (the `diff` of a plan's actions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def plain_json(value: Any) -> Any:
    """Mappings and tuples -> dicts and lists, so a value can go through json."""
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    return value


@dataclass(frozen=True)
class FieldChange:
    """One changed field: a dotted path (`filter.segments[0].segmentId`) and both values."""

    path: str
    old: Any
    new: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": plain_json(self.old), "new": plain_json(self.new)}


def _path_text(parts: list[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def field_changes(old: Any, new: Any) -> tuple[FieldChange, ...]:
    """The field-level differences between two JSON values (deepdiff), sorted by path.

    A field only on one side shows `None` on the other; lists compare position by position.
    """
    from deepdiff import DeepDiff  # lazily: deepdiff is slow to import and only plans need it

    tree = DeepDiff(plain_json(old), plain_json(new), view="tree")
    changes: dict[str, FieldChange] = {}
    for levels in tree.values():
        for level in levels:
            path = _path_text(level.path(output_format="list"))
            t1 = None if _is_absent(level.t1) else level.t1
            t2 = None if _is_absent(level.t2) else level.t2
            changes[path] = FieldChange(path or "(whole value)", t1, t2)
    return tuple(changes[p] for p in sorted(changes))


def _is_absent(value: Any) -> bool:
    return type(value).__name__ == "NotPresent"
