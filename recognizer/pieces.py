"""A drawing's ink to pieces: what may be digits, before any cut.

On a boolean ink mask reduced to about LABEL_ROWS rows (fast, and a gap of a pixel or two at
full size is no gap to a reader):

1. **Components.** Ink that touches is one piece (8-connected), labelled with numpy
   only: runs of ink in each row, joined to the runs they touch in the next row by a
   vectorised union-find. No scipy or OpenCV, so the serve image stays small.
2. **Merge.** A short piece mostly within another's columns belongs to it (the detached
   bar of a 5, a 7's crossbar, a 1's flag); a speck next to a stroke joins it, and far
   from everything it is noise. Two close pieces that together have a digit's size (a 0
   drawn with a gap, an open 4) may be one digit too: the lattice offers them joined
   (see maybe_one_digit).

layout() starts number mode: the pieces left to right, for recognizer.cuts to cut and
recognizer.lattice to chain. count_digit_groups() and looks_like_several_digits() are the
cheap test for single-digit mode: merging only, never cutting. Everything here is a pure
function on arrays.
"""

from dataclasses import dataclass

import numpy as np

from recognizer.preprocess import INK_THRESHOLD, ink_runs

LABEL_ROWS = 140
"""The ink mask is reduced (by a whole factor, keeping any ink) to about this many rows."""

TALL = 0.5
"""A piece shorter than this fraction of the digit height is no digit on its own."""

CONTAINED = 0.5
"""A piece whose columns lie at least this much inside another piece's is part of it."""

SPECK = 0.25
"""A piece smaller than this fraction of the digit height on both sides is a speck..."""

SPECK_REACH = 0.3
"""...that joins a piece within this fraction of the digit height, and is noise otherwise."""

JOIN_GAP = 0.12
JOIN_WIDTH = 1.1
"""Two pieces this close (in digit heights), and together no wider than JOIN_WIDTH, may be
one digit drawn with a gap: the model is asked."""

SPLIT_WIDTH = 1.5
"""A piece wider than this many digit heights is several digits to the geometry alone;
narrower, one. Either way the model is offered the other reading too."""

DIGIT_WIDTH = 0.62
"""A digit's typical width in digit heights: where the cuts of a wide piece are sought."""

CONSIDER_SPLIT = 1.05
"""A piece wider than this many digit heights may be two digits: the model is asked."""

FLAT = 2.0
"""A wide piece no taller than this many pen widths is a line, not digits (see _flat): a digit
is several pen widths tall, or the pen would fill it in."""


class TooManyParts(ValueError):
    """The drawing has more digits than the caller accepts: more separate parts, or pieces
    as wide as that many digits of their height (`wide`)."""

    def __init__(self, count: int, wide: bool = False) -> None:
        what = "is as wide as" if wide else "has"
        super().__init__(
            f"the drawing {what} at least {count} {'digits' if wide else 'separate parts'}"
        )
        self.count = count
        self.wide = wide


@dataclass(frozen=True)
class Piece:
    """One or more components of the reduced mask, with their joint box and ink mass."""

    labels: frozenset[int]
    x0: int
    y0: int
    x1: int
    y1: int
    mass: float
    flat: bool = False
    """A line: no taller than FLAT pen widths, so no row of digits (see _flat)."""

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


@dataclass(frozen=True)
class Layout:
    """A drawing's pieces, found once and read in up to two passes of the model (see
    recognizer.numbers.read_parts): the labelled mask, the merged pieces left to right, and
    the height of a digit in it."""

    ink: np.ndarray
    scale: float
    factor: int
    labels: np.ndarray
    groups: list[Piece]
    height: float
    origin: tuple[int, int] = (0, 0)
    """Where `ink` starts in the drawing (row, column), when it is only its inked window."""
    strokes: tuple[tuple[float, float], ...] | None = None
    """The pen strokes' column ranges in the reduced mask (the page's stroke hint), if the
    request carried them: cuts then pass only between strokes (see recognizer.cuts)."""


