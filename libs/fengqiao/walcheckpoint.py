"""Checkpointing the embedded store's write-ahead logs beside it, off its lock.

nx-27017 keeps each database in SQLite, in WAL mode with synchronous=NORMAL, behind one
lock per database. SQLite checkpoints from the connection that commits once the log
passes 1000 pages: that commit copies the log into the database and fsyncs both, and
the store's lock is held for it. Here that held the alerts' database 15–20 ms about once
a second at 100 alerts/s, and put p99 of placing an alert inside those stalls.

`WalCheckpointer` opens each database file with a connection of its own, every
`every_s`, and runs a PASSIVE checkpoint: SQLite lets the store's writers go on
appending to the log meanwhile, so the copy and the fsyncs happen outside the store's
lock. The log is then short whenever the store commits, and the store's own
checkpoint, still there as a fallback, seldom has anything to do. Durability is
unchanged: it is the same checkpoint SQLite would run, on another connection.

Never drop a database of the store while this runs. nx-27017 unlinks only the `.db` file
of a dropped database; a log held open by a second connection at that instant would
outlive it and be read into a new database of the same name. The platform never drops
its databases; so a connection is open only for the moment of a checkpoint, and
`databases` can restrict the checkpointer to named ones.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

#: seconds between checkpoints of a database: at ~1,000 log pages/s (dispatch at 100 alerts/s)
#: the log stays ~250 pages long, far below SQLite's 1,000-page automatic checkpoint
CHECKPOINT_EVERY_S = 0.25
#: a database the store holds busy (e.g. while it creates its tables) is skipped quietly; one
#: that fails this many passes in a row is worth a warning (~10 s at the default pace)
WARN_AFTER_FAILURES = 40


@dataclass
class Checkpointed:
    """One pass over one database: the log's length and how much of it is now in the database."""

    database: str
    busy: bool
    log_pages: int
    checkpointed_pages: int


class WalCheckpointer:
    """A thread that checkpoints every `*.db` in the store's data folder (or the named ones)."""

    def __init__(self, folder: Path, every_s: float = CHECKPOINT_EVERY_S,
                 databases: Iterable[str] | None = None) -> None:
        self.folder = Path(folder)
        self.every_s = every_s
        self.databases = None if databases is None else frozenset(databases)
        #: database -> passes failed in a row
        self.failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> WalCheckpointer:
        self._thread = threading.Thread(target=self._run, name="wal-checkpointer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the checkpoint in hand; no connection of ours is left open."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.run_once()

    def run_once(self) -> list[Checkpointed]:
        """Checkpoint each database once; a database that fails is skipped until the next pass."""
        done = []
        for path in self._files():
            try:
                done.append(_checkpoint(path))
                self.failures.pop(path.stem, None)
            except sqlite3.Error as exc:  # busy this instant, just dropped, or not an SQLite file
                failed = self.failures[path.stem] = self.failures.get(path.stem, 0) + 1
                if failed == WARN_AFTER_FAILURES:
                    log.warning("store.checkpoint_failing", database=path.stem, passes=failed, error=str(exc))
        return done

    def _files(self) -> list[Path]:
        files = sorted(self.folder.glob("*.db"))
        if self.databases is not None:
            files = [f for f in files if f.stem in self.databases]
        return files


def _checkpoint(path: Path) -> Checkpointed:
    # mode=rw: never create a database the store does not have; timeout 0: never wait on its locks
    con = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None,
                          check_same_thread=False)
    try:
        busy, log_pages, checkpointed = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        con.close()
    return Checkpointed(path.stem, bool(busy), log_pages, checkpointed)
