"""A part of a piece to the crop the model reads: its ink at full resolution, and its box.

A part is a piece's ink between two cuts (recognizer.cuts), possibly spilling past a path
into the ink beyond it (see recognizer.lattice.SPILL); the scraps of the neighbour that a
cut leaves in a part are dropped.
"""

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from recognizer.cuts import Cut
from recognizer.pieces import Layout, Piece, component_runs, paint, piece_mask
from recognizer.preprocess import INK_THRESHOLD

SCRAP = 0.12
"""After a cut, ink in a part smaller than this fraction of the part's mass is the
neighbour's, if it is not attached to the part's main piece."""


@dataclass(frozen=True)
class DigitCrop:
    """One digit's ink, everything else blanked, and where it is in the picture."""

    ink: np.ndarray
    """The digit's ink within `box`, cropped to it: the layout's ink (as
    recognizer.preprocess.ink_window gives it, ready for fit_and_centre), with everything
    that is not the digit's blanked."""
    box: tuple[int, int, int, int]
    """x0, y0, x1, y1 (x1, y1 exclusive) in the pixels of the original image."""


Part = tuple[Piece, Cut, Cut, int]
"""A part to crop: its piece, its left and right cuts, and how far it spills past a path."""


def part_crops(drawing: Layout, parts: list[Part]) -> Iterator[DigitCrop | None]:
    """Each part's ink at full resolution, with its box in the original picture's pixels:
    the piece's ink between two cuts (columns, or paths with one column per row), and up to
    `spill` columns past a path (see recognizer.lattice.SPILL); None for a part with no ink.
    The scraps of the neighbours are dropped from all cut parts at once; then each crop is
    finished as it is taken, so that the model can read the first ones while the rest are
    made (see recognizer.numbers.read_parts)."""
    regions = [_region(drawing.labels, *part) for part in parts]
    cut = [
        k
        for k, (found, (piece, _, _, _)) in enumerate(zip(regions, parts, strict=True))
        if found is not None and (found[1], found[1] + found[0].shape[1]) != (piece.x0, piece.x1)
    ]
    for k, kept in zip(cut, _drop_scraps([regions[k][0] for k in cut]), strict=True):
        regions[k] = (kept, regions[k][1])
    for found, part in zip(regions, parts, strict=True):
        yield None if found is None else _finish(drawing, part[0], *found)


def _region(
    labels: np.ndarray, piece: Piece, left_cut: Cut, right_cut: Cut, spill: int
) -> tuple[np.ndarray, int] | None:
    """A part's pixels in the reduced mask, over the piece's rows, from the column returned.
    A straight cut is the window's own edge; only a path is compared row by row."""
    left_path, right_path = isinstance(left_cut, np.ndarray), isinstance(right_cut, np.ndarray)
    left = max(int(left_cut.min()) - spill if left_path else left_cut, piece.x0)
    right = min(int(right_cut.max()) + spill if right_path else right_cut, piece.x1)
    if right <= left:
        return None
    region = piece_mask(labels, piece, left, right)
    if left_path or right_path:
        columns = np.arange(left, right)
        if left_path:
            region &= columns >= (left_cut - spill)[:, None]
        if right_path:
            region &= columns < (right_cut + spill)[:, None]
    return region, left


def _finish(drawing: Layout, piece: Piece, region: np.ndarray, left: int) -> DigitCrop | None:
    """A part's crop from its pixels in the reduced mask (see _region). Its coordinates are
    Python integers and its box is rounded by math, not NumPy scalars, which cost about a
    microsecond an operation in each of the sixty-odd parts of touching digits."""
    factor, scale, origin = drawing.factor, drawing.scale, drawing.origin
    rows = np.flatnonzero(region.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(region.any(axis=0))
    y0, y1 = piece.y0 + int(rows[0]), piece.y0 + int(rows[-1]) + 1
    x0, x1 = left + int(cols[0]), left + int(cols[-1]) + 1
    region = region[y0 - piece.y0 : y1 - piece.y0, x0 - left : x1 - left]
    window = drawing.ink[y0 * factor : y1 * factor, x0 * factor : x1 * factor]
    # The part's pixels are among the mask's ink: as many as it has in the box, no other's.
    if np.count_nonzero(drawing.labels[y0:y1, x0:x1]) == np.count_nonzero(region):
        digit = window  # no other part's ink in the box: nothing to blank
    else:
        digit = _blanked(window, region, factor)
    strong = digit >= INK_THRESHOLD
    ink_rows = np.flatnonzero(strong.any(axis=1))
    if ink_rows.size == 0:
        return None
    ink_cols = np.flatnonzero(strong.any(axis=0))
    top, bottom = int(ink_rows[0]), int(ink_rows[-1]) + 1
    first, last = int(ink_cols[0]), int(ink_cols[-1]) + 1
    digit = digit[top:bottom, first:last]
    top += origin[0] + y0 * factor
    first += origin[1] + x0 * factor
    box = (
        math.floor(first * scale),
        math.floor(top * scale),
        math.ceil((first + digit.shape[1]) * scale),
        math.ceil((top + digit.shape[0]) * scale),
    )
    return DigitCrop(digit, box)


def _blanked(window: np.ndarray, region: np.ndarray, factor: int) -> np.ndarray:
    """The ink of `window` where `region` (its reduced mask, a cell per factor x factor
    block) is set, 0 elsewhere. Each row of cells is widened once and broadcast over its
    block's rows: half the time of widening the mask both ways and np.where (the blanking
    of nearly every part of touching digits)."""
    rows, cols = region.shape
    columns = np.repeat(region, factor, axis=1)
    if window.shape != (rows * factor, cols * factor):  # the picture's edge cuts a block
        full = np.repeat(columns, factor, axis=0)
        return np.where(full[: window.shape[0], : window.shape[1]], window, 0.0)
    blocks = window.reshape(rows, factor, cols * factor) * columns[:, None, :]
    return blocks.reshape(window.shape)


def _drop_scraps(regions: list[np.ndarray]) -> list[np.ndarray]:
    """Cut parts without the small pieces of the neighbour that their cuts left in them:
    components under SCRAP of their part's mass. All parts are labelled together, side by
    side with a column of paper between them, in one pass (a pass per part cost most of the
    time of a number of touching digits)."""
    if not regions:
        return []
    rows = max(region.shape[0] for region in regions)
    widths = np.array([region.shape[1] + 1 for region in regions])
    firsts = np.cumsum(widths) - widths
    side_by_side = np.zeros((rows, int(widths.sum())), dtype=bool)
    for region, first in zip(regions, firsts, strict=True):
        side_by_side[: region.shape[0], first : first + region.shape[1]] = region
    component, run_rows, starts, ends = component_runs(side_by_side)
    if component.size == 0:
        return regions
    part = np.searchsorted(firsts, starts, side="right") - 1
    lengths = ends - starts
    part_mass = np.bincount(part, weights=lengths, minlength=len(regions))
    mass = np.bincount(component, weights=lengths)
    owner = np.zeros(len(mass), dtype=np.int64)
    owner[component] = part
    scraps = (mass < SCRAP * part_mass[owner])[component]
    if not scraps.any():
        return regions
    # Few runs are scraps: they are erased, rather than every kept run painted afresh.
    side_by_side &= ~paint(
        side_by_side.shape,
        run_rows[scraps],
        starts[scraps],
        ends[scraps],
        np.ones(int(scraps.sum()), dtype=bool),
    )
    return [
        side_by_side[: region.shape[0], first : first + region.shape[1]]
        for region, first in zip(regions, firsts, strict=True)
    ]
