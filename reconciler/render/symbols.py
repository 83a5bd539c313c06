"""The Terraform-like symbols and colors shared by the plan renderers."""

from __future__ import annotations

from reconciler.engine.model import FieldChange

ACTION_SYMBOLS: dict[str, str] = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "rerun": "↻",
    "cancel": "x",
    "forget": "-",
    "delete": "-",
    "adopt": "←",
    "wait": "…",
}
FINDING_SYMBOL = "!"

_ANSI = {"green": "32", "yellow": "33", "red": "31", "cyan": "36", "magenta": "35", "dim": "2"}
ACTION_COLORS: dict[str, str] = {
    "create": "green",
    "update": "yellow",
    "replace": "red",
    "rerun": "cyan",
    "cancel": "red",
    "forget": "dim",
    "delete": "red",
    "adopt": "cyan",
    "wait": "dim",
}


def paint(text: str, color: str | None, enabled: bool) -> str:
    """`text` in an ANSI color when enabled (only when the caller asked for color)."""
    if not enabled or color is None:
        return text
    return f"\x1b[{_ANSI[color]}m{text}\x1b[0m"


def show_value(value: object, limit: int = 200) -> str:
    """A compact, one-line JSON rendering of a value, cut with an ellipsis past `limit`."""
    import json

    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_lines(change: FieldChange) -> list[tuple[str, str]]:
    """A field change as (sign, text) lines: `~ path: old -> new`, `+ path: new`, `- path: old`."""
    if change.old is None:
        return [("+", f"{change.path}: {show_value(change.new)}")]
    if change.new is None:
        return [("-", f"{change.path}: {show_value(change.old)}")]
    return [("~", f"{change.path}: {show_value(change.old)} -> {show_value(change.new)}")]
