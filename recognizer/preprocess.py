"""From a picture of a digit to the model's 28x28 input, the way MNIST was made.

MNIST's digits were cropped to their ink, scaled so the longer side fits a
20x20 box (keeping the aspect ratio, with anti-aliasing), and placed in a
28x28 field with their centre of mass in the middle. A canvas drawing only
looks like MNIST to the model after the same treatment, so the server and the
training pipeline's canvas evaluation both run these pure functions.

The recipe, step by step (web/js/preprocess.js follows the same steps):

1. Grey levels, 0-255: a 16-bit picture is scaled to 8 bits; a transparent one is laid on
   paper that contrasts with its ink; one larger than WORKING_SIDE is box-reduced.
2. Polarity and paper: the median of the border pixels is the paper. Light paper means
   dark ink, and the levels are inverted (in integers). Ink strength is
   `(level / 255 - paper) / (1 - paper)`, clipped to 0..1, in float32.
3. Strength below INK_THRESHOLD is no ink. The bounding box of the rest is the digit.
4. The box is resized (Lanczos, as Pillow's resize) so its longer side is DIGIT_BOX,
   divided by its peak, and placed in 28x28 with its centre of mass at MNIST_CENTRE.

For speed (issue 14) step 2 is a 256-entry table looked up per pixel, the box of step 3
is found on the 8-bit levels before any float conversion, and only the box becomes
floats; step 4's Lanczos is two small matrix products with Pillow's own coefficients.
The result equals the plain recipe's to within float32 rounding (tests/test_preprocess.py
checks 1e-5 against arrays committed before this change).
"""

import io
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from PIL import Image, UnidentifiedImageError

from recognizer import png
from recognizer.contract import DIGIT_BOX, IMAGE_SIZE, MNIST_CENTRE, PIXEL_MAX

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP")
"""Formats a client may send. Fewer parsers means less attack surface."""

INK_THRESHOLD = 0.2
"""Ink weaker than this (0..1, after removing the background) is noise or paper texture."""

WORKING_SIDE = 560
"""Larger pictures are box-reduced to about this size first: the result is the same
to the eye of a 20-pixel box, and the hot path stays fast for high-DPI canvases."""

LANCZOS_SUPPORT = 3.0
"""Pillow's Lanczos filter is sinc(x) * sinc(x / 3) on -3 <= x < 3."""

WEIGHT_CACHE_BYTES = 16_000_000
"""Memory for Lanczos matrices kept for reuse, keyed by (input side, output side, whether
transposed for the horizontal pass). The page's boxes need at most 45 KB each (20 x 280
float64), so hundreds fit and nearly every request finds its two; a miss costs about 80 us.
The budget holds whatever clients send."""

SIXTEEN_BIT_MODES = frozenset(("I;16", "I;16B", "I;16L", "I;16N", "I"))
"""Pillow modes of 16-bit greyscale pictures (a 16-bit PNG opens as I;16)."""

Picture = Image.Image | np.ndarray
"""A decoded picture: a Pillow image, or the fast PNG path's uint8 array, (H, W) grey or
(H, W, 3) RGB or (H, W, 4) RGBA."""


class ImageError(ValueError):
    """The bytes cannot be used as a picture of a digit; the message says why."""


class ImageTooLarge(ImageError):
    """The picture has more pixels than the server is willing to decode."""


def decode_image(data: bytes, max_pixels: int) -> Picture:
    """Open untrusted bytes as a picture, refusing decompression bombs before decoding.

    The page's plain 8-bit PNGs come back as arrays from libspng (recognizer/png.py), which
    is three times faster than Pillow; everything else as a Pillow image.
    """
    if not data:
        raise ImageError("the image is empty")
    header = png.read_header(data)
    if header is not None:
        _check_pixels(header.width, header.height, max_pixels)
        pixels = png.decode(data, header)
        if pixels is not None:
            return pixels
    try:
        image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge(f"the image has too many pixels (limit {max_pixels:,})") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(
            "the data is not a readable image; send a PNG, JPEG, WebP, GIF or BMP"
        ) from exc
    _check_pixels(*image.size, max_pixels)
    try:
        image.load()
    except Exception as exc:  # a hostile file can make any decoder raise anything
        raise ImageError("the image data is truncated or corrupt") from exc
    return image


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise ImageTooLarge(
            f"the image is {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,}"
        )


