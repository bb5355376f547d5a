"""The training augmentation's one resampling: exact where it should be, and gentle."""

import dataclasses

import numpy as np
import tensorflow as tf

from training.augment import bilinear_sample, random_geometry
from training.config import TrainConfig


def digits(count: int = 16) -> np.ndarray:
    rng = np.random.default_rng(5)
    images = np.zeros((count, 28, 28, 1), np.float32)
    images[:, 6:22, 12:16, 0] = rng.uniform(0.5, 1.0, (count, 1, 1))  # a bar, a "1"
    return images


def test_no_change_asked_is_no_change():
    still = dataclasses.replace(
        TrainConfig(),
        max_rotation_degrees=0.0,
        max_zoom=0.0,
        max_shift_pixels=0.0,
        max_elastic_pixels=0.0,
    )
    images = digits()
    assert np.array_equal(random_geometry(tf.constant(images), still, 7).numpy(), images)


def test_whole_pixel_moves_are_exact_and_the_outside_is_black():
    images = digits()[..., 0]
    grid = np.arange(28, dtype=np.float32)
    rows = np.broadcast_to(grid[None, :, None] - 3, images.shape)  # 3 px down
    cols = np.broadcast_to(grid[None, None, :] + 2, images.shape)  # 2 px left
    moved = bilinear_sample(tf.constant(images), tf.constant(rows), tf.constant(cols)).numpy()
    expected = np.zeros_like(images)
    expected[:, 3:, :26] = images[:, :25, 2:]
    assert np.array_equal(moved, expected)


def test_the_default_geometry_keeps_the_ink_and_its_sharpness():
    """Rotation, zoom, shift and the bend move ink about (a 10 % zoom alone changes its area
    by up to a fifth), but one resampling keeps most of it at full strength."""
    images = digits(64)
    bent = random_geometry(tf.constant(images), TrainConfig(), 7).numpy()
    assert not np.array_equal(bent, images)
    ratio = bent.sum(axis=(1, 2, 3)) / images.sum(axis=(1, 2, 3))
    assert np.all((ratio > 0.7) & (ratio < 1.45)), ratio
    full = (images >= 0.45).sum()
    assert (bent >= 0.45).sum() >= 0.6 * full
