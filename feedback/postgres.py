"""Feedback in PostgreSQL, for deployments with several replicas sharing one database.

Needs the `postgres` extra (psycopg 3). Each call borrows a connection from a small
idle list (a thread never waits for another's round trip), runs one transaction and
gives the connection back; a connection that failed is dropped and the next call opens
a new one. A restarted database closes every connection it had, which the idle list
would only learn by using each one in turn (a failed request apiece), so a borrowed
connection whose socket has something to read while idle (the server's goodbye, or the
end of the stream) is dropped before use: a restart costs the requests in flight and
nothing after.

A database that stops answering (a frozen host, a lock held for ever) must not hold a
request: connecting gives up after the timeout, and each session sets it as
statement_timeout and lock_timeout, so the server itself ends a statement that waits
too long. (The routes also stop waiting for a database that answers nothing at all.)

A commit returns only once PostgreSQL has flushed it to its WAL (synchronous_commit
is on by default), so an acknowledged row survives a crash of either side.
"""

import math
import queue
import select
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from feedback import Feedback, Stored, StoreError, paged
from feedback.secrets import redact
from feedback.sql import add_once, create_schema, from_row, schema, select_page

try:
    import psycopg
except ImportError:  # the default install has no driver; open_store says what to do
    psycopg = None

SCHEMA_LOCK = 0x6E76_6662
"""Advisory lock id ("nvfb") held while creating the tables, so replicas starting
together do not race on CREATE TABLE."""

SCHEMA = schema("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "TIMESTAMPTZ", "BYTEA")
_SELECT = select_page(
    "%s", """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
)


class PostgresStore:
    """A FeedbackStore in a PostgreSQL database given by its URL."""

    def __init__(self, url: str, timeout: float) -> None:
        if psycopg is None:
            raise StoreError(
                "FEEDBACK_DB is a PostgreSQL URL but the driver is not installed: "
                "pip install 'number-visualizer[serve,postgres]'"
            )
        self.url = url
        self.timeout = timeout
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    @contextmanager
    def _transaction(self) -> Iterator["psycopg.Cursor"]:
        """A cursor inside one transaction, committed when the block ends without error."""
        connection = self._borrow()
        with (
            _closed_on_failure(connection, "the feedback database failed"),
            connection.transaction(),
            connection.cursor() as cursor,
        ):
            yield cursor
        self._idle.put(connection)

    def _borrow(self) -> "psycopg.Connection":
        """An idle connection that still looks alive, else a new one."""
        while True:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                return self._connect()
            if _alive(connection):
                return connection
            connection.close()

    def _connect(self) -> "psycopg.Connection":
        milliseconds = max(1, round(self.timeout * 1000))
        try:
            connection = psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=max(2, math.ceil(self.timeout)),  # libpq's least is 2 s
                options=f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}",
            )
        except psycopg.Error as exc:
            raise StoreError(redact(f"cannot connect to the feedback database: {exc}")) from exc
        with self._schema_lock:
            if not self._schema_ready:
                _create_schema(connection)
                self._schema_ready = True
        return connection

    def add(self, feedback: Feedback) -> tuple[int, bool]:
        """Insert in one transaction; a known client key gives back the first id."""
        with self._transaction() as cursor:
            return add_once(cursor.execute, "%s", feedback)

    def export(self, after: int = 0) -> Iterator[Stored]:
        """Every submission above `after`, oldest first, a page at a time."""
        return paged(self._page, after)

    def _page(self, after: int, limit: int) -> list[Stored]:
        with self._transaction() as cursor:
            rows = cursor.execute(_SELECT, (after, limit)).fetchall()
        return [from_row(row) for row in rows]

    def count(self) -> int:
        with self._transaction() as cursor:
            return int(cursor.execute("SELECT count(*) FROM feedback").fetchone()[0])

    def delete(self, ids: Iterable[int]) -> int:
        with self._transaction() as cursor:
            cursor.execute("DELETE FROM feedback WHERE id = ANY(%s)", ([int(i) for i in ids],))
            return cursor.rowcount

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


def _alive(connection: "psycopg.Connection") -> bool:
    """Whether an idle connection may be used: open, and nothing to read on its socket.

    An idle session receives nothing unasked, so readable data is the server closing it
    (a restart or an administrator's kill): checking costs a poll of the socket, no round
    trip.
    """
    if connection.closed:
        return False
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError, psycopg.Error):
        return False
    return not readable


def _create_schema(connection: "psycopg.Connection") -> None:
    """Create the tables once, whichever replica gets there first."""
    with (
        _closed_on_failure(connection, "cannot create the feedback tables"),
        connection.transaction(),
    ):
        connection.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
        create_schema(connection.execute, "%s", SCHEMA)


@contextmanager
def _closed_on_failure(connection: "psycopg.Connection", what: str) -> Iterator[None]:
    """Close `connection` if the block fails, so that it is never used again; a driver's
    error becomes a StoreError saying `what`, on one line, with its secrets masked."""
    try:
        yield
    except psycopg.Error as exc:
        connection.close()
        raise StoreError(redact(f"{what}: {exc}".splitlines()[0])) from exc
    except BaseException:
        connection.close()
        raise
