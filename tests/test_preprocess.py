"""Properties of the canvas-to-input recipe, on real MNIST digits drawn on a 280x280 canvas."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.digits import CANVAS_SIDE, load_sample, place_digit
from serving.preprocess import canvas_to_input

DIGITS, LABELS = load_sample()
digit_index = st.integers(0, len(DIGITS) - 1)


def placed(index: int, side: int = 200, left: int = 40, top: int = 40) -> Image.Image:
    return place_digit(DIGITS[index], side, left, top)


def position(side: int) -> st.SearchStrategy[int]:
    return st.integers(0, CANVAS_SIDE - side)


def shift_tolerant_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference after the best shift of at most one pixel.

    Centring rounds the centre of mass to a whole pixel, so two renderings of one
    digit may legitimately land one pixel apart.
    """
    shifts = ((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    return min(float(np.abs(np.roll(a, shift, axis=(0, 1)) - b).mean()) for shift in shifts)


@settings(max_examples=40, deadline=None)
@given(index=digit_index, side=st.integers(120, 200), data=st.data())
def test_translation_does_not_change_the_input(index, side, data):
    here = placed(index, side, data.draw(position(side)), data.draw(position(side)))
    there = placed(index, side, data.draw(position(side)), data.draw(position(side)))
    np.testing.assert_array_equal(canvas_to_input(here), canvas_to_input(there))


@settings(max_examples=40, deadline=None)
@given(index=digit_index, small=st.integers(110, 180), large=st.integers(200, 280))
def test_scale_barely_changes_the_input(index, small, large):
    a = canvas_to_input(placed(index, small, 10, 20))
    b = canvas_to_input(placed(index, large, 0, 0))
    assert shift_tolerant_difference(a, b) < 0.06


@settings(max_examples=40, deadline=None)
@given(index=digit_index)
def test_polarity_does_not_change_the_input(index):
    light_on_dark = placed(index)
    dark_on_light = Image.eval(light_on_dark, lambda v: 255 - v)
    np.testing.assert_allclose(
        canvas_to_input(light_on_dark), canvas_to_input(dark_on_light), atol=1e-5
    )


@settings(max_examples=30, deadline=None)
@given(index=digit_index)
def test_every_image_mode_gives_the_same_input(index):
    grey = Image.eval(placed(index), lambda v: 255 - v)  # black ink on white, as the page draws
    expected = canvas_to_input(grey)
    opaque = grey.convert("RGBA")
    transparent = Image.merge(
        "RGBA", (*grey.convert("RGB").split(), Image.eval(grey, lambda v: 255 - v))
    )
    for image in (grey.convert("RGB"), opaque, grey.convert("P")):
        np.testing.assert_allclose(canvas_to_input(image), expected, atol=1e-5, err_msg=image.mode)
    # Strokes on a transparent canvas (exported without a fill): the ink is all in the alpha.
    assert shift_tolerant_difference(canvas_to_input(transparent), expected) < 0.08


@settings(max_examples=30, deadline=None)
@given(index=digit_index, side=st.integers(100, 280), data=st.data())
def test_output_looks_like_mnist(index, side, data):
    seen = canvas_to_input(
        placed(index, side, data.draw(position(side)), data.draw(position(side)))
    )
    assert seen.shape == (28, 28) and seen.dtype == np.float32
    assert seen.min() >= 0.0 and seen.max() == 1.0
    rows, cols = np.nonzero(seen)
    assert max(np.ptp(rows), np.ptp(cols)) + 1 <= 20
    total = seen.sum()
    centre = (np.arange(28) @ seen.sum(axis=1) / total, np.arange(28) @ seen.sum(axis=0) / total)
    assert np.allclose(centre, (14.0, 14.0), atol=1.0)


def test_the_recipe_reproduces_mnist_itself():
    """An MNIST digit is already cropped, fitted and centred: the recipe nearly returns it."""
    differences = [
        shift_tolerant_difference(canvas_to_input(Image.fromarray(d)), d / 255.0)
        for d in DIGITS[:200]
    ]
    assert np.median(differences) < 0.03


@settings(max_examples=40, deadline=None)
@given(
    mode=st.sampled_from(["L", "RGB", "RGBA", "P"]),
    level=st.integers(0, 255),
    size=st.tuples(st.integers(1, 300), st.integers(1, 300)),
)
def test_blank_canvas_of_any_colour_and_mode_is_none(mode, level, size):
    colour = {"L": level, "P": level, "RGB": (level,) * 3, "RGBA": (level, level, level, 255)}[mode]
    assert canvas_to_input(Image.new(mode, size, colour)) is None


def test_fully_transparent_canvas_is_blank():
    assert canvas_to_input(Image.new("RGBA", (280, 280), (0, 0, 0, 0))) is None


@settings(max_examples=20, deadline=None)
@given(index=digit_index, mode=st.sampled_from(["P", "1", "I;16"]), transparent=st.booleans())
def test_large_images_in_any_mode_give_the_same_input(index, mode, transparent):
    """Big pictures are box-reduced first, which Pillow cannot do in every mode."""
    paper = Image.eval(placed(index), lambda v: 255 - v).resize((1120, 1120))
    image = paper.convert(mode)
    if transparent and mode == "P":
        image.info["transparency"] = 7  # a colour the picture does not use
    np.testing.assert_allclose(
        canvas_to_input(image), canvas_to_input(image.convert("L")), atol=2e-2
    )
