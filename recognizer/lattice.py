"""Every plausible reading of a drawing as digits, left to right, and the best of them.

recognizer.pieces finds a drawing's pieces and recognizer.cuts where each may be cut. The
lattice offers every part between two of a piece's cuts, two close pieces joined, and a
lifted bar with the digit before it, each as a crop (recognizer.crops), and the ways they
chain left to right (a Reading). A cut part is also offered with the ink just past its cut
(where digits overlap, the crossing is both digits'; see SPILL). The caller scores each crop
with the model, in one pass (two with opened pieces: recognizer.numbers.read_parts), each
crop handed over as it is made, and best_path() picks the reading with the highest total;
path_share() says how much of the weight of all readings made of digits it holds.
"""

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from recognizer.crops import DigitCrop, Part, part_crops
from recognizer.cuts import Cut, PieceCuts, cut_pieces
from recognizer.pieces import SPECK_REACH, TALL, Layout, Piece, gap, maybe_one_digit, union

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

WIDE = 0.8
WIDE_COST = 1.0
"""A part wider than WIDE digit heights costs the reading WIDE_COST per digit height more."""

MAX_SPAN = 6
"""A part is tried across at most this many neighbouring candidate cuts' intervals."""

MAX_PART = 1.2
"""A part wider than this many digit heights is not tried as one digit (unless whole)."""

SPILL = 0.1
SPILL_PART = 0.4
"""A part cut along a path, at least SPILL_PART digit heights wide, is also offered with the
piece's ink up to SPILL digit heights beyond its paths: where two digits overlap, the ink
where they cross is both digits', and a part that lost it may read as another digit (a 6
whose loop was cut open reads 5, a 9 as 7). The model reads both, and the reading takes the
one it believes. Narrower parts are not: their neighbours' ink would outweigh their own, and
a sliver with it read as a digit of its own (tuned on the development set)."""


@dataclass(frozen=True)
class Reading:
    """Every plausible way to read a drawing as digits, left to right.

    Nodes 0..nodes-1 are places between digits; each edge (start, end, crop, prior) reads
    `crops[crop]` as the digit between them. A path from 0 to the last node is one reading.
    A part the geometry would cut has prior 0; an alternative cut costs ALTERNATIVE, a join
    JOIN_COST, a part too short to be a digit SHORT_COST, a part too wide WIDE_COST, and
    every cut CUT_COST per pen stroke it severs (recognizer.cuts).
    """

    crops: list[DigitCrop]
    edges: list[tuple[int, int, int, float]]
    nodes: int
    keys: list[tuple] = field(default_factory=list)
    """Each crop's identity (its piece and cut columns): the same key is the same crop in
    any reading of the same layout, so a second pass need not prepare or read it again."""


Spec = tuple[tuple, int, int, Part, float, float]
"""An edge before its crop is made: its crop's key, its start and end nodes, the part to
crop, its prior, and the cost of the cut on its left."""


def lattice(
    drawing: Layout,
    opened: Collection[int] | None = (),
    known: dict[tuple, DigitCrop] | None = None,
    windows: dict[int, list[tuple[int, int]]] | None = None,
    made: Callable[[tuple, DigitCrop], None] | None = None,
) -> Reading:
    """Every part of a layout offered as a digit, and how they chain. `opened` and `windows`
    say which pieces are cut where (see recognizer.cuts.cut_pieces). Crops in `known` (by
    key, from a reading of the same layout) are reused. Each new crop is handed to `made`
    with its key as soon as it is cut, so that the model can read it while the rest are."""
    if not drawing.groups:
        return Reading([], [], 1)
    specs: list[Spec] = []
    ends: list[tuple[int, int]] = []  # (first node, last node) of each group
    cuts = cut_pieces(drawing, opened, windows)
    for k, (group, piece_cuts) in enumerate(zip(drawing.groups, cuts, strict=True)):
        first = ends[-1][1] if ends else 0
        specs += _parts(drawing, k, group, piece_cuts, first)
        ends.append((first, first + len(piece_cuts.bounds) - 1))
    specs += _joins(drawing, cuts, ends)
    return _read(drawing, specs, known or {}, ends[-1][1] + 1, made)


def whole_key(k: int, group: Piece) -> tuple:
    """The key of the crop of piece `k` read whole, uncut (its first and last bounds are the
    piece's own columns; see _parts)."""
    return (k, group.x0, group.x1)


