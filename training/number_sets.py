"""The number test set: whole numbers drawn on the page's wide pad, and how many are read exactly.

Each number is 2 to 8 digits, MNIST test digits or digits drawn from pen strokes of every
style, at a varying size and baseline, laid out left to right on an 840x280 canvas (the
page's number pad) with one kind of gap between neighbours:

- wide: a clear space, 25-60 % of the digit height;
- narrow: 4-12 % of the digit height, closer than most people leave;
- touching: moved together until the ink of the two digits meets;
- overlapping: 2-6 px further still, so that the strokes cross.

Gaps are measured row by row between the inks, as a reader sees them, so a 4 may tuck under
the bar of a 7. Every canvas goes through the server's own code (recognizer.preprocess,
recognizer.lattice, recognizer.numbers' answer) and the model, and a number counts only if every
digit is right and none is missing or extra. Needs numpy, Pillow and onnxruntime only.

The development set (`--dev`) is made the same way from MNIST *training* digits with
DEV_SEED: the segmentation's weights and thresholds are tuned on it, never on the test set.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.model import DigitModel
from recognizer.numbers import read_number
from recognizer.preprocess import INK_THRESHOLD

NUMBER_CANVAS = (840, 280)
"""The page's pad in number mode, in CSS pixels (width, height): three digit pads wide,
so that six digits fit with room to spare, and as tall as the digit pad."""

GAP_KINDS = ("wide", "narrow", "touching", "overlapping")
LENGTHS = tuple(range(2, 9))
SOURCES = ("mnist", "strokes")
PER_CELL = 25
"""Numbers per (source, gap kind, length): 1,400 numbers, about 7,000 digits."""
SEED = 11
CONFIDENT_WRONG = 0.9
"""A wrong number claimed at this confidence or more is the worst answer: it gets copied."""
DEV_SEED = 1011
"""The development set's seed: the segmentation is tuned on numbers made with it from MNIST
*training* digits (and other stroke-drawn writers), never on the test set."""


def gap_pixels(kind: str, height: float, rng: np.random.Generator) -> int:
    """The horizontal distance between two neighbours' inks for a gap kind (negative: overlap)."""
    if kind == "wide":
        return round(rng.uniform(0.25, 0.6) * height)
    if kind == "narrow":
        return max(3, round(rng.uniform(0.04, 0.12) * height))
    if kind == "touching":
        return 0
    if kind == "overlapping":
        return -int(rng.integers(2, 7))
    raise ValueError(f"unknown gap kind {kind!r}; use one of {GAP_KINDS}")


def mnist_ink(image: np.ndarray, height: int) -> np.ndarray:
    """An MNIST digit (28x28 uint8) cropped to its ink and scaled to `height` pixels, 0..1."""
    rows = np.flatnonzero(image.any(axis=1))
    cols = np.flatnonzero(image.any(axis=0))
    digit = Image.fromarray(image[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1])
    width = max(1, round(digit.width * height / digit.height))
    scaled = digit.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(scaled, dtype=np.float32) / 255.0


def stroke_ink(label: int, style: str, height: int, rng: np.random.Generator) -> np.ndarray:
    """A digit drawn from one pen-stroke template, `height` pixels tall, cropped to its ink."""
    from training.canvas import render_strokes  # imported here: the renderers may move
    from training.strokes import TEMPLATES, writer_glyph

    glyph = writer_glyph(TEMPLATES[label][style], rng)
    points = np.concatenate(glyph)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = height / max(high[1] - low[1], 1e-6)
    pen = rng.uniform(0.08, 0.15) * height
    offset = pen - low * scale
    size = (int((high[0] - low[0]) * scale + 2 * pen) + 1, int(height + 2 * pen) + 1)
    canvas = render_strokes([s * scale + offset for s in glyph], size, pen)
    ink = 1.0 - np.asarray(canvas, dtype=np.float32) / 255.0
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


Box = tuple[int, int, int, int]


