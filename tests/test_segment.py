"""Splitting a drawing into digits (recognizer.pieces, cuts, crops and lattice) on real
renderings: the geometry's pure functions, and number mode's reading of them with the model."""

from collections import deque
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageDraw

from recognizer.cuts import cut_pieces, has_touching_digits, may_hold_two
from recognizer.lattice import SPILL_PART, lattice
from recognizer.model import DigitModel
from recognizer.numbers import read_number
from recognizer.pieces import (
    TooManyParts,
    components,
    count_digit_groups,
    layout,
    looks_like_several_digits,
)
from recognizer.preprocess import ink_image
from training.canvas import render_strokes
from training.strokes import TEMPLATES, draw_digit, writer_glyph

WIDE = (840, 280)


@pytest.fixture(scope="module")
def read(settings) -> Callable[[Image.Image], list[dict]]:
    """Number mode as the server reads a drawing: each digit's answer, left to right."""
    model = DigitModel.load(settings.model_path)
    return lambda image: read_number(image, model.predict, "test").digits


def ink_of(image: Image.Image) -> np.ndarray:
    return ink_image(np.asarray(image))


def glyph_at(label: int, style: str, x: float, top: float, height: float, rng) -> list:
    """A writer's rendition of a template, `height` px tall, its left edge at x."""
    glyph = writer_glyph(TEMPLATES[label][style], rng)
    points = np.concatenate(glyph)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = height / (high[1] - low[1])
    return [(s - low) * scale + (x, top) for s in glyph]


def draw(strokes: list, pen: float = 14.0, size: tuple[int, int] = WIDE) -> Image.Image:
    return render_strokes(strokes, size, pen)


def rings(centres: list[tuple[float, float]], radius: float, pen: float, size=WIDE):
    """Ellipses (zeros) drawn with a round pen, black on white."""
    image = Image.new("L", size, 255)
    canvas = ImageDraw.Draw(image)
    for x, y in centres:
        box = (x - radius * 0.7, y - radius, x + radius * 0.7, y + radius)
        canvas.ellipse(box, outline=0, width=int(pen))
    return image


def flood_fill_count(mask: np.ndarray) -> int:
    """The number of 8-connected components, the slow obvious way."""
    seen = np.zeros_like(mask)
    count = 0
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        count += 1
        queue = deque([start])
        seen[start] = True
        while queue:
            r, c = queue.popleft()
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    n = (r + dr, c + dc)
                    inside = 0 <= n[0] < mask.shape[0] and 0 <= n[1] < mask.shape[1]
                    if inside and mask[n] and not seen[n]:
                        seen[n] = True
                        queue.append(n)
    return count


def test_components_agree_with_a_flood_fill_on_random_masks():
    """The vectorised run union-find finds exactly the components a flood fill finds."""
    rng = np.random.default_rng(0)
    for density in (0.2, 0.4, 0.55):
        mask = rng.random((40, 60)) < density
        labels, pieces = components(mask)
        assert len(pieces) == flood_fill_count(mask)
        assert ((labels > 0) == mask).all()
        assert sum(piece.mass for piece in pieces) == mask.sum()


@pytest.mark.parametrize("label", sorted(TEMPLATES))
def test_every_style_of_every_digit_stays_one_digit(label):
    """A 1 with a flag and foot, a crossed 7, a 5 with a detached bar, an open 4, a slashed
    0...: drawn by 8 different writers each, never more than one digit on the single-digit
    pad; on the number pad, offered whole as one part, and no piece of it one that the
    geometry would cut of its own accord (the model may still be offered cuts)."""
    rng = np.random.default_rng(label)
    for style in TEMPLATES[label]:
        for _ in range(8):
            single = ink_of(draw_digit(label, style, rng, canvas_size=280))
            assert count_digit_groups(single) == 1, style
            assert not looks_like_several_digits(single), style
            height = rng.uniform(90, 220)
            strokes = glyph_at(label, style, 300, (280 - height) / 2, height, rng)
            wide = ink_of(draw(strokes, pen=height * rng.uniform(0.06, 0.15)))
            drawing = layout(wide)
            reading = lattice(drawing, None)
            assert any((s, e) == (0, reading.nodes - 1) for s, e, _, _ in reading.edges), style
            for piece, cuts in zip(drawing.groups, cut_pieces(drawing, None), strict=True):
                assert cuts.default == {(piece.x0, piece.x1)}, style


