"""Real pen trajectories: 30 writers' digits, drawn on the canvas as the page paints strokes.

The synthetic writer in training/strokes.py knows only the shapes someone thought of;
these are the shapes people actually make with a stylus, by writers from outside MNIST's
American students and clerks. Each digit is the pen's own trajectory, so it is drawn with
the page's round pen on the page's 280x280 canvas and put through the server's
preprocessing, exactly as a user's drawing would arrive.

Source: "Pen-Based Recognition of Handwritten Digits", E. Alpaydin and F. Alimoglu,
Bogazici University, 1998, UCI Machine Learning Repository, CC BY 4.0 (the CREDIT line is
what the model card and README print). Only the writer-dependent training part is used;
a few of its writers (HELD_OUT_WRITERS) are never trained on and measure the model on
hands it has not seen. A missing or altered file stops the run: there is no fallback.
"""

import hashlib
import lzma
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.preprocess import canvas_to_input
from training.canvas import CANVAS_SIZE, Stroke, render_strokes

PENDIGITS_ENV = "PENDIGITS_PATH"
FILE_NAME = "pendigits-orig.tra"
"""The published file's name, which the model card records with its sha256."""
COMMITTED_COPY = Path(__file__).resolve().parents[1] / "datasets" / f"{FILE_NAME}.xz"
"""The copy committed with the code (xz-compressed; datasets/README.md gives the credit), used
when neither --pendigits nor the variable is set."""

SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
"""Of the published file's bytes, uncompressed."""
EXPECTED_DIGITS = 7_494
WRITERS = range(1, 31)
HELD_OUT_WRITERS = (5, 17, 29)
"""Writers kept out of training: the card's "real pen digits" figures are measured on them."""

LICENCE = "CC BY 4.0"
CREDIT = (
    'E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", '
    "Bogazici University, 1998; UCI Machine Learning Repository (CC BY 4.0)"
)

PAGE_PEN = CANVAS_SIZE / 13
"""The page's ink width on its 280 px canvas (web/js/pad.js, INK_WIDTH = 1/13 of the height)."""


class PendigitsError(RuntimeError):
    """The pen-trajectory file is missing or not what it should be; the message says what to do."""


@dataclass(frozen=True)
class PenDigit:
    label: int
    writer: int
    strokes: tuple[Stroke, ...]  # tablet units, x right, y UP (as recorded)


def resolve_path(path: str | os.PathLike | None = None) -> Path:
    """The flag wins over $PENDIGITS_PATH, which wins over the repository's copy."""
    chosen = path or os.environ.get(PENDIGITS_ENV)
    return Path(chosen).expanduser() if chosen else COMMITTED_COPY


def load(path: str | os.PathLike | None = None) -> list[PenDigit]:
    """Every digit of the file, after checking it is the published file, byte for byte."""
    file = resolve_path(path)
    if not file.is_file():
        raise PendigitsError(
            f"pen-trajectory file not found: {file}; pass --pendigits PATH or set "
            f"{PENDIGITS_ENV}=PATH (pendigits-orig.tra or .tra.xz, UCI, CC BY 4.0)"
        )
    data = read_bytes(file)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise PendigitsError(f"{file} has sha256 {digest}, expected {SHA256}: not the original")
    digits = parse(data.decode("ascii").splitlines())
    if len(digits) != EXPECTED_DIGITS:
        raise PendigitsError(f"{file} holds {len(digits)} digits, expected {EXPECTED_DIGITS}")
    return digits


def read_bytes(file: Path) -> bytes:
    """The file's bytes, decompressed when it is the committed .xz copy."""
    if file.suffix != ".xz":
        return file.read_bytes()
    try:
        return lzma.decompress(file.read_bytes())
    except lzma.LZMAError as exc:
        raise PendigitsError(
            f"{file} is not a readable .xz file ({exc}): not the original"
        ) from exc


