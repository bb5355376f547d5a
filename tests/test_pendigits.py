"""The real pen trajectories: parsed as recorded, drawn right way up, held-out writers kept out,
and a missing or altered file stops training with one clear line."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from tests.mnist_data import mnist_path
from training import pendigits, strokes, suites
from training.pendigits import PendigitsError

SAMPLE = """.INCLUDE        dene.doc

.LEXICON "0" "1" "2" "3" "4" "5" "6" "7" "8" "9"
.HIERARCHY      DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 12  224
.PEN_DOWN
 100  400
 300  400
 150  100
.PEN_UP
.DT 120
.PEN_DOWN
 120  250
 260  250
.PEN_UP
.DT 0

.SEGMENT DIGIT    1 ? "1"
.COMMENT 1 5  3
.PEN_DOWN
 200  100
 200  400
.PEN_UP
.DT 0
"""


def test_parser_reads_labels_writers_and_strokes():
    seven, one = pendigits.parse(SAMPLE.splitlines())
    assert (seven.label, seven.writer, one.label, one.writer) == (7, 12, 1, 5)
    assert [len(s) for s in seven.strokes] == [3, 2]
    np.testing.assert_array_equal(seven.strokes[1], [[120, 250], [260, 250]])


def test_a_comment_that_contradicts_its_segment_is_an_error():
    with pytest.raises(PendigitsError, match="contradicts"):
        pendigits.parse(SAMPLE.replace(".COMMENT 7 12", ".COMMENT 4 12").splitlines())


def test_a_digit_without_strokes_is_an_error():
    broken = '.SEGMENT DIGIT    0 ? "3"\n.COMMENT 3 1  1\n'
    with pytest.raises(PendigitsError, match="no strokes"):
        pendigits.parse(broken.splitlines())


def test_tablet_y_grows_upward_so_the_canvas_flips_it():
    """The 7's top bar is recorded at y=400 (up on the tablet): on the canvas it is at the top,
    and its stem ends at the bottom."""
    seven, _ = pendigits.parse(SAMPLE.splitlines())
    bar_and_stem = pendigits.to_canvas(seven.strokes)[0]
    assert bar_and_stem[0][1] == bar_and_stem[1][1] == 0.0  # the bar: the top of the ink
    assert bar_and_stem[2][1] == 300.0  # the stem's end: 300 tablet units below
    image = np.asarray(pendigits.draw(seven, np.random.default_rng(0))) < 128
    rows = np.flatnonzero(image.any(axis=1))
    top, bottom = image[rows[0] + 3], image[rows[-1] - 3]
    assert top.sum() > 3 * bottom.sum()  # a wide bar above, a narrow stem below


def test_missing_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.delenv(pendigits.PENDIGITS_ENV, raising=False)
    missing = tmp_path / "pendigits-orig.tra"
    with pytest.raises(PendigitsError, match=r"not found.*--pendigits PATH"):
        pendigits.load(missing)


def test_an_altered_file_is_refused(tmp_path):
    altered = tmp_path / "pendigits-orig.tra"
    altered.write_text(SAMPLE)
    with pytest.raises(PendigitsError, match="sha256"):
        pendigits.load(altered)


def test_the_environment_variable_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv(pendigits.PENDIGITS_ENV, str(tmp_path / "elsewhere.tra"))
    assert pendigits.resolve_path() == tmp_path / "elsewhere.tra"


def test_without_a_path_the_committed_copy_is_used(monkeypatch):
    monkeypatch.delenv(pendigits.PENDIGITS_ENV, raising=False)
    assert pendigits.resolve_path() == pendigits.COMMITTED_COPY


def test_a_damaged_compressed_copy_is_refused(tmp_path):
    damaged = tmp_path / "pendigits-orig.tra.xz"
    damaged.write_bytes(pendigits.COMMITTED_COPY.read_bytes()[:50_000])
    with pytest.raises(PendigitsError, match=r"not a readable \.xz file"):
        pendigits.load(damaged)


def test_the_committed_copy_is_the_published_file_compressed(tmp_path):
    """Uncompressed, the committed copy is byte for byte the file as UCI publishes it, which
    PENDIGITS_PATH may name as it is."""
    published = pendigits.read_bytes(pendigits.COMMITTED_COPY)
    assert hashlib.sha256(published).hexdigest() == pendigits.SHA256
    plain = tmp_path / "pendigits-orig.tra"
    plain.write_bytes(published)
    assert pendigits.read_bytes(plain) == published


@pytest.fixture(scope="module")
def real_digits() -> list[pendigits.PenDigit]:
    try:
        return pendigits.load()
    except PendigitsError as exc:
        pytest.fail(f"{exc}")


def test_the_real_file_holds_its_known_facts(real_digits):
    counts = np.bincount([d.label for d in real_digits]).tolist()
    assert counts == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    assert {d.writer for d in real_digits} == set(pendigits.WRITERS)
    assert sum(len(d.strokes) for d in real_digits) == 9_433


def test_held_out_writers_are_never_trained_on(real_digits):
    train, held_out = pendigits.split_by_writer(real_digits)
    assert {d.writer for d in held_out} == set(pendigits.HELD_OUT_WRITERS)
    assert not {d.writer for d in train} & set(pendigits.HELD_OUT_WRITERS)
    assert len(train) + len(held_out) == len(real_digits)


def test_pen_digits_are_model_inputs(real_digits):
    images, labels = pendigits.pen_inputs(real_digits[:20], seed=0)
    assert images.shape == (20, 28, 28) and images.dtype == np.float32
    assert images.max() == 1.0 and labels.tolist() == [d.label for d in real_digits[:20]]


def test_training_stops_with_one_clear_line_without_the_pen_file(tmp_path):
    missing = tmp_path / "nowhere.tra"
    command = [sys.executable, "-m", "training", "run", "--quick"]
    command += ["--data", str(mnist_path()), "--pendigits", str(missing)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(f"error: pen-trajectory file not found: {missing};")


NEW_STYLES = {
    "1 long lead-in": (1, "long lead-in"),
    "7 one stroke, curved and crossed": (7, "curved stem crossed"),
    "9 open curl head": (9, "open curl head"),
    "4 one stroke looped": (4, "one stroke looped"),
}
"""The suite styles that real writers showed the model getting wrong, and the generator's
styles that teach them."""


@pytest.mark.parametrize("name", sorted(NEW_STYLES))
def test_new_suite_styles_are_drawn_apart_from_the_generator(name):
    """Each is in the suite and in the generator, and the two are different code with
    different random streams: the suite's drawings are reproducible and never the
    generator's."""
    label, style = NEW_STYLES[name]
    assert suites.STYLES[name][0] == label and style in strokes.TEMPLATES[label]
    suite_maker, generator_maker = suites.STYLES[name][1], strokes.TEMPLATES[label][style]
    assert suite_maker.__module__ != generator_maker.__module__
    first = suites.style_inputs(per_style=3)[name][1]
    np.testing.assert_array_equal(first, suites.style_inputs(per_style=3)[name][1])
    assert first.shape == (3, 28, 28) and (first > 0.5).mean() > 0.03
