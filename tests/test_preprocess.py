"""Properties of the canvas-to-input recipe, on real MNIST digits drawn on a 280x280 canvas."""

import numpy as np
import onnxruntime as ort
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bench.digits import CANVAS_SIDE, load_sample, place_digit
from bench.page_canvases import load as load_page_canvases
from bench.server import REPO_ROOT
from recognizer.contract import INPUT_NAME, MODEL_FILE
from recognizer.preprocess import (
    _compute_lanczos_weights,
    _strength_of_levels,
    _WeightCache,
    canvas_to_input,
    decode_image,
    lanczos_resize,
)

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
    if mode == "I;16":  # a 16-bit picture spans 0-65535, as a 16-bit PNG opens
        image = Image.fromarray(np.asarray(paper).astype(np.uint16) * 257)
        same_in_eight_bits = paper
    else:
        image = paper.convert(mode)
        same_in_eight_bits = image.convert("L")
    if transparent and mode == "P":
        image.info["transparency"] = 7  # a colour the picture does not use
    np.testing.assert_allclose(
        canvas_to_input(image), canvas_to_input(same_in_eight_bits), atol=2e-2
    )


FIXTURE_TOLERANCE = 1e-5
"""Largest pixel difference (0-1 scale) allowed between today's preprocessing and the
arrays committed in tests/fixtures/page_canvases.npz before the speed work of issue 14.
What differs is float summation order in the Lanczos products: measured 1.8e-7 at most."""


def test_page_canvases_give_the_committed_inputs():
    """The model was trained and evaluated on these arrays: a faster path must give them."""
    fixture = load_page_canvases()
    seen = np.stack([canvas_to_input(decode_image(data, 10_000_000)) for data in fixture["pngs"]])
    expected = fixture["expected"]
    assert seen.shape == expected.shape == (258, 28, 28)
    assert float(np.abs(seen - expected).max()) <= FIXTURE_TOLERANCE
    session = ort.InferenceSession(
        str(REPO_ROOT / "artifacts" / MODEL_FILE), providers=["CPUExecutionProvider"]
    )
    (now,) = session.run(None, {INPUT_NAME: seen[..., None]})
    (then,) = session.run(None, {INPUT_NAME: expected[..., None]})
    np.testing.assert_array_equal(now.argmax(axis=1), then.argmax(axis=1))


@pytest.mark.parametrize("light_paper", [True, False])
def test_ink_is_one_run_of_levels_at_the_inks_end(light_paper):
    """canvas_to_input finds the box from row and column extremes; that needs this shape."""
    for paper in np.arange(0, 128, 0.5):
        strength = _strength_of_levels(light_paper, float(paper), thresholded=True)
        ink = np.flatnonzero(strength)
        assert ink.size, paper
        assert np.array_equal(ink, np.arange(ink[0], ink[-1] + 1)), paper
        assert (ink[0] == 0) if light_paper else (ink[-1] == 255), paper


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 300),
    width=st.integers(1, 300),
    out_height=st.integers(1, 40),
    out_width=st.integers(1, 40),
    seed=st.integers(0, 2**16),
)
def test_lanczos_resize_is_pillows(height, width, out_height, out_width, seed):
    image = np.random.default_rng(seed).random((height, width), dtype=np.float32)
    pillow = np.asarray(
        Image.fromarray(image, mode="F").resize((out_width, out_height), Image.Resampling.LANCZOS)
    )
    np.testing.assert_allclose(
        lanczos_resize(image, out_width, out_height), pillow, rtol=0, atol=1e-6
    )


def test_the_lanczos_cache_stays_within_its_budget_and_keeps_recent_matrices():
    cache = _WeightCache(budget=200_000)
    for side in range(100, 1120, 7):  # what a client sending every size could make it hold
        cache(side, 20)
        assert cache.used <= cache.budget
    recent = cache(1114, 20)
    assert cache(1114, 20) is recent  # kept, not computed again
    np.testing.assert_array_equal(recent, _compute_lanczos_weights(1114, 20))