def compose(
    inks: list[np.ndarray], tops: list[int], gaps: list[int]
) -> tuple[Image.Image, list[Box]] | None:
    """The digits on a white NUMBER_CANVAS, left to right, each `gaps[i]` pixels (row by row,
    ink to ink) after the one before, and their boxes; None if they do not fit."""
    width, height = NUMBER_CANVAS
    layer = np.zeros((height, width), dtype=np.float32)
    right = np.full(height, -1, dtype=np.int64)  # right-most ink column so far, per row
    x = 0
    boxes: list[Box] = []
    for i, (ink, top) in enumerate(zip(inks, tops, strict=True)):
        h, w = ink.shape
        if top < 0 or top + h > height:
            return None
        strong = ink >= INK_THRESHOLD
        has = strong.any(axis=1)
        left_edge = np.argmax(strong, axis=1)
        if i == 0:
            x = int(first_left(width, inks, gaps))
        else:
            rows = np.flatnonzero(has & (right[top : top + h] >= 0))
            if rows.size:
                x = int((right[top + rows] - left_edge[rows]).max()) + 1 + gaps[i - 1]
            else:
                x = int(right.max()) + 1 + gaps[i - 1]
        if x < 0 or x + w > width:
            return None
        window = layer[top : top + h, x : x + w]
        np.maximum(window, ink, out=window)
        boxes.append((x, top, x + w, top + h))
        right_edge = w - 1 - np.argmax(strong[:, ::-1], axis=1)
        rows = np.flatnonzero(has)
        right[top + rows] = np.maximum(right[top + rows], x + right_edge[rows])
    return Image.fromarray(np.round(255 * (1 - layer)).astype(np.uint8)), boxes


