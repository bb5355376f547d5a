"""Number mode: a drawing of several digits to one answer for the whole number.

The drawing is split into candidate digits by recognizer.lattice; each digit's ink goes through the
same preprocessing as a single drawing (fit_and_centre), and all of them through the
model together. A number is claimed only when every part of the best reading is a
confident digit: a part the model does not accept is answered as in single-digit mode
(`"digit": null` with a reason), and the number is then not claimed, with the reason
"not_a_digit" and the parts to redraw, or "not_a_number" when no part is a digit. Cut
readings compete with "this piece is not a digit" on the model's evidence (see
reading_scores), and the number's confidence weighs its split against the other readings
of the same ink as digits, and against each piece refused whole (_rivals and
recognizer.lattice.path_share).
"""

from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np
from msgspec import UNSET

from recognizer.answers import MESSAGES, NumberAnswer, is_blob, judge, number_digit
from recognizer.contract import DIGIT_CLASSES, IMAGE_SIZE, MAX_DIGITS, OUTPUT_CLASSES
from recognizer.crops import DigitCrop
from recognizer.cuts import finely_cut, may_hold_two
from recognizer.lattice import Reading, best_path, lattice, path_share, whole_key
from recognizer.pieces import Layout, TooManyParts, layout, reduction
from recognizer.preprocess import Picture, fit_and_centre, grey_levels, ink_window

DIGIT_WEIGHT = 6.0
"""Weight of the model's belief that a part is one digit in its score (see reading_scores)."""

SURENESS_WEIGHT = 1.5
"""Weight of the model's confidence in the named digit in a part's score (see reading_scores)."""

DOUBT = 0.1
"""A narrow piece read whole is cut in a second pass when the model gives "not a digit" at
least this much, or names its digit with less than 1 - DOUBT (see read_parts)."""

NOT_A_DIGIT_PRIOR = -1.0
"""The prior cost of reading a candidate as "not a digit", in log-confidence, on top of
DIGIT_WEIGHT times the log of the model's belief that it is no one digit. A piece the model
refuses whole competes with its cut readings on this score: the cuts win only when their
parts are sure digits, cut cleanly (their priors and severed strokes cost less than this),
not merely because they exist."""


REFINE = 0.25
"""A part of the first reading that is not a confident digit is cut every GRID_STEP in the
second, and so are this many digit heights either side of it, where its neighbours' cuts
may be wrong too (on the development set, half of it read 1.4 points fewer touching and
overlapping numbers right, for 8 % less time; see read_parts)."""


class TooManyDigits(ValueError):
    """The drawing holds more digits than MAX_DIGITS."""


@dataclass(frozen=True)
class NumberParts:
    """Every candidate digit of a drawing as the model will see it, and how they chain."""

    reading: Reading
    inputs: list[np.ndarray]
    layout: Layout


def number_parts(
    picture: Picture, max_digits: int, opened: Collection[int] | None = None
) -> NumberParts:
    """Segment a decoded drawing and prepare each candidate digit; raises TooManyDigits.

    `opened` says which narrow pieces are offered cut (see recognizer.cuts.cut_pieces);
    the default, all that may hold two digits, is the full set of candidates in one pass.
    """
    return _prepared(number_layout(picture, max_digits), opened)[0]


def number_layout(
    picture: Picture, max_digits: int, strokes: list[tuple[float, float]] | None = None
) -> Layout:
    """The pieces of a decoded drawing (recognizer.pieces.layout), with boxes in its pixels;
    raises TooManyDigits. `strokes` is the page's stroke hint (each stroke's [x0, x1] in the
    picture's pixels), used where the request carries it.

    Only the window that holds ink is converted to ink strength and segmented, in the
    whole picture's blocks (see recognizer.preprocess.ink_window): the same pieces, for half
    the work on the page's wide pad.
    """
    grey = grey_levels(picture)
    factor = reduction(grey.shape[0])
    ink, origin = ink_window(grey, factor)
    width = picture.shape[1] if isinstance(picture, np.ndarray) else picture.width
    try:
        return layout(ink, width / grey.shape[1], max_digits, factor, origin, strokes)
    except TooManyParts as exc:
        raise _too_many(exc.count, max_digits, exc.wide) from exc