def parse(lines: Iterable[str]) -> list[PenDigit]:
    """The UNIPEN-like text: .SEGMENT (label in quotes), .COMMENT (label, writer, number),
    then .PEN_DOWN ... .PEN_UP blocks of "x y" lines, one block per stroke."""
    digits: list[PenDigit] = []
    label = writer = None
    strokes: list[Stroke] = []
    points: list[tuple[float, float]] | None = None

    def finish() -> None:
        if label is not None:
            if not strokes:
                raise PendigitsError(f"digit {len(digits) + 1} (writer {writer}) has no strokes")
            digits.append(PenDigit(label, writer, tuple(strokes)))

    for number, raw in enumerate(lines, 1):
        fields = raw.split()
        if not fields:
            continue
        keyword = fields[0]
        if keyword == ".SEGMENT":
            finish()
            label, writer, strokes = int(raw.split('"')[1]), None, []
        elif keyword == ".COMMENT":
            writer = int(fields[2])
            if int(fields[1]) != label or writer not in WRITERS:
                raise PendigitsError(f"line {number}: comment {raw.strip()!r} contradicts it")
        elif keyword == ".PEN_DOWN":
            points = []
        elif keyword == ".PEN_UP":
            if points:
                strokes.append(np.array(points, dtype=np.float64))
            points = None
        elif points is not None and not keyword.startswith("."):
            points.append((float(fields[0]), float(fields[1])))
    finish()
    return digits


def split_by_writer(digits: list[PenDigit]) -> tuple[list[PenDigit], list[PenDigit]]:
    """(training, held out): every digit of a held-out writer is held out."""
    train = [d for d in digits if d.writer not in HELD_OUT_WRITERS]
    return train, [d for d in digits if d.writer in HELD_OUT_WRITERS]


def to_canvas(strokes: Iterable[Stroke]) -> list[Stroke]:
    """Tablet coordinates (y up) to canvas ones (y down), with the top-left of the ink at 0."""
    flipped = [np.asarray(s, dtype=np.float64) * np.array([1.0, -1.0]) for s in strokes]
    low = np.concatenate(flipped).min(axis=0)
    return [s - low for s in flipped]


def draw(digit: PenDigit, rng: np.random.Generator) -> Image.Image:
    """One digit as the page paints it: a random size and place on the 280x280 canvas, with
    the page's round pen, whose width does not follow the digit's size (a little thinner or
    thicker, as the pad's size on a screen makes it)."""
    strokes = to_canvas(digit.strokes)
    points = np.concatenate(strokes)
    extent = points.max(axis=0)
    height = rng.uniform(0.45, 0.9) * CANVAS_SIZE
    scale = height / max(extent[1], 1.0)
    scale = min(scale, 0.95 * CANVAS_SIZE / max(extent[0], 1.0))  # a wide digit still fits
    room = np.maximum(CANVAS_SIZE - extent * scale, 0)
    offset = rng.uniform(0, 1, 2) * room
    pen = PAGE_PEN * rng.uniform(0.6, 1.15)
    return render_strokes([s * scale + offset for s in strokes], CANVAS_SIZE, pen)


def pen_inputs(digits: list[PenDigit], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The digits drawn and preprocessed as served: (N, 28, 28) float32 and (N,) uint8."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit in digits:
        image = canvas_to_input(draw(digit, rng))
        if image is not None:
            images.append(image)
            labels.append(digit.label)
    return np.stack(images), np.array(labels, dtype=np.uint8)


HELD_OUT_SEED = 4_242
"""The random stream (sizes, places, pens) of the held-out writers' drawings in the card."""


def held_out_report(model, answers) -> dict:
    """The served answers on every digit of the held-out writers, who are never trained on:
    accuracy, refusals and confident mistakes overall and per digit. `model` is the served
    DigitModel; `answers(images, probabilities)` the digit answered, or -1 for a refusal."""
    _, held_out = split_by_writer(load())
    images, labels = pen_inputs(held_out, HELD_OUT_SEED)
    probabilities = model.predict(images)
    given = answers(images, probabilities)
    right, refused = given == labels, given < 0
    confident_wrong = ~right & ~refused & (probabilities.max(axis=1) >= 0.9)
    return {
        "writers": list(HELD_OUT_WRITERS),
        "count": len(labels),
        "accuracy": round(float(right.mean()), 6),
        "rejected_rate": round(float(refused.mean()), 6),
        "wrong_at_0.9_or_more": round(float(confident_wrong.mean()), 6),
        "per_digit": {
            str(d): {
                "accuracy": round(float(right[labels == d].mean()), 4),
                "rejected": round(float(refused[labels == d].mean()), 4),
            }
            for d in range(10)
        },
    }
