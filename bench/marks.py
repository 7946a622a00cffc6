"""What one roll-up update costs the embedded store as the document's marks grow.

    .venv/bin/python bench/marks.py [--sizes 0 1000 5000 20000] [--updates 200]

Starts its own nx-27017 on a free loopback port, stores one document per size with that many marks
(as a roll-up keeps them: `marks.<id>` = epoch ms), then updates each in turn the way a roll-up takes
an entry (`$inc` a count, `$set` the entry's mark, matched only if the mark is absent). Prints the
median update per size and its ratio to the empty document's: the store rewrites the whole document,
so a roll-up that keeps every mark of the last hour costs more with every entry of that hour.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "libs"), str(ROOT / "services")]

from bench_store import store_client  # noqa: E402

from common import mongo  # noqa: E402

FIRST_MS = 1_796_000_000_000


async def main(sizes: list[int], updates: int) -> None:
    async with store_client("marks") as client:
        cells = mongo.database(client, "bench_marks")["cells"]
        for n in sizes:
            marks = {f"{i:024x}": FIRST_MS + i for i in range(n)}
            await cells.insert_one({"_id": f"cell-{n}", "satisfied": 0, "marks": marks, "marked_ms": FIRST_MS})
        took: dict[int, list[float]] = {n: [] for n in sizes}
        for r in range(updates):
            for n in sizes:  # taking turns: a noisy moment falls on every size
                mark = f"new-{r:06d}"
                started = time.perf_counter()
                await cells.update_one({"_id": f"cell-{n}", f"marks.{mark}": {"$exists": False}},
                                       {"$inc": {"satisfied": 1, "rev": 1}, "$set": {f"marks.{mark}": 1}})
                took[n].append(time.perf_counter() - started)
        base = statistics.median(took[sizes[0]])
        print(f"one roll-up update ({updates} per size, taking turns; medians):")
        for n in sizes:
            median = statistics.median(took[n])
            print(f"    {n:>7,} marks   {median * 1000:7.2f} ms  ({median / base:5.1f}× {sizes[0]:,} marks)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 1000, 5000, 20000])
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.sizes, args.updates))