def _prepared(
    drawing: Layout,
    opened: Collection[int] | None,
    before: tuple[NumberParts, np.ndarray] | None = None,
    windows: dict[int, list[tuple[int, int]]] | None = None,
    read: Callable[[tuple, np.ndarray], None] | None = None,
) -> tuple[NumberParts, dict[tuple, np.ndarray]]:
    """The lattice of a layout and each crop's model input, and the probabilities already
    known by key (from `before`, an earlier pass whose crops and inputs are reused). Each
    new input is handed to `read` with its key as soon as its crop is cut and fitted."""
    known: dict[tuple, np.ndarray] = {}
    crops: dict[tuple, DigitCrop] = {}
    inputs: dict[tuple, np.ndarray] = {}
    if before is not None:
        old, seen = before
        for key, crop, image, p in zip(
            old.reading.keys, old.reading.crops, old.inputs, seen, strict=True
        ):
            known[key], crops[key], inputs[key] = p, crop, image

    def fitted(key: tuple, crop: DigitCrop) -> None:
        image = fit_and_centre(crop.ink)
        inputs[key] = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32) if image is None else image
        if read is not None:
            read(key, inputs[key])

    reading = lattice(drawing, opened, crops, windows, fitted)
    return NumberParts(reading, [inputs[key] for key in reading.keys], drawing), known


STREAM_CHUNK = 4
"""The fewest model inputs sent to the helper thread at once while the next are cut (see
Reader). onnxruntime gives each input the same probabilities in a batch of any size; a run
of four costs about a tenth more per input than one of sixty, but the helper is then never
far behind: on six touching digits, each pass waited 2.4 ms for the model after its last
crop, against 2.9 with chunks of eight."""

Submit = Callable[[np.ndarray], Future]
"""A model run started on another thread (recognizer.model.DigitModel.submit)."""


class Reader:
    """The model's probabilities for inputs handed over one at a time, by key.

    With `submit`, the inputs start on the model's helper thread, STREAM_CHUNK or more at a
    time, while the caller cuts and fits the next crops (onnxruntime releases the GIL), and
    the last few run on the calling thread when the probabilities are asked for: a pass
    then takes about as long as making its crops, not that and reading them. Without it (a
    plain function, as evaluations and tests pass), all are read in one run at the end.
    """

    def __init__(self, run_model: Callable[[np.ndarray], np.ndarray], submit: Submit | None):
        self._run_model, self._submit = run_model, submit
        self._keys: list[tuple] = []
        self._pending: list[np.ndarray] = []
        self._started: list[tuple[Future, np.ndarray]] = []

    def add(self, key: tuple, image: np.ndarray) -> None:
        """One more input; a full chunk starts on the helper thread (see _ready)."""
        self._keys.append(key)
        self._pending.append(image)
        if self._submit is not None and len(self._pending) >= STREAM_CHUNK and self._ready():
            chunk = np.stack(self._pending)
            self._started.append((self._submit(chunk), chunk))
            self._pending = []

    def _ready(self) -> bool:
        """Whether the helper thread has begun every chunk started so far. One waiting is
        enough: the inputs made meanwhile go with the next, so that a helper slow to get a
        core (a machine busy with other work) is woken less often and its chunks grow."""
        if not self._started:
            return True
        last = self._started[-1][0]
        return last.running() or last.done()

    def of_drawing(self, index: int) -> Callable[[tuple, np.ndarray], None]:
        """`add` for one drawing of several, its keys told apart by the drawing's index."""
        return lambda key, image: self.add((index, key), image)

    def probabilities(self) -> dict[tuple, np.ndarray]:
        """Every input's probabilities by key. The chunks the helper thread has not begun
        are taken back and read here with the last inputs, while it finishes the others
        (helped by recognizer.model.DigitModel.predict, which splits a large batch)."""
        begun, taken = list(self._started), []
        while begun and begun[-1][0].cancel():
            taken.insert(0, begun.pop()[1])
        if self._pending:
            taken.append(np.stack(self._pending))
        here = [self._run_model(np.concatenate(taken))] if taken else []
        chunks = [future.result() for future, _ in begun] + here
        if not chunks:
            return {}
        return dict(zip(self._keys, np.concatenate(chunks), strict=True))