def canvas_to_input(picture: Picture) -> np.ndarray | None:
    """The whole recipe: any picture of one digit to a 28x28 float32 array, or None if blank."""
    grey = grey_levels(picture)
    light_paper, paper = _paper(grey)
    strength = _strength_of_levels(light_paper, paper, thresholded=True)
    # Strength grows with darkness on light paper and with lightness on dark paper, so the
    # ink is one run of levels at one end: the box comes from the row and column extremes
    # of the uint8 levels, before anything is converted to floats.
    ink_levels = np.flatnonzero(strength)
    if ink_levels.size == 0:
        return None
    if light_paper:
        rows = np.flatnonzero(grey.min(axis=1) <= ink_levels[-1])
        cols = np.flatnonzero(grey.min(axis=0) <= ink_levels[-1])
    else:
        rows = np.flatnonzero(grey.max(axis=1) >= ink_levels[0])
        cols = np.flatnonzero(grey.max(axis=0) >= ink_levels[0])
    if rows.size == 0:
        return None
    box = grey[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    # float64 holding the float32 strengths: the Lanczos products take it without a copy.
    return fit_and_centre(np.take(_wide_strength(light_paper, paper), box))


def ink_image(picture: Picture) -> np.ndarray:
    """Grey levels as ink strength: 0 is background, 1 is full ink, whatever the polarity.

    Transparent pixels are laid on a background that contrasts with the ink, so a
    canvas exported without a fill works for black and for white strokes.
    """
    grey = grey_levels(picture)
    # np.take rather than indexing: the same values, at half the cost on a number pad.
    return np.take(_strength_of_levels(*_paper(grey), thresholded=False), grey)


def ink_window(grey: np.ndarray, block: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The ink strength of only the rows and columns of `grey` (grey_levels) that hold ink,
    widened to whole `block`-sized blocks from the picture's corner, and where that window
    starts (row, column); an empty array for a blank picture. The strength is step 3's:
    ink weaker than INK_THRESHOLD is paper, and it comes as float64 holding the float32
    values, so that each digit cut from it is ready for fit_and_centre without a copy.

    Number mode segments block-reduced ink (recognizer.pieces): given the same blocks, the
    window gives the pieces the whole picture gives, and a number fills about half of the
    page's wide pad, so the work after decoding is halved.
    """
    light_paper, paper = _paper(grey)
    strength = _wide_strength(light_paper, paper)
    inked = strength >= INK_THRESHOLD
    # Strength grows towards one end of the levels (the dark one on light paper): a row or
    # column holds ink where its most extreme level is ink.
    extreme = np.min if light_paper else np.max
    rows = np.flatnonzero(inked[extreme(grey, axis=1)])
    if rows.size == 0:
        return np.zeros((0, 0)), (0, 0)
    cols = np.flatnonzero(inked[extreme(grey, axis=0)])
    top, left = rows[0] // block * block, cols[0] // block * block
    bottom = min(-(-(rows[-1] + 1) // block) * block, grey.shape[0])
    right = min(-(-(cols[-1] + 1) // block) * block, grey.shape[1])
    return np.take(strength, grey[top:bottom, left:right]), (int(top), int(left))


def grey_levels(picture: Picture) -> np.ndarray:
    """Step 1: an opaque uint8 (H, W) array of grey levels, at most about WORKING_SIDE."""
    if isinstance(picture, np.ndarray):
        grey = _opaque_grey(picture)
        if grey is not None and _reduction(max(grey.shape)) == 1:
            return grey
        picture = Image.fromarray(picture)  # transparency or a big picture: the rare path
    return _pillow_grey(picture)


def _reduction(side: int) -> int:
    """The box-reduction factor for a picture whose longer side is `side` (1: none).

    A side up to twice WORKING_SIDE is kept as it is (the 840-pixel number pad, say).
    """
    return side // WORKING_SIDE if side > WORKING_SIDE else 1


def _opaque_grey(pixels: np.ndarray) -> np.ndarray | None:
    """Grey levels of an opaque array as Pillow's convert("L") gives them; None if see-through."""
    if pixels.ndim == 2:
        return pixels
    height, width, channels = pixels.shape
    pixels = np.ascontiguousarray(pixels)  # libspng's arrays already are: no copy
    # Alpha is the high byte of each little-endian 32-bit pixel: one fast min.
    if channels == 4 and pixels.view("<u4").min() < 0xFF000000:
        return None
    mode = "RGBA" if channels == 4 else "RGB"
    image = Image.frombuffer(mode, (width, height), pixels, "raw", mode, 0, 1)
    return np.asarray(image.convert("L"))


def _pillow_grey(image: Image.Image) -> np.ndarray:
    """Step 1 for any Pillow image: 16-bit scaled, transparency flattened, big ones reduced."""
    if image.mode in SIXTEEN_BIT_MODES:
        image = _sixteen_to_eight_bits(image)
    transparent = _has_transparency(image)
    # One mode from here on: Pillow cannot box-reduce palette or 1-bit images.
    image = image.convert("RGBA" if transparent else "L")
    factor = _reduction(max(image.size))
    if factor > 1:
        image = image.reduce(factor)
    if transparent:
        image = _flatten_alpha(image).convert("L")
    return np.asarray(image)


def _sixteen_to_eight_bits(image: Image.Image) -> Image.Image:
    """Scale 0-65535 to 0-255 (Pillow's convert("L") clips at 255: dark grey became paper)."""
    levels = np.asarray(image).astype(np.int64).clip(0, 65535)
    eight = Image.fromarray(((levels * 255 + 32767) // 65535).astype(np.uint8), "L")
    if "transparency" in image.info and isinstance(image.info["transparency"], int):
        eight.info["transparency"] = (min(image.info["transparency"], 65535) * 255 + 32767) // 65535
    return eight


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


def _paper(grey: np.ndarray) -> tuple[bool, float]:
    """Step 2's polarity and paper level: the border's median, counted from the paper's side.

    On light paper the levels are inverted (in integers, so both polarities give identical
    ink); the median of the inverted border is 255 minus the median, exactly.
    """
    border = np.concatenate((grey[0], grey[-1], grey[1:-1, 0], grey[1:-1, -1]))
    median = median_in_place(border)
    light_paper = median > 127  # dark ink on light paper
    return light_paper, 255.0 - median if light_paper else median


@lru_cache(maxsize=1024)
def _strength_of_levels(light_paper: bool, paper: float, thresholded: bool) -> np.ndarray:
    """Ink strength for levels 0-255 on this paper; read-only, shared between requests."""
    levels = np.arange(256, dtype=np.uint8)
    if light_paper:
        levels = 255 - levels
    background = paper / PIXEL_MAX
    ink = (levels.astype(np.float32) / PIXEL_MAX - background) / max(1.0 - background, 1e-6)
    ink = np.clip(ink, 0.0, 1.0, out=ink)
    if thresholded:  # step 3: weak ink is none
        ink = np.where(ink >= INK_THRESHOLD, ink, 0.0).astype(np.float32, copy=False)
    ink.flags.writeable = False
    return ink


def median_in_place(values: np.ndarray) -> float:
    """np.median's value for a non-empty 1-D array, at a fraction of its cost on the small
    arrays here: the array is sorted in place and the middle one or two averaged."""
    values.sort()
    middle = values.size // 2
    return (float(values[middle]) + float(values[(values.size - 1) // 2])) / 2


def ink_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The runs of ink in a boolean mask, row by row: each run's row, start and end (exclusive).

    Each row goes between two columns of paper and the rows are laid end to end, so every
    change from paper to ink starts a run and the next change ends it, in one pass over the
    mask, and no run joins the next row's.
    """
    stride = mask.shape[1] + 2
    padded = np.zeros((mask.shape[0], stride), dtype=bool)  # np.pad takes twice as long
    padded[:, 1:-1] = mask
    flat = padded.ravel()
    changes = np.flatnonzero(flat[1:] != flat[:-1])
    rows = changes[0::2] // stride
    return rows, changes[0::2] - rows * stride, changes[1::2] - rows * stride


@lru_cache(maxsize=1024)
def _wide_strength(light_paper: bool, paper: float) -> np.ndarray:
    """The thresholded strength table as float64 (the same values), made once per paper."""
    wide = _strength_of_levels(light_paper, paper, thresholded=True).astype(np.float64)
    wide.flags.writeable = False
    return wide


def fit_and_centre(digit: np.ndarray) -> np.ndarray | None:
    """Step 4: ink already thresholded and cropped to its box (float32 values, or float64
    holding them: no copy) fitted into DIGIT_BOX and centred by mass in 28x28; None if it
    holds no ink. Number mode's digits come so from recognizer.crops."""
    height, width = digit.shape
    scale = DIGIT_BOX / max(height, width)
    fitted = lanczos_resize(digit, max(1, round(width * scale)), max(1, round(height * scale)))
    np.maximum(fitted, 0.0, out=fitted)  # Lanczos lobes dip below zero
    peak = float(fitted.max())
    if peak <= 0.0:
        return None
    fitted /= peak
    return _centre_by_mass(fitted)


def lanczos_resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pillow's resize(LANCZOS) of a float32 image, as two matrix products.

    Pillow resamples an "F" image horizontally, stores float32, then vertically, summing
    in double precision with the coefficients of `_compute_lanczos_weights`. The same products in
    float64 differ only in summation order: at most a unit in float32's last place. The
    image may come as float64 holding float32 values (the hot path does, to save a copy).
    """
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.shape[1] != width:
        # The transposed matrix laid out as the product reads it: a third less time than a
        # transposed view, the same float32 values (the sums differ by 1e-15 at most).
        horizontal = pixels @ _lanczos_weights(pixels.shape[1], width, transposed=True)
        pixels = horizontal.astype(np.float32).astype(np.float64)  # as Pillow stores it
    if pixels.shape[0] != height:
        pixels = _lanczos_weights(pixels.shape[0], height) @ pixels
    return pixels.astype(np.float32)


class _WeightCache:
    """Lanczos matrices, the least recently used dropped first, within a byte budget."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.used = 0
        self._matrices: OrderedDict[tuple[int, int, bool], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # workers may preprocess on more than one thread

    def __call__(self, in_size: int, out_size: int, transposed: bool = False) -> np.ndarray:
        """The (out_size, in_size) matrix, or its transpose as a contiguous array."""
        key = (in_size, out_size, transposed)
        with self._lock:
            weights = self._matrices.get(key)
            if weights is not None:
                self._matrices.move_to_end(key)
                return weights
        weights = _compute_lanczos_weights(in_size, out_size)
        if transposed:
            weights = np.ascontiguousarray(weights.T)
            weights.flags.writeable = False
        with self._lock:
            if key not in self._matrices and weights.nbytes <= self.budget:
                self._matrices[key] = weights
                self.used += weights.nbytes
                while self.used > self.budget:
                    self.used -= self._matrices.popitem(last=False)[1].nbytes
        return weights


def _compute_lanczos_weights(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) matrix of Pillow's Lanczos coefficients (precompute_coeffs).

    Each output pixel weighs a window of at most 2 * ceil(support) + 1 inputs; only those
    are evaluated, then laid into the dense matrix that the product wants.
    """
    scale = in_size / out_size
    filter_scale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filter_scale
    centres = (np.arange(out_size) + 0.5) * scale
    first = np.maximum(np.trunc(centres - support + 0.5), 0).astype(np.intp)
    end = np.minimum(np.trunc(centres + support + 0.5), in_size).astype(np.intp)
    columns = first[:, None] + np.arange(int(np.ceil(support)) * 2 + 1)
    x = (columns - centres[:, None] + 0.5) * (1.0 / filter_scale)
    window = (columns < end[:, None]) & (x >= -LANCZOS_SUPPORT) & (x < LANCZOS_SUPPORT)
    band = np.where(window, np.sinc(x) * np.sinc(x / LANCZOS_SUPPORT), 0.0)
    totals = band.sum(axis=1, keepdims=True)
    band = np.divide(band, totals, out=band, where=totals != 0)
    weights = np.zeros((out_size, in_size))
    rows = np.broadcast_to(np.arange(out_size)[:, None], columns.shape)
    weights[rows[window], columns[window]] = band[window]
    weights.flags.writeable = False
    return weights


_lanczos_weights = _WeightCache(WEIGHT_CACHE_BYTES)
_POSITIONS = np.arange(IMAGE_SIZE, dtype=np.float64)
"""Row and column indices of a fitted digit (at most IMAGE_SIZE a side), as float64: the
products with the float32 sums are taken in float64, as with the integer indices before."""


def _centre_by_mass(fitted: np.ndarray) -> np.ndarray:
    """Place the digit so that its centre of mass sits where MNIST puts it."""
    height, width = fitted.shape
    total = float(fitted.sum())
    mass_row = float(_POSITIONS[:height] @ fitted.sum(axis=1)) / total
    mass_col = float(_POSITIONS[:width] @ fitted.sum(axis=0)) / total
    # Python's round, then the clip, as np.clip(round(...)) did: the same placement.
    top = min(max(round(MNIST_CENTRE[0] - mass_row), 0), IMAGE_SIZE - height)
    left = min(max(round(MNIST_CENTRE[1] - mass_col), 0), IMAGE_SIZE - width)
    field = np.zeros((IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    field[top : top + height, left : left + width] = fitted
    return field
