"""Where a piece of touching digits may be cut, for the model to choose (recognizer.lattice).

A piece wider than its height may hold touching digits. Where to cut is chosen by the column
profile of severed ink links: into as many digits as its width suggests and one more, at its
thinnest places, and (for a piece wider than SPLIT_WIDTH, or one the caller opens: a
narrower piece the model doubts whole, see may_hold_two) every GRID_STEP besides (or only
within the caller's windows): over-segmentation, the model rejects the wrong parts. Each cut
then follows the path from the piece's top to its bottom that severs the least ink (a
shortest path by dynamic programming over the rows, diagonals allowed, within a band around
its column), so it slips between digits that lean into or overlap each other; each cut costs
the reading a little per pen stroke it severs. With the page's stroke hint (each stroke's
x-range), a cut is offered only between strokes (see _hinted). A wide piece no taller than
FLAT pen widths is a line, never cut (recognizer.pieces).
"""

from collections.abc import Collection
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from recognizer.pieces import (
    CONSIDER_SPLIT,
    SPLIT_WIDTH,
    TALL,
    Layout,
    Piece,
    digit_count,
    pen_width,
    piece_mask,
)

NARROW_SPLIT = 0.45
"""A piece wider than this many digit heights (but narrower than CONSIDER_SPLIT) may be two
narrow digits touching: it is offered cut if the model doubts it whole."""

GRID_STEP = 0.12
"""Besides its thinnest places, a piece opened (see may_hold_two) or wider than SPLIT_WIDTH
is tried cut every this many digit heights."""

MIN_PART = 0.06
"""No cut is tried closer than this many digit heights to a piece's edge."""

CUT_SPACING = 0.12
"""Candidate cuts at a piece's thinnest places are at least this many digit heights apart."""

PATH_BAND = 0.25
"""A cut's path may stray this many digit heights either side of the column it starts from."""

PATH_STEP = 0.1
"""What a diagonal step of a cut's path costs, in severed ink pixels: it goes straight
where nothing is in its way."""

PATH_DRIFT = 0.02
"""What a cut's path costs per row at the edge of its band, in severed ink pixels: among
equally clean paths, the one nearest its start column."""

SAME_PATH = 0.04
"""Two cuts whose paths are on average closer than this many digit heights are one."""

CUT_COST = 0.25
"""The prior cost of a cut, in log-confidence per pen stroke its path severs."""

STRADDLE = 0.15
"""With the page's stroke hint, a cut that one stroke reaches past by this many digit heights
on both sides is no cut between digits (see _hinted); a neighbour's stroke that only
touches or crosses a little (a 7's bar over a 4) reaches less far."""

SHARED = 0.5
"""With the stroke hint, two strokes that share this much of the narrower one's columns are
one digit's (see _hinted): neighbouring digits share a few columns at most."""


Cut = int | np.ndarray
"""Where a piece is cut: a column (a straight cut) or one column per row of the piece (a
path); a part is the piece's ink from its left cut's column up to, not including, its right's."""


@dataclass(frozen=True)
class PieceCuts:
    """Where one piece may be cut, left to right, its edges included."""

    default: set[tuple[int, int]]
    """The parts the geometry itself would cut the piece into, as column ranges."""
    bounds: list[int]
    """The piece's edges and the column each cut starts from."""
    paths: list[Cut]
    """Each bound's cut: the edges straight, the others along their paths."""
    severed: list[float]
    """Each bound's prior cost: CUT_COST per pen stroke its path severs (0 at the edges)."""
    owners: np.ndarray | None
    """With the stroke hint, whether a stroke has its middle between each two neighbouring
    bounds (a part must own a stroke to be a digit); None without it."""


def cut_pieces(
    drawing: Layout,
    opened: Collection[int] | None = (),
    windows: dict[int, list[tuple[int, int]]] | None = None,
) -> list[PieceCuts]:
    """Where each piece of a layout may be cut. Pieces wider than CONSIDER_SPLIT digits are
    offered cut; so are the narrower pieces in `opened` (indices into the layout's pieces),
    or all that may hold two (see may_hold_two) when `opened` is None. A piece in `windows`
    is cut every GRID_STEP only within its column ranges (in the reduced mask; none: only at
    its thinnest places), so that a first reading can be refined only where it is unsure
    (see recognizer.numbers.read_parts)."""
    labels, height = drawing.labels, drawing.height
    if opened is None:
        opened = may_hold_two(drawing)
    points = [
        _cut_points(labels, g, height, k in opened, (windows or {}).get(k))
        for k, g in enumerate(drawing.groups)
    ]
    pairs = [(g, b) for g, (_, b) in zip(drawing.groups, points, strict=True)]
    found = []
    for group, (default, bounds), (paths, severed) in zip(
        drawing.groups, points, _cut_paths(labels, pairs, height), strict=True
    ):
        bounds, paths, severed = _distinct(bounds, paths, severed, default, height)
        owners = None
        if drawing.strokes is not None:
            bounds, paths, severed, owners = _hinted(
                group, bounds, paths, severed, drawing.strokes, height
            )
        found.append(PieceCuts(default, bounds, paths, severed, owners))
    return found


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