def read_parts(
    drawings: list[Layout],
    run_model: Callable[[np.ndarray], np.ndarray],
    submit: Submit | None = None,
) -> list[tuple[NumberParts, np.ndarray]]:
    """Every drawing's candidates and the model's probabilities for them, in at most two
    passes of the model for all drawings together (streamed to it with `submit`, see
    Reader).

    The first pass reads each narrow piece whole, and the wide ones (touching digits) cut
    only at their thinnest places: on separated digits that is one crop per digit, on six
    touching digits a few dozen. A narrow piece that may hold two digits (a 1 against a 7)
    and that the model doubts whole (see DOUBT) is then offered cut, and a wide piece is
    also cut every GRID_STEP around the parts of the best reading that are not confident
    digits (see _unsure); only the new parts are cropped and go through the model in a
    second pass. So over-segmenting costs nothing on a number written with gaps, and on
    touching digits only where the model needs it: the full set of cuts at once read
    three to four times as many parts of a number the first pass is sure of, for 69.4 %
    of the development set's touching and overlapping numbers read exactly against 68.8.
    """
    coarse = [{k: [] for k in finely_cut(drawing)} for drawing in drawings]
    reader = Reader(run_model, submit)
    first = [
        _prepared(drawing, (), windows=windows, read=reader.of_drawing(i))[0]
        for i, (drawing, windows) in enumerate(zip(drawings, coarse, strict=True))
    ]
    seen = reader.probabilities()
    probabilities = [_gathered(seen, i, part.reading.keys, {}) for i, part in enumerate(first)]
    reader = Reader(run_model, submit)
    second: list[tuple[NumberParts, dict[tuple, np.ndarray] | None]] = []
    for i, (drawing, windows, part, p) in enumerate(
        zip(drawings, coarse, first, probabilities, strict=True)
    ):
        doubted = _doubted(drawing, part, p)
        unsure = _unsure(drawing, part, p, set(windows))
        if doubted or unsure:
            second.append(
                _prepared(drawing, doubted, (part, p), windows | unsure, reader.of_drawing(i))
            )
        else:
            second.append((part, None))
    seen = reader.probabilities()
    return [
        (part, old_p if known is None else _gathered(seen, i, part.reading.keys, known))
        for i, ((part, known), old_p) in enumerate(zip(second, probabilities, strict=True))
    ]


def _gathered(
    seen: dict[tuple, np.ndarray], index: int, keys: list[tuple], known: dict[tuple, np.ndarray]
) -> np.ndarray:
    """One drawing's probabilities in its reading's order: those `known` from the first
    pass, the others as just read for drawing `index`."""
    if not keys:
        return np.zeros((0, OUTPUT_CLASSES), np.float32)
    return np.stack([known[key] if key in known else seen[(index, key)] for key in keys])


def _reasons(parts: NumberParts, probabilities: np.ndarray) -> list[str | None]:
    """The judge's reason against each candidate part (None: a digit)."""
    return [judge(image, p) for image, p in zip(parts.inputs, probabilities, strict=True)]


