"""The number pad's own suites: what is not a number, and numbers in European school styles.

Written apart from every training generator (training/strokes.py, training/nondigits.py)
and from the digit suites (training/suites.py): their own glyph templates, drawn as a
person draws them on the page's 840x280 pad with the page's pen (a thirteenth of the pad's
height), and their own random streams. Nothing here is ever trained on.

- **Non-numbers**: letters, words, shapes, scribbles, lines, and letters mixed with digits.
  A drawing passes when number mode claims no number, or claims one below 0.5 confidence.
- **European numbers**: 2-6 digits with gaps, each holding at least one flagged 1 (in one
  stroke or two), a 1 with a base, a crossed 7, a 5 whose bar is lifted off, or a 4 written
  in two strokes. A number passes when it is read exactly.

Each drawing carries the page's stroke hint (each stroke's x-range in the image's pixels),
so both paths of the server are measured: with the hint, and the image alone.
"""

from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np
from PIL import Image

from recognizer.contract import MAX_DIGITS
from recognizer.model import DigitModel
from recognizer.numbers import read_number
from training.canvas import render_strokes
from training.number_sets import CONFIDENT_WRONG

SUITE_SEED = 2718
"""The number suites' random stream: no generator of training data uses it."""

PAD = (840, 280)
"""The page's number pad, in pixels (width, height)."""

PEN = PAD[1] / 13
"""The page's pen: a thirteenth of the pad's height (web/js/pad.js INK_WIDTH)."""

PER_KIND = 100
"""Drawings per kind of non-number, and numbers per European style: 600 and 500 drawings,
so that one drawing is under 0.2 % of either (the wrong-answer budget is 0.3 %)."""

CONFIDENT = 0.5
"""A non-number claimed below this confidence passes: the page shows it as unsure."""

Glyph = tuple[float, list[np.ndarray]]
"""A glyph's width (its height is 1) and its strokes, x right and y down."""


def _poly(*xy: float) -> np.ndarray:
    return np.array(xy, dtype=np.float64).reshape(-1, 2)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, sweep: float) -> np.ndarray:
    t = np.radians(start + np.linspace(0, sweep, max(8, int(abs(sweep) / 8))))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


LETTERS: dict[str, Glyph] = {
    "A": (0.8, [_poly(0.0, 1.0, 0.4, 0.0, 0.8, 1.0), _poly(0.18, 0.6, 0.62, 0.6)]),
    "H": (0.7, [_poly(0.0, 0.0, 0.0, 1.0), _poly(0.7, 0.0, 0.7, 1.0), _poly(0.0, 0.5, 0.7, 0.5)]),
    "M": (0.9, [_poly(0.0, 1.0, 0.05, 0.0, 0.45, 0.7, 0.85, 0.0, 0.9, 1.0)]),
    "N": (0.7, [_poly(0.0, 1.0, 0.0, 0.0, 0.7, 1.0, 0.7, 0.0)]),
    "W": (1.0, [_poly(0.0, 0.0, 0.25, 1.0, 0.5, 0.35, 0.75, 1.0, 1.0, 0.0)]),
    "K": (0.65, [_poly(0.0, 0.0, 0.0, 1.0), _poly(0.65, 0.0, 0.02, 0.55, 0.65, 1.0)]),
    "X": (0.75, [_poly(0.0, 0.0, 0.75, 1.0), _poly(0.75, 0.0, 0.0, 1.0)]),
    "E": (0.6, [_poly(0.6, 0.0, 0.0, 0.0, 0.0, 1.0, 0.6, 1.0), _poly(0.0, 0.5, 0.45, 0.5)]),
    "R": (
        0.65,
        [
            _poly(0.0, 1.0, 0.0, 0.0),
            np.vstack([_arc(0.2, 0.27, 0.4, 0.27, -90, 180), _poly(0.65, 1.0)]),
        ],
    ),
    "V": (0.75, [_poly(0.0, 0.0, 0.37, 1.0, 0.75, 0.0)]),
    "Y": (0.75, [_poly(0.0, 0.0, 0.37, 0.5, 0.75, 0.0), _poly(0.37, 0.5, 0.37, 1.0)]),
    "T": (0.75, [_poly(0.0, 0.0, 0.75, 0.0), _poly(0.37, 0.0, 0.37, 1.0)]),
}
"""Capital letters as block letters, in the strokes most people use."""

