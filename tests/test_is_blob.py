"""The fast blob check (recognizer.answers.is_blob) decides exactly as the np.median original.

The original is kept here as the reference: run lengths row by row with np.diff on a
padded array, and np.median of each direction's runs.
"""

import numpy as np
import pytest

from bench.page_canvases import load as load_page_canvases
from recognizer.answers import BLOB_THICKNESS, is_blob


def reference_is_blob(image: np.ndarray) -> bool:
    """recognizer.answers.is_blob before issue 14's speed-up, verbatim."""
    ink = image >= 0.5
    if not ink.any():
        return True

    def run_lengths(ink: np.ndarray) -> np.ndarray:
        edges = np.diff(np.pad(ink, ((0, 0), (1, 1))).astype(np.int8), axis=1)
        return np.nonzero(edges == -1)[1] - np.nonzero(edges == 1)[1]

    across = min(np.median(run_lengths(ink)), np.median(run_lengths(ink.T)))
    return float(across) >= BLOB_THICKNESS


def shapes() -> list[np.ndarray]:
    """Blobs, strokes, edges, single pixels and noise of every density, 28x28 float32."""
    rng = np.random.default_rng(14)
    images = [np.zeros((28, 28), np.float32), np.ones((28, 28), np.float32)]
    for size in range(1, 29):
        square = np.zeros((28, 28), np.float32)
        square[:size, :size] = 1.0
        images += [square, np.roll(square, (28 - size) // 2, axis=(0, 1))]
        bar = np.zeros((28, 28), np.float32)
        bar[10 : 10 + min(size, 6), :size] = 1.0
        images += [bar, bar.T.copy()]
    yy, xx = np.mgrid[:28, :28]
    for radius in np.linspace(1, 14, 27):
        disc = (((yy - 13.5) ** 2 + (xx - 13.5) ** 2) <= radius**2).astype(np.float32)
        images += [disc, disc * 0.5, disc * 0.49]  # the 0.5 threshold, both sides
    for density in np.linspace(0.01, 0.99, 60):
        images.append((rng.random((28, 28)) < density).astype(np.float32))
        images.append(rng.random((28, 28)).astype(np.float32) * density * 2)
    return images


def test_fast_blob_check_matches_the_original_on_synthetic_shapes() -> None:
    images = shapes()
    decisions = [is_blob(image) for image in images]
    assert decisions == [reference_is_blob(image) for image in images]
    assert any(decisions) and not all(decisions)  # both answers are exercised


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_fast_blob_check_takes_every_input_type_as_before(dtype: type) -> None:
    for image in shapes()[:80]:
        typed = (image * (255 if dtype is np.uint8 else 1)).astype(dtype)
        assert is_blob(typed) == reference_is_blob(typed)


def test_fast_blob_check_matches_the_original_on_the_page_canvases() -> None:
    """The 258 model inputs of the page's own drawings (digits, dots, scribbles)."""
    drawn = list(load_page_canvases()["expected"])
    assert len(drawn) > 50
    assert [is_blob(i) for i in drawn] == [reference_is_blob(i) for i in drawn]
