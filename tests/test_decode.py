"""Decoding: the fast PNG path gives Pillow's pixels, odd PNGs stay with Pillow, 16-bit scales."""

import io

import numpy as np
import pytest
from PIL import Image

from bench.digits import place_digit
from bench.page_canvases import load
from recognizer import png
from recognizer.preprocess import (
    ImageError,
    ImageTooLarge,
    canvas_to_input,
    decode_image,
    grey_levels,
    ink_image,
)
from tests.test_preprocess import DIGITS

MAX_PIXELS = 4_000_000


def encode(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **options)
    return buffer.getvalue()


def paper_canvas(index: int = 0) -> Image.Image:
    """A real MNIST digit, black ink on white paper, mode L, 280x280."""
    return Image.eval(place_digit(DIGITS[index], 200, 40, 40), lambda v: 255 - v)


def pillow_grey(data: bytes) -> np.ndarray:
    """What the Pillow-only path makes of the bytes (the reference)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return grey_levels(image)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA"])
def test_common_pngs_take_the_fast_path_and_give_pillows_grey_levels(mode):
    data = encode(paper_canvas(3).convert(mode))
    decoded = decode_image(data, MAX_PIXELS)
    assert isinstance(decoded, np.ndarray), "8-bit grey/RGB(A) PNGs should not need Pillow"
    np.testing.assert_array_equal(grey_levels(decoded), pillow_grey(data))


def test_the_pages_own_pngs_decode_to_pillows_pixels():
    for data in load()["pngs"][:40]:
        decoded = decode_image(data, MAX_PIXELS)
        assert isinstance(decoded, np.ndarray)
        np.testing.assert_array_equal(decoded, np.asarray(Image.open(io.BytesIO(data))))


def test_coloured_and_transparent_canvases_give_the_same_input_on_both_paths():
    rng = np.random.default_rng(5)
    grey = np.asarray(paper_canvas(8))
    rgba = np.stack([grey, grey, grey, np.full_like(grey, 255)], axis=-1).copy()
    rgba[..., 0] = np.where(grey < 200, rng.integers(0, 120, grey.shape), 255)  # reddish ink
    transparent = rgba.copy()
    transparent[..., 3] = 255 - grey  # strokes on a canvas exported without a fill
    for pixels in (rgba, transparent):
        data = encode(Image.fromarray(pixels.astype(np.uint8), "RGBA"))
        fast = canvas_to_input(decode_image(data, MAX_PIXELS))
        reference = Image.open(io.BytesIO(data))
        reference.load()
        np.testing.assert_allclose(fast, canvas_to_input(reference), atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda im: im.convert("LA"),  # grey and alpha
        lambda im: im.convert("P"),  # palette
        lambda im: im.convert("1"),  # 1-bit
        lambda im: im.convert("I;16"),  # 16-bit grey
    ],
    ids=["grey+alpha", "palette", "1-bit", "16-bit"],
)
def test_other_pngs_are_left_to_pillow(make):
    data = encode(make(paper_canvas(5)))
    assert png.decode(data, png.read_header(data)) is None
    assert isinstance(decode_image(data, MAX_PIXELS), Image.Image)


def test_a_png_with_a_transparent_colour_is_left_to_pillow():
    """libspng's automatic format would drop the tRNS colour that Pillow honours."""
    data = encode(paper_canvas(6).convert("RGB"), transparency=(255, 255, 255))
    assert png.decode(data, png.read_header(data)) is None
    assert canvas_to_input(decode_image(data, MAX_PIXELS)) is not None


def test_too_many_pixels_are_refused_from_the_header_before_decoding():
    data = encode(Image.new("L", (3000, 2000), 255))
    with pytest.raises(ImageTooLarge, match="3000x2000"):
        decode_image(data, MAX_PIXELS)


def test_a_broken_png_is_a_clear_error_not_a_crash():
    data = bytearray(encode(paper_canvas(1)))
    data[60:160] = bytes(100)  # inside the compressed pixels
    with pytest.raises(ImageError):
        canvas_to_input(decode_image(bytes(data), MAX_PIXELS))


@pytest.mark.parametrize("ink", [0, 64], ids=["black ink", "dark-grey ink"])
def test_sixteen_bit_greyscale_is_scaled_not_clipped(ink):
    """Issue 13: 16-bit to 8-bit clipped, so dark-grey ink vanished into the paper."""
    eight = np.asarray(paper_canvas(2)).astype(np.uint16)
    eight = np.where(eight < 255, np.maximum(eight, ink), 255)  # the ink no darker than `ink`
    sixteen = (eight * 257).astype(np.uint16)  # the same picture at 16 bits per sample
    data = encode(Image.fromarray(sixteen))  # mode I;16
    assert Image.open(io.BytesIO(data)).mode == "I;16"
    seen = canvas_to_input(decode_image(data, MAX_PIXELS))
    assert seen is not None, "16-bit ink must not be read as a blank canvas"
    np.testing.assert_array_equal(seen, canvas_to_input(Image.fromarray(eight.astype(np.uint8))))


def test_a_wide_number_pad_gives_the_same_ink_on_both_paths():
    """840x280 (number mode's pad) is under twice WORKING_SIDE: nothing is reduced, both ways."""
    pad = Image.new("L", (840, 280), 255)
    for slot in range(3):
        pad.paste(paper_canvas(slot), (slot * 280, 0))
    data = encode(pad.convert("RGBA"))
    fast = decode_image(data, MAX_PIXELS)
    assert isinstance(fast, np.ndarray)
    reference = Image.open(io.BytesIO(data))
    reference.load()
    np.testing.assert_array_equal(ink_image(fast), ink_image(reference))
    assert ink_image(fast).shape == (280, 840)
