"""Feedback in a local SQLite file: the default, standard library only.

WAL mode lets the export read while the server writes, and several worker processes
share the file (each waits its turn for the write lock). synchronous=FULL makes each
commit reach the disk before the 201 is sent, so an acknowledged row survives a crash
of the process and of the machine; an unacknowledged one is either whole or absent.
"""

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from feedback import Feedback, Stored, StoreError, paged
from feedback.sql import add_once, create_schema, from_row, schema, select_page

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's write to finish before giving up."""

SCHEMA = schema("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", "BLOB")
_SELECT = select_page("?")


class SqliteStore:
    """A FeedbackStore in one file; one connection per process, used one call at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        """The connection, opened and the schema created on first use."""
        if self._connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                _set_up(connection)
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"cannot open the feedback database {self.path}: {exc}") from exc
            self._connection = connection
        return self._connection

    @contextmanager
    def _using(self) -> Iterator[sqlite3.Connection]:
        """The connection, for one call at a time; SQLite's errors become StoreError."""
        with self._lock:
            try:
                yield self._connect()
            except sqlite3.Error as exc:
                raise StoreError(f"the feedback database {self.path} failed: {exc}") from exc

    def add(self, feedback: Feedback) -> tuple[int, bool]:
        """Insert in one transaction; a known client key gives back the first id."""
        with self._using() as connection, _write(connection):
            return add_once(connection.execute, "?", feedback)

    def export(self, after: int = 0) -> Iterator[Stored]:
        """Every submission above `after`, oldest first, a page at a time."""
        return paged(self._page, after)

    def _page(self, after: int, limit: int) -> list[Stored]:
        with self._using() as connection:
            rows = connection.execute(_SELECT, (after, limit)).fetchall()
        return [from_row(row) for row in rows]

    def count(self) -> int:
        with self._using() as connection:
            return int(connection.execute("SELECT count(*) FROM feedback").fetchone()[0])

    def delete(self, ids: Iterable[int]) -> int:
        with self._using() as connection, _write(connection):
            return sum(
                connection.execute("DELETE FROM feedback WHERE id = ?", (int(i),)).rowcount
                for i in ids
            )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _set_up(connection: sqlite3.Connection) -> None:
    """WAL, full sync and the schema. Switching to WAL takes an exclusive lock, and when
    several processes open a new file at once SQLite may answer "database is locked" at
    once instead of waiting, so the set-up is retried for up to BUSY_TIMEOUT_S."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            _create_schema(connection)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables once, whichever process gets there first."""
    with _write(connection):
        create_schema(connection.execute, "?", SCHEMA)


@contextmanager
def _write(connection: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock at the start (no upgrade deadlocks)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if connection.in_transaction:  # SQLite rolls back by itself after some errors
            connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