def _doubted(drawing: Layout, part: NumberParts, probabilities: np.ndarray) -> list[int]:
    """The narrow pieces that may hold two digits and that the model doubts read whole
    (not blobs: see is_blob)."""
    index = {key: k for k, key in enumerate(part.reading.keys)}
    doubted = []
    for k in may_hold_two(drawing):
        crop = index.get(whole_key(k, drawing.groups[k]))
        if crop is None:
            continue
        # A mark as thick as it is long is no pair of digits: its slices would read as 1s.
        if _doubts(probabilities[crop]) and not is_blob(part.inputs[crop]):
            doubted.append(k)
    return doubted


def _doubts(p: np.ndarray) -> bool:
    """Whether the model doubts a part is the digit it names (see DOUBT)."""
    return bool(p[DIGIT_CLASSES] >= DOUBT or p[:DIGIT_CLASSES].max() < 1 - DOUBT)


def _unsure(
    drawing: Layout, part: NumberParts, probabilities: np.ndarray, fine: set[int]
) -> dict[int, list[tuple[int, int]]]:
    """Where the first reading of the pieces in `fine` (cut only at their thinnest places)
    is unsure: the columns of each part of its best path that is not a confident digit
    (see DOUBT), REFINE digit heights wider on each side, by piece. Only there are they
    then cut every GRID_STEP as well: touching digits that the model reads surely from a few
    cuts are not read again from a hundred, and one unsure digit of six costs the parts
    around it, not the number's."""
    if not fine:
        return {}
    reasons = _reasons(part, probabilities)
    reach = REFINE * drawing.height
    unsure: dict[int, list[tuple[int, int]]] = {}
    for crop in best_path(part.reading, reading_scores(probabilities, reasons)):
        if reasons[crop] is None and not _doubts(probabilities[crop]):
            continue
        key = part.reading.keys[crop]
        if key[1] in ("join", "bar"):  # a part reaching into the next piece: all of both
            spans = [(k, drawing.groups[k].x0, drawing.groups[k].x1) for k in (key[0], key[0] + 1)]
        else:
            spans = [(key[0], key[1], key[2])]
        for k, left, right in spans:
            if k in fine:
                unsure.setdefault(k, []).append((int(left - reach), int(right + reach) + 1))
    return unsure


def _too_many(count: int, max_digits: int, wide: bool = False) -> TooManyDigits:
    """The error for a drawing of more than `max_digits` digits, saying what was counted:
    separate parts, or digits read (`wide`: cut from pieces as wide as that many digits)."""
    what = (
        f"is as wide as {count} or more digits" if wide else f"has {count} or more separate parts"
    )
    return TooManyDigits(
        f"the drawing {what}; number mode reads at most {max_digits} digits (MAX_DIGITS)"
    )


def number_answer(
    parts: NumberParts,
    probabilities: np.ndarray,
    version: str,
    max_digits: int,
    include_input: bool = False,
) -> NumberAnswer:
    """The answer for a whole number: the reading the model is surest of, each digit with
    its box, and the number if every digit is read. Raises TooManyDigits over the limit."""
    if not parts.inputs:
        return blank_number(version)
    reasons = _reasons(parts, probabilities)
    scores = reading_scores(probabilities, reasons)
    path = best_path(parts.reading, scores)
    if len(path) > max_digits:
        raise _too_many(len(path), max_digits, wide=len(path) > len(parts.layout.groups))
    digits = [
        number_digit(
            probabilities[k],
            reasons[k],
            list(parts.reading.crops[k].box),
            parts.inputs[k] if include_input else None,
        )
        for k in path
    ]
    unread = [i for i, d in enumerate(digits) if d.digit is None]
    reason, message = UNSET, UNSET
    if len(unread) == len(digits):
        reason, message = "not_a_number", MESSAGES["not_a_number"]
    elif unread:
        reason, message = "not_a_digit", _unread_message(unread)
    return NumberAnswer(
        number=None if unread else "".join(str(d.digit) for d in digits),
        digits=digits,
        confidence=0.0
        if unread
        else _product(
            [d.confidence for d in digits],
            path_share(parts.reading, scores, _rivals(parts, reasons), path),
        ),
        blank=False,
        reason=reason,
        message=message,
        model_version=version,
    )


