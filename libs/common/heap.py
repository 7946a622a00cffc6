"""Keeping the garbage collector's full passes short.

A service holds a large heap that lives as long as it does: the web framework, the models,
dispatch's grid and its index. CPython's full collection walks all of it — about 100 ms here
for ~100k objects, a stall for every message in hand. Once a service is set up, `settle`
moves what exists out of the collector's sight (`gc.freeze`), so later passes walk only what
was made since. Reference counting still frees frozen objects; only a cycle among them would
stay, so a big change (a new grid) settles again, with one full pass at that moment.
"""

from __future__ import annotations

import gc


def settle() -> None:
    """Collect what is garbage now, then freeze the rest (call after setup or a big change)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
