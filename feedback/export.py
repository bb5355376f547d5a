"""Stored feedback as NDJSON or CSV, for the export route, the CLI and fine-tuning.

Both formats carry the same fields. The drawing (`image`) and the model's inputs
(`inputs`: float32 little-endian, len(label) x 28 x 28) are base64. `read_rows`
turns an export back into records, so training reads exactly what the server wrote.

A CSV file is meant to be opened in a spreadsheet, which runs a cell that starts like a
formula. So, as OWASP advises against CSV injection, a cell that starts with =, +, -, @,
a tab or a carriage return is written with a ' in front (and read back without it).
"""

import base64
import csv
import hmac
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import Field
from typing import get_args

import numpy as np

from feedback import FIELDS as RECORD_FIELDS
from feedback import Feedback, Stored
from recognizer.contract import IMAGE_SIZE

FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
"""Export formats and their media types."""

PRIVATE = frozenset({"client_key"})
"""Record fields that stay in the database: the client's idempotency key."""
EXPORTED = tuple(field for field in RECORD_FIELDS if field.name not in PRIVATE)
FIELDS = ("id", "created_at", *(field.name for field in EXPORTED))
"""What an exported row holds: the stored id and time, and the record's public fields."""

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula."""
MAX_ID = 2**63 - 1
"""The largest id either database can hold (SQLite's INTEGER, PostgreSQL's BIGINT)."""
_ID = re.compile(r"[0-9]{1,19}")


def parse_id(text: str) -> int:
    """A stored id written in ASCII digits, 0 to MAX_ID; ValueError saying why not.

    str.isdigit and int() also take other scripts' digits and superscripts (int("٣") is
    3), and a number past MAX_ID overflows the database's integer halfway through a reply.
    """
    if not _ID.fullmatch(text) or int(text) > MAX_ID:
        raise ValueError(f"a whole number from 0 to {MAX_ID} in the digits 0-9")
    return int(text)


def token_matches(authorization: str, token: str) -> bool:
    """Whether an Authorization header carries the token, compared in constant time."""
    scheme, _, given = authorization.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def as_dict(row: Stored) -> dict:
    """One stored submission as an export row, bytes in base64."""
    record = {field.name: getattr(row.feedback, field.name) for field in EXPORTED}
    return {
        "id": row.id,
        "created_at": row.created_at,
        **{
            name: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
            for name, value in record.items()
        },
    }


def render(rows: Iterable[Stored], form: str) -> Iterator[str]:
    """The export text, one line per row (after the header line for CSV)."""
    if form == "ndjson":
        for row in rows:
            yield json.dumps(as_dict(row), separators=(",", ":")) + "\n"
        return
    buffer = io.StringIO()
    # RFC 4180's CRLF: the csv module quotes a cell holding a character of the line
    # terminator, so with "\n" alone a stored "\r" would end the row in a spreadsheet.
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _cell(value) for name, value in as_dict(row).items()})
        yield _drain(buffer)
    yield _drain(buffer)


def _cell(value: object) -> object:
    """A value that a spreadsheet shows as text rather than run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _uncell(value: str) -> str:
    """A CSV cell as the server stored it: the inverse of _cell."""
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_STARTS else value


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def read_rows(lines: Iterable[str], form: str = "ndjson") -> Iterator[Stored]:
    """An export read back: the inverse of render."""
    dicts = (
        ({name: _uncell(value) for name, value in item.items()} for item in csv.DictReader(lines))
        if form == "csv"
        else (json.loads(x) for x in lines if x.strip())
    )
    for item in dicts:
        yield Stored(
            int(item["id"]),
            item["created_at"],
            Feedback(**{field.name: _value(field, item[field.name]) for field in EXPORTED}),
        )


def _value(field: Field, text: str | None) -> object:
    """An exported cell back to the record's value: bytes from base64; a field that may be
    None is None when empty (CSV writes None as an empty cell)."""
    if field.type is bytes:
        return base64.b64decode(text or "")
    return (text or None) if type(None) in get_args(field.type) else text


def inputs_array(feedback: Feedback) -> np.ndarray:
    """The stored model inputs as an (n, 28, 28) float32 array, one per digit of the label."""
    return np.frombuffer(feedback.inputs, dtype="<f4").reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
