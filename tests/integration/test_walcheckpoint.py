"""The store's logs are checkpointed beside it: short logs, nothing lost, nothing created."""

from __future__ import annotations

from pathlib import Path

import pytest
from pymongo import IndexModel

from common import mongo
from fengqiao.embedded import start_store
from fengqiao.walcheckpoint import WalCheckpointer

pytestmark = pytest.mark.integration

#: SQLite's automatic checkpoint runs once the log holds this many pages
AUTOCHECKPOINT_PAGES = 1000
PAGE = 4096


def _log_pages_reached(db_file: Path) -> int:
    """The longest the log has been: SQLite reuses the log file from its start and never shrinks it."""
    wal = db_file.with_name(db_file.name + "-wal")
    return (wal.stat().st_size - 32) // (PAGE + 24) if wal.exists() else 0


async def test_the_log_stays_short_and_every_write_survives_a_restart(tmp_path: Path) -> None:
    store = start_store(tmp_path)
    assert store.companion is not None  # the store always runs with its checkpointer
    store.companion.stop()  # this test drives the passes itself
    checkpointer = WalCheckpointer(tmp_path / "store", databases=["ckpt"])
    client = mongo.client(store.url)
    written = []
    try:
        docs = mongo.database(client, "ckpt")["docs"]
        await docs.create_indexes([IndexModel([(f, 1)]) for f in ("a", "b", "c")])
        for round_ in range(40):
            batch = [{"_id": f"d{round_}-{k}", "a": k, "b": -k, "c": round_, "pad": "x" * 3000} for k in range(25)]
            for doc in batch:  # one commit each, as a service writes
                await docs.insert_one(doc)
            written += [d["_id"] for d in batch]
            (passed,) = checkpointer.run_once()
            assert passed.database == "ckpt" and not passed.busy
            assert passed.checkpointed_pages == passed.log_pages  # all of the log is in the database now
        # 1,000 writes of ~2 pages each went through a log that never reached the store's own checkpoint
        assert _log_pages_reached(tmp_path / "store" / "ckpt.db") < AUTOCHECKPOINT_PAGES / 2
    finally:
        client.close()
        store.stop()

    store = start_store(tmp_path, port=store.port)
    client = mongo.client(store.url)
    try:
        ids = [d["_id"] async for d in mongo.database(client, "ckpt")["docs"].find({}, {"_id": 1})]
        assert sorted(ids) == sorted(written)
    finally:
        client.close()
        store.stop()


async def test_it_creates_nothing_and_skips_what_it_cannot_open(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    folder.mkdir()
    assert WalCheckpointer(folder).run_once() == []
    (folder / "junk.db").write_text("not a database")
    checkpointer = WalCheckpointer(folder)
    assert checkpointer.run_once() == [] and checkpointer.run_once() == []
    assert checkpointer.failures == {"junk": 2}  # counted quietly; a warning only once it persists
    assert sorted(p.name for p in folder.iterdir()) == ["junk.db"]


async def test_only_the_named_databases(tmp_path: Path) -> None:
    store = start_store(tmp_path)
    client = mongo.client(store.url)
    try:
        for name in ("one", "two"):
            await mongo.database(client, name)["docs"].insert_one({"_id": 1})
        assert [c.database for c in WalCheckpointer(tmp_path / "store", databases=["two"]).run_once()] == ["two"]
        assert {c.database for c in WalCheckpointer(tmp_path / "store").run_once()} >= {"one", "two"}
    finally:
        client.close()
        store.stop()
    assert not store.companion._thread.is_alive()  # stopped with the store
