"""Training-time augmentation that mimics what a canvas does to a digit.

After the server's preprocessing, a drawing differs from MNIST mostly in slant, small
offsets, size within the 20-pixel box, and pen width. Geometry is varied with Keras's
random layers; pen width by blending each image towards its dilation (thicker) or its
erosion (thinner).
"""

import keras
import tensorflow as tf

from serving.contract import IMAGE_SIZE
from training.config import TrainConfig


def make_augmenter(config: TrainConfig) -> keras.Sequential:
    shift = config.max_shift_pixels / IMAGE_SIZE
    return keras.Sequential(
        [
            keras.layers.RandomRotation(
                config.max_rotation_degrees / 360, fill_mode="constant", seed=config.seed
            ),
            keras.layers.RandomZoom(
                (-config.max_zoom, config.max_zoom), fill_mode="constant", seed=config.seed + 1
            ),
            keras.layers.RandomTranslation(
                shift, shift, fill_mode="constant", seed=config.seed + 2
            ),
        ],
        name="canvas_augmentation",
    )


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
