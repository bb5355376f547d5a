"""The guard: a fine-tuned model is written only if it is no worse than its parent.

Both models answer the same inputs through the server's own model wrapper and its rule
for "not a digit": the MNIST test set, the style suite, the non-digit suite (where the
right answer is a refusal) and the held-out part of the feedback. A drop of more than
MAX_MNIST_DROP points on MNIST, or more than MAX_SUITE_DROP on any other set, refuses
the model, saying which set and by how much.
"""

from dataclasses import dataclass

import numpy as np

from recognizer.contract import scaled
from recognizer.model import DigitModel
from training import suites
from training.evaluate import NO_DIGIT, served_answers
from training.feedback_set import FeedbackSet

MAX_MNIST_DROP = 0.1
"""Percentage points of MNIST test accuracy a fine-tune may lose (10 of 10,000 digits)."""
MAX_SUITE_DROP = 0.5
"""Percentage points any other set may lose."""


@dataclass(frozen=True)
class Bench:
    """One set the guard measures, and how much it may drop."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    """The right answers; NO_DIGIT where the right answer is "not a digit"."""
    max_drop: float


def benches(
    x_test: np.ndarray,
    y_test: np.ndarray,
    held_out: FeedbackSet,
    per_style: int = suites.PER_STYLE,
    per_kind: int = suites.PER_KIND,
) -> list[Bench]:
    """The guard's sets, built once so that both models answer exactly the same inputs."""
    styles = suites.style_inputs(per_style=per_style)
    kinds = suites.nondigit_inputs(per_kind=per_kind)
    chosen = [
        Bench("mnist_test", scaled(x_test), y_test.astype(np.int64), MAX_MNIST_DROP),
        Bench(
            "style_suite",
            np.concatenate([images for _, images in styles.values()]),
            np.concatenate([np.full(len(images), label) for label, images in styles.values()]),
            MAX_SUITE_DROP,
        ),
        Bench(
            "nondigit_suite",
            np.concatenate(list(kinds.values())),
            np.full(sum(map(len, kinds.values())), NO_DIGIT),
            MAX_SUITE_DROP,
        ),
    ]
    if len(held_out):
        chosen.append(
            Bench(
                "feedback_held_out",
                held_out.images,
                held_out.labels.astype(np.int64),
                MAX_SUITE_DROP,
            )
        )
    return chosen


def score(model: DigitModel, sets: list[Bench]) -> dict[str, float]:
    """Accuracy in percent on each set, as served (a refused digit is a mistake)."""
    return {
        bench.name: round(
            100.0
            * float(
                (served_answers(bench.images, model.predict(bench.images)) == bench.labels).mean()
            ),
            4,
        )
        for bench in sets
    }


def verdict(before: dict[str, float], after: dict[str, float], sets: list[Bench]) -> list[str]:
    """Every set that dropped beyond its limit, in words; empty when the model may be written."""
    return [
        f"{bench.name}: {before[bench.name]:.2f}% -> {after[bench.name]:.2f}% "
        f"({after[bench.name] - before[bench.name]:+.2f} points; at most -{bench.max_drop} allowed)"
        for bench in sets
        if before[bench.name] - after[bench.name] > bench.max_drop + 1e-9
    ]