def layout(
    ink: np.ndarray,
    scale: float = 1.0,
    max_parts: int | None = None,
    factor: int | None = None,
    origin: tuple[int, int] = (0, 0),
    strokes: list[tuple[float, float]] | None = None,
) -> Layout:
    """The pieces of a drawing (none for a blank one).

    Raises TooManyParts when they hold more than `max_parts` digits (checked before any
    crop is made, so a scribble of a thousand dots costs little).

    `ink` may be only the window of a larger drawing that holds its ink (see
    recognizer.preprocess.ink_window): then `factor` is the drawing's own reduction (see
    reduction) and `origin` is where the window starts, a whole number of factor-sized blocks
    from the drawing's corner, so that the pieces are the ones the whole drawing gives, and
    the boxes are in its pixels. `strokes` is the page's stroke hint, each stroke's [x0, x1]
    in the drawing's pixels.
    """
    factor = reduction(ink.shape[0]) if factor is None else factor
    small = _reduce(ink, factor)
    labels, pieces = components(small)
    hint = None
    if strokes is not None:
        hint = tuple(
            ((x0 / scale - origin[1]) / factor, (x1 / scale - origin[1]) / factor)
            for x0, x1 in strokes
        )
    if not pieces:
        return Layout(ink, scale, factor, labels, [], 0.0, origin, hint)
    height = typical_height(pieces)
    groups = merge(pieces, height, None if max_parts is None else 3 * max_parts)
    groups = [_flat(labels, g) for g in groups]
    if max_parts is not None:
        # Before any crop is made: a scribble as wide as 40 digits costs nothing more.
        single = [g.flat or g.width <= SPLIT_WIDTH * height for g in groups]
        least = sum(
            1 if one else digit_count(g, height) for g, one in zip(groups, single, strict=True)
        )
        if least > max_parts:
            raise TooManyParts(least, wide=not all(single))
    return Layout(ink, scale, factor, labels, groups, height, origin, hint)


def count_digit_groups(ink: np.ndarray) -> int:
    """How many digits a drawing clearly holds: groups of ink with clear space between
    their columns.

    The cheap test for single-digit mode: components and merging, never splitting, and
    pieces whose columns overlap or nearly touch count once, so a single digit of any
    style (a 1 with a flag, a crossed 7, a 5 with a detached bar, an open 4, a slashed 0)
    always counts as one.
    """
    small = _reduce(ink, reduction(ink.shape[0]))
    _, pieces = components(small)
    if not pieces:
        return 0
    height = typical_height(pieces)
    count, reach = 0, -np.inf
    for group in sorted(merge(pieces, height), key=lambda g: g.x0):
        if group.x0 - reach > JOIN_GAP * height:
            count += 1
        reach = max(reach, group.x1)
    return count


def looks_like_several_digits(ink: np.ndarray) -> bool:
    """Whether a drawing clearly holds two or more digits side by side (single-digit mode
    answers "several_digits" then)."""
    return count_digit_groups(ink) >= 2


def reduction(rows: int) -> int:
    """The whole factor that reduces a drawing of `rows` rows to about LABEL_ROWS."""
    return max(1, round(rows / LABEL_ROWS))