def test_a_small_dot_near_a_stroke_joins_it_and_a_far_speck_is_noise(read):
    """A 1 with a dot beside its top (an 'i'-like flourish) is one digit; a speck far from
    any digit is not a digit at all."""
    image = draw([np.array([(300.0, 40.0), (300.0, 240.0)])], pen=14)
    canvas = ImageDraw.Draw(image)
    canvas.ellipse((318, 30, 330, 42), fill=0)  # a dot just right of the top
    assert count_digit_groups(ink_of(image)) == 1
    assert len(read(image)) == 1
    canvas.ellipse((700, 250, 706, 256), fill=0)  # a speck far away
    assert len(read(image)) == 1


def test_strokes_far_apart_are_always_separate_digits(read):
    """Two digits of any style a clear gap apart are two digits, in single and number mode."""
    rng = np.random.default_rng(5)
    for label in TEMPLATES:
        for style in TEMPLATES[label]:
            left = glyph_at(label, style, 120, 60, 160, rng)
            right = glyph_at(1, "bar", 520, 60, 160, rng)
            image = draw(left + right, pen=16)
            assert looks_like_several_digits(ink_of(image)), (label, style)
            assert len(read(image)) == 2, (label, style)


def test_touching_digits_are_split(read):
    """Three zeros whose rings touch are one blob of ink, and three digits."""
    digits = read(rings([(200, 140), (310, 140), (420, 140)], radius=80, pen=14))
    assert len(digits) == 3
    centres = [(d.box[0] + d.box[2]) / 2 for d in digits]
    assert centres == sorted(centres)
    for centre, expected in zip(centres, (200, 310, 420), strict=True):
        assert abs(centre - expected) < 30


def lines(segments: list[tuple[float, float, float, float]], pen: int = 12) -> Image.Image:
    """Straight strokes drawn with a round pen, black on the number pad."""
    image = Image.new("L", WIDE, 255)
    canvas = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in segments:
        canvas.line((x0, y0, x1, y1), fill=0, width=pen, joint="curve")
        for x, y in ((x0, y0), (x1, y1)):
            canvas.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=0)
    return image


def test_leaning_digits_that_touch_are_cut_along_a_path_not_a_straight_line():
    """Two parallel slanted strokes joined by a short bridge: every vertical line through the
    blob slices one stroke or both, but a path that leans with them severs only the bridge.
    Some candidate part must hold the whole left stroke and none of the right one."""
    left, right, bridge = (300, 110, 340, 190), (350, 110, 390, 190), (322, 150, 368, 150)
    ink = ink_of(lines([left, right, bridge]))
    left_mass = ink_of(lines([left])).sum()
    bridge_mass = ink_of(lines([bridge])).sum()
    parts = lattice(layout(ink)).crops
    assert len({part.box for part in parts}) > 1  # it is one blob, offered cut
    clean = [
        part
        for part in parts
        if part.box[3] - part.box[1] >= 85  # the full height of the stroke...
        and 0.95 * left_mass <= part.ink.sum() <= left_mass + bridge_mass  # ...and only it
    ]
    assert clean, [(part.box, part.ink.sum(), left_mass) for part in parts]


def test_digits_read_left_to_right_whatever_their_baseline(read):
    """Order is by position across the pad, not by height or by size."""
    rng = np.random.default_rng(2)
    strokes = []
    for i, (label, top, height) in enumerate([(3, 150, 120), (1, 10, 200), (4, 90, 100)]):
        style = next(iter(TEMPLATES[label]))
        strokes += glyph_at(label, style, 80 + 250 * i, top, height, rng)
    boxes = [d.box for d in read(draw(strokes))]
    assert len(boxes) == 3
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert boxes[1][1] < 20  # the tall 1 starts near the top


