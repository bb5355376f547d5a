"""Training-time augmentation that mimics what a canvas does to a digit.

After the server's preprocessing, a drawing differs from MNIST mostly in slant, small
offsets, size within the 20-pixel box, the small bends of a hand that is not a machine,
and pen width. The geometry (rotation, zoom, shift, and an elastic distortion: Simard et
al., 2003, the augmentation that did most for convolutional nets on MNIST) is applied in
one bilinear resampling, because every resampling blurs: Keras's three random layers in a
row left a training batch with 2.5 % of its pixels at full ink (>= 0.9) where MNIST has
8.3 %, while the served inputs are sharp. Pen width is varied by blending each image
towards its dilation (thicker) or its erosion (thinner).
"""

import math

import tensorflow as tf

from recognizer.contract import IMAGE_SIZE
from training.config import TrainConfig

ELASTIC_GRID = 5
"""Random displacements on a 5x5 grid, smoothly interpolated: a field that bends a stroke
two or three times across the digit, as a wobbling hand does, and never tears it."""


def random_geometry(images: tf.Tensor, config: TrainConfig, seed: int) -> tf.Tensor:
    """Each image of a (N, 28, 28, 1) batch rotated, zoomed, shifted and bent at random, with
    one resampling. The elastic field has a random strength per image, up to about
    `config.max_elastic_pixels`, so some digits are left almost as they were."""
    batch = tf.shape(images)[0]

    def uniform(limit: float, offset: int) -> tf.Tensor:
        return tf.random.uniform((batch, 1, 1), -limit, limit, seed=seed + offset)

    angle = uniform(math.radians(config.max_rotation_degrees), 0)
    scale = 1.0 + uniform(config.max_zoom, 1)
    coarse = tf.random.normal((batch, ELASTIC_GRID, ELASTIC_GRID, 2), seed=seed + 2)
    strength = tf.random.uniform((batch, 1, 1, 1), 0.0, config.max_elastic_pixels, seed=seed + 3)
    field = tf.image.resize(coarse, (IMAGE_SIZE, IMAGE_SIZE), method="bicubic") * strength
    center = (IMAGE_SIZE - 1) / 2
    grid = tf.range(IMAGE_SIZE, dtype=tf.float32) - center
    down, right = grid[None, :, None], grid[None, None, :]
    cos, sin = tf.cos(angle) * scale, tf.sin(angle) * scale
    rows = center + cos * down - sin * right + uniform(config.max_shift_pixels, 4) + field[..., 0]
    cols = center + sin * down + cos * right + uniform(config.max_shift_pixels, 5) + field[..., 1]
    return bilinear_sample(images[..., 0], rows, cols)[..., None]


def bilinear_sample(images: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """images (N, H, W) read at fractional (rows, cols) (N, H, W), black outside: four
    gathers from the flattened batch (keras.ops.image.map_coordinates interpolates along the
    batch axis too and takes four times as long)."""
    batch, height, width = tf.unstack(tf.shape(images))
    flat = tf.reshape(images, [-1])
    base = tf.range(batch)[:, None, None] * height * width
    row0, col0 = tf.floor(rows), tf.floor(cols)
    result = tf.zeros_like(rows)
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        r, c = row0 + dr, col0 + dc
        weight = (1 - tf.abs(rows - r)) * (1 - tf.abs(cols - c))
        inside = (
            (r >= 0) & (r < tf.cast(height, r.dtype)) & (c >= 0) & (c < tf.cast(width, c.dtype))
        )
        ri = tf.clip_by_value(tf.cast(r, tf.int32), 0, height - 1)
        ci = tf.clip_by_value(tf.cast(c, tf.int32), 0, width - 1)
        pixels = tf.gather(flat, base + ri * width + ci)
        result += tf.where(inside, weight * pixels, 0.0)
    return result


def vary_stroke_width(images: tf.Tensor, probability: float, seed: int) -> tf.Tensor:
    """Make a random share of a batch's digits thicker or thinner, by a random amount."""
    batch = tf.shape(images)[0]
    thicker = tf.nn.max_pool2d(images, 3, 1, "SAME")
    thinner = -tf.nn.max_pool2d(-images, 3, 1, "SAME")
    amount = tf.random.uniform((batch, 1, 1, 1), -1.0, 1.0, seed=seed)
    chosen = tf.cast(tf.random.uniform((batch, 1, 1, 1), seed=seed + 1) < probability, tf.float32)
    amount *= chosen
    # Erosion can erase MNIST's thinnest strokes, so thinning goes at most half way.
    grown = tf.nn.relu(amount) * (thicker - images)
    shrunk = 0.5 * tf.nn.relu(-amount) * (thinner - images)
    return tf.clip_by_value(images + grown + shrunk, 0.0, 1.0)
