"""The project's own test suites: digits in the world's school styles, and non-digits.

They are written apart from the training generators (training/strokes.py and
training/nondigits.py) on purpose: other templates, drawn parametrically (a 1's flag at
a random angle and length, a slash through a 0 at a random tilt), other random streams,
and another renderer setting (raw pointer samples at 60 Hz with jitter instead of
smoothed curves, on the page's 280x280 canvas with the page's pen widths). A model that
only memorised the training templates does not pass them. No image of a suite is ever
trained on, and the thresholds in recognizer/contract.py are chosen on them.
"""

from collections.abc import Callable

import numpy as np
from PIL import Image

from recognizer.contract import DIGIT_CLASSES
from recognizer.model import DigitModel
from recognizer.preprocess import canvas_to_input
from training.canvas import CANVAS_SIZE, render_strokes

SUITE_SEED = 777
"""The suites' random stream; the training generators use the training seed."""

PER_STYLE = 150
PER_KIND = 100

Unit = list[np.ndarray]  # strokes in a unit box, x right, y down
Maker = Callable[[np.random.Generator], Unit]


def pts(*xy: float) -> np.ndarray:
    return np.array(xy, dtype=np.float64).reshape(-1, 2)


def ellipse(cx, cy, rx, ry, start, sweep, n=40) -> np.ndarray:
    t = np.radians(start + np.linspace(0, sweep, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def polar(origin: np.ndarray, length: float, degrees: float) -> np.ndarray:
    """The point `length` away from `origin` in the direction `degrees` (0 right, 90 down)."""
    a = np.radians(degrees)
    return origin + length * np.array([np.cos(a), np.sin(a)])


def one_european(r):
    top, foot = pts(0.55, 0.02), pts(0.55, 0.98)
    flag = polar(top[0], r.uniform(0.3, 0.55), 180 - r.uniform(30, 60))
    return [np.vstack([flag, top, foot])]


def one_flag_foot(r):
    strokes = one_european(r)
    return [*strokes, pts(0.55 - r.uniform(0.2, 0.35), 0.98, 0.55 + r.uniform(0.2, 0.35), 0.98)]


def zero_slashed(r):
    tilt = r.uniform(25, 65)
    length = r.uniform(1.05, 1.35)  # often longer than the oval
    centre = np.array([0.5, 0.5])
    a = polar(centre, length / 2, 90 + tilt)
    b = polar(centre, length / 2, -90 + tilt)
    return [
        ellipse(0.5, 0.5, r.uniform(0.25, 0.35), 0.45, -90, r.uniform(355, 375)),
        np.vstack([a, b]),
    ]


def zero_phi(r):
    return [
        ellipse(0.5, 0.5, r.uniform(0.28, 0.38), r.uniform(0.3, 0.38), -90, 365),
        pts(0.5 + r.uniform(-0.04, 0.04), -0.1, 0.5, 1.1),
    ]


def zero_open(r):
    gap = r.uniform(15, 50)
    return [ellipse(0.5, 0.5, 0.32, 0.46, -90 + gap / 2, 360 - gap)]


def seven_crossed(r):
    height = r.uniform(0.42, 0.6)
    stem_x = 0.92 - (0.92 - 0.4) * height
    bar = r.uniform(0.12, 0.25)
    strokes = [
        pts(0.08, 0.05, 0.92, 0.05, 0.4, 0.97),
        pts(stem_x - bar, height, stem_x + bar, height - 0.02),
    ]
    if r.random() < 0.5:  # a serif on the top bar
        strokes[0] = np.vstack([pts(0.08, 0.05 + r.uniform(0.08, 0.18)), strokes[0]])
    return strokes


def seven_plain(r):
    return [pts(0.1, 0.05, 0.9, 0.05, 0.45 + r.uniform(-0.1, 0.1), 0.97)]


def four_one_stroke_open(r):
    bar = r.uniform(0.55, 0.68)
    return [pts(0.25, 0.02, 0.12, bar, 0.9, bar, 0.68, bar - 0.02, 0.68, 0.03, 0.66, 0.98)]


def four_closed(r):
    bar = r.uniform(0.58, 0.7)
    return [pts(0.65, 0.02, 0.08, bar, 0.92, bar), pts(0.66, 0.05, 0.66, 0.98)]


def nine_small_head(r):
    head = r.uniform(0.12, 0.18)
    return [
        ellipse(0.5, head + 0.02, 0.2, head, 0, 370),
        pts(0.7, head, 0.7 + r.uniform(-0.05, 0.05), 0.98),
    ]


def nine_loop_over(r):
    return [np.vstack([ellipse(0.46, 0.28, 0.3, 0.25, -10, 380), pts(0.74, 0.05, 0.74, 0.97)])]


def nine_curled(r):
    return [
        np.vstack(
            [
                ellipse(0.5, 0.27, 0.3, 0.23, 0, 360),
                pts(0.8, 0.3, 0.76, 0.78),
                ellipse(0.56, 0.78, 0.2, 0.16, 0, r.uniform(120, 200)),
            ]
        )
    ]


def two_loop(r):
    return [
        np.vstack(
            [
                ellipse(0.5, 0.3, 0.34, 0.26, 200, 160),
                pts(0.24, 0.82),
                ellipse(0.26, 0.86, 0.1, 0.08, -60, 300),
                pts(0.92, 0.92),
            ]
        )
    ]


def two_plain(r):
    return [np.vstack([ellipse(0.5, 0.3, 0.34, 0.26, 195, 175), pts(0.1, 0.96, 0.92, 0.96)])]


def five_detached(r):
    gap = r.uniform(0.04, 0.12)
    return [
        np.vstack([pts(0.28, 0.12, 0.24, 0.47), ellipse(0.48, 0.69, 0.33, 0.27, -140, 290)]),
        pts(0.3 + gap, 0.04, 0.88, 0.02),
    ]


def three_plain(r):
    return [
        np.vstack(
            [ellipse(0.48, 0.27, 0.32, 0.23, 200, 250), ellipse(0.48, 0.73, 0.36, 0.24, -90, 250)]
        )
    ]


def six_plain(r):
    return [np.vstack([pts(0.72, 0.03, 0.3, 0.45), ellipse(0.5, 0.72, 0.3, 0.25, 180, 365)])]


def eight_plain(r):
    t = np.linspace(0, 2 * np.pi, 50)
    return [np.stack([0.5 + 0.3 * np.sin(2 * t), 0.5 - 0.46 * np.cos(t)], axis=1)]


def one_lambda(r):
    """The Italian school 1: a lead-in from the lower left nearly as long as the stem."""
    stem_x = r.uniform(0.5, 0.7)
    top = pts(stem_x, 0.02)
    start = polar(top[0], r.uniform(0.55, 0.95), 180 - r.uniform(52, 80))
    middle = (start + top[0]) / 2 + r.uniform(-0.04, 0.04, 2)
    return [np.vstack([start, middle, top, pts(stem_x + r.uniform(-0.04, 0.04), 0.98)])]


def seven_curved_crossed(r):
    """A 7 whose stem curves on its way down, crossed by a bar: a second stroke, or the same
    stroke going out to the left from the stem and back across it."""
    sag = r.uniform(0.06, 0.24) * r.choice([-1, 1])  # bowed out like a 2's neck, or in
    t = np.linspace(0, 1, 12)
    stem = np.stack([0.9 - 0.5 * t + sag * np.sin(np.pi * t), 0.04 + 0.94 * t], axis=1)
    cross = int(r.integers(4, 8))
    middle = stem[cross]
    start = pts(0.06, 0.04 + r.uniform(0, 0.1))
    left, right = r.uniform(0.1, 0.25, 2)
    bar = pts(middle[0] - left, middle[1], middle[0] + right, middle[1] - 0.03)
    if r.random() < 0.5:  # the pen never lifts: down the stem, out left, across, on down
        return [np.vstack([start, stem[: cross + 1], bar, stem[cross + 1 :]])]
    return [np.vstack([start, stem]), bar]


def nine_open_curl(r):
    """A 9 whose head is a hook left open low on the left, running on into the stem."""
    rx, ry = r.uniform(0.25, 0.35), r.uniform(0.2, 0.27)
    opening = r.uniform(95, 150)
    head = ellipse(0.48, 0.27, rx, ry, opening, 360 - opening)
    bottom = 0.48 + rx + r.uniform(-0.12, 0.03)
    return [np.vstack([head, pts(0.48 + rx, 0.3, bottom, 0.97)])]


def four_looped(r):
    """A 4 in one stroke whose closed part is a loop: a rounded side from the stem's top down
    to the bar, the bar past the stem, a turn back up to the top, then the stem."""
    x, bar = r.uniform(0.58, 0.7), r.uniform(0.55, 0.68)
    side = ellipse(x, bar, x - r.uniform(0.05, 0.15), bar - 0.03, -90, -90, 16)
    reach = r.uniform(0.18, 0.3)
    back = pts(x + reach, bar, x + reach * 0.5, bar - r.uniform(0.15, 0.3), x + 0.02, 0.06)
    return [np.vstack([side, back, pts(x + r.uniform(-0.03, 0.03), 0.98)])]


STYLES: dict[str, tuple[int, Maker]] = {
    "0 slashed": (0, zero_slashed),
    "0 phi": (0, zero_phi),
    "0 open top": (0, zero_open),
    "1 european flag": (1, one_european),
    "1 flag and foot": (1, one_flag_foot),
    "2 plain": (2, two_plain),
    "2 cursive loop": (2, two_loop),
    "3 plain": (3, three_plain),
    "4 closed": (4, four_closed),
    "4 one-stroke open": (4, four_one_stroke_open),
    "5 detached bar": (5, five_detached),
    "6 plain": (6, six_plain),
    "7 plain": (7, seven_plain),
    "7 crossed": (7, seven_crossed),
    "8 plain": (8, eight_plain),
    "9 small head": (9, nine_small_head),
    "9 loop over top": (9, nine_loop_over),
    "9 curled tail": (9, nine_curled),
    "1 long lead-in": (1, one_lambda),
    "7 one stroke, curved and crossed": (7, seven_curved_crossed),
    "9 open curl head": (9, nine_open_curl),
    "4 one stroke looped": (4, four_looped),
}


def letter(*strokes: tuple[float, ...]) -> Maker:
    return lambda r: [pts(*s) for s in strokes]


def smiley(r):
    return [
        ellipse(0.5, 0.5, 0.46, 0.46, 0, 365),
        ellipse(0.36, 0.38, 0.02, 0.02, 0, 360, 6),
        ellipse(0.64, 0.38, 0.02, 0.02, 0, 360, 6),
        ellipse(0.5, 0.58, 0.24, 0.16, 15, 150),
    ]


def filled_square(r):
    rows = np.linspace(0.05, 0.95, 16)
    return [np.stack([np.where(np.arange(16) % 2 == 0, 0.05, 0.95), rows], axis=1)]


def house(r):
    return [pts(0.1, 0.45, 0.1, 0.97, 0.9, 0.97, 0.9, 0.45, 0.5, 0.03, 0.1, 0.45, 0.9, 0.45)]


def scribble(r):
    return [r.uniform(0, 1, (int(r.integers(8, 20)), 2))]


def digits_side_by_side(count: int) -> Maker:
    """`count` suite digits in a row, each squeezed into its share of the unit box."""

    def make(r: np.random.Generator) -> Unit:
        styles = list(STYLES.values())
        strokes = []
        for i in range(count):
            _, digit = styles[r.integers(len(styles))]
            width = 1.0 / count
            shift = np.array([i * width + r.uniform(0, 0.08), r.uniform(-0.1, 0.1)])
            strokes += [s * np.array([width * 0.85, 1.0]) + shift for s in digit(r)]
        return strokes

    return make


NONDIGITS: dict[str, Maker] = {
    "two digits": digits_side_by_side(2),
    "three digits": digits_side_by_side(3),
    "letter A": letter((0.1, 0.97, 0.5, 0.03, 0.9, 0.97), (0.3, 0.58, 0.7, 0.6)),
    "letter H": letter(
        (0.18, 0.03, 0.18, 0.97), (0.82, 0.03, 0.82, 0.97), (0.18, 0.52, 0.82, 0.48)
    ),
    "letter M": letter((0.1, 0.97, 0.1, 0.03, 0.5, 0.6, 0.9, 0.03, 0.9, 0.97)),
    "letter K": letter((0.2, 0.03, 0.2, 0.97), (0.8, 0.05, 0.2, 0.55, 0.85, 0.97)),
    "letter X": letter((0.12, 0.05, 0.88, 0.95), (0.88, 0.05, 0.12, 0.95)),
    "letter W": letter((0.05, 0.05, 0.28, 0.95, 0.5, 0.4, 0.72, 0.95, 0.95, 0.05)),
    "letter E": letter((0.85, 0.05, 0.2, 0.05, 0.2, 0.95, 0.85, 0.95), (0.2, 0.5, 0.7, 0.5)),
    "letter R": lambda r: [
        pts(0.2, 0.97, 0.2, 0.03),
        ellipse(0.45, 0.27, 0.3, 0.24, -90, 180),
        pts(0.45, 0.51, 0.85, 0.97),
    ],
    "letter P": lambda r: [pts(0.25, 0.97, 0.25, 0.03), ellipse(0.45, 0.27, 0.3, 0.24, -90, 180)],
    "smiley": smiley,
    "filled square": filled_square,
    "house": house,
    "star": letter((0.5, 0.02, 0.22, 0.95, 0.95, 0.38, 0.05, 0.38, 0.78, 0.95, 0.5, 0.02)),
    "scribble": scribble,
}


def pointer_samples(stroke: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """A stroke as a browser reports it: points every few pixels along the path, jittered."""
    seg = np.diff(stroke, axis=0)
    lengths = np.hypot(seg[:, 0], seg[:, 1]) * scale
    along = np.concatenate([[0], np.cumsum(lengths)])
    if along[-1] == 0:
        return stroke * scale
    samples = np.arange(0, along[-1] + 1e-9, rng.uniform(3, 9))
    path = np.stack([np.interp(samples, along, stroke[:, k] * scale) for k in range(2)], axis=1)
    return path + rng.normal(0, 0.6, path.shape)


def render(unit: Unit, rng: np.random.Generator) -> Image.Image:
    """Draw unit-box strokes as a writer on the page would: slanted, sized, placed, pen chosen."""
    shear, angle = rng.uniform(-0.3, 0.2), np.radians(rng.uniform(-10, 10))
    stretch = rng.uniform(0.75, 1.2)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    transform = rotate @ np.array([[stretch, shear], [0.0, 1.0]])
    strokes = [(s - 0.5) @ transform.T + 0.5 + rng.normal(0, 0.015, 2) for s in unit]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    height = rng.uniform(0.35, 0.85) * CANVAS_SIZE
    scale = height / max(high[1] - low[1], 1e-6)
    extent = (high - low) * scale
    offset = rng.uniform(0, 1, 2) * np.maximum(CANVAS_SIZE - extent, 0) - low * scale
    drawn = [pointer_samples(s, rng, scale) + offset for s in strokes]
    return render_strokes(drawn, CANVAS_SIZE, rng.uniform(8, 26))


def style_inputs(
    seed: int = SUITE_SEED, per_style: int = PER_STYLE
) -> dict[str, tuple[int, np.ndarray]]:
    """Each style's label and its preprocessed drawings (fewer for a quick fine-tune)."""
    rng = np.random.default_rng(seed)
    return {
        name: (label, np.stack([canvas_to_input(render(make(rng), rng)) for _ in range(per_style)]))
        for name, (label, make) in STYLES.items()
    }


def dot(rng: np.random.Generator) -> Image.Image:
    """A tap of the pen, or a dash shorter than the pen is wide."""
    start = rng.uniform(40, CANVAS_SIZE - 40, 2)
    pen = rng.uniform(8, 26)
    end = start + rng.uniform(-1, 1, 2) * pen * 0.6
    return render_strokes([np.stack([start, end])], CANVAS_SIZE, pen)


def nondigit_inputs(seed: int = SUITE_SEED + 1, per_kind: int = PER_KIND) -> dict[str, np.ndarray]:
    """Each non-digit kind's preprocessed drawings (fewer for a quick fine-tune)."""
    rng = np.random.default_rng(seed)
    kinds = {
        name: np.stack([canvas_to_input(render(make(rng), rng)) for _ in range(per_kind)])
        for name, make in NONDIGITS.items()
    }
    kinds["dot"] = np.stack([canvas_to_input(dot(rng)) for _ in range(per_kind)])
    return kinds


def style_report(model: DigitModel, answers: Callable) -> dict:
    """Accuracy per style, overall, and the confident mistakes (>= 0.9)."""
    per_style, right, total, confident_wrong = {}, 0, 0, 0
    for name, (label, images) in style_inputs().items():
        probabilities = model.predict(images)
        given = answers(images, probabilities)
        correct = given == label
        sure_wrong = int(((~correct) & (probabilities.max(axis=1) >= 0.9) & (given >= 0)).sum())
        confident_wrong += sure_wrong
        per_style[name] = {
            "accuracy": round(float(correct.mean()), 4),
            "rejected": round(float((given < 0).mean()), 4),
            "wrong_at_0.9_or_more": round(sure_wrong / len(images), 4),
            "read_as": {
                str(d): int(n)
                for d, n in zip(*np.unique(given[~correct], return_counts=True), strict=True)
            },
        }
        right, total = right + int(correct.sum()), total + len(images)
    return {
        "accuracy": round(right / total, 6),
        "count": total,
        "wrong_at_0.9_or_more": round(confident_wrong / total, 6),
        "per_style": per_style,
    }


def nondigit_report(model: DigitModel, answers: Callable) -> dict:
    """How many non-digits are refused, per kind, and how many get a digit at >= 0.6."""
    per_kind, caught, total, confident = {}, 0, 0, 0
    for name, images in nondigit_inputs().items():
        probabilities = model.predict(images)
        given = answers(images, probabilities)
        refused = given < 0
        digit_confidence = probabilities[:, :DIGIT_CLASSES].max(axis=1)
        sure = (~refused) & (digit_confidence >= 0.6)
        per_kind[name] = {
            "caught": round(float(refused.mean()), 4),
            "digit_at_0.6_or_more": round(float(sure.mean()), 4),
            "digit_at_0.9_or_more": round(
                float(((~refused) & (digit_confidence >= 0.9)).mean()), 4
            ),
        }
        caught, total, confident = (
            caught + int(refused.sum()),
            total + len(images),
            confident + int(sure.sum()),
        )
    return {
        "caught_rate": round(caught / total, 6),
        "digit_at_0.6_or_more_rate": round(confident / total, 6),
        "count": total,
        "per_kind": per_kind,
    }
