"""Every knob of a training run, with its default, in one place.

The command line overrides only what it names, and the resolved config is written
into the model card, so each artifact says how it was made.
"""

import dataclasses
from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    # The learning rate follows a cosine from learning_rate to 0 over all the epochs; at 16
    # the validation accuracy was still rising at the end, 24 gives it time to settle.
    epochs: int = 24
    batch_size: int = 128
    learning_rate: float = 2e-3
    # Smoothing helps generalisation; the fitted temperature then undoes its under-confidence.
    label_smoothing: float = 0.05
    validation_size: int = 5_000
    # A longer schedule spends longer at a high learning rate, where val_loss is noisier.
    early_stopping_patience: int = 5
    seed: int = 1234
    # Stroke-drawn digits (including the variants MNIST lacks) mixed into training.
    synthetic_per_class: int = 2_000
    # Real pen trajectories (training/pendigits.py): renderings of each training writer's digit.
    # Two (each with its own augmentation) give real handwriting about 14 % of training.
    pen_renderings: int = 2
    # Letters, shapes, scribbles, dots and several digits: the "not a digit" class.
    # 20,000: with 10,000 a longer run learned digits at the expense of refusing non-digits.
    nondigits: int = 20_000
    # Augmentation, matched to how people draw on a canvas.
    max_rotation_degrees: float = 12.0
    max_shift_pixels: float = 2.0
    max_zoom: float = 0.10
    max_elastic_pixels: float = 0.8
    stroke_change_probability: float = 0.5
    # --quick: a smoke run for tests, not a model to ship.
    quick: bool = False

    def for_quick_run(self) -> "TrainConfig":
        """A run that exercises every stage in seconds."""
        return dataclasses.replace(
            self, quick=True, epochs=1, validation_size=500, synthetic_per_class=30, nondigits=300
        )

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


QUICK_TRAIN_SIZE = 3_000
QUICK_TEST_SIZE = 1_000
