"""Fit the CNN on MNIST, stroke-drawn and real pen-written digits and non-digits, with
canvas-like augmentation.

Validation is what the server sees: held-out MNIST digits drawn on a canvas and put
through the served preprocessing, held-out stroke-drawn digits and non-digits. Early
stopping and the calibration temperature both use it.
"""

import math
import sys
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from recognizer.contract import NOT_A_DIGIT, OUTPUT_CLASSES, model_batch
from training.augment import random_geometry, vary_stroke_width
from training.calibrate import fit_temperature
from training.canvas import canvas_inputs
from training.config import QUICK_TRAIN_SIZE, TrainConfig
from training.data import Mnist
from training.network import build_model
from training.nondigits import synthetic_nondigits
from training.pendigits import PenDigit, pen_inputs
from training.strokes import synthetic_digits


@dataclass
class TrainResult:
    model: keras.Model
    history: dict[str, list[float]]
    best_epoch: int
    seconds: float
    train_examples: int
    synthetic_examples: int
    pen_examples: int
    nondigit_examples: int
    temperature: float


def split_validation(data: Mnist, config: TrainConfig):
    """A seeded random hold-out from the training set: the test set is never looked at."""
    x, y = data.x_train, data.y_train
    if config.quick:
        x, y = x[:QUICK_TRAIN_SIZE], y[:QUICK_TRAIN_SIZE]
    order = np.random.default_rng(config.seed).permutation(len(x))
    val, train = order[: config.validation_size], order[config.validation_size :]
    return x[train], y[train], x[val], y[val]


def generated(config: TrainConfig, mnist_train: np.ndarray, count_scale: float, seed: int):
    """Stroke-drawn digits and non-digits (label NOT_A_DIGIT), preprocessed as served."""
    digits, labels = synthetic_digits(round(config.synthetic_per_class * count_scale), seed)
    others = synthetic_nondigits(round(config.nondigits * count_scale), seed + 1, mnist_train)
    images = np.concatenate([digits, others])
    targets = np.concatenate([labels, np.full(len(others), NOT_A_DIGIT, dtype=np.uint8)])
    return images, targets, len(digits), len(others)


def pen_written(config: TrainConfig, pen: list[PenDigit]) -> tuple[np.ndarray, np.ndarray]:
    """The training writers' digits, each drawn `pen_renderings` times (each time at another
    size, place and pen width): (N, 28, 28) float32 and (N,) uint8."""
    if config.quick:
        pen = pen[:: max(1, len(pen) // 300)]
    drawn = [pen_inputs(pen, config.seed + 200 + i) for i in range(config.pen_renderings)]
    return np.concatenate([x for x, _ in drawn]), np.concatenate([y for _, y in drawn])


def training_dataset(x: np.ndarray, y: np.ndarray, config: TrainConfig) -> tf.data.Dataset:
    def augment(images, labels):
        images = random_geometry(images, config, config.seed + 10)  # vary_stroke_width: seed, +1
        images = vary_stroke_width(images, config.stroke_change_probability, config.seed)
        return images, tf.one_hot(labels, OUTPUT_CLASSES)

    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=config.seed, reshuffle_each_iteration=True)
        .batch(config.batch_size)
        .map(augment, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


def train(data: Mnist, config: TrainConfig, pen: list[PenDigit]) -> TrainResult:
    """`pen`: the real pen-written digits to train on (the held-out writers already removed)."""
    keras.utils.set_random_seed(config.seed)
    started = time.perf_counter()

    x_mnist, y_mnist, x_val_mnist, y_val_mnist = split_validation(data, config)
    x_gen, y_gen, synthetic, nondigits = generated(config, x_mnist, 1.0, config.seed)
    val_gen, val_gen_y, _, _ = generated(config, x_mnist, 0.1, config.seed + 100)
    x_pen, y_pen = pen_written(config, pen)
    x = np.concatenate([model_batch(x_mnist), model_batch(x_gen), model_batch(x_pen)])
    y = np.concatenate([y_mnist, y_gen, y_pen])
    x_val = np.concatenate(
        [model_batch(canvas_inputs(x_val_mnist, config.seed)), model_batch(val_gen)]
    )
    y_val = np.concatenate([y_val_mnist, val_gen_y])
    print(
        f"MNIST: {len(x_mnist):,} training, {len(x_val_mnist):,} validation; "
        f"stroke-drawn digits: {synthetic:,}; pen-written digits: {len(y_pen):,}; "
        f"non-digits: {nondigits:,}"
    )

    model = build_model()
    model.summary()
    steps = config.epochs * math.ceil(len(x) / config.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
        ),
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=config.label_smoothing
        ),
        metrics=["accuracy"],
    )
    # Validation loss, not accuracy: accuracy moves in coarse steps and its noise stopped
    # runs before the cosine schedule had annealed the learning rate.
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=config.early_stopping_patience,
        restore_best_weights=True,
        verbose=1,
    )
    history = model.fit(
        training_dataset(x, y, config),
        validation_data=(x_val, keras.ops.one_hot(y_val, OUTPUT_CLASSES)),
        epochs=config.epochs,
        callbacks=[early_stopping],
        shuffle=False,  # the dataset reshuffles itself every epoch
        # A live bar in a terminal, one line per epoch in a log.
        verbose=1 if sys.stdout.isatty() else 2,
    ).history
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    best_accuracy = history["val_accuracy"][best_epoch - 1]
    print(f"best epoch {best_epoch}: validation accuracy {best_accuracy:.4f}")
    temperature = fit_temperature(model.predict(x_val, batch_size=512, verbose=0), y_val)
    print(f"calibration temperature {temperature:.3f}")
    return TrainResult(
        model=model,
        history={k: [float(v) for v in vs] for k, vs in history.items()},
        best_epoch=best_epoch,
        seconds=time.perf_counter() - started,
        train_examples=len(x),
        synthetic_examples=synthetic,
        pen_examples=len(y_pen),
        nondigit_examples=nondigits,
        temperature=temperature,
    )
