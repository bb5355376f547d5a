"""A drawing of a number to one crop per digit, the way a person would split it.

On a boolean ink mask reduced to about 140 rows (fast, and a gap of a pixel or two at
full size is no gap to a reader):

1. **Components.** Ink that touches is one piece (8-connected), labelled with numpy
   only: runs of ink in each row, joined to the runs they touch in the next row by a
   vectorised union-find. No scipy or OpenCV, so the serve image stays small.
2. **Merge.** A short piece mostly within another's columns belongs to it (the detached
   bar of a 5, a 7's crossbar, a 1's flag); a speck next to a stroke joins it, and far
   from everything it is noise. Two close pieces that together have a digit's size (a 0
   drawn with a gap, an open 4) are offered as one digit too.
3. **Cut.** A piece wider than its height may hold touching digits. Where to cut is
   chosen by the column profile of severed ink links: into as many digits as its width
   suggests and one more, at its thinnest places, and (for a piece wider than SPLIT_WIDTH,
   or one the caller opens: a narrower piece the model doubts whole, see may_hold_two)
   every GRID_STEP besides (or only within the caller's windows: see lattice):
   over-segmentation, the model rejects the wrong parts. Each
   cut then follows the path from
   the piece's top to its bottom that severs the least ink (a shortest path by dynamic
   programming over the rows, diagonals allowed, within a band around its column), so it
   slips between digits that lean into or overlap each other; each cut costs the reading
   a little per pen stroke it severs. Scraps of the neighbour left by a cut are dropped,
   and a cut part is also offered with the ink just past its cut (where digits overlap,
   the crossing is both digits'; see SPILL).
   With the page's stroke hint (each stroke's x-range), a cut is offered only between
   strokes (see _hinted). A wide piece no taller than FLAT pen widths is a line, never cut.
4. **Choose.** candidates() (or layout() then lattice()) returns every offered part as a
   crop and the ways they chain left to right (a Reading); the caller scores each crop
   with the model, in one batched run (two with opened pieces: recognizer.numbers.read_parts),
   and best_path() picks the reading with the highest total; path_share() says how much of
   the weight of all readings made of digits it holds. segment() is the geometry's own
   choice, without the model.

count_digit_groups() and looks_like_several_digits() are the cheap test for single-digit
mode: merging only, never cutting. Everything here is a pure function on arrays.
"""

from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from recognizer.preprocess import INK_THRESHOLD

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

SPLIT_WIDTH = 1.5
"""A piece wider than this many digit heights is several digits to the geometry alone;
narrower, one. Either way the model is offered the other reading too."""

DIGIT_WIDTH = 0.62
"""A digit's typical width in digit heights: where the cuts of a wide piece are sought."""

CONSIDER_SPLIT = 1.05
"""A piece wider than this many digit heights may be two digits: the model is asked."""

NARROW_SPLIT = 0.45
"""A piece wider than this many digit heights (but narrower than CONSIDER_SPLIT) may be two
narrow digits touching: it is offered cut if the model doubts it whole."""

GRID_STEP = 0.12
"""Besides its thinnest places, a piece opened (see may_hold_two) or wider than SPLIT_WIDTH
is tried cut every this many digit heights."""

WIDE = 0.8
WIDE_COST = 1.0
"""A part wider than WIDE digit heights costs the reading WIDE_COST per digit height more."""

MIN_PART = 0.06
"""No cut is tried closer than this many digit heights to a piece's edge."""

MAX_SPAN = 6
"""A part is tried across at most this many neighbouring candidate cuts' intervals."""

MAX_PART = 1.2
"""A part wider than this many digit heights is not tried as one digit (unless whole)."""

CUT_SPACING = 0.12
"""Candidate cuts at a piece's thinnest places are at least this many digit heights apart."""

JOIN_GAP = 0.12
JOIN_WIDTH = 1.1
"""Two pieces this close (in digit heights), and together no wider than JOIN_WIDTH, may be
one digit drawn with a gap: the model is asked."""

ALTERNATIVE = -0.15
"""The prior cost of a cut the geometry would not make, in log-confidence: small, so that
the model's reading decides (larger costs kept touching digits together that the model
read clearly apart; first chosen on the number test set, before the development set of
training.number_sets existed, and kept since)."""

JOIN_COST = -0.3
"""The prior cost of reading two close pieces as one digit broken in two."""

SHORT_COST = -1.5
"""The prior cost of reading a part shorter than TALL digit heights as a digit of its own."""

FULL = 0.75
"""A part at least this many digit heights tall pays nothing for its height; between TALL and
FULL it pays part of SHORT_COST. Digits cut from one piece are about as tall as each other
(people write a number at one size), while strips cut from a letter or a shape (the V of an
M, a triangle's side, a zigzag's tooth) are shorter than the whole."""

PATH_BAND = 0.25
"""A cut's path may stray this many digit heights either side of the column it starts from."""

PATH_STEP = 0.1
"""What a diagonal step of a cut's path costs, in severed ink pixels: it goes straight
where nothing is in its way."""

PATH_DRIFT = 0.02
"""What a cut's path costs per row at the edge of its band, in severed ink pixels: among
equally clean paths, the one nearest its start column."""

FLAT = 2.0
"""A wide piece no taller than this many pen widths is a line, not digits (see _flat): a digit
is several pen widths tall, or the pen would fill it in."""