def _rivals(parts: NumberParts, reasons: list[str | None]) -> np.ndarray:
    """The crops a claimed number's split competes with: every part read as a digit, and
    each whole piece the model refuses as "not a digit". A letter whose strips read as 1s
    is then only as sure as its strips are better digits than the letter is a non-digit;
    a number of digits apart, each piece read whole, has no rival."""
    whole = {whole_key(k, group) for k, group in enumerate(parts.layout.groups)}
    return np.array(
        [
            reason is None or key in whole
            for reason, key in zip(reasons, parts.reading.keys, strict=True)
        ]
    )


def _unread_message(unread: list[int]) -> str:
    """What a number says when some of its parts are digits and some are not: which parts
    (counted from 1, left to right) to redraw."""
    numbers = [str(i + 1) for i in unread]
    if len(numbers) == 1:
        return f"Part {numbers[0]} does not look like a digit; redraw it."
    listed = ", ".join(numbers[:-1]) + " and " + numbers[-1]
    return f"Parts {listed} do not look like digits; redraw them."


def reading_scores(probabilities: np.ndarray, reasons: list[str | None]) -> np.ndarray:
    """How much each candidate part counts towards a reading.

    A part read as a digit: the log of the model's belief that it is one digit (1 - "not a
    digit", which covers several digits drawn together), plus a quarter of the log of its
    confidence in the digit it names given that. The first term is what tells a pair of
    touching digits (the model, trained on them as "not a digit", says so) from one wide
    digit; the confidence alone does not: a calibrated model is as sure of half a 5 being
    a 5 as of the whole.

    A part the judge rejects is read as "not a digit", on the same scale: the log of the
    model's belief that it is no one digit, and NOT_A_DIGIT_PRIOR. So a letter that its
    strips would read as 1s and 4s is not a number, unless the strips are cleaner digits
    than the letter is a non-digit.
    """
    digit_mass = np.maximum(probabilities[:, :DIGIT_CLASSES].sum(axis=1), 1e-6)
    top = np.maximum(probabilities[:, :DIGIT_CLASSES].max(axis=1), 1e-6)
    as_digit = DIGIT_WEIGHT * np.log(digit_mass) + SURENESS_WEIGHT * np.log(top / digit_mass)
    as_other = DIGIT_WEIGHT * np.log(np.maximum(1.0 - top, 1e-6)) + NOT_A_DIGIT_PRIOR
    rejected = np.array([r is not None for r in reasons], dtype=bool)
    return np.where(rejected, as_other, as_digit)


def blank_number(version: str) -> NumberAnswer:
    """A number-mode answer for a canvas with no ink."""
    return NumberAnswer(
        number=None,
        digits=[],
        confidence=0.0,
        blank=True,
        reason="blank",
        message=MESSAGES["blank"],
        model_version=version,
    )


def read_number(
    picture: Picture,
    run_model: Callable[[np.ndarray], np.ndarray],
    version: str,
    max_digits: int = MAX_DIGITS,
    strokes: list[tuple[float, float]] | None = None,
) -> NumberAnswer:
    """Everything after decoding, for one drawing: what evaluation and tests call."""
    drawing = number_layout(picture, max_digits, strokes)
    ((parts, probabilities),) = read_parts([drawing], run_model)
    return number_answer(parts, probabilities, version, max_digits)


def _product(confidences: list[float], split: float) -> float:
    """The number's confidence: the chance that every digit is right, if they err apart,
    and that the drawing is split right (`split`, see recognizer.lattice.path_share: digits
    apart have one split; touching digits that read as well cut another way do not)."""
    return round(float(np.prod(confidences)) * split, 4)
