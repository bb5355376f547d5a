"""The users' corrections as training data.

Loaded from wherever they are (an export file, the feedback database itself, or a running
server's export URL with its token), each submission becomes one sample per digit of its
label, holding the very 28x28 input the served model saw. Submissions are split into a
part to learn from and a held-out part to judge by, by a hash of their id, so the split
does not depend on the order or the size of the export. Digits with too few samples are
left out, and the repetition of the rest is capped, so a tiny or one-sided set cannot
dominate the training mix.
"""

import hashlib
import io
import os
import urllib.parse
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from feedback import Stored, open_store
from feedback.export import inputs_array, read_rows
from recognizer.contract import DIGIT_CLASSES, IMAGE_SIZE

TOKEN_ENV = "FEEDBACK_TOKEN"
SQLITE_MAGIC = b"SQLite format 3\x00"


class NotEnoughFeedback(ValueError):
    """The feedback cannot make a fine-tune worth its risk; the message says what is missing."""


def load_rows(source: str, token: str | None = None) -> list[Stored]:
    """Every submission from an export file (.ndjson or .csv), a SQLite file, a
    postgresql:// URL, or a server (http(s)://host or its /feedback/export URL)."""
    if source.startswith(("http://", "https://")):
        return _fetch(source, token or os.environ.get(TOKEN_ENV, ""))
    path = Path(source)
    if source.startswith(("postgresql://", "postgres://")) or _is_sqlite(path):
        store = open_store(source)
        try:
            return list(store.export())
        finally:
            store.close()
    with path.open(encoding="utf-8", newline="") as lines:
        return list(read_rows(lines, "csv" if path.suffix.lower() == ".csv" else "ndjson"))


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


def _fetch(url: str, token: str) -> list[Stored]:
    """GET the server's NDJSON export with the bearer token."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path if parts.path.endswith("/feedback/export") else "/feedback/export"
    query = urllib.parse.urlencode({"format": "ndjson"})
    request = urllib.request.Request(
        urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, query, "")),
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return list(read_rows(io.TextIOWrapper(response, encoding="utf-8")))


@dataclass(frozen=True)
class FeedbackSet:
    """Samples: one 28x28 input per digit of each submission's label."""

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    """The submission each sample came from."""

    def __len__(self) -> int:
        return len(self.labels)

    def per_class(self) -> dict[str, int]:
        counts = Counter(int(label) for label in self.labels)
        return {str(d): counts.get(d, 0) for d in range(DIGIT_CLASSES)}


def samples(rows: list[Stored]) -> FeedbackSet:
    """Each submission's inputs with its label's digits (a malformed row adds nothing)."""
    images, labels, ids = [], [], []
    for row in rows:
        inputs = inputs_array(row.feedback)
        if len(inputs) != len(row.feedback.label):
            continue
        images.append(inputs)
        labels += [int(c) for c in row.feedback.label]
        ids += [row.id] * len(inputs)
    if not images:
        empty = np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.float32)
        return FeedbackSet(empty, np.zeros(0, np.uint8), np.zeros(0, np.int64))
    return FeedbackSet(np.concatenate(images), np.array(labels, np.uint8), np.array(ids, np.int64))


def split(rows: list[Stored], held_out_share: float) -> tuple[list[Stored], list[Stored]]:
    """(to learn from, held out): a submission is held out when a hash of its id says so."""

    def held(row: Stored) -> bool:
        digest = hashlib.sha256(f"feedback:{row.id}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < held_out_share

    return [r for r in rows if not held(r)], [r for r in rows if held(r)]


def describe(rows: list[Stored]) -> dict:
    """What the model card records about the feedback used: never its content."""
    ids = sorted(row.id for row in rows)
    times = sorted(row.created_at for row in rows)
    return {
        "submissions": len(rows),
        "first": times[0] if times else None,
        "last": times[-1] if times else None,
        "ids_sha256": hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest(),
        "model_versions": sorted({row.feedback.model_version for row in rows}),
    }


def usable(learn: FeedbackSet, min_per_class: int) -> tuple[FeedbackSet, list[str]]:
    """The samples of digits with at least `min_per_class` of them, and the digits left out.

    A digit seen a handful of times is more likely a slip or a prank than a style to learn.
    """
    counts = learn.per_class()
    kept = [int(d) for d, n in counts.items() if n >= min_per_class]
    if not kept:
        raise NotEnoughFeedback(
            f"not enough feedback to learn from: every digit needs at least {min_per_class} "
            f"samples, and the feedback has {_nonzero(counts)}; collect more and run again"
        )
    chosen = np.isin(learn.labels, kept)
    left_out = [d for d, n in counts.items() if 0 < n < min_per_class]
    return FeedbackSet(learn.images[chosen], learn.labels[chosen], learn.ids[chosen]), left_out


def _nonzero(counts: dict[str, int]) -> str:
    shown = ", ".join(f"{n} of {d}" for d, n in counts.items() if n)
    return shown or "no usable samples"


def repeats(samples_count: int, mix_size: int, most: int, share: float) -> int:
    """How many times each feedback sample goes into the mix: at most `most`, and only
    while all of them stay within `share` of the other training data (at least once)."""
    return max(1, min(most, int(share * mix_size / max(samples_count, 1))))
