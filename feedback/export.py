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

import numpy as np

from feedback import Feedback, Stored
from recognizer.contract import IMAGE_SIZE

FORMATS = {"ndjson": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
"""Export formats and their media types."""

FIELDS = (
    "id",
    "created_at",
    "mode",
    "label",
    "answer",
    "model_version",
    "request_id",
    "answer_request_id",
    "image",
    "inputs",
)
"""What an exported row holds (the client's idempotency key stays in the database)."""

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
    """One stored submission as an export row."""
    feedback = row.feedback
    return {
        "id": row.id,
        "created_at": row.created_at,
        "mode": feedback.mode,
        "label": feedback.label,
        "answer": feedback.answer,
        "model_version": feedback.model_version,
        "request_id": feedback.request_id,
        "answer_request_id": feedback.answer_request_id,
        "image": base64.b64encode(feedback.image).decode("ascii"),
        "inputs": base64.b64encode(feedback.inputs).decode("ascii"),
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
            Feedback(
                label=item["label"],
                answer=item["answer"] or None,
                model_version=item["model_version"],
                mode=item["mode"],
                image=base64.b64decode(item["image"]),
                inputs=base64.b64decode(item["inputs"]),
                request_id=item["request_id"],
                answer_request_id=item["answer_request_id"] or None,
            ),
        )


def inputs_array(feedback: Feedback) -> np.ndarray:
    """The stored model inputs as an (n, 28, 28) float32 array, one per digit of the label."""
    return np.frombuffer(feedback.inputs, dtype="<f4").reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