STRADDLE = 0.15
"""With the page's stroke hint, a cut that one stroke reaches past by this many digit heights
on both sides is no cut between digits (see _hinted); a neighbour's stroke that only
touches or crosses a little (a 7's bar over a 4) reaches less far."""

SHARED = 0.5
"""With the stroke hint, two strokes that share this much of the narrower one's columns are
one digit's (see _hinted): neighbouring digits share a few columns at most."""

SAME_PATH = 0.04
"""Two cuts whose paths are on average closer than this many digit heights are one."""

CUT_COST = 0.25
"""The prior cost of a cut, in log-confidence per pen stroke its path severs."""

SPILL = 0.1
SPILL_PART = 0.4
"""A part cut along a path, at least SPILL_PART digit heights wide, is also offered with the
piece's ink up to SPILL digit heights beyond its paths: where two digits overlap, the ink
where they cross is both digits', and a part that lost it may read as another digit (a 6
whose loop was cut open reads 5, a 9 as 7). The model reads both, and the reading takes the
one it believes. Narrower parts are not: their neighbours' ink would outweigh their own, and
a sliver with it read as a digit of its own (tuned on the development set)."""

SCRAP = 0.12
"""After a cut, ink in a part smaller than this fraction of the part's mass is the
neighbour's, if it is not attached to the part's main piece."""


Cut = int | np.ndarray
"""Where a piece is cut: a column (a straight cut) or one column per row of the piece (a
path); a part is the piece's ink from its left cut's column up to, not including, its right's."""


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
class DigitCrop:
    """One digit's ink, everything else blanked, and where it is in the picture."""

    ink: np.ndarray
    """The digit's ink (0..1) within `box`, at the working resolution of `segment`'s input."""
    box: tuple[int, int, int, int]
    """x0, y0, x1, y1 (x1, y1 exclusive) in the pixels of the original image."""


@dataclass(frozen=True)
class _Piece:
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
class Reading:
    """Every plausible way to read a drawing as digits, left to right.

    Nodes 0..nodes-1 are places between digits; each edge (start, end, crop, prior) reads
    `crops[crop]` as the digit between them. A path from 0 to the last node is one reading.
    The geometry's own reading has prior 0 on every edge but the severed ink of its cuts;
    an alternative cut costs ALTERNATIVE, a join JOIN_COST, a part too short to be a digit
    SHORT_COST, and every cut CUT_COST per pen stroke it severs.
    """

    crops: list[DigitCrop]
    edges: list[tuple[int, int, int, float]]
    nodes: int
    own: list[float] = field(default_factory=list)
    """Each edge's prior for the geometry's own choice (segment): without the cost of the
    ink its cuts sever, which is evidence for the model's choice, not the geometry's."""
    keys: list[tuple] = field(default_factory=list)
    """Each crop's identity (its piece and cut columns): the same key is the same crop in
    any reading of the same layout, so a second pass need not prepare or read it again."""


def segment(ink: np.ndarray, scale: float = 1.0, max_parts: int | None = None) -> list[DigitCrop]:
    """The digits of a drawing by geometry alone, left to right; [] for a blank one.

    `ink` is the drawing as ink strength (see recognizer.preprocess.ink_image); `scale` is the
    original image's pixels per `ink` pixel, so that boxes are in the original's pixels.
    Raises TooManyParts when there are more than `max_parts` digits (checked early, so a
    scribble of a thousand dots costs little).
    """
    reading = candidates(ink, scale, max_parts)
    geometric = [(s, e, c, p) for (s, e, c, _), p in zip(reading.edges, reading.own, strict=True)]
    path = best_path(Reading(reading.crops, geometric, reading.nodes), np.zeros(len(reading.crops)))
    if max_parts is not None and len(path) > max_parts:
        raise TooManyParts(len(path))
    return [reading.crops[i] for i in path]


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


@dataclass(frozen=True)
class Layout:
    """A drawing's pieces, found once and read in up to two passes of the model (see
    recognizer.numbers.read_parts): the labelled mask, the merged pieces left to right, and
    the height of a digit in it."""

    ink: np.ndarray
    scale: float
    factor: int
    labels: np.ndarray
    groups: list[_Piece]
    height: float
    origin: tuple[int, int] = (0, 0)
    """Where `ink` starts in the drawing (row, column), when it is only its inked window."""
    strokes: tuple[tuple[float, float], ...] | None = None
    """The pen strokes' column ranges in the reduced mask (the page's stroke hint), if the
    request carried them: cuts then pass only between strokes (see _hinted)."""