DIGITS: dict[str, Glyph] = {
    "0": (0.6, [_arc(0.3, 0.5, 0.3, 0.5, -90, 365)]),
    "1": (0.1, [_poly(0.05, 0.0, 0.05, 1.0)]),
    "2": (0.6, [np.vstack([_arc(0.3, 0.28, 0.3, 0.28, 190, 200), _poly(0.0, 1.0, 0.62, 1.0)])]),
    "3": (
        0.55,
        [np.vstack([_arc(0.25, 0.25, 0.3, 0.25, 200, 250), _arc(0.25, 0.72, 0.3, 0.28, -90, 250)])],
    ),
    "6": (
        0.6,
        [
            np.vstack(
                [_arc(0.45, 0.45, 0.45, 0.45, 250, -70), _arc(0.3, 0.72, 0.28, 0.27, 180, 360)]
            )
        ],
    ),
    "8": (
        0.55,
        [
            np.vstack(
                [_arc(0.27, 0.25, 0.23, 0.25, 90, -360), _arc(0.27, 0.74, 0.27, 0.25, -90, 360)]
            )
        ],
    ),
    "9": (0.55, [np.vstack([_arc(0.27, 0.28, 0.27, 0.27, 0, 360), _poly(0.55, 0.28, 0.5, 1.0)])]),
}
"""Plain digits to put beside the letters and the European digits."""


def _flagged_one(r: np.random.Generator) -> Glyph:
    """A 1 with its flag, in one stroke or lifted off (two strokes); sometimes a base."""
    length, angle = r.uniform(0.25, 0.5), np.radians(r.uniform(20, 60))
    flag = np.array([-length * np.cos(angle), length * np.sin(angle)])
    x = -flag[0]
    strokes = (
        [_poly(0.0, flag[1], x, 0.0, x, 1.0)]
        if r.random() < 0.5
        else [
            _poly(0.0, flag[1], x - r.uniform(0.0, 0.15), r.uniform(0.0, 0.1)),
            _poly(x, 0.0, x, 1.0),
        ]
    )
    return x + 0.05, strokes


def _based_one(r: np.random.Generator) -> Glyph:
    """A 1 with a flag and a base serif (the base a stroke of its own)."""
    _, strokes = _flagged_one(r)
    x = strokes[-1][-1, 0]
    half = r.uniform(0.15, 0.3)
    return x + half, [
        *(s + np.array([half, 0.0]) for s in strokes),
        _poly(x, 1.0, x + 2 * half, 1.0),
    ]


def _crossed_seven(r: np.random.Generator) -> Glyph:
    """A 7 with a bar across its stem."""
    foot = r.uniform(0.15, 0.35)
    at = r.uniform(0.4, 0.6)
    stem = 0.6 + (foot - 0.6) * at
    bar = r.uniform(0.15, 0.25)
    return 0.65, [_poly(0.0, 0.0, 0.6, 0.0, foot, 1.0), _poly(stem - bar, at, stem + bar, at)]


def _lifted_five(r: np.random.Generator) -> Glyph:
    """A 5 whose top bar is drawn last, lifted off the stem."""
    lift = r.uniform(0.03, 0.12)
    body = np.vstack([_poly(0.05, 0.0, 0.02, 0.45), _arc(0.27, 0.7, 0.28, 0.28, 220, 270)])
    return 0.6, [body, _poly(0.05 + lift, -lift, 0.6, -lift)]


def _two_stroke_four(r: np.random.Generator) -> Glyph:
    """A 4 in two strokes: the open angle, then the stem (crossing the bar or not)."""
    bar = r.uniform(0.55, 0.7)
    stem = r.uniform(0.4, 0.5)
    return 0.65, [_poly(0.15, 0.0, 0.0, bar, 0.65, bar), _poly(stem, 0.1, stem, 1.0)]


EUROPEAN: dict[str, tuple[str, Callable[[np.random.Generator], Glyph]]] = {
    "flagged_1": ("1", _flagged_one),
    "based_1": ("1", _based_one),
    "crossed_7": ("7", _crossed_seven),
    "lifted_5": ("5", _lifted_five),
    "two_stroke_4": ("4", _two_stroke_four),
}
"""Each European style: the digit it is, and how it is drawn."""


def _zigzag(r: np.random.Generator) -> Glyph:
    teeth = int(r.integers(3, 7))
    xs = np.arange(2 * teeth + 1) * 0.25
    return xs[-1], [np.stack([xs, np.tile([1.0, 0.0], teeth + 1)[: len(xs)]], axis=1)]


def _loops(r: np.random.Generator) -> Glyph:
    """A row of e-loops in one stroke, as cursive handwriting or a doodle."""
    count = int(r.integers(3, 6))
    t = np.linspace(0, count * 2 * np.pi, count * 40)
    x, y = 0.35 * t / (2 * np.pi) + 0.25 * np.sin(t), 0.5 - 0.45 * np.cos(t)
    return float(x.max() - x.min()), [np.stack([x - x.min(), y], axis=1)]


