"""Digits drawn from pen strokes in the world's school styles: the training generator.

MNIST's writers were American students and Census employees: almost no 1 has a long
flag, few 7s are crossed, zeros are never slashed, and a 9's tail is usually curved.
Users elsewhere draw those variants every day, so training mixes in digits rendered
from stroke templates of every common style. Each is drawn by a simulated writer who
has a slant, proportions, a pen width, a shaky or steady hand, and who overshoots or
lifts the pen a little early, and is then put through the server's own preprocessing.

The evaluation suites (training/suites.py) are written separately, with other templates,
other random streams and other renderer settings, so they measure generalisation and not
memory of these shapes. This module needs only numpy and Pillow.
"""

from collections.abc import Callable

import numpy as np
from PIL import Image

from recognizer.preprocess import canvas_to_input
from training.canvas import Stroke, render_strokes, smooth

Glyph = list[Stroke]
Style = Glyph | Callable[[np.random.Generator], Glyph]
"""A fixed template, or a function that draws a fresh one (a flag at a random angle)."""


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points on an elliptical arc; angles in degrees, 0 = right, 90 = down."""
    steps = max(8, int(abs(end - start) / 10))
    t = np.radians(np.linspace(start, end, steps))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def line(*points: tuple[float, float]) -> Stroke:
    return np.array(points, dtype=np.float64)


def joined(*parts: Stroke) -> Stroke:
    return np.concatenate(parts)


def european_one(
    foot: bool,
    degrees: tuple[float, float] = (25, 65),
    length: tuple[float, float] = (0.2, 0.6),
    lifted: float = 0.0,
) -> Callable[[np.random.Generator], Glyph]:
    """A 1 whose flag comes up from the lower left at 25-65 degrees, 0.2-0.6 of the stem long,
    as it is taught across continental Europe; with or without a foot. With probability
    `lifted` the flag is a stroke of its own, ending short of the stem's top: written fast,
    the pen leaves the paper between the two."""

    def draw(rng: np.random.Generator) -> Glyph:
        top = np.array([0.56, 0.03])
        angle = np.radians(rng.uniform(*degrees))
        flag = top + rng.uniform(*length) * np.array([-np.cos(angle), np.sin(angle)])
        if rng.random() < lifted:
            short = top - rng.uniform(0.0, 0.12) * (top - flag) / np.linalg.norm(top - flag)
            strokes = [
                np.stack([flag, short + np.array([0.0, rng.uniform(0.0, 0.06)])]),
                line(top, (0.56, 0.97)),
            ]
        else:
            strokes = [np.stack([flag, top, [0.56, 0.97]])]
        if foot:
            half = rng.uniform(0.18, 0.35)
            strokes.append(line((0.56 - half, 0.97), (0.56 + half, 0.97)))
        return strokes

    return draw


def slashed_zero(rx_low: float, rx_high: float) -> Callable[[np.random.Generator], Glyph]:
    """An oval crossed by a slash at 15-60 degrees from the vertical (or near 0: phi), often
    longer than the oval."""

    def draw(rng: np.random.Generator) -> Glyph:
        ry = rng.uniform(0.36, 0.46)
        tilt = np.radians(rng.uniform(15, 60) if rng.random() < 0.8 else rng.uniform(0, 8))
        half = ry * rng.uniform(0.95, 1.45)
        reach = half * np.array([np.sin(tilt), -np.cos(tilt)])
        centre = np.array([0.5, 0.5])
        return [
            arc(0.5, 0.5, rng.uniform(rx_low, rx_high), ry, -90, rng.uniform(350, 380)),
            np.stack([centre + reach, centre - reach]),
        ]

    return draw


def figure_eight() -> Stroke:
    t = np.linspace(0, 2 * np.pi, 48)
    return np.stack([0.5 + 0.34 * np.sin(2 * t), 0.5 - 0.46 * np.cos(t)], axis=1)


def lead_in_one(rng: np.random.Generator) -> Glyph:
    """A 1 whose lead-in climbs from the lower left nearly as long as the stem, slightly bowed:
    the Italian school 1 that looks like a capital lambda."""
    top, foot = np.array([0.62, 0.02]), np.array([0.62, 0.98])
    angle = np.radians(rng.uniform(48, 78))
    start = top + rng.uniform(0.6, 1.0) * np.array([-np.cos(angle), np.sin(angle)])
    bow = rng.uniform(-0.06, 0.06) * np.array([np.sin(angle), np.cos(angle)])
    return [np.stack([start, (start + top) / 2 + bow, top, foot])]


def curved_crossed_seven(rng: np.random.Generator) -> Glyph:
    """A 7 whose stem bends as it falls, crossed by a bar near its middle: a second stroke,
    or the same one, out to the left from the stem and back across it."""
    bend = rng.uniform(0.04, 0.2) * rng.choice([-1, 1])  # out like a 2's neck, or in
    stem = [(0.9, 0.05), (0.7 + bend, 0.4), (0.52 + bend, 0.7), (0.42, 0.97)]
    start = (0.08, 0.1 + rng.uniform(-0.05, 0.05))
    height = rng.uniform(0.4, 0.7)
    x = np.interp(height, [p[1] for p in stem], [p[0] for p in stem])
    left, right = rng.uniform(0.12, 0.28), rng.uniform(0.12, 0.28)
    bar = ((x - left, height + 0.02), (x + right, height - 0.02))
    if rng.random() < 0.5:  # without lifting the pen: out to the left, across, on down
        above = [p for p in stem if p[1] < height]
        return [line(start, *above, (x, height), *bar, (x, height), *stem[len(above) :])]
    return [line(start, *stem), line(*bar)]


def open_curl_nine(rng: np.random.Generator) -> Glyph:
    """A 9 whose head is an open hook flowing into the stem: the pen starts low on the head's
    left (sometimes curled in), goes over the top and down, and never closes the head."""
    start = rng.uniform(90, 155)
    rx, ry = rng.uniform(0.24, 0.34), rng.uniform(0.18, 0.26)
    head = arc(0.5, 0.28, rx, ry, start, 360)
    curl = np.linspace(rng.uniform(0.55, 1.0), 1.0, len(head))[:, None]
    head = (head - [0.5, 0.28]) * curl + [0.5, 0.28]
    right = 0.5 + rx
    if rng.random() < 0.5:  # straight on down, upright or slanted either way
        tail = line((right, 0.3), (right + rng.uniform(-0.16, 0.04), 0.97))
    else:
        tail = line((right, 0.3), (right - 0.04, 0.75), (right - 0.15, 0.93), (right - 0.32, 0.95))
    return [joined(head, tail)]


def looped_four(rng: np.random.Generator) -> Glyph:
    """A 4 in one stroke whose closed part is a loop: down to the left from the stem's top,
    along the bar past the stem, back up to the top, and down the stem."""
    stem = rng.uniform(0.55, 0.7)
    bar = rng.uniform(0.52, 0.68)
    reach = stem + rng.uniform(0.12, 0.4)
    if rng.random() < 0.5:  # a straight side with a corner at the bar
        side = line((stem, 0.03), (0.12, bar - 0.04), (0.2, bar + 0.02))
    else:  # a round side: the loop bulges out to the left and turns into the bar
        side = arc(stem, bar, stem - rng.uniform(0.04, 0.16), bar - 0.03, -90, -180)
    rise = rng.uniform(0.12, 0.32)
    back = line((reach, bar), ((reach + stem) / 2, bar - rise), (stem + 0.02, 0.05), (stem, 0.98))
    return [joined(side, back)]


# Each style is one way of writing the digit, in a unit box (x, y in 0..1, y down).
TEMPLATES: dict[int, dict[str, Style]] = {
    0: {
        "oval": [arc(0.5, 0.5, 0.32, 0.46, -90, 275)],
        "round": [arc(0.5, 0.5, 0.42, 0.46, -100, 265)],
        "open top": [arc(0.5, 0.52, 0.34, 0.45, -70, 235)],
        "slashed narrow": slashed_zero(0.2, 0.32),
        "slashed round": slashed_zero(0.3, 0.42),
        "phi": [arc(0.5, 0.5, 0.32, 0.36, -90, 275), line((0.5, -0.05), (0.5, 1.05))],
    },
    1: {
        "bar": [line((0.5, 0.03), (0.5, 0.97))],
        "short flag": [line((0.3, 0.22), (0.55, 0.03), (0.55, 0.97))],
        "european flag": european_one(foot=False),
        "european flag and foot": european_one(foot=True),
        # The long, low flag is the 1 that a ten-way reader calls 7: more of it.
        "european long low flag": european_one(foot=False, degrees=(22, 45), length=(0.4, 0.65)),
        # A flat flag on a straight stem is a 1 where 7s are crossed: the uncrossed 7's stem
        # slants and its bar is longer.
        "european flat flag": european_one(
            foot=False, degrees=(10, 25), length=(0.25, 0.4), lifted=0.5
        ),
        "european lifted flag": european_one(foot=False, lifted=1.0),
        "flag and foot": [
            line((0.22, 0.3), (0.55, 0.03), (0.55, 0.95)),
            line((0.22, 0.96), (0.88, 0.96)),
        ],
        "long lead-in": lead_in_one,
        "long straight lead-in": european_one(foot=False, degrees=(50, 75), length=(0.65, 0.95)),
    },
    2: {
        "curved": [joined(arc(0.5, 0.3, 0.34, 0.26, 195, 375), line((0.12, 0.95), (0.9, 0.95)))],
        "looped": [
            joined(
                arc(0.5, 0.3, 0.34, 0.26, 195, 370),
                line((0.2, 0.82)),
                arc(0.26, 0.86, 0.1, 0.08, -70, 250),
                line((0.9, 0.92)),
            )
        ],
        "z-like": [joined(arc(0.5, 0.22, 0.32, 0.18, 200, 360), line((0.1, 0.95), (0.92, 0.95)))],
        "wavy base": [
            joined(
                arc(0.5, 0.3, 0.34, 0.26, 195, 375),
                line((0.12, 0.92), (0.35, 0.85), (0.6, 0.95), (0.92, 0.9)),
            )
        ],
    },
    3: {
        "round": [
            joined(arc(0.48, 0.27, 0.32, 0.23, 200, 450), arc(0.48, 0.73, 0.36, 0.24, -90, 160))
        ],
        "flat top": [
            joined(
                line((0.15, 0.04), (0.82, 0.04), (0.42, 0.45)),
                arc(0.48, 0.7, 0.36, 0.26, -100, 160),
            )
        ],
        "cusped": [
            joined(
                arc(0.45, 0.25, 0.3, 0.22, 210, 440),
                line((0.4, 0.5)),
                arc(0.45, 0.74, 0.34, 0.23, -80, 165),
            )
        ],
    },
    4: {
        "closed": [
            line((0.62, 0.03), (0.08, 0.66), (0.92, 0.66)),
            line((0.64, 0.03), (0.64, 0.97)),
        ],
        "open": [line((0.18, 0.03), (0.12, 0.62), (0.9, 0.62)), line((0.66, 0.03), (0.66, 0.97))],
        "one stroke open": [
            line((0.2, 0.02), (0.12, 0.6), (0.92, 0.6), (0.66, 0.6), (0.7, 0.05), (0.66, 0.98))
        ],
        "hooked": [
            joined(arc(0.3, 0.12, 0.12, 0.1, 200, 100), line((0.14, 0.62), (0.92, 0.6))),
            line((0.68, 0.25), (0.66, 0.98)),
        ],
        "short stem top": [
            line((0.55, 0.03), (0.1, 0.62), (0.92, 0.62)),
            line((0.66, 0.35), (0.66, 0.98)),
        ],
        "one stroke looped": looped_four,
    },
    5: {
        "classic": [
            joined(line((0.28, 0.04), (0.22, 0.47)), arc(0.48, 0.69, 0.34, 0.27, -145, 155)),
            line((0.28, 0.04), (0.85, 0.04)),
        ],
        "one stroke": [
            joined(
                line((0.85, 0.04), (0.28, 0.04), (0.22, 0.47)),
                arc(0.48, 0.69, 0.34, 0.27, -145, 155),
            )
        ],
        "detached bar": [
            joined(line((0.26, 0.1), (0.22, 0.47)), arc(0.48, 0.69, 0.34, 0.27, -145, 155)),
            line((0.4, 0.02), (0.9, 0.0)),
        ],
    },
    6: {
        "looped": [
            joined(arc(0.72, 0.55, 0.55, 0.52, -100, -180), arc(0.5, 0.72, 0.33, 0.25, 180, 535))
        ],
        "straight stem": [
            joined(line((0.7, 0.02), (0.22, 0.65)), arc(0.5, 0.72, 0.3, 0.24, 170, 530))
        ],
        "open loop": [
            joined(arc(0.72, 0.55, 0.55, 0.52, -100, -180), arc(0.5, 0.72, 0.33, 0.25, 180, 470))
        ],
    },
    7: {
        "plain": [line((0.08, 0.04), (0.92, 0.04), (0.38, 0.97))],
        "crossbar": [line((0.08, 0.04), (0.92, 0.04), (0.38, 0.97)), line((0.4, 0.5), (0.88, 0.5))],
        "short crossbar": [
            line((0.08, 0.04), (0.92, 0.04), (0.4, 0.97)),
            line((0.52, 0.52), (0.78, 0.5)),
        ],
        "serif and crossbar": [
            line((0.08, 0.2), (0.1, 0.04), (0.92, 0.04), (0.4, 0.97)),
            line((0.42, 0.52), (0.9, 0.52)),
        ],
        "curled top": [
            joined(arc(0.16, 0.14, 0.08, 0.1, 150, 300), line((0.92, 0.06), (0.42, 0.97)))
        ],
        "curved stem": [line((0.08, 0.06), (0.92, 0.04), (0.74, 0.36), (0.6, 0.66), (0.54, 0.97))],
        "curved stem crossed": curved_crossed_seven,
    },
    8: {
        "one stroke": [figure_eight()],
        "two loops": [arc(0.5, 0.26, 0.26, 0.22, 0, 360), arc(0.5, 0.72, 0.34, 0.25, -90, 270)],
        "crossed": [
            joined(line((0.78, 0.1), (0.22, 0.85))),
            joined(arc(0.5, 0.26, 0.28, 0.22, 150, 390), arc(0.5, 0.74, 0.32, 0.23, -30, 210)),
        ],
    },
    9: {
        "straight tail": [arc(0.45, 0.28, 0.32, 0.25, 0, 360), line((0.77, 0.25), (0.77, 0.97))],
        "slanted tail": [arc(0.5, 0.28, 0.32, 0.25, 0, 360), line((0.82, 0.28), (0.55, 0.97))],
        "curved tail": [
            joined(arc(0.5, 0.28, 0.32, 0.25, 0, 360), line((0.8, 0.6), (0.6, 0.9), (0.3, 0.93)))
        ],
        "small head": [arc(0.52, 0.16, 0.22, 0.15, 0, 360), line((0.74, 0.14), (0.72, 0.98))],
        "loop over top": [
            joined(arc(0.48, 0.3, 0.3, 0.26, 20, 400), line((0.78, 0.05), (0.76, 0.97)))
        ],
        "curled tail": [
            joined(
                arc(0.48, 0.27, 0.3, 0.23, 0, 360),
                line((0.78, 0.3), (0.74, 0.8)),
                arc(0.55, 0.8, 0.19, 0.15, 0, 160),
            )
        ],
        "open curl head": open_curl_nine,
    },
}


def shake(stroke: Stroke, rng: np.random.Generator, drift: float, tremor: float) -> Stroke:
    """A slow drift along the stroke, as every hand has, plus a fine tremor for shaky ones."""
    knots = rng.normal(0, drift, (4, 2))
    along = np.linspace(0, 3, len(stroke))
    slow = np.stack([np.interp(along, np.arange(4), knots[:, k]) for k in range(2)], axis=1)
    return stroke + slow + rng.normal(0, tremor, stroke.shape)


def overshoot(stroke: Stroke, rng: np.random.Generator, amount: float) -> Stroke:
    """Carry a stroke on past its end (or stop short), as a pen in a hurry does."""
    if len(stroke) < 2:
        return stroke
    direction = stroke[-1] - stroke[-2]
    norm = np.linalg.norm(direction)
    if norm < 1e-9:
        return stroke
    extra = rng.uniform(-0.5, 1.0) * amount
    return np.concatenate([stroke, stroke[-1:] + direction / norm * extra])


def writer_glyph(style: Style, rng: np.random.Generator, steadiness: float = 1.0) -> Glyph:
    """One writer's rendition of a style: slanted, rotated, stretched, shaken, overshot, and
    with each detached stroke placed a little off where the template puts it."""
    template = style(rng) if callable(style) else style
    angle = np.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.35, 0.15)  # most people slant forward
    stretch = rng.uniform(0.7, 1.25)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    transform = rotation @ np.array([[stretch, shear], [0.0, 1.0]])
    tremor = rng.uniform(0, 0.008) / steadiness
    glyph = []
    for stroke in template:
        moved = stroke + (rng.normal(0, 0.025, 2) if len(template) > 1 else 0)
        moved = overshoot(shake(moved, rng, 0.03, tremor), rng, 0.06)
        glyph.append(smooth((moved - 0.5) @ transform.T + 0.5))
    return glyph


def place_on_canvas(
    glyph: Glyph, canvas_size: int, height: float, rng: np.random.Generator
) -> Glyph:
    """Scale a unit-box glyph to `height` pixels at a random spot that keeps it on the canvas."""
    points = np.concatenate(glyph)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = height / max(high[1] - low[1], 1e-6)
    extent = (high - low) * scale
    room = np.maximum(canvas_size - extent, 0)
    offset = rng.uniform(0, 1, 2) * room - low * scale
    return [stroke * scale + offset for stroke in glyph]


def draw_glyph(template: Style, rng: np.random.Generator, canvas_size: int = 140) -> Image.Image:
    """A canvas image of one style by a random writer, with a random size and pen width."""
    glyph = writer_glyph(template, rng)
    height = rng.uniform(0.45, 0.9) * canvas_size
    width = rng.uniform(0.06, 0.18) * height
    return render_strokes(place_on_canvas(glyph, canvas_size, height, rng), canvas_size, width)


def draw_digit(label: int, style: str, rng: np.random.Generator, canvas_size: int = 140):
    """A canvas image of one digit in one style."""
    return draw_glyph(TEMPLATES[label][style], rng, canvas_size)


def generate(
    kinds: dict[int, dict[str, Style]],
    per_label: int,
    seed: int,
    draw: Callable[[Style, np.random.Generator], Image.Image] = draw_glyph,
) -> tuple[np.ndarray, np.ndarray]:
    """`per_label` drawings of each label, its styles taking turns, preprocessed exactly as the
    server would: (N, 28, 28) float32 and (N,) uint8."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, styles in kinds.items():
        templates = list(styles.values())
        for i in range(per_label):
            digit = canvas_to_input(draw(templates[i % len(templates)], rng))
            if digit is not None:
                images.append(digit)
                labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.uint8)


def synthetic_digits(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` stroke-drawn digits of each class, styles equally likely."""
    return generate(TEMPLATES, per_class, seed)
