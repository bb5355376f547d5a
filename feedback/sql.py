"""The SQL both back ends share, written once for either placeholder style.

SQLite and psycopg differ in placeholders ("?" and "%s") and in a few column types;
everything else, from the table to the insert that stores a key once, is the same text.
"""

from collections.abc import Callable
from dataclasses import Field, fields
from datetime import datetime, timezone
from typing import Any, get_args

from feedback import FIELDS, Feedback, KeyReused, Stored, StoreError, Submission
from recognizer.contract import MODES

SCHEMA_VERSION = 1
"""Bumped when the table changes; a store refuses a database from a newer version."""

COLUMNS = ("created_at", *(field.name for field in FIELDS))
"""The table's columns after `id`: the record's fields, in the order both back ends insert
and select them."""

CONSTRAINTS = {
    "client_key": "UNIQUE",
    "mode": f"CHECK (mode IN ({', '.join(repr(mode) for mode in MODES)}))",
}
"""Each column's constraint beyond its type and NOT NULL."""

Execute = Callable[..., Any]
"""A connection's or cursor's execute(sql, params=()): returns something with fetchone()."""


def schema(id_type: str, time_type: str, bytes_type: str) -> tuple[str, str]:
    """The two CREATE TABLE statements, with the back end's own types."""
    return (
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        "CREATE TABLE IF NOT EXISTS feedback (\n    "
        + ",\n    ".join(
            [
                f"id {id_type}",
                f"created_at {time_type} NOT NULL",
                *(_column(field, bytes_type) for field in FIELDS),
            ]
        )
        + "\n)",
    )


def _column(field: Field, bytes_type: str) -> str:
    """A record field's column: TEXT or the back end's bytes type, NOT NULL unless the field
    may be None, and its CONSTRAINTS."""
    nullable = type(None) in get_args(field.type)
    words = [
        field.name,
        bytes_type if field.type is bytes else "TEXT",
        *([] if nullable else ["NOT NULL"]),
        *([CONSTRAINTS[field.name]] if field.name in CONSTRAINTS else []),
    ]
    return " ".join(words)


def create_schema(execute: Execute, mark: str, statements: tuple[str, ...]) -> None:
    """Create the tables if missing and record the schema version; refuse a newer one.
    The caller holds a write transaction (or lock), so racing processes create them once."""
    for statement in statements:
        execute(statement)
    found = execute("SELECT max(version) FROM schema_version").fetchone()[0]
    if found is not None and found > SCHEMA_VERSION:
        raise StoreError(
            f"the feedback database has schema version {found}; this server knows "
            f"{SCHEMA_VERSION}: upgrade the server"
        )
    if found is None:
        execute(f"INSERT INTO schema_version VALUES ({mark})", (SCHEMA_VERSION,))


SAME_SUBMISSION = tuple(field.name for field in fields(Submission))
"""What a resent submission must repeat to get the stored id back: everything the client
sent (the request id is the server's, and the inputs follow from the image)."""


def add_once(execute: Execute, mark: str, feedback: Feedback) -> tuple[int, bool]:
    """Insert inside the caller's transaction; a known client key gives back the first id,
    if the submission is the same, and raises KeyReused if it is not.

    The stored row itself is the fingerprint of the first submission, so every database
    written before this check existed is checked the same way, with no migration.
    """
    marks = ", ".join([mark] * len(COLUMNS))
    row = execute(
        f"INSERT INTO feedback ({', '.join(COLUMNS)}) VALUES ({marks}) "
        "ON CONFLICT (client_key) DO NOTHING RETURNING id",
        _values(feedback),
    ).fetchone()
    if row is not None:
        return int(row[0]), True
    query = f"SELECT id, {', '.join(SAME_SUBMISSION)} FROM feedback WHERE client_key = {mark}"
    ident, *stored = execute(query, (feedback.client_key,)).fetchone()
    sent = [getattr(feedback, name) for name in SAME_SUBMISSION]
    if [bytes(v) if isinstance(v, memoryview) else v for v in stored] != sent:
        raise KeyReused(
            "this Idempotency-Key (or client_id) was already used for another submission; "
            "use a new key for a new submission"
        )
    return int(ident), False


def select_page(mark: str, created_at: str = "created_at") -> str:
    """The query for one page of the export: rows above an id, oldest first, at most n."""
    return (
        f"SELECT id, {', '.join((created_at, *COLUMNS[1:]))} FROM feedback "
        f"WHERE id > {mark} ORDER BY id LIMIT {mark}"
    )


def _values(feedback: Feedback) -> tuple:
    """The values for COLUMNS, in order, stamped with the current UTC time."""
    return (
        datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        *(getattr(feedback, field.name) for field in FIELDS),
    )


def from_row(row: tuple) -> Stored:
    """A selected (id, *COLUMNS) row back to a Stored (a driver may give bytes as a
    memoryview)."""
    ident, created_at, *values = row
    return Stored(
        int(ident),
        created_at,
        Feedback(
            **{
                field.name: bytes(value) if field.type is bytes else value
                for field, value in zip(FIELDS, values, strict=True)
            }
        ),
    )
