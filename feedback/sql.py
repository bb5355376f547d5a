"""The SQL both back ends share, written once for either placeholder style.

SQLite and psycopg differ in placeholders ("?" and "%s") and in a few column types;
everything else, from the table to the insert that stores a key once, is the same text.
"""

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from feedback import Feedback, KeyReused, Stored, StoreError

SCHEMA_VERSION = 1
"""Bumped when the table changes; a store refuses a database from a newer version."""

COLUMNS = (
    "created_at",
    "client_key",
    "request_id",
    "answer_request_id",
    "mode",
    "label",
    "answer",
    "model_version",
    "image",
    "inputs",
)
"""The table's columns after `id`, in the order both back ends insert and select them."""

Execute = Callable[..., Any]
"""A connection's or cursor's execute(sql, params=()): returns something with fetchone()."""


def schema(id_type: str, time_type: str, bytes_type: str) -> tuple[str, str]:
    """The two CREATE TABLE statements, with the back end's own types."""
    return (
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
        f"""CREATE TABLE IF NOT EXISTS feedback (
    id {id_type},
    created_at {time_type} NOT NULL,
    client_key TEXT UNIQUE,
    request_id TEXT NOT NULL,
    answer_request_id TEXT,
    mode TEXT NOT NULL CHECK (mode IN ('digit', 'number')),
    label TEXT NOT NULL,
    answer TEXT,
    model_version TEXT NOT NULL,
    image {bytes_type} NOT NULL,
    inputs {bytes_type} NOT NULL
)""",
    )


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


SAME_SUBMISSION = ("label", "answer", "model_version", "mode", "answer_request_id", "image")
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
        feedback.client_key,
        feedback.request_id,
        feedback.answer_request_id,
        feedback.mode,
        feedback.label,
        feedback.answer,
        feedback.model_version,
        feedback.image,
        feedback.inputs,
    )


def from_row(row: tuple) -> Stored:
    """A selected (id, *COLUMNS) row back to a Stored."""
    (ident, created_at, client_key, request_id, answer_request_id, mode, label, answer) = row[:8]
    model_version, image, inputs = row[8:]
    return Stored(
        int(ident),
        created_at,
        Feedback(
            label=label,
            answer=answer,
            model_version=model_version,
            mode=mode,
            image=bytes(image),
            inputs=bytes(inputs),
            request_id=request_id,
            answer_request_id=answer_request_id,
            client_key=client_key,
        ),
    )
