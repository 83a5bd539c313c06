"""Reading numbers from query parameters and paths: ASCII digits only, bounded length."""

from __future__ import annotations

import re

_NATURAL = re.compile(r"[0-9]{1,18}", re.ASCII)


def natural(raw: str | None) -> int | None:
    """The non-negative integer raw spells, or None ('²', '-1', '1e3' and 5000 digits are not)."""
    if raw is None or _NATURAL.fullmatch(raw) is None:
        return None
    return int(raw)
