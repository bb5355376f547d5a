"""Feedback in a local SQLite file: the default, standard library only.

WAL mode lets the export read while the server writes, and several worker processes
share the file (each waits its turn for the write lock). synchronous=FULL makes each
commit reach the disk before the 201 is sent, so an acknowledged row survives a crash
of the process and of the machine; an unacknowledged one is either whole or absent.
"""

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from serving.feedback import (
    COLUMNS,
    SCHEMA_VERSION,
    Feedback,
    Stored,
    StoreError,
    check_schema_version,
    from_row,
    now,
    paged,
    row_values,
)

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's write to finish before giving up."""

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    client_key TEXT UNIQUE,
    request_id TEXT NOT NULL,
    answer_request_id TEXT,
    mode TEXT NOT NULL CHECK (mode IN ('digit', 'number')),
    label TEXT NOT NULL,
    answer TEXT,
    model_version TEXT NOT NULL,
    image BLOB NOT NULL,
    inputs BLOB NOT NULL
)""",
)
_INSERT = (
    f"INSERT INTO feedback ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (client_key) DO NOTHING RETURNING id"
)
_SELECT = f"SELECT id, {', '.join(COLUMNS)} FROM feedback WHERE id > ? ORDER BY id LIMIT ?"


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
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA synchronous=FULL")
                _create_schema(connection)
            except (sqlite3.Error, OSError) as exc:
                raise StoreError(f"cannot open the feedback database {self.path}: {exc}") from exc
            self._connection = connection
        return self._connection

    def add(self, feedback: Feedback) -> tuple[int, bool]:
        """Insert in one transaction; a known client key gives back the first id."""
        with self._lock:
            connection = self._connect()
            try:
                with _write(connection):
                    row = connection.execute(_INSERT, row_values(now(), feedback)).fetchone()
                    new = row is not None
                    if not new:
                        row = connection.execute(
                            "SELECT id FROM feedback WHERE client_key = ?", (feedback.client_key,)
                        ).fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot store feedback in {self.path}: {exc}") from exc
        return int(row[0]), new

    def export(self, after: int = 0) -> Iterator[Stored]:
        """Every submission above `after`, oldest first, a page at a time."""
        return paged(self._page, after)

    def _page(self, after: int, limit: int) -> list[Stored]:
        with self._lock:
            rows = self._connect().execute(_SELECT, (after, limit)).fetchall()
        return [from_row(row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT count(*) FROM feedback").fetchone()[0])

    def delete(self, ids: Iterable[int]) -> int:
        with self._lock:
            connection = self._connect()
            with _write(connection):
                return sum(
                    connection.execute("DELETE FROM feedback WHERE id = ?", (int(i),)).rowcount
                    for i in ids
                )

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _create_schema(connection: sqlite3.Connection) -> None:
    """Create the tables once, whichever process gets there first; refuse newer schemas."""
    with _write(connection):
        for statement in SCHEMA:
            connection.execute(statement)
        version = connection.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        check_schema_version(version)
        if version is None:
            connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))


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
