"""Text and JSON of `reconciler lineage` (issue 16; filled by its owner)."""

from __future__ import annotations

from reconciler.engine.lineage import Lineage


def render_lineage(lineage: Lineage, fmt: str) -> str:
    raise NotImplementedError(fmt)