def _scribble(r: np.random.Generator) -> Glyph:
    points = np.cumsum(r.normal(0, 0.25, (int(r.integers(8, 16)), 2)), axis=0)
    points -= points.min(axis=0)
    points /= max(points[:, 1].max(), 1e-6)
    return float(points[:, 0].max()), [points]


def _line(r: np.random.Generator) -> Glyph:
    """A long line: a minus sign or an underline, a little wavy or tilted; height 1 is its
    own tiny height (see place)."""
    length = r.uniform(2.0, 6.0)
    x = np.linspace(0, length, 20)
    return length, [np.stack([x, 0.5 + 0.5 * np.sin(x * r.uniform(0.5, 2))], axis=1)]


SHAPES: dict[str, Glyph] = {
    "triangle": (0.9, [_poly(0.45, 0.0, 0.9, 1.0, 0.0, 1.0, 0.45, 0.0)]),
    "star": (1.0, [_poly(0.5, 0.0, 0.2, 1.0, 0.95, 0.38, 0.05, 0.38, 0.8, 1.0, 0.5, 0.0)]),
    "smiley": (
        1.0,
        [
            _arc(0.5, 0.5, 0.5, 0.5, 0, 365),
            _poly(0.35, 0.3, 0.35, 0.4),
            _poly(0.65, 0.3, 0.65, 0.4),
            _arc(0.5, 0.55, 0.25, 0.2, 20, 140),
        ],
    ),
    "heart": (
        1.0,
        [
            np.vstack(
                [
                    _arc(0.25, 0.25, 0.25, 0.22, 180, 180),
                    _poly(0.5, 0.25),
                    _arc(0.75, 0.25, 0.25, 0.22, 180, 180),
                    _poly(0.5, 1.0, 0.0, 0.25),
                ]
            )
        ],
    ),
    "arrow": (1.6, [_poly(0.0, 0.5, 1.6, 0.5), _poly(1.3, 0.2, 1.6, 0.5, 1.3, 0.8)]),
    "checkmark": (0.9, [_poly(0.0, 0.55, 0.3, 1.0, 0.9, 0.0)]),
    "plus": (0.8, [_poly(0.0, 0.5, 0.8, 0.5), _poly(0.4, 0.1, 0.4, 0.9)]),
}
"""Shapes a user might try on the pad (no circle or box: those are fair zeros)."""

WORDS = ("HAT", "MAX", "NEW", "TAKE", "WAX", "KEY", "HEY", "TRY", "MANY", "ARK")
MIXED = ("8A1", "2H9", "K0", "3M", "6X0", "A2", "9E8", "1N3")


def _glyphs(text: str) -> list[Glyph]:
    return [LETTERS[c] if c in LETTERS else DIGITS[c] for c in text]


NON_NUMBERS: dict[str, Callable[[np.random.Generator], list[Glyph]]] = {
    "letters": lambda r: [LETTERS[str(r.choice(list(LETTERS)))]],
    "words": lambda r: _glyphs(str(r.choice(WORDS))),
    "shapes": lambda r: [SHAPES[str(r.choice(list(SHAPES)))]],
    "scribbles": lambda r: [(_zigzag, _loops, _scribble)[int(r.integers(3))](r)],
    "lines": lambda r: [_line(r)],
    "mixed": lambda r: _glyphs(str(r.choice(MIXED))),
}
"""Each kind of non-number: a row of glyphs to draw."""


@dataclass(frozen=True)
class Drawing:
    """One suite drawing as the page posts it: the pad, and each stroke's x-range."""

    image: Image.Image
    strokes: list[tuple[int, int]]
    truth: str | None
    kind: str


def _writer(points: np.ndarray, shear: float, r: np.random.Generator) -> np.ndarray:
    """A hand's version of template points: slanted and a little shaky, sampled densely."""
    steps = np.linspace(0, 1, 6, endpoint=False)
    dense = [a + (b - a) * t for a, b in pairwise(points) for t in steps]
    dense = np.array([*dense, points[-1]]) if len(points) > 1 else points
    dense = dense + r.normal(0, 0.012, dense.shape)
    return dense + np.stack([shear * (1 - dense[:, 1]), np.zeros(len(dense))], axis=1)