def has_touching_digits(drawing: Layout) -> bool:
    """Whether some piece is wide enough to be offered cut in the first pass (see
    recognizer.numbers.read_parts): then the model reads dozens of candidate parts, not one
    per piece."""
    return any(_offered_cuts(group, drawing.height, False) for group in drawing.groups)


def finely_cut(drawing: Layout) -> set[int]:
    """The pieces that cut_pieces cuts every GRID_STEP (where `windows` allows): offered cut,
    and too wide to be one digit."""
    return {
        k
        for k, group in enumerate(drawing.groups)
        if _offered_cuts(group, drawing.height, False)
        and group.width > SPLIT_WIDTH * drawing.height
    }


def _own(piece: Piece, height: float) -> float:
    """The height a piece's width is weighed against: its own, or most of a digit's."""
    return max(piece.height, 0.75 * height)


def _offered_cuts(piece: Piece, height: float, opened: bool) -> bool:
    """Whether a piece is offered cut: tall enough for a digit, and wider than two narrow
    digits side by side if opened (see may_hold_two), than two digits otherwise."""
    limit = NARROW_SPLIT if opened else CONSIDER_SPLIT
    return (
        not piece.flat
        and piece.height >= TALL * height
        and piece.width > limit * _own(piece, height)
    )


def _cut_points(
    labels: np.ndarray,
    piece: Piece,
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
    count = digit_count(piece, height)
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


def _profile(labels: np.ndarray, piece: Piece) -> np.ndarray:
    """What a vertical cut costs at each column of the piece: the ink links it would sever
    (pixels of column c-1 touching pixels of column c, 8-connected).

    Where two digits touch, only the contact is severed; through the middle of a digit,
    whole strokes are. A plain column projection would prefer cutting a 0 in half (two thin
    strokes) to cutting between two touching 0s (two upright sides side by side).
    """
    region = piece_mask(labels, piece)
    left, right = region[:, :-1], region[:, 1:]
    links = (left & right).sum(axis=0)
    links += (left[:-1] & right[1:]).sum(axis=0) + (left[1:] & right[:-1]).sum(axis=0)
    return np.concatenate(([region[:, 0].sum()], links)).astype(np.float64)


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


def _cut_paths(
    labels: np.ndarray, cut: list[tuple[Piece, list[int]]], height: float
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
        region = piece_mask(labels, piece)
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
        pens.append(pen_width(region))
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
    way down, one position left or right at most per row, a move costing PATH_STEP.

    The totals carry a column of infinity on each side of the band, so that each row is
    four whole-array operations, none of them allocating: the cheaper neighbour plus the
    move, or staying, plus the row's cost (about ninety rows for the page's pad, in each of
    a number's one or two passes)."""
    rows, count, band = steps.shape
    padded = np.full((rows, count, band + 2), np.inf, dtype=steps.dtype)
    totals = padded[:, :, 1:-1]
    totals[0] = steps[0]
    moved = np.empty((count, band), dtype=steps.dtype)
    for r in range(1, rows):
        previous = padded[r - 1]
        np.minimum(previous[:, :-2], previous[:, 2:], out=moved)
        moved += PATH_STEP
        np.minimum(moved, previous[:, 1:-1], out=moved)
        np.add(moved, steps[r], out=totals[r])
    # Back from the cheapest end: each row's position is the cheapest reachable neighbour.
    at = totals[-1].argmin(axis=1)
    lanes = np.arange(count)[:, None]
    path = np.empty((rows, count), dtype=np.int64)
    path[-1] = at
    moves = np.array([PATH_STEP, 0.0, PATH_STEP], dtype=np.float32)
    around_at = np.arange(3)
    for r in range(rows - 1, 0, -1):
        around = padded[r - 1, lanes, at[:, None] + around_at] + moves
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


def _hinted(
    piece: Piece,
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