def layout(
    ink: np.ndarray,
    scale: float = 1.0,
    max_parts: int | None = None,
    factor: int | None = None,
    origin: tuple[int, int] = (0, 0),
    strokes: list[tuple[float, float]] | None = None,
) -> Layout:
    """The pieces of a drawing (none for a blank one); raises TooManyParts as segment does.

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
        least = sum(1 if one else _count(g, height) for g, one in zip(groups, single, strict=True))
        if least > max_parts:
            raise TooManyParts(least, wide=not all(single))
    return Layout(ink, scale, factor, labels, groups, height, origin, hint)


def may_hold_two(drawing: Layout) -> list[int]:
    """The pieces that may be one digit or two touching (a 1 against a 7, two 1s, a 0
    against a 2): read whole first, and cut finely only if the model doubts the whole.
    Those wider than CONSIDER_SPLIT are offered a few cuts at once; narrower, none."""
    return [
        k
        for k, group in enumerate(drawing.groups)
        if group.height >= TALL * drawing.height
        and NARROW_SPLIT * _own(group, drawing.height) < group.width <= SPLIT_WIDTH * drawing.height
    ]


def candidates(
    ink: np.ndarray,
    scale: float = 1.0,
    max_parts: int | None = None,
    opened: Collection[int] | None = (),
) -> Reading:
    """The geometric reading of a drawing and its plausible alternatives, for the model to
    choose from (see best_path). Raises TooManyParts as segment does.

    Pieces wider than CONSIDER_SPLIT digits are offered cut; so are the narrower pieces
    in `opened` (indices into the layout's pieces, see may_hold_two), or all of them
    when `opened` is None."""
    return lattice(layout(ink, scale, max_parts), opened)


def lattice(
    drawing: Layout,
    opened: Collection[int] | None = (),
    known: dict[tuple, DigitCrop] | None = None,
    windows: dict[int, list[tuple[int, int]]] | None = None,
) -> Reading:
    """candidates() on a layout already found: every part offered, and how they chain.
    Crops in `known` (by key, from a reading of the same layout) are reused. A piece in
    `windows` is cut every GRID_STEP only within its column ranges (in the reduced mask;
    none: only at its thinnest places), so that a first reading can be refined only where
    it is unsure (see recognizer.numbers.read_parts)."""
    if not drawing.groups:
        return Reading([], [], 1)
    ink, scale, factor, labels = drawing.ink, drawing.scale, drawing.factor, drawing.labels
    groups, height = drawing.groups, drawing.height
    if opened is None:
        opened = may_hold_two(drawing)
    specs: list[tuple[tuple, int, int, Part, float, float]] = []

    def add(
        key: tuple,
        start: int,
        end: int,
        piece: _Piece,
        left: Cut,
        right: Cut,
        prior: float,
        cut: float = 0.0,
        spill: int = 0,
    ) -> None:
        specs.append((key, start, end, (piece, left, right, spill), prior, cut))

    spill = int(SPILL * height)
    node = 0
    ends: list[tuple[int, int]] = []  # (first node, last node) of each group
    cuts: list[tuple[list[int], list[Cut], list[float]]] = []
    points = [
        _cut_points(labels, g, height, k in opened, (windows or {}).get(k))
        for k, g in enumerate(groups)
    ]
    found = _cut_paths(labels, [(g, b) for g, (_, b) in zip(groups, points, strict=True)], height)
    for k, (group, (default, bounds), (paths, severed)) in enumerate(
        zip(groups, points, found, strict=True)
    ):
        bounds, paths, severed = _distinct(bounds, paths, severed, default, height)
        owners = None
        if drawing.strokes is not None:
            bounds, paths, severed, owners = _hinted(
                group, bounds, paths, severed, drawing.strokes, height
            )
        first = node
        for i, left in enumerate(bounds):
            for j in range(i + 1, len(bounds)):
                right = bounds[j]
                if owners is not None and not owners[i:j].any() and (i, j) != (0, len(bounds) - 1):
                    continue  # no stroke of its own: a piece of a stroke is not a digit
                if (left, right) in default:
                    prior = 0.0
                elif (j - i <= MAX_SPAN and right - left <= MAX_PART * height) or (
                    i == 0 and j == len(bounds) - 1
                ):  # the whole piece is always offered: some digits are very wide
                    prior = ALTERNATIVE
                else:
                    continue
                # A reading pays for each cut it makes once: on the part to its right.
                key = (k, left, right)
                add(key, first + i, first + j, group, paths[i], paths[j], prior, severed[i])
                if (i > 0 or j < len(bounds) - 1) and right - left >= SPILL_PART * height:
                    spilled = (*key, "spill")
                    parts = (group, paths[i], paths[j], prior, severed[i], spill)
                    add(spilled, first + i, first + j, *parts)
        node = first + len(bounds) - 1
        ends.append((first, node))
        cuts.append((bounds, paths, severed))
    for k, (a, b) in enumerate(pairwise(groups)):
        if _maybe_one_digit(a, b, height):
            joined = _union(a, b)
            add((k, "join"), ends[k][0], ends[k + 1][1], joined, joined.x0, joined.x1, JOIN_COST)
        if b.height < TALL * height and _gap(a, b) <= SPECK_REACH * height:
            # A bar beside a run of touching digits (a 5's lifted bar after it): with the
            # run's last part, from each of its cuts.
            joined = _union(a, b)
            bounds, paths, severed = cuts[k]
            for i in range(1, len(bounds) - 1):
                if joined.x1 - bounds[i] > MAX_PART * height:
                    continue  # no digit is that wide
                left = _padded(paths[i], a, joined)
                span = (ends[k][0] + i, ends[k + 1][1], joined, left, joined.x1, JOIN_COST)
                add((k, "bar", bounds[i]), *span, severed[i])
                add((k, "bar", bounds[i], "spill"), *span, severed[i], spill)
    crops: list[DigitCrop] = []
    edges: list[tuple[int, int, int, float]] = []
    own: list[float] = []
    keys: list[tuple] = []
    known = known or {}
    new = [spec for spec in specs if spec[0] not in known]
    made = _crops(ink, labels, factor, scale, drawing.origin, [spec[3] for spec in new])
    found = known | {spec[0]: crop for spec, crop in zip(new, made, strict=True)}
    unit = height * factor * scale
    for key, start, end, _, prior, cut in specs:
        crop = found[key]
        if crop is None:
            continue
        tall = (crop.box[3] - crop.box[1]) / unit
        # No digit is shorter than TALL (a scrap, a bar, a flag), and the digits of one
        # number are written at one size: a part between TALL and FULL pays in part.
        prior += SHORT_COST * float(np.clip((FULL - tall) / (FULL - TALL), 0.0, 1.0))
        wide = (crop.box[2] - crop.box[0]) / unit - WIDE
        cut += WIDE_COST * max(wide, 0.0)  # evidence against, as the model's is
        edges.append((start, end, len(crops), prior - cut))
        own.append(prior)
        crops.append(crop)
        keys.append(key)
    return Reading(crops, edges, node + 1, own, keys)


def _hinted(
    piece: _Piece,
    bounds: list[int],
    paths: list[Cut],
    severed: list[float],
    strokes: tuple[tuple[float, float], ...],
    height: float,
) -> tuple[list[int], list[Cut], list[float], np.ndarray]:
    """A piece's cuts with the page's stroke hint. A person lifts the pen between digits and
    writes them side by side, so a cut is no place between digits, and is dropped, where a
    stroke reaches across it by STRADDLE digit heights on both sides (the bar of an A or an
    H, a zigzag, a row of loops), or where a stroke on its left and one on its right share
    half the columns of the narrower (a 1's flag and its stem, the two strokes of a 4).
    Also, for each interval between the kept cuts, whether a stroke of the piece has its
    middle there: a part must own a stroke to be a digit."""
    reach = STRADDLE * height
    mine = [(x0, x1) for x0, x1 in strokes if piece.x0 - reach < (x0 + x1) / 2 < piece.x1 + reach]
    middles = np.array([(x0 + x1) / 2 for x0, x1 in mine])

    def between_digits(path: Cut) -> bool:
        low, high, at = np.min(path), np.max(path), np.mean(path)
        if any(x0 < low - reach and x1 > high + reach for x0, x1 in mine):
            return False
        left = [s for s, m in zip(mine, middles, strict=True) if m < at]
        right = [s for s, m in zip(mine, middles, strict=True) if m >= at]
        return not any(
            min(a[1], b[1]) - max(a[0], b[0]) >= SHARED * min(a[1] - a[0], b[1] - b[0])
            for a in left
            for b in right
        )

    last = len(paths) - 1
    kept = [k for k, path in enumerate(paths) if k in (0, last) or between_digits(path)]
    places = [float(np.mean(paths[k])) for k in kept]
    owners = np.array(
        [bool(((middles >= a) & (middles < b)).any()) for a, b in pairwise(places)], dtype=bool
    )
    if owners.size and not owners.any():
        owners[:] = True  # no stroke lies in the piece: the hint does not describe it
    return (
        [bounds[k] for k in kept],
        [paths[k] for k in kept],
        [severed[k] for k in kept],
        owners,
    )


def _padded(path: Cut, piece: _Piece, within: _Piece) -> Cut:
    """A cut's path through `piece`, extended straight up and down to the rows of `within`."""
    if not isinstance(path, np.ndarray):
        return path
    return np.pad(path, (piece.y0 - within.y0, within.y1 - piece.y1), mode="edge")


def best_path(reading: Reading, scores: np.ndarray) -> list[int]:
    """The crops of the reading with the highest total of prior plus score, left to right.

    `scores` holds one number per crop, from the model (recognizer.numbers.reading_scores);
    zeros give the geometry's own reading (ties go to the fewer, wider parts).
    """
    best = np.full(reading.nodes, -np.inf)
    best[0] = 0.0
    came: list[tuple[int, int] | None] = [None] * reading.nodes
    for start, end, crop, prior in sorted(reading.edges):
        total = best[start] + prior + float(scores[crop])
        if total > best[end]:
            best[end], came[end] = total, (start, crop)
    path, node = [], reading.nodes - 1
    while node > 0 and came[node] is not None:
        node, crop = came[node]
        path.append(crop)
    return path[::-1]


def path_share(reading: Reading, scores: np.ndarray, allowed: np.ndarray, path: list[int]) -> float:
    """The share of a reading among all readings made of `allowed` crops, each weighed by
    the exponential of its total (prior plus score, as best_path adds them): how sure the
    reading is of its split against the other ways to read the same ink as digits. One
    close rival halves it; a drawing with one way to read it (digits apart) gets 1."""
    value = np.full(len(reading.crops), -np.inf)
    for _, _, crop, prior in reading.edges:
        value[crop] = prior + float(scores[crop])
    total = np.full(reading.nodes, -np.inf)
    total[0] = 0.0
    for start, end, crop, _ in sorted(reading.edges):
        if allowed[crop]:
            total[end] = np.logaddexp(total[end], total[start] + value[crop])
    return float(np.exp(min(0.0, value[path].sum() - total[-1])))


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


def components(mask: np.ndarray) -> tuple[np.ndarray, list[_Piece]]:
    """8-connected components: a label image (0 = background) and one piece per label."""
    labels_image, label, run_rows, starts, ends = _label(mask)
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
        _Piece(frozenset((k,)), int(x0[k]), int(y0[k]), int(x1[k]), int(y1[k]), float(mass[k]))
        for k in range(1, n)
    ]
    return labels_image, pieces


def _label(mask: np.ndarray) -> tuple[np.ndarray, ...]:
    """The label image, and each run of ink's label, row, start and end (exclusive)."""
    height, width = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    run_rows, starts = np.nonzero(edges == 1)
    ends = np.nonzero(edges == -1)[1]  # row-major order pairs them with the starts
    labels_image = np.zeros((height, width), dtype=np.int32)
    if starts.size == 0:
        return labels_image, starts, run_rows, starts, ends
    root = _union_runs(run_rows, starts, ends, width + 2)
    _, label = np.unique(root, return_inverse=True)
    label = label.ravel() + 1
    lengths = ends - starts
    offsets = np.cumsum(lengths) - lengths
    flat = np.repeat(run_rows * width + starts - offsets, lengths) + np.arange(lengths.sum())
    labels_image.ravel()[flat] = np.repeat(label, lengths)
    return labels_image, label, run_rows, starts, ends


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


def typical_height(pieces: list[_Piece]) -> float:
    """The height of a digit in this drawing: the median height of the pieces at least half
    as tall as the tallest (bars, flags and specks would pull a plain median down)."""
    tallest = max(piece.height for piece in pieces)
    return float(np.median([p.height for p in pieces if p.height >= 0.5 * tallest]))


def merge(pieces: list[_Piece], height: float, max_groups: int | None = None) -> list[_Piece]:
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
                groups[i] = _union(a, b)
                del groups[j]
                i = -1  # the grown piece may now reach others: look again from the start
                break
        i += 1
    return sorted(_attach_specks(groups, specks, height), key=lambda g: (g.x0 + g.x1) / 2)


def _attach_specks(groups: list[_Piece], specks: list[_Piece], height: float) -> list[_Piece]:
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
            grown[nearest[k]] = _union(grown[nearest[k]], speck)
    return grown


def _belong_together(a: _Piece, b: _Piece, height: float) -> bool:
    """Whether the shorter piece is surely a detached part of the other's digit: short (no
    digit is), and mostly within the other's columns, as a 5's bar or a 7's crossbar."""
    short = a if a.height <= b.height else b
    if short.height >= TALL * height:
        return False  # might be a digit of its own: the model is asked (see candidates)
    overlap = min(a.x1, b.x1) - max(a.x0, b.x0)
    if overlap < CONTAINED * short.width:
        return False
    return max(a.y1, b.y1) - min(a.y0, b.y0) <= 1.4 * height


def _is_speck(piece: _Piece, height: float) -> bool:
    return max(piece.width, piece.height) < SPECK * height


def _union(a: _Piece, b: _Piece) -> _Piece:
    return _Piece(
        a.labels | b.labels,
        min(a.x0, b.x0),
        min(a.y0, b.y0),
        max(a.x1, b.x1),
        max(a.y1, b.y1),
        a.mass + b.mass,
    )


def _count(piece: _Piece, height: float) -> int:
    """How many digits a piece too wide for one holds, by its width."""
    return max(2, round(piece.width / (DIGIT_WIDTH * height)))


def _profile(labels: np.ndarray, piece: _Piece) -> np.ndarray:
    """What a vertical cut costs at each column of the piece: the ink links it would sever
    (pixels of column c-1 touching pixels of column c, 8-connected).

    Where two digits touch, only the contact is severed; through the middle of a digit,
    whole strokes are. A plain column projection would prefer cutting a 0 in half (two thin
    strokes) to cutting between two touching 0s (two upright sides side by side).
    """
    region = np.isin(labels[piece.y0 : piece.y1, piece.x0 : piece.x1], list(piece.labels))
    left, right = region[:, :-1], region[:, 1:]
    links = (left & right).sum(axis=0)
    links += (left[:-1] & right[1:]).sum(axis=0) + (left[1:] & right[:-1]).sum(axis=0)
    return np.concatenate(([region[:, 0].sum()], links)).astype(np.float64)


def _own(piece: _Piece, height: float) -> float:
    """The height a piece's width is weighed against: its own, or most of a digit's."""
    return max(piece.height, 0.75 * height)


def _offered_cuts(piece: _Piece, height: float, opened: bool) -> bool:
    """Whether a piece is offered cut: tall enough for a digit, and wider than two narrow
    digits side by side if opened (see may_hold_two), than two digits otherwise."""
    limit = NARROW_SPLIT if opened else CONSIDER_SPLIT
    return (
        not piece.flat
        and piece.height >= TALL * height
        and piece.width > limit * _own(piece, height)
    )


def _flat(labels: np.ndarray, piece: _Piece) -> _Piece:
    """The piece, marked flat if it is a line: wider than two digits of its height, and no
    more than FLAT pen widths tall. A minus sign or an underline is one part, never a row of
    digits to cut; however long, it counts as one part."""
    if piece.width <= CONSIDER_SPLIT * piece.height:
        return piece
    region = np.isin(labels[piece.y0 : piece.y1, piece.x0 : piece.x1], list(piece.labels))
    if piece.height > FLAT * _pen_width(region):
        return piece
    return _Piece(piece.labels, piece.x0, piece.y0, piece.x1, piece.y1, piece.mass, flat=True)


def has_touching_digits(drawing: Layout) -> bool:
    """Whether some piece is wide enough to be offered cut in the first pass (see
    lattice): then the model reads dozens of candidate parts, not one per piece."""
    return any(_offered_cuts(group, drawing.height, False) for group in drawing.groups)


def finely_cut(drawing: Layout) -> set[int]:
    """The pieces that lattice cuts every GRID_STEP (where `windows` allows): offered cut,
    and too wide to be one digit."""
    return {
        k
        for k, group in enumerate(drawing.groups)
        if _offered_cuts(group, drawing.height, False)
        and group.width > SPLIT_WIDTH * drawing.height
    }


def _cut_points(
    labels: np.ndarray,
    piece: _Piece,
    height: float,
    opened: bool = False,
    window: list[tuple[int, int]] | None = None,
) -> tuple[set[tuple[int, int]], list[int]]:
    """The parts the geometry cuts a piece into, as column ranges, and every column where
    the model may also consider a cut: for a piece wide enough to hold two digits, the cuts
    into as many digits as its width suggests and into one more, and its thinnest places."""
    whole = {(piece.x0, piece.x1)}
    if not _offered_cuts(piece, height, opened):
        return whole, [piece.x0, piece.x1]
    profile = _profile(labels, piece)
    count = _count(piece, height)
    cuts = [piece.x0 + c for c in _cuts(profile, count)]
    # The geometry keeps a piece whole unless it is too wide to be one digit.
    default = (
        whole if piece.width <= SPLIT_WIDTH * height else set(pairwise([piece.x0, *cuts, piece.x1]))
    )
    if piece.width <= SPLIT_WIDTH * height:
        # Most likely one wide digit, at most two: the two thinnest places, no more, so
        # that a number of separated wide digits stays a handful of crops.
        more = _deepest(profile, height, 2)
    else:
        more = _cuts(profile, count + 1) + _deepest(profile, height, count + 1)
    # And a cut every GRID_STEP: the thinnest places are not always where digits meet (an
    # open 0 against a 2 is as thin through its own hollow as at the contact).
    # Within `window` only, if given (columns of the reduced mask).
    if opened or piece.width > SPLIT_WIDTH * height:
        step = max(1, int(GRID_STEP * height))
        margin = max(1, int(MIN_PART * height))
        grid = range(margin + step // 2, piece.width - margin, step)
        if window is not None:
            grid = [c for c in grid if any(a <= piece.x0 + c < b for a, b in window)]
        more = more + list(grid)
    # Near-duplicate cuts would only multiply the crops: keep one of each, the plain one first.
    bounds = [piece.x0, piece.x1, *cuts]
    for c in sorted(piece.x0 + c for c in more):
        if all(abs(c - b) >= MIN_PART * height for b in bounds):
            bounds.append(c)
    return default, sorted(bounds)


def _cut_paths(
    labels: np.ndarray, cut: list[tuple[_Piece, list[int]]], height: float
) -> list[tuple[list[Cut], list[float]]]:
    """Each inner cut of each piece as a path from the piece's top row to its bottom row
    that severs the least ink: a shortest path by dynamic programming over the rows,
    starting anywhere within PATH_BAND digit heights of the cut's column and moving at most
    one column per row (diagonals allowed), so that it slips between strokes that cross or
    lean into each other, where a straight cut would slice both digits. The pieces' edges
    stay straight. All cuts of all pieces are found together, in one pass over the rows
    (the shorter pieces padded with free rows), so that the cost is one loop per drawing.

    Also each bound's prior cost: CUT_COST per pen stroke its path severs (0 at the left
    edge): two digits that touch meet at one place, a digit cut in two (an 8, a 0) is
    severed at two or more."""
    band = max(2, int(PATH_BAND * height))
    offsets = np.arange(-band, band + 1)
    margin = max(1, int(MIN_PART * height))  # no sliver of a part at either edge
    work = [(piece, bounds) for piece, bounds in cut if len(bounds) > 2]
    rows = max((piece.height for piece, _ in work), default=0)
    layers, costs, pens = [], [], []
    for piece, bounds in work:
        region = np.isin(labels[piece.y0 : piece.y1, piece.x0 : piece.x1], list(piece.labels))
        # The cost of a cut just left of column c in a row: the ink pixels on either side
        # of it (2 through a stroke, 1 grazing one, 0 in the clear).
        ink = region.astype(np.float32)
        edge = np.full((piece.height, 1), np.inf, dtype=np.float32)
        cost = np.concatenate((edge, ink[:, :-1] + ink[:, 1:], edge), axis=1)
        columns = np.array(bounds[1:-1])[:, None] - piece.x0 + offsets[None, :]
        inside = (columns >= margin) & (columns <= piece.width - margin)
        steps = np.zeros((rows, *columns.shape), dtype=np.float32)
        steps[: piece.height] = cost[:, np.clip(columns, 0, piece.width)]
        # Among paths that sever as little, the one nearest the cut's own column.
        steps[: piece.height] += PATH_DRIFT * np.abs(offsets) / band
        steps[:, ~inside] = np.inf
        layers.append(steps)
        costs.append(cost)
        pens.append(_pen_width(region))
    paths = _shortest_paths(np.concatenate(layers, axis=1)) if layers else None
    found: dict[int, tuple[list[Cut], list[float]]] = {}
    first = 0
    for k, (piece, bounds) in enumerate(work):
        inner = len(bounds) - 2
        columns = (
            np.array(bounds[1:-1])
            - piece.x0
            + offsets[paths[: piece.height, first : first + inner]]
        )
        first += inner
        crossed = np.take_along_axis(costs[k], columns, axis=1).sum(axis=0)
        severed = [0.0, *(CUT_COST * float(c) / (2 * pens[k]) for c in crossed), 0.0]
        found[id(piece)] = (
            [piece.x0, *(columns[:, i] + piece.x0 for i in range(inner)), piece.x1],
            severed,
        )
    return [found.get(id(piece), (list(bounds), [0.0] * len(bounds))) for piece, bounds in cut]


def _shortest_paths(steps: np.ndarray) -> np.ndarray:
    """For rows x paths x band costs, each path's band position in each row: the cheapest
    way down, one position left or right at most per row, a move costing PATH_STEP."""
    rows, count, _ = steps.shape
    totals = np.empty_like(steps)
    totals[0] = steps[0]
    for r in range(1, rows):
        previous = totals[r - 1]
        best = previous.copy()
        np.minimum(best[:, 1:], previous[:, :-1] + PATH_STEP, out=best[:, 1:])
        np.minimum(best[:, :-1], previous[:, 1:] + PATH_STEP, out=best[:, :-1])
        np.add(best, steps[r], out=totals[r])
    # Back from the cheapest end: each row's position is the cheapest reachable neighbour.
    at = totals[-1].argmin(axis=1)
    lanes = np.arange(count)[:, None]
    path = np.empty((rows, count), dtype=np.int64)
    path[-1] = at
    padded = np.pad(totals, ((0, 0), (0, 0), (1, 1)), constant_values=np.inf)
    moves = np.array([PATH_STEP, 0.0, PATH_STEP], dtype=np.float32)
    for r in range(rows - 1, 0, -1):
        around = padded[r - 1, lanes, at[:, None] + np.arange(3)] + moves
        at = at + around.argmin(axis=1) - 1
        path[r - 1] = at
    return path


def _distinct(
    bounds: list[int],
    paths: list[Cut],
    severed: list[float],
    default: set[tuple[int, int]],
    height: float,
) -> tuple[list[int], list[Cut], list[float]]:
    """The cuts without those whose paths ended up along another's (paths from nearby
    columns often find the same way through): fewer parts to read, and a part spanning
    several cuts is not pushed past MAX_SPAN by copies. The geometry's own cuts are kept
    first, so that its reading stays whole."""
    if len(bounds) <= 2:
        return bounds, paths, severed  # the piece's edges: nothing to compare
    # Every pair's mean distance at once: pair by pair, the comparisons cost a number of
    # touching digits more than its cuts' paths did.
    rows = max(np.size(path) for path in paths)
    columns = np.stack([np.broadcast_to(path, (rows,)) for path in paths]).astype(np.float64)
    near = (
        np.abs(columns[:, None, :] - columns[None, :, :]).mean(axis=2) < SAME_PATH * height
    ).tolist()
    own = {column for pair in default for column in pair}
    order = sorted(range(len(bounds)), key=lambda k: (bounds[k] not in own, k))
    kept: list[int] = []
    for k in order:
        if not any(near[k][m] for m in kept):
            kept.append(k)
    kept.sort(key=lambda k: bounds[k])
    return [bounds[k] for k in kept], [paths[k] for k in kept], [severed[k] for k in kept]


def _pen_width(region: np.ndarray) -> float:
    """The stroke width of a piece, in pixels: twice its area over its outline's length
    (exact for a long thin stroke)."""
    outline = np.count_nonzero(np.diff(region, axis=0)) + np.count_nonzero(np.diff(region, axis=1))
    outline += np.count_nonzero(region[[0, -1]]) + np.count_nonzero(region[:, [0, -1]])
    return max(1.0, 2.0 * np.count_nonzero(region) / max(outline, 1))


def _deepest(profile: np.ndarray, height: float, count: int) -> list[int]:
    """Up to `count` local minima of the column projection with the least ink crossing,
    a little apart and off the edges: where touching digits meet."""
    margin = max(1, int(MIN_PART * height))
    inner = np.convolve(np.pad(profile, 1, mode="edge"), np.ones(3) / 3, mode="valid")
    inner = inner[margin : len(profile) - margin]
    if inner.size < 3:
        return []
    minima = np.flatnonzero(
        (inner <= np.concatenate(([np.inf], inner[:-1])))
        & (inner <= np.concatenate((inner[1:], [np.inf])))
    )
    spacing = max(2, int(CUT_SPACING * height))
    chosen: list[int] = []
    for k in minima[np.argsort(inner[minima], kind="stable")]:
        if all(abs(int(k) - c) >= spacing for c in chosen):
            chosen.append(int(k))
            if len(chosen) == count:
                break
    return [margin + c for c in chosen]


def _maybe_one_digit(a: _Piece, b: _Piece, height: float) -> bool:
    """Whether two neighbouring pieces could be one digit broken in two (an MNIST 0 drawn
    with a gap, a 5 whose bar floats off the stem): close, and digit-sized together. A
    short piece (a bar, a flag) may float further off than a tall one."""
    joined = _union(a, b)
    short = min(a.height, b.height) < TALL * height
    reach = (SPECK_REACH if short else JOIN_GAP) * height
    return (
        b.x0 - a.x1 <= reach
        and _gap(a, b) <= reach
        and joined.width <= (2.0 if short else JOIN_WIDTH) * height
        and joined.height <= 1.3 * height
    )


def _gap(a: _Piece, b: _Piece) -> float:
    """Distance between two boxes (0 when they overlap)."""
    dx = max(a.x0 - b.x1, b.x0 - a.x1, 0)
    dy = max(a.y0 - b.y1, b.y0 - a.y1, 0)
    return float(np.hypot(dx, dy))


def _cuts(profile: np.ndarray, count: int) -> list[int]:
    """Cuts into `count` parts: the projection minimum near each place where digits of
    equal width would meet (touching digits meet where the least ink crosses)."""
    width = len(profile)
    pitch = width / count
    cuts = []
    for k in range(1, count):
        centre = k * pitch
        low = int(max(centre - 0.45 * pitch, 1))
        high = int(min(centre + 0.45 * pitch, width - 1))
        if high <= low:
            continue
        window = profile[low:high]
        # Least ink crossing, and, among near-equal minima, the one nearest the expected place.
        cost = window + 0.15 * np.abs(np.arange(low, high) - centre) / pitch * window.max()
        cuts.append(low + int(cost.argmin()))
    return sorted(set(cuts))


Part = tuple[_Piece, Cut, Cut, int]
"""A part to crop: its piece, its left and right cuts, and how far it spills past a path."""


def _crops(
    ink: np.ndarray,
    labels: np.ndarray,
    factor: int,
    scale: float,
    origin: tuple[int, int],
    parts: list[Part],
) -> list[DigitCrop | None]:
    """Each part's ink at full resolution, with its box in original pixels (`ink` starting at
    `origin` of the drawing): the piece's ink between two cuts (columns, or paths with one
    column per row), and up to `spill` columns past a path (see SPILL); None for a part
    with no ink. The scraps of the neighbours are dropped from all cut parts at once."""
    regions = [_region(labels, *part) for part in parts]
    cut = [
        k
        for k, (found, (piece, _, _, _)) in enumerate(zip(regions, parts, strict=True))
        if found is not None and (found[1], found[1] + found[0].shape[1]) != (piece.x0, piece.x1)
    ]
    for k, kept in zip(cut, _drop_scraps([regions[k][0] for k in cut]), strict=True):
        regions[k] = (kept, regions[k][1])
    return [
        None if found is None else _finish(ink, labels, factor, scale, origin, part[0], *found)
        for found, part in zip(regions, parts, strict=True)
    ]


def _region(
    labels: np.ndarray, piece: _Piece, left_cut: Cut, right_cut: Cut, spill: int
) -> tuple[np.ndarray, int] | None:
    """A part's pixels in the reduced mask, over the piece's rows, from the column returned."""
    left_spill = spill if isinstance(left_cut, np.ndarray) else 0
    right_spill = spill if isinstance(right_cut, np.ndarray) else 0
    left = max(int(np.min(left_cut)) - left_spill, piece.x0)
    right = min(int(np.max(right_cut)) + right_spill, piece.x1)
    if right <= left:
        return None
    window_labels = labels[piece.y0 : piece.y1, left:right]
    if len(piece.labels) == 1:
        region = window_labels == next(iter(piece.labels))
    else:
        region = np.isin(window_labels, list(piece.labels))
    if isinstance(left_cut, np.ndarray) or isinstance(right_cut, np.ndarray):
        columns = np.arange(left, right)
        between = (columns >= np.reshape(left_cut, (-1, 1)) - left_spill) & (
            columns < np.reshape(right_cut, (-1, 1)) + right_spill
        )
        region &= between
    return region, left


def _finish(
    ink: np.ndarray,
    labels: np.ndarray,
    factor: int,
    scale: float,
    origin: tuple[int, int],
    piece: _Piece,
    region: np.ndarray,
    left: int,
) -> DigitCrop | None:
    """A part's crop from its pixels in the reduced mask (see _region)."""
    rows = np.flatnonzero(region.any(axis=1))
    cols = np.flatnonzero(region.any(axis=0))
    if rows.size == 0:
        return None
    window_labels = labels[piece.y0 : piece.y1, left : left + region.shape[1]]
    inside = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    region = region[inside]
    top, left = (piece.y0 + rows[0]) * factor, (left + cols[0]) * factor
    bottom, right = top + region.shape[0] * factor, left + region.shape[1] * factor
    window = ink[top:bottom, left:right]
    if np.array_equal(region, window_labels[inside] > 0):
        digit = window  # no other part's ink in the box: nothing to blank (the usual case)
    else:
        full = np.repeat(np.repeat(region, factor, axis=0), factor, axis=1)
        digit = np.where(full[: window.shape[0], : window.shape[1]], window, 0.0)
    strong = digit >= INK_THRESHOLD
    ink_rows = np.flatnonzero(strong.any(axis=1))
    ink_cols = np.flatnonzero(strong.any(axis=0))
    if ink_rows.size == 0:
        return None
    digit = digit[ink_rows[0] : ink_rows[-1] + 1, ink_cols[0] : ink_cols[-1] + 1]
    y0, x0 = origin[0] + top + ink_rows[0], origin[1] + left + ink_cols[0]
    box = (
        int(np.floor(x0 * scale)),
        int(np.floor(y0 * scale)),
        int(np.ceil((x0 + digit.shape[1]) * scale)),
        int(np.ceil((y0 + digit.shape[0]) * scale)),
    )
    return DigitCrop(digit.astype(np.float32, copy=False), box)


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
    labels, label, _, starts, ends = _label(side_by_side)
    if label.size == 0:
        return regions
    part = np.searchsorted(firsts, starts, side="right") - 1
    lengths = ends - starts
    part_mass = np.bincount(part, weights=lengths, minlength=len(regions))
    mass = np.bincount(label, weights=lengths)
    owner = np.zeros(len(mass), dtype=np.int64)
    owner[label] = part
    keep = mass >= SCRAP * part_mass[owner]
    keep[0] = False
    kept = keep[labels]
    return [
        kept[: region.shape[0], first : first + region.shape[1]]
        for region, first in zip(regions, firsts, strict=True)
    ]