def place(row: list[Glyph], r: np.random.Generator, kind: str, truth: str | None) -> Drawing:
    """Glyphs written left to right on the pad with a person's gaps, sized to fit."""
    width, height = PAD
    size = r.uniform(0.4, 0.7) * height
    gaps = [r.uniform(0.25, 0.55) for _ in row]  # between the inks: the pen is added
    total = sum(w for w, _ in row) + sum(gaps[:-1])
    size = min(size, (width - len(row) * PEN - 20) / max(total, 1e-6))
    flat = kind == "lines"  # a line is as tall as the pen, not a digit's height
    tall = PEN * 0.5 if flat else size
    x = (width - total * size - (len(row) - 1) * PEN) / 2
    top = height / 2 - tall / 2 + r.uniform(-0.1, 0.1) * height
    shear = r.uniform(-0.2, 0.25)
    strokes = []
    for (glyph_width, glyph), gap in zip(row, gaps, strict=True):
        for stroke in glyph:
            scaled = _writer(stroke, shear, r) * [size, tall] + [x, top]
            strokes.append(scaled)
        x += (glyph_width + gap) * size + PEN
    points = np.concatenate(strokes)
    shift = np.clip(points.min(axis=0), PEN, None) - points.min(axis=0)
    strokes = [s + shift for s in strokes]
    hint = [(round(s[:, 0].min() - PEN / 2), round(s[:, 0].max() + PEN / 2)) for s in strokes]
    return Drawing(render_strokes(strokes, PAD, PEN), hint, truth, kind)


def non_numbers(per_kind: int = PER_KIND, seed: int = SUITE_SEED) -> list[Drawing]:
    """The non-number suite: `per_kind` drawings of each kind."""
    r = np.random.default_rng(seed)
    return [
        place(make(r), r, kind, None) for kind, make in NON_NUMBERS.items() for _ in range(per_kind)
    ]


def european_numbers(per_style: int = PER_KIND, seed: int = SUITE_SEED + 1) -> list[Drawing]:
    """The European suite: numbers of 2-6 digits, each with at least one digit of a style."""
    r = np.random.default_rng(seed)
    drawings = []
    for kind, (digit, make) in EUROPEAN.items():
        for _ in range(per_style):
            length = int(r.integers(2, 7))
            text = [str(r.choice(list(DIGITS))) for _ in range(length)]
            row = [DIGITS[c] for c in text]
            for at in r.choice(length, size=int(r.integers(1, length + 1)), replace=False):
                text[at], row[at] = digit, make(r)
            drawings.append(place(row, r, kind, "".join(text)))
    return drawings


def suite_report(model_path: Path, per_kind: int = PER_KIND) -> dict:
    """Both suites through the server's number mode and the model, with the page's stroke
    hint and on the image alone: the share passed, by kind, and the share of wrong numbers
    claimed at CONFIDENT_WRONG or more (for a non-number, any number claimed is wrong)."""
    run = DigitModel.load(Path(model_path)).predict  # exactly what is served
    max_digits = MAX_DIGITS  # the server's default limit, as a request meets it
    suites = {"non_numbers": non_numbers(per_kind), "european": european_numbers(per_kind)}
    report: dict = {"per_kind": per_kind, "seed": SUITE_SEED}
    for name, drawings in suites.items():
        for path, hinted in (("with_hint", True), ("image_alone", False)):
            rows = []
            for drawing in drawings:
                strokes = [(float(a), float(b)) for a, b in drawing.strokes] if hinted else None
                answer = read_number(drawing.image, run, "evaluation", max_digits, strokes)
                rows.append((drawing.kind, drawing.truth, answer.number, answer.confidence))
            report.setdefault(name, {})[path] = _shares(rows)
    return report


def _shares(rows: list[tuple[str, str | None, str | None, float]]) -> dict:
    """Passed and confidently wrong, overall and by kind, from (kind, truth, read, confidence)."""

    def passed(row: tuple) -> bool:
        _, truth, read, confidence = row
        return read == truth if truth is not None else read is None or confidence < CONFIDENT

    def wrong(row: tuple) -> bool:
        _, truth, read, confidence = row
        return read is not None and read != truth and confidence >= CONFIDENT_WRONG

    def share(selected: list[tuple]) -> dict:
        count = max(len(selected), 1)
        return {
            "passed": round(sum(map(passed, selected)) / count, 4),
            "wrong_at_0.9_or_more": round(sum(map(wrong, selected)) / count, 4),
            "count": len(selected),
        }

    kinds = sorted({row[0] for row in rows})
    return {
        **share(rows),
        "by_kind": {kind: share([row for row in rows if row[0] == kind]) for kind in kinds},
        "misses": [
            {"kind": kind, "true": truth, "read": read, "confidence": confidence}
            for kind, truth, read, confidence in rows
            if not passed((kind, truth, read, confidence))
        ][:20],
    }


def main() -> None:
    """python -m training.number_suites: both number suites' figures, as the model card has them."""
    import argparse
    import json

    from recognizer.contract import MODEL_FILE

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--model", type=Path, default=Path("artifacts") / MODEL_FILE)
    parser.add_argument("--per-kind", type=int, default=PER_KIND)
    args = parser.parse_args()
    print(json.dumps(suite_report(args.model, args.per_kind), indent=1))


if __name__ == "__main__":
    main()