def first_left(width: int, inks: list[np.ndarray], gaps: list[int]) -> int:
    """Where the first digit starts: the number centred on the canvas, as people tend to."""
    total = sum(ink.shape[1] for ink in inks) + sum(gaps)
    return max(8, (width - total) // 2)


def make_number(
    source: str,
    kind: str,
    length: int,
    rng: np.random.Generator,
    mnist: tuple[np.ndarray, np.ndarray],
) -> tuple[Image.Image, str, list[Box]]:
    """One canvas of a number, its digits as a string, and each digit's box."""
    from training.strokes import TEMPLATES  # imported here: the templates may move

    _, canvas_height = NUMBER_CANVAS
    labels = rng.integers(0, 10, length)
    # Long numbers are written smaller so that they fit; a person does the same.
    size = rng.uniform(0.4, 0.8) * canvas_height * min(1.0, 5.0 / length)
    while True:
        heights = [max(24, round(size * rng.uniform(0.85, 1.1))) for _ in labels]
        if source == "mnist":
            x, y = mnist
            picks = [rng.choice(np.flatnonzero(y == label)) for label in labels]
            inks = [mnist_ink(x[p], h) for p, h in zip(picks, heights, strict=True)]
        else:
            inks = [
                stroke_ink(int(label), str(rng.choice(list(TEMPLATES[label]))), h, rng)
                for label, h in zip(labels, heights, strict=True)
            ]
        centre = rng.uniform(0.4, 0.6) * canvas_height
        tops = [round(centre - ink.shape[0] / 2 + rng.uniform(-0.08, 0.08) * size) for ink in inks]
        gaps = [gap_pixels(kind, size, rng) for _ in range(length - 1)]
        drawn = compose(inks, tops, gaps)
        if drawn is not None:
            return drawn[0], "".join(str(d) for d in labels), drawn[1]
        size *= 0.9


def number_cases(
    x_test: np.ndarray, y_test: np.ndarray, per_cell: int = PER_CELL, seed: int = SEED
) -> Iterator[tuple[str, str, int, Image.Image, str, list[Box]]]:
    """(source, gap kind, length, canvas, true number, true boxes) for every test case."""
    rng = np.random.default_rng(seed)
    for source in SOURCES:
        for kind in GAP_KINDS:
            for length in LENGTHS:
                for _ in range(per_cell):
                    canvas, truth, boxes = make_number(source, kind, length, rng, (x_test, y_test))
                    yield source, kind, length, canvas, truth, boxes


def evaluate_numbers(
    model_path: Path,
    x_test: np.ndarray,
    y_test: np.ndarray,
    per_cell: int = PER_CELL,
    gaps: tuple[str, ...] = GAP_KINDS,
    lengths: tuple[int, ...] = LENGTHS,
    seed: int = SEED,
) -> dict:
    """Exact-number accuracy of the model card: overall, by gap kind, by length, by source.

    `gaps` and `lengths` read only part of the set (for quick iteration); every case is
    still made, in order, so each one read is the same canvas as in the full set. With
    MNIST training digits and DEV_SEED it is the development set (see main's --dev)."""
    probabilities = DigitModel.load(Path(model_path)).predict  # exactly what is served

    rows = []
    for source, kind, length, canvas, truth, boxes in number_cases(x_test, y_test, per_cell, seed):
        if kind not in gaps or length not in lengths:
            continue
        answer = read_number(canvas, probabilities, "evaluation")
        read = answer.number
        split = same_split([d.box for d in answer.digits], boxes)
        rows.append((source, kind, length, read == truth, split, read, truth, answer.confidence))
    return number_report(rows)


def same_split(found: list[list[int]], true: list[Box]) -> bool:
    """Whether the digits were split as drawn: as many parts as digits, each part's centre
    within its digit's columns and each digit's centre within its part's."""
    if len(found) != len(true):
        return False
    return all(
        t[0] <= (f[0] + f[2]) / 2 < t[2] and f[0] <= (t[0] + t[2]) / 2 < f[2]
        for f, t in zip(found, true, strict=True)
    )


def number_report(rows: list[tuple]) -> dict:
    """Accuracy tables from (source, kind, length, read right, split right, read, truth,
    confidence) rows: the share of numbers read exactly, of numbers split into the right
    parts (whatever the model then read in them), and of wrong numbers claimed at
    CONFIDENT_WRONG or more (a number not claimed is not wrong, only unread)."""

    def share(selected: list[tuple]) -> dict:
        count = max(len(selected), 1)
        wrong = sum(r[5] is not None and not r[3] and r[7] >= CONFIDENT_WRONG for r in selected)
        return {
            "exact": round(sum(row[3] for row in selected) / count, 4),
            "split": round(sum(row[4] for row in selected) / count, 4),
            "wrong_at_0.9_or_more": round(wrong / count, 4),
            "count": len(selected),
        }

    separated = [r for r in rows if r[1] in ("wide", "narrow") and r[2] <= 6]
    return {
        "exact": share(rows),
        "separated_2_to_6": share(separated),
        "touching_pairs": share([r for r in rows if r[1] == "touching" and r[2] == 2]),
        "by_gap": {kind: share([r for r in rows if r[1] == kind]) for kind in GAP_KINDS},
        "by_length": {str(n): share([r for r in rows if r[2] == n]) for n in LENGTHS},
        "by_gap_and_length": {
            kind: {str(n): share([r for r in rows if r[1] == kind and r[2] == n]) for n in LENGTHS}
            for kind in GAP_KINDS
        },
        "by_source": {s: share([r for r in rows if r[0] == s]) for s in SOURCES},
        "canvas": {"width": NUMBER_CANVAS[0], "height": NUMBER_CANVAS[1]},
        "mistakes": [
            {"source": r[0], "gap": r[1], "read": r[5], "true": r[6]} for r in rows if not r[3]
        ][:20],
    }


def main() -> None:
    """python -m training.number_sets: the number test set's table."""
    import argparse
    import json

    from recognizer.contract import MODEL_FILE
    from training.data import load

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--data", type=Path, help="mnist.npz (else $MNIST_PATH or datasets/)")
    parser.add_argument("--model", type=Path, default=Path("artifacts") / MODEL_FILE)
    parser.add_argument("--per-cell", type=int, default=PER_CELL)
    parser.add_argument("--gaps", nargs="+", choices=GAP_KINDS, default=GAP_KINDS)
    parser.add_argument("--lengths", nargs="+", type=int, choices=LENGTHS, default=LENGTHS)
    parser.add_argument(
        "--dev",
        action="store_true",
        help="the development set (MNIST training digits, DEV_SEED): tune on it, not the test set",
    )
    parser.add_argument("--seed", type=int, help="another seed (default: SEED, or DEV_SEED)")
    args = parser.parse_args()
    data = load(args.data)
    x, y = (data.x_train, data.y_train) if args.dev else (data.x_test, data.y_test)
    seed = args.seed if args.seed is not None else DEV_SEED if args.dev else SEED
    report = evaluate_numbers(
        args.model,
        x,
        y,
        args.per_cell,
        tuple(args.gaps),
        tuple(args.lengths),
        seed,
    )
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