def test_boxes_are_in_the_original_pictures_pixels(read):
    """A high-DPI canvas (2x) is reduced for the work, but boxes come back in its pixels."""
    image = rings([(400, 280), (1200, 280)], radius=160, pen=28, size=(1680, 560))
    scale = image.width / ink_of(image).shape[1]
    assert scale > 1
    digits = read(image)
    assert len(digits) == 2
    mask = np.asarray(image) < 128
    for digit, x in zip(digits, (400, 1200), strict=True):
        x0, y0, x1, y1 = digit.box
        cols = np.flatnonzero(mask[:, x - 200 : x + 200].any(axis=0)) + x - 200
        rows = np.flatnonzero(mask[:, x - 200 : x + 200].any(axis=1))
        assert abs(x0 - cols[0]) <= scale + 1 and abs(x1 - (cols[-1] + 1)) <= scale + 1
        assert abs(y0 - rows[0]) <= scale + 1 and abs(y1 - (rows[-1] + 1)) <= scale + 1


def test_a_blank_drawing_has_no_digits(read):
    blank = Image.new("L", WIDE, 255)
    assert layout(ink_of(blank)).groups == []
    assert read(blank) == []
    assert count_digit_groups(ink_of(blank)) == 0


def test_too_many_parts_is_refused_early():
    """Thirty separate strokes are more than a 12-digit limit allows."""
    strokes = [np.array([(20.0 + 27 * i, 60.0), (20.0 + 27 * i, 220.0)]) for i in range(30)]
    ink = ink_of(draw(strokes, pen=8))
    with pytest.raises(TooManyParts) as refused:
        layout(ink, max_parts=12)
    assert not refused.value.wide
    assert len(layout(ink).groups) == 30


def test_a_scribble_wider_than_the_limit_is_refused_before_any_crop_is_read():
    """One long wavy stroke across the pad is one piece, but as wide as 20 digits."""
    x = np.linspace(10, 830, 400)
    wave = np.stack([x, 140 + 25 * np.sin(x / 6)], axis=1)
    ink = ink_of(draw([wave], pen=6))
    with pytest.raises(TooManyParts) as refused:
        layout(ink, max_parts=12)
    assert refused.value.wide


def test_a_narrow_touching_pair_is_offered_cut_only_when_opened():
    """A 1 leaning against a 7 makes one piece narrower than a wide digit: read whole first
    (one crop, so a number written with gaps costs one crop per digit), and offered cut,
    with a part for each digit, when the caller opens it (recognizer.numbers does when the
    model doubts the whole)."""
    seven, one = (250, 110, 330, 110), (330, 110, 285, 250)
    stem = (340, 105, 340, 250)  # its left edge touches the 7's bar
    ink = ink_of(lines([seven, one, stem]))
    drawing = layout(ink)
    assert len(drawing.groups) == 1
    assert may_hold_two(drawing) == [0]
    assert len(lattice(drawing, ()).crops) == 1
    parts = lattice(drawing, [0]).crops
    left = [p for p in parts if p.box[0] < 250 and 325 <= p.box[2] <= 337]
    right = [p for p in parts if p.box[0] >= 310 and p.box[2] >= 345 and p.box[3] - p.box[1] > 140]
    assert left and right, [p.box for p in parts]
    # Never a narrow mark: one stroke is no pair, and stays whole even when opened.
    bar = layout(ink_of(lines([stem])))
    assert may_hold_two(bar) == []


