"""One pause of the cyclic garbage collector, for code that makes millions of objects and no cycles.

Parsing specs, a long state history or a report allocates objects that live on and form no
reference cycles: each collection the allocations start would walk them all again, for nothing
(refcounting still frees everything).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside; the collector is restored as it was on leaving."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
