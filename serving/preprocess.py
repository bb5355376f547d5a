"""From a picture of a digit to the model's 28x28 input, the way MNIST was made.

MNIST's digits were cropped to their ink, scaled so the longer side fits a
20x20 box (keeping the aspect ratio, with anti-aliasing), and placed in a
28x28 field with their centre of mass in the middle. A canvas drawing only
looks like MNIST to the model after the same treatment, so the server and the
training pipeline's canvas evaluation both run these pure functions.
"""

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from serving.contract import DIGIT_BOX, IMAGE_SIZE

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
"""Formats a client may send. Fewer parsers means less attack surface."""

INK_THRESHOLD = 0.2
"""Ink weaker than this (0..1, after removing the background) is noise or paper texture."""

WORKING_SIDE = 560
"""Larger pictures are box-reduced to about this size first: the result is the same
to the eye of a 20-pixel box, and the hot path stays fast for high-DPI canvases."""

MNIST_CENTRE = (14.0, 14.0)
"""Where MNIST puts the centre of mass, in (row, column) pixel indices. Measured on the
training set: the mean is (14.00, 14.01), with a spread of 0.3 px."""


class ImageError(ValueError):
    """The bytes cannot be used as a picture of a digit; the message says why."""


class ImageTooLarge(ImageError):
    """The picture has more pixels than the server is willing to decode."""


def decode_image(data: bytes, max_pixels: int) -> Image.Image:
    """Open untrusted bytes as an image, refusing decompression bombs before decoding."""
    if not data:
        raise ImageError("the image is empty")
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image has too many pixels (limit {max_pixels:,})") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(
            "the data is not a readable image; send a PNG, JPEG, WebP, GIF or BMP"
        ) from exc
    width, height = image.size
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )
    try:
        image.load()
    except Exception as exc:  # a hostile file can make any decoder raise anything
        raise ImageError("the image data is truncated or corrupt") from exc
    return image


def ink_image(image: Image.Image) -> np.ndarray:
    """Grey levels as ink strength: 0 is background, 1 is full ink, whatever the polarity.

    Transparent pixels are laid on a background that contrasts with the ink, so a
    canvas exported without a fill works for black and for white strokes.
    """
    transparent = _has_transparency(image)
    # One mode from here on: Pillow cannot box-reduce palette, 1-bit or 16-bit images.
    image = image.convert("RGBA" if transparent else "L")
    if max(image.size) > WORKING_SIDE:
        image = image.reduce(max(image.size) // WORKING_SIDE)
    if transparent:
        image = _flatten_alpha(image).convert("L")
    grey = np.asarray(image)
    border = np.concatenate((grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]))
    if np.median(border) > 127:  # dark ink on light paper
        grey = 255 - grey  # in integers, so both polarities give bit-identical ink
        border = 255 - border
    background = float(np.median(border)) / 255.0
    ink = (grey.astype(np.float32) / 255.0 - background) / max(1.0 - background, 1e-6)
    return np.clip(ink, 0.0, 1.0, out=ink)


def _has_transparency(image: Image.Image) -> bool:
    """Whether any pixel can be see-through; an opaque RGBA canvas is just a grey picture."""
    if image.mode == "RGBA":
        return image.getchannel("A").getextrema()[0] < 255
    return image.mode in ("LA", "PA") or "transparency" in image.info


def _flatten_alpha(rgba: Image.Image) -> Image.Image:
    """Composite on white for dark ink and on black for light ink."""
    pixels = np.asarray(rgba, dtype=np.float32)
    alpha = pixels[..., 3]
    if alpha.sum() == 0:
        return Image.new("L", rgba.size, 255)
    luminance = pixels[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    ink_is_light = float((luminance * alpha).sum() / alpha.sum()) > 127.5
    background = Image.new("RGBA", rgba.size, (0, 0, 0, 255) if ink_is_light else (255,) * 4)
    return Image.alpha_composite(background, rgba)


def normalize_digit(ink: np.ndarray) -> np.ndarray | None:
    """Crop to the ink, fit the longer side to 20 px and centre by mass in 28x28.

    Returns None when there is no ink at all: a blank canvas has no digit to guess.
    """
    ink = np.where(ink >= INK_THRESHOLD, ink, 0.0).astype(np.float32, copy=False)
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(ink.any(axis=0))
    digit = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]

    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(
        Image.fromarray(digit, mode="F").resize(size, Image.Resampling.LANCZOS),
        dtype=np.float32,
    )
    fitted = np.clip(fitted, 0.0, None)
    peak = float(fitted.max())
    if peak <= 0.0:
        return None
    fitted /= peak
    return _centre_by_mass(fitted)


def _centre_by_mass(fitted: np.ndarray) -> np.ndarray:
    """Place the digit so that its centre of mass sits where MNIST puts it."""
    height, width = fitted.shape
    total = float(fitted.sum())
    mass_row = float(np.arange(height) @ fitted.sum(axis=1)) / total
    mass_col = float(np.arange(width) @ fitted.sum(axis=0)) / total
    top = int(np.clip(round(MNIST_CENTRE[0] - mass_row), 0, IMAGE_SIZE - height))
    left = int(np.clip(round(MNIST_CENTRE[1] - mass_col), 0, IMAGE_SIZE - width))
    field = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    field[top : top + height, left : left + width] = fitted
    return field


def canvas_to_input(image: Image.Image) -> np.ndarray | None:
    """The whole recipe: any picture of one digit to a 28x28 float32 array, or None if blank."""
    return normalize_digit(ink_image(image))