def test_a_part_cut_along_a_path_is_also_offered_with_the_ink_just_past_it():
    """Where two digits overlap, the ink where they cross is both digits': a 0 whose right
    side a bar runs through is cut somewhere inside the crossing, and the part that keeps
    the 0 loses some of its ring. The same part is also offered with the piece's ink up to
    SPILL digit heights past its cut (more of the ring, still none of the bar's free ends),
    and a part narrower than SPILL_PART digit heights is not (its neighbours' ink would
    outweigh its own)."""
    image = Image.new("L", WIDE, 255)
    canvas = ImageDraw.Draw(image)
    canvas.ellipse((251, 70, 349, 210), outline=0, width=12)
    ring = ink_of(image) >= 0.5
    canvas.line((345, 60, 345, 220), fill=0, width=12)
    ink = ink_of(image)
    bar_only = (ink >= 0.5) & ~ring
    drawing = layout(ink)
    reading = lattice(drawing, None)

    def holds(crop) -> tuple[float, float]:
        """How much of the ring and of the bar's own ink a crop holds."""
        mask = np.zeros(ink.shape, dtype=bool)
        x0, y0, x1, y1 = crop.box
        mask[y0:y1, x0:x1] = crop.ink >= 0.5
        return (mask & ring).sum() / ring.sum(), (mask & bar_only).sum() / bar_only.sum()

    tight = {key: holds(c) for key, c in zip(reading.keys, reading.crops, strict=True)}
    spilled = {key[:3]: value for key, value in tight.items() if key[-1] == "spill"}
    assert spilled, list(tight)
    narrowest = min(right - left for _, left, right in spilled)
    assert narrowest >= SPILL_PART * drawing.height
    for key, (ring_share, bar_share) in spilled.items():
        assert ring_share >= tight[key][0]  # never less of the part's own digit...
        assert bar_share <= tight[key][1] + 0.1  # ...and only a little of the neighbour
    best = max(tight[key][0] for key in spilled if tight[key][1] == 0)
    assert max(share for share, bar in spilled.values() if bar < 0.1) > best + 0.05


def test_a_lifted_bar_beside_touching_digits_is_offered_with_the_last_of_them():
    """A 1 touching a 5 whose bar was lifted off and reaches past the 5 to the right: the bar
    is a piece of its own, too far out of the 5's columns to belong to it for sure, and
    joined to the whole run it would be two digits. It is offered with the run's last part,
    from each of the run's cuts: the 5 with its bar, without the 1."""
    one, stem, bar = (300, 80, 300, 220), (312, 80, 312, 140), (350, 64, 420, 64)
    bowl = [(312, 140, 360, 140), (360, 140, 372, 180), (372, 180, 350, 218), (350, 218, 312, 214)]
    drawing = layout(ink_of(lines([one, stem, *bowl, bar])))
    assert len(drawing.groups) == 2  # the 1 and the 5's body, and the bar
    reading = lattice(drawing, None)
    fives = [
        crop.box
        for crop in reading.crops
        if crop.box[0] >= 300 and crop.box[1] <= 60 and crop.box[2] >= 424 and crop.box[3] >= 214
    ]
    assert fives, [crop.box for crop in reading.crops]
    last = reading.nodes - 1
    ends_at_last = {c for _, end, c, _ in reading.edges if end == last}
    assert any(reading.crops[c].box in fives for c in ends_at_last)


def test_only_touching_digits_make_a_number_costly():
    """has_touching_digits decides whether the server reads a number on its event loop
    (digits apart: one crop per piece) or hands it to the inference thread (a piece offered
    cut in the first pass: dozens of candidate parts)."""
    from bench.page_numbers import load
    from recognizer.numbers import number_layout
    from recognizer.preprocess import decode_image
    from training.number_sets import NUMBER_CANVAS, compose, stroke_ink

    apart = [number_layout(decode_image(n["png"], 10**7), 12) for n in load()]
    assert not any(map(has_touching_digits, apart))
    rng = np.random.default_rng(5)
    inks = [stroke_ink(d, "plain" if d == 7 else "oval", 150, rng) for d in (0, 7)]
    drawn = compose(inks, [(NUMBER_CANVAS[1] - i.shape[0]) // 2 for i in inks], [0])
    assert drawn is not None
    assert has_touching_digits(number_layout(drawn[0], 12))
