"""Users' corrections of the model's answers, kept so that a later model can learn from them.

One small interface, `FeedbackStore` (add, export, count, delete), with two back ends:
SQLite in a local file (the default, standard library only) and PostgreSQL for
deployments with several replicas (the `postgres` extra). `open_store` picks one from
the FEEDBACK_DB setting, once; the routes never see SQL.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import Field, dataclass, fields
from typing import NamedTuple, Protocol

from recognizer.contract import Mode

PAGE_SIZE = 200
"""Rows fetched per query while exporting: memory stays flat however large the table."""


class StoreError(RuntimeError):
    """The database cannot be used (unreachable, a newer schema, a missing driver)."""

    reason = "the database is unavailable"
    """What a client is told: the message is for the log, and may name hosts and files."""


class StoreTimeout(StoreError):
    """The database did not answer in time; the call may still finish after it."""

    @property
    def reason(self) -> str:
        return str(self)


class KeyReused(ValueError):
    """A client key already stored with a different submission: the new one is not stored."""


@dataclass(frozen=True, kw_only=True)
class Submission:
    """What a client sends: a drawing, its true label, and the answer it corrects.

    These fields and Feedback's are the record's, declared once: the table's columns
    (feedback.sql), the export's fields (feedback.export) and the server's request shapes
    follow them.
    """

    mode: Mode
    label: str
    """The true digit, or the true number's digits in number mode."""
    answer: str | None
    """What the service had answered (a digit or a number), or None if it gave no digit."""
    model_version: str
    answer_request_id: str | None = None
    """The id of the /predict request whose answer this corrects, if the client sent it."""
    image: bytes
    """The drawing exactly as the client sent it."""


@dataclass(frozen=True, kw_only=True)
class Feedback(Submission):
    """One submission, as it is stored: with what the server adds to it."""

    request_id: str
    """The id of this POST /feedback, as in the server's log."""
    inputs: bytes
    """What the model saw: float32 little-endian, len(label) x 28 x 28."""
    client_key: str | None = None
    """The client's idempotency key: a resent submission with the same key is stored once."""


FIELDS: tuple[Field, ...] = fields(Feedback)
"""The record's fields, in the order of the table's columns and the export's."""


class Stored(NamedTuple):
    """A stored submission with the id and time the store gave it."""

    id: int
    created_at: str
    """UTC, ISO 8601 with microseconds, e.g. 2026-11-25T19:30:00.123456Z."""
    feedback: Feedback


class FeedbackStore(Protocol):
    """What the service and the CLI need from a database of feedback."""

    def add(self, feedback: Feedback) -> tuple[int, bool]:
        """Store in one transaction; (id, True), or (the first id, False) for a known key
        sent again with the same submission; KeyReused for a known key with another one."""

    def export(self, after: int = 0) -> Iterator[Stored]:
        """Every submission with an id above `after`, oldest first."""

    def count(self) -> int:
        """How many submissions are stored."""

    def delete(self, ids: Iterable[int]) -> int:
        """Remove these submissions for good; how many there were."""

    def close(self) -> None:
        """Release connections; the store may not be used afterwards."""


DB_ENV = "FEEDBACK_DB"
"""The environment variable naming the store, read by the server and by `python -m feedback`."""
DEFAULT_DB = "data/feedback.sqlite3"
"""A SQLite file, relative to the working directory, when DB_ENV is not set."""
DB_TIMEOUT_S = 4.0
"""How long a PostgreSQL connection attempt or statement may take by default (the server's
FEEDBACK_TIMEOUT setting overrides it)."""


def open_store(target: str, timeout: float = DB_TIMEOUT_S) -> FeedbackStore:
    """The store for a FEEDBACK_DB value: a postgresql:// URL, else a SQLite file path.

    Nothing is connected or created here: the database is opened on first use, so a
    server whose feedback database is down still answers /predict. `timeout` bounds a
    PostgreSQL connection attempt and each statement.
    """
    if target.startswith(("postgresql://", "postgres://")):
        from feedback.postgres import PostgresStore

        return PostgresStore(target, timeout)
    from feedback.sqlite import SqliteStore

    return SqliteStore(target)


def paged(fetch: Callable[[int, int], list[Stored]], after: int) -> Iterator[Stored]:
    """Every row above `after`, one short query per page, so no read stays open while the
    rows stream to a slow client."""
    while True:
        page = fetch(after, PAGE_SIZE)
        yield from page
        if len(page) < PAGE_SIZE:
            return
        after = page[-1].id
