"""Digits drawn from pen strokes, the way people draw them on a canvas.

MNIST's writers were American students and Census employees: almost no 1 has a flag
and a foot, few 7s are crossed, and a 9's tail is usually curved. Users elsewhere draw
those variants every day, so training mixes in digits rendered from stroke templates
of every common style, each randomly slanted, rotated, stretched, wobbled and drawn
with a random pen width, and then put through the server's own preprocessing.

This module needs only numpy and Pillow, so tests and benchmarks can draw with it too.
"""

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

from serving.preprocess import canvas_to_input

Stroke = np.ndarray  # (n, 2) points, x to the right and y down
Glyph = list[Stroke]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> Stroke:
    """Points on an elliptical arc; angles in degrees, 0 = right, 90 = down."""
    steps = max(8, int(abs(end - start) / 10))
    t = np.radians(np.linspace(start, end, steps))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def line(*points: tuple[float, float]) -> Stroke:
    return np.array(points, dtype=np.float64)


def joined(*parts: Stroke) -> Stroke:
    return np.concatenate(parts)


# Each style is one way of writing the digit, in a unit box (x, y in 0..1, y down).
TEMPLATES: dict[int, dict[str, Glyph]] = {
    0: {
        "oval": [arc(0.5, 0.5, 0.32, 0.46, -90, 275)],
        "round": [arc(0.5, 0.5, 0.42, 0.46, -100, 265)],
    },
    1: {
        "bar": [line((0.5, 0.03), (0.5, 0.97))],
        "flag": [line((0.25, 0.3), (0.55, 0.03), (0.55, 0.97))],
        "flag and foot": [
            line((0.22, 0.28), (0.55, 0.03), (0.55, 0.95)),
            line((0.2, 0.96), (0.88, 0.96)),
        ],
    },
    2: {
        "curved": [joined(arc(0.5, 0.3, 0.34, 0.26, 195, 375), line((0.12, 0.95), (0.9, 0.95)))],
        "looped": [
            joined(
                arc(0.5, 0.3, 0.34, 0.26, 195, 370),
                line((0.2, 0.85)),
                arc(0.25, 0.88, 0.08, 0.07, -60, 250),
                line((0.9, 0.93)),
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
    },
    4: {
        "closed": [
            line((0.62, 0.03), (0.08, 0.66), (0.92, 0.66)),
            line((0.64, 0.03), (0.64, 0.97)),
        ],
        "open": [line((0.18, 0.03), (0.12, 0.62), (0.9, 0.62)), line((0.66, 0.03), (0.66, 0.97))],
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
    },
    6: {
        "looped": [
            joined(arc(0.72, 0.55, 0.55, 0.52, -100, -180), arc(0.5, 0.72, 0.33, 0.25, 180, 535))
        ],
    },
    7: {
        "plain": [line((0.08, 0.04), (0.92, 0.04), (0.38, 0.97))],
        "crossbar": [line((0.08, 0.04), (0.92, 0.04), (0.38, 0.97)), line((0.4, 0.5), (0.88, 0.5))],
        "hook and crossbar": [
            line((0.08, 0.2), (0.1, 0.04), (0.92, 0.04), (0.4, 0.97)),
            line((0.42, 0.52), (0.9, 0.52)),
        ],
    },
    8: {
        "one stroke": [
            np.stack(
                [
                    0.5 + 0.34 * np.sin(2 * (t := np.linspace(0, 2 * np.pi, 48))),
                    0.5 - 0.46 * np.cos(t),
                ],
                axis=1,
            )
        ],
        "two loops": [arc(0.5, 0.26, 0.26, 0.22, 0, 360), arc(0.5, 0.72, 0.34, 0.25, -90, 270)],
    },
    9: {
        "straight tail": [arc(0.45, 0.28, 0.32, 0.25, 0, 360), line((0.77, 0.25), (0.77, 0.97))],
        "slanted tail": [arc(0.5, 0.28, 0.32, 0.25, 0, 360), line((0.82, 0.28), (0.55, 0.97))],
        "curved tail": [
            joined(arc(0.5, 0.28, 0.32, 0.25, 0, 360), line((0.8, 0.6), (0.6, 0.9), (0.3, 0.93)))
        ],
    },
}


def smooth(points: Stroke, samples_per_segment: int = 6) -> Stroke:
    """Catmull-Rom through the points: a hand moves in curves, not in polygons."""
    if len(points) < 3:
        return points
    padded = np.concatenate([points[:1], points, points[-1:]])
    p0, p1, p2, p3 = (padded[i : len(padded) - 3 + i, None, :] for i in range(4))
    t = np.linspace(0, 1, samples_per_segment, endpoint=False)[None, :, None]
    curve = 0.5 * (
        2 * p1
        + (p2 - p0) * t
        + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
        + (3 * p1 - p0 - 3 * p2 + p3) * t**3
    )
    return np.concatenate([curve.reshape(-1, 2), points[-1:]])


def wobble(stroke: Stroke, rng: np.random.Generator, amount: float = 0.03) -> Stroke:
    """A slow drift along the stroke, as a hand has, rather than per-point jitter."""
    knots = rng.normal(0, amount, (4, 2))
    along = np.linspace(0, 3, len(stroke))
    drift = np.stack([np.interp(along, np.arange(4), knots[:, k]) for k in range(2)], axis=1)
    return stroke + drift


def render_strokes(strokes: Sequence[Stroke], size: int, width: float) -> Image.Image:
    """Black round-capped strokes on a white square canvas, as a browser canvas draws them."""
    canvas = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(canvas)
    radius = width / 2
    for stroke in strokes:
        points = [tuple(p) for p in np.asarray(stroke, dtype=np.float64)]
        if len(points) > 1:
            draw.line(points, fill=0, width=max(1, round(width)), joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=0)
    return canvas


def random_glyph(template: Glyph, rng: np.random.Generator) -> Glyph:
    """One person's rendition of a style: wobbled, slanted, rotated and stretched."""
    angle = np.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.3, 0.15)  # most people slant forward
    stretch = rng.uniform(0.75, 1.2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    transform = rotation @ np.array([[stretch, shear], [0.0, 1.0]])
    glyph = []
    for stroke in template:
        glyph.append(smooth((wobble(stroke, rng) - 0.5) @ transform.T + 0.5))
    return glyph


def place_on_canvas(glyph: Glyph, canvas_size: int, height: float, rng: np.random.Generator):
    """Scale a unit-box glyph to `height` pixels at a random spot that keeps it on the canvas."""
    points = np.concatenate(glyph)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = height / max(high[1] - low[1], 1e-6)
    extent = (high - low) * scale
    room = np.maximum(canvas_size - extent, 0)
    offset = rng.uniform(0, 1, 2) * room - low * scale
    return [stroke * scale + offset for stroke in glyph]


def draw_digit(label: int, style: str, rng: np.random.Generator, canvas_size: int = 140):
    """A canvas image of one digit in one style, with a random size and pen width."""
    glyph = random_glyph(TEMPLATES[label][style], rng)
    height = rng.uniform(0.45, 0.9) * canvas_size
    width = rng.uniform(0.07, 0.16) * height
    return render_strokes(place_on_canvas(glyph, canvas_size, height, rng), canvas_size, width)


def synthetic_digits(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`per_class` stroke-drawn digits of each class, styles equally likely, preprocessed
    exactly as the server would: (N, 28, 28) float32 and (N,) uint8."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, styles in TEMPLATES.items():
        names = list(styles)
        for i in range(per_class):
            digit = canvas_to_input(draw_digit(label, names[i % len(names)], rng))
            if digit is not None:
                images.append(digit)
                labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.uint8)