def _reduce(ink: np.ndarray, factor: int) -> np.ndarray:
    """The ink mask reduced by a whole factor, keeping any ink."""
    mask = ink >= INK_THRESHOLD
    if factor == 1:
        return mask
    rows, cols = -(-mask.shape[0] // factor), -(-mask.shape[1] // factor)
    padded = np.zeros((rows * factor, cols * factor), dtype=bool)
    padded[: mask.shape[0], : mask.shape[1]] = mask
    # Strided slices OR-ed together: much faster than any() over a 4-d view.
    tall = np.logical_or.reduce([padded[i::factor] for i in range(factor)])
    return np.logical_or.reduce([tall[:, j::factor] for j in range(factor)])


def components(mask: np.ndarray) -> tuple[np.ndarray, list[Piece]]:
    """8-connected components: a label image (0 = background) and one piece per label."""
    label, run_rows, starts, ends = label_runs(mask)
    labels_image = paint(mask.shape, run_rows, starts, ends, label.astype(np.int32))
    if label.size == 0:
        return labels_image, []
    height, width = mask.shape
    n = int(label.max()) + 1
    x0 = np.full(n, width)
    y0 = np.full(n, height)
    x1 = np.zeros(n, dtype=np.int64)
    y1 = np.zeros(n, dtype=np.int64)
    np.minimum.at(x0, label, starts)
    np.maximum.at(x1, label, ends)
    np.minimum.at(y0, label, run_rows)
    np.maximum.at(y1, label, run_rows + 1)
    mass = np.bincount(label, weights=ends - starts, minlength=n)
    pieces = [
        Piece(frozenset((k,)), int(x0[k]), int(y0[k]), int(x1[k]), int(y1[k]), float(mass[k]))
        for k in range(1, n)
    ]
    return labels_image, pieces


def label_runs(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each run of ink's label (one per 8-connected component, from 1), row, start and end
    (exclusive), row by row."""
    root, run_rows, starts, ends = component_runs(mask)
    if starts.size == 0:
        return root, run_rows, starts, ends
    _, label = np.unique(root, return_inverse=True)
    return label.ravel() + 1, run_rows, starts, ends


def component_runs(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each run of ink's component, as the index of the component's first run, and its row,
    start and end (exclusive), row by row: label_runs without numbering the components from
    1, for a caller that only sums over them and need not pay for the sort that numbers
    them."""
    run_rows, starts, ends = ink_runs(mask)
    if starts.size == 0:
        return starts, run_rows, starts, ends
    return _union_runs(run_rows, starts, ends, mask.shape[1] + 2), run_rows, starts, ends


def paint(
    shape: tuple[int, int],
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    values: np.ndarray,
) -> np.ndarray:
    """An image of `shape` with each run (row, start, end) filled with its value, 0 elsewhere."""
    image = np.zeros(shape, dtype=values.dtype)
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    flat = np.repeat(rows * shape[1] + starts - offsets, lengths) + np.arange(lengths.sum())
    image.ravel()[flat] = np.repeat(values, lengths)
    return image


def _union_runs(rows: np.ndarray, starts: np.ndarray, ends: np.ndarray, stride: int) -> np.ndarray:
    """The root run of each run's component: runs in adjacent rows that overlap or touch
    diagonally are joined, by hooking roots onto the smaller root until nothing changes."""
    start_key = rows * stride + starts
    end_key = rows * stride + ends
    below = (rows + 1) * stride
    first = np.searchsorted(end_key, below + starts, side="left")
    last = np.searchsorted(start_key, below + ends, side="right")
    counts = np.maximum(last - first, 0)
    upper = np.repeat(np.arange(len(starts)), counts)
    offsets = np.cumsum(counts) - counts
    lower = np.arange(counts.sum()) - np.repeat(offsets - first, counts)
    parent = np.arange(len(starts))
    while True:
        a, b = parent[upper], parent[lower]
        differ = a != b
        if not differ.any():
            return parent
        np.minimum.at(parent, np.maximum(a[differ], b[differ]), np.minimum(a[differ], b[differ]))
        while True:  # pointer jumping: every run points at its root again
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def typical_height(pieces: list[Piece]) -> float:
    """The height of a digit in this drawing: the median height of the pieces at least half
    as tall as the tallest (bars, flags and specks would pull a plain median down)."""
    tallest = max(piece.height for piece in pieces)
    return float(np.median([p.height for p in pieces if p.height >= 0.5 * tallest]))


def merge(pieces: list[Piece], height: float, max_groups: int | None = None) -> list[Piece]:
    """Join the pieces that belong to one digit; drop specks far from everything.

    Raises TooManyParts when more than `max_groups` pieces would have to be compared
    (a scribble or a noisy photo), before the quadratic work starts.
    """
    specks = [p for p in pieces if _is_speck(p, height)]
    groups = sorted((p for p in pieces if not _is_speck(p, height)), key=lambda p: p.x0)
    if max_groups is not None and len(groups) > max_groups:
        raise TooManyParts(len(groups))
    i = 0
    while i < len(groups):
        a = groups[i]
        for j in range(i + 1, len(groups)):
            b = groups[j]
            if b.x0 >= a.x1:  # sorted by x0: no later piece shares a column with a
                break
            if _belong_together(a, b, height):
                groups[i] = union(a, b)
                del groups[j]
                i = -1  # the grown piece may now reach others: look again from the start
                break
        i += 1
    return sorted(_attach_specks(groups, specks, height), key=lambda g: (g.x0 + g.x1) / 2)


def _attach_specks(groups: list[Piece], specks: list[Piece], height: float) -> list[Piece]:
    """Each speck joins the nearest piece within reach; the rest are noise."""
    if not specks:
        return groups
    box = np.array([(g.x0, g.y0, g.x1, g.y1) for g in groups], dtype=np.float64)
    dot = np.array([(s.x0, s.y0, s.x1, s.y1) for s in specks], dtype=np.float64)
    dx = np.maximum(
        np.maximum(box[None, :, 0] - dot[:, None, 2], dot[:, None, 0] - box[None, :, 2]), 0
    )
    dy = np.maximum(
        np.maximum(box[None, :, 1] - dot[:, None, 3], dot[:, None, 1] - box[None, :, 3]), 0
    )
    distance = np.hypot(dx, dy)
    nearest = distance.argmin(axis=1)
    grown = list(groups)
    for k, speck in enumerate(specks):
        if distance[k, nearest[k]] <= SPECK_REACH * height:
            grown[nearest[k]] = union(grown[nearest[k]], speck)
    return grown


def _belong_together(a: Piece, b: Piece, height: float) -> bool:
    """Whether the shorter piece is surely a detached part of the other's digit: short (no
    digit is), and mostly within the other's columns, as a 5's bar or a 7's crossbar."""
    short = a if a.height <= b.height else b
    if short.height >= TALL * height:
        return False  # might be a digit of its own: the model is asked (see recognizer.lattice)
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    if overlap < CONTAINED * short.width:
        return False
    return max(a.y1, b.y1) - min(a.y0, b.y0) <= 1.4 * height


def _is_speck(piece: Piece, height: float) -> bool:
    return max(piece.width, piece.height) < SPECK * height


def union(a: Piece, b: Piece) -> Piece:
    """Both pieces as one: their components, joint box and ink mass."""
    return Piece(
        a.labels | b.labels,
        min(a.x0, b.x0),
        min(a.y0, b.y0),
        max(a.x1, b.x1),
        max(a.y1, b.y1),
        a.mass + b.mass,
    )


def digit_count(piece: Piece, height: float) -> int:
    """How many digits a piece too wide for one holds, by its width."""
    return max(2, round(piece.width / (DIGIT_WIDTH * height)))


def _flat(labels: np.ndarray, piece: Piece) -> Piece:
    """The piece, marked flat if it is a line: wider than two digits of its height, and no
    more than FLAT pen widths tall. A minus sign or an underline is one part, never a row of
    digits to cut; however long, it counts as one part."""
    if piece.width <= CONSIDER_SPLIT * piece.height:
        return piece
    if piece.height > FLAT * pen_width(piece_mask(labels, piece)):
        return piece
    return Piece(piece.labels, piece.x0, piece.y0, piece.x1, piece.y1, piece.mass, flat=True)


def piece_mask(
    labels: np.ndarray, piece: Piece, left: int | None = None, right: int | None = None
) -> np.ndarray:
    """A piece's pixels in the reduced mask, over its rows and its columns (or from `left`
    up to `right`): other pieces' ink in its box is not its."""
    left = piece.x0 if left is None else left
    right = piece.x1 if right is None else right
    window = labels[piece.y0 : piece.y1, left:right]
    if len(piece.labels) == 1:
        return window == next(iter(piece.labels))
    return np.isin(window, list(piece.labels))


def pen_width(region: np.ndarray) -> float:
    """The stroke width of a piece, in pixels: twice its area over its outline's length
    (exact for a long thin stroke)."""
    outline = np.count_nonzero(np.diff(region, axis=0)) + np.count_nonzero(np.diff(region, axis=1))
    outline += np.count_nonzero(region[[0, -1]]) + np.count_nonzero(region[:, [0, -1]])
    return max(1.0, 2.0 * np.count_nonzero(region) / max(outline, 1))


def maybe_one_digit(a: Piece, b: Piece, height: float) -> bool:
    """Whether two neighbouring pieces could be one digit broken in two (an MNIST 0 drawn
    with a gap, a 5 whose bar floats off the stem): close, and digit-sized together. A
    short piece (a bar, a flag) may float further off than a tall one."""
    joined = union(a, b)
    short = min(a.height, b.height) < TALL * height
    reach = (SPECK_REACH if short else JOIN_GAP) * height
    return (
        b.x0 - a.x1 <= reach
        and gap(a, b) <= reach
        and joined.width <= (2.0 if short else JOIN_WIDTH) * height
        and joined.height <= 1.3 * height
    )


def gap(a: Piece, b: Piece) -> float:
    """Distance between two boxes (0 when they overlap)."""
    dx = max(a.x0 - b.x1, b.x0 - a.x1, 0)
    dy = max(a.y0 - b.y1, b.y0 - a.y1, 0)
    return float(np.hypot(dx, dy))