def _parts(drawing: Layout, k: int, group: Piece, cuts: PieceCuts, first: int) -> list[Spec]:
    """The edges of one piece, from node `first`: every part between two of its cuts that
    could be a digit, and the wider ones also with the ink past their paths (see SPILL)."""
    height = drawing.height
    spill = int(SPILL * height)
    bounds, paths, severed, owners = cuts.bounds, cuts.paths, cuts.severed, cuts.owners
    specs: list[Spec] = []
    for i, left in enumerate(bounds):
        for j in range(i + 1, len(bounds)):
            right = bounds[j]
            if owners is not None and not owners[i:j].any() and (i, j) != (0, len(bounds) - 1):
                continue  # no stroke of its own: a piece of a stroke is not a digit
            if (left, right) in cuts.default:
                prior = 0.0
            elif (j - i <= MAX_SPAN and right - left <= MAX_PART * height) or (
                i == 0 and j == len(bounds) - 1
            ):  # the whole piece is always offered: some digits are very wide
                prior = ALTERNATIVE
            else:
                continue
            # A reading pays for each cut it makes once: on the part to its right.
            key = (k, left, right)
            nodes = (first + i, first + j)
            specs.append((key, *nodes, (group, paths[i], paths[j], 0), prior, severed[i]))
            if (i > 0 or j < len(bounds) - 1) and right - left >= SPILL_PART * height:
                part = (group, paths[i], paths[j], spill)
                specs.append(((*key, "spill"), *nodes, part, prior, severed[i]))
    return specs


def _joins(drawing: Layout, cuts: list[PieceCuts], ends: list[tuple[int, int]]) -> list[Spec]:
    """The edges across two neighbouring pieces: two close pieces as one digit broken in two,
    and a short piece (a lifted bar) with the last part of the piece before it."""
    height = drawing.height
    spill = int(SPILL * height)
    specs: list[Spec] = []
    for k, (a, b) in enumerate(pairwise(drawing.groups)):
        joined = union(a, b)
        if maybe_one_digit(a, b, height):
            part = (joined, joined.x0, joined.x1, 0)
            specs.append(((k, "join"), ends[k][0], ends[k + 1][1], part, JOIN_COST, 0.0))
        if b.height < TALL * height and gap(a, b) <= SPECK_REACH * height:
            # A bar beside a run of touching digits (a 5's lifted bar after it): with the
            # run's last part, from each of its cuts.
            bounds, paths, severed = cuts[k].bounds, cuts[k].paths, cuts[k].severed
            for i in range(1, len(bounds) - 1):
                if joined.x1 - bounds[i] > MAX_PART * height:
                    continue  # no digit is that wide
                part = (joined, _padded(paths[i], a, joined), joined.x1)
                nodes = (ends[k][0] + i, ends[k + 1][1])
                key = (k, "bar", bounds[i])
                specs.append((key, *nodes, (*part, 0), JOIN_COST, severed[i]))
                specs.append(((*key, "spill"), *nodes, (*part, spill), JOIN_COST, severed[i]))
    return specs


def _read(
    drawing: Layout,
    specs: list[Spec],
    known: dict[tuple, DigitCrop],
    nodes: int,
    made: Callable[[tuple, DigitCrop], None] | None,
) -> Reading:
    """The reading of the edges: their crops made (those not `known`, each handed to `made`
    as it is), and each prior adjusted for its crop's size (see SHORT_COST, FULL and
    WIDE_COST). An edge whose part holds no ink is dropped."""
    new = [spec for spec in specs if spec[0] not in known]
    found = dict(known)
    for spec, crop in zip(new, part_crops(drawing, [spec[3] for spec in new]), strict=True):
        found[spec[0]] = crop
        if crop is not None and made is not None:
            made(spec[0], crop)
    unit = drawing.height * drawing.factor * drawing.scale
    crops: list[DigitCrop] = []
    edges: list[tuple[int, int, int, float]] = []
    keys: list[tuple] = []
    for key, start, end, _, prior, cut in specs:
        crop = found[key]
        if crop is None:
            continue
        tall = (crop.box[3] - crop.box[1]) / unit
        # No digit is shorter than TALL (a scrap, a bar, a flag), and the digits of one
        # number are written at one size: a part between TALL and FULL pays in part.
        prior += SHORT_COST * min(max((FULL - tall) / (FULL - TALL), 0.0), 1.0)
        wide = (crop.box[2] - crop.box[0]) / unit - WIDE
        cut += WIDE_COST * max(wide, 0.0)  # evidence against, as the model's is
        edges.append((start, end, len(crops), prior - cut))
        crops.append(crop)
        keys.append(key)
    return Reading(crops, edges, nodes, keys)


def _padded(path: Cut, piece: Piece, within: Piece) -> Cut:
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
