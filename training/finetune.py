"""Learn from the users' corrections: fine-tune the current model, and keep it only if the
guard finds it no worse.

Reading order: load the parent (its ONNX, card and Keras weights, checked to be the same
network) and the feedback; mix the feedback, weighted and capped, with replayed MNIST
digits, stroke-drawn styles and non-digits; fine-tune at a low learning rate with the
batch-normalization statistics frozen; refit the calibration temperature; export; let
the guard compare parent and candidate on the same sets; write the new model and a card
that records its lineage, or refuse and write nothing.
"""

import dataclasses
import datetime as dt
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recognizer.contract import MODEL_FILE, WEIGHTS_FILE, model_batch
from recognizer.model import DigitModel, read_verified
from training import card as cards
from training import guard
from training.config import TrainConfig
from training.data import load
from training.feedback_set import describe, load_rows, repeats, samples, split, usable

PARITY_IMAGES = 256


class GuardRefused(RuntimeError):
    """The fine-tuned model is worse than its parent somewhere; nothing was written. `guard`
    holds the figures its card would have held (lineage.guard), so a refusal is as measurable
    as a model that was written."""

    def __init__(self, message: str, guard: dict) -> None:
        super().__init__(message)
        self.guard = guard


@dataclass(frozen=True)
class FinetuneConfig:
    """Every knob of a fine-tune, with its default; the card records the resolved values."""

    epochs: int = 2
    batch_size: int = 128
    learning_rate: float = 1e-4
    # Replayed so the model keeps what it knew (catastrophic forgetting is the risk).
    mnist_replay: int = 20_000
    synthetic_per_class: int = 300
    # Non-digits per replayed MNIST digit, as a multiple of the parent's own share (read from
    # its card: 20,000 for 55,000 MNIST digits today). With fewer, the fine-tune unlearns some
    # of that class and the guard refuses it.
    nondigit_share: float = 1.0
    # Each feedback sample at most this many times, and all of them within this share.
    feedback_repeat: int = 10
    feedback_share: float = 0.1
    min_per_class: int = 10
    held_out_share: float = 0.2
    # The guard's suites: full size, or fewer drawings for a quick run.
    suite_per_style: int = 150
    suite_per_kind: int = 100
    seed: int = 4321
    quick: bool = False

    def for_quick_run(self) -> "FinetuneConfig":
        """Every stage in about a minute, on smaller mixes and suites: a smoke test."""
        return dataclasses.replace(
            self,
            quick=True,
            epochs=1,
            # The parent's proportions scaled down, with three times its share of non-digits:
            # one epoch of a small mix moves the "not a digit" class most; at the parent's
            # share it lost 0.9-1.3 points of the non-digit suite and at twice that 0.7, more
            # than the guard allows.
            mnist_replay=2_000,
            synthetic_per_class=70,
            nondigit_share=3.0,
            min_per_class=3,
            suite_per_style=40,
            suite_per_kind=40,
        )


def finetune(
    parent_dir: Path,
    source: str,
    out_dir: Path,
    data_path: str | None,
    config: FinetuneConfig,
    token: str | None = None,
    weights: Path | None = None,
) -> dict:
    """Fine-tune the model in parent_dir on the feedback at `source`; returns the new card.
    Raises GuardRefused (writing nothing) when the candidate is worse than its parent."""
    started = time.perf_counter()
    parent_path = parent_dir / MODEL_FILE
    parent_bytes, parent_info = read_verified(parent_path)
    parent_card = cards.read_card(parent_dir)
    weights = weights or parent_dir / WEIGHTS_FILE
    if not weights.is_file():
        raise FileNotFoundError(
            f"the parent's Keras weights {weights} are missing: `make train-export` writes them "
            "next to the model, or pass --weights"
        )
    rows = load_rows(source, token)
    learn_rows, held_rows = split(rows, config.held_out_share)
    learn, left_out = usable(samples(learn_rows), config.min_per_class)
    held_out = samples(held_rows)
    print(
        f"feedback: {len(rows)} submissions; learning from {len(learn)} digits "
        f"{learn.per_class()}, holding out {len(held_out)}"
        + (f"; too few to learn, left out: {', '.join(left_out)}" if left_out else "")
    )
    data = load(data_path)

    # TensorFlow loads only here: a bad source or missing weights fail in a blink.
    import keras

    from training.network import build_model
    from training.onnx_export import check_parity, to_onnx

    model = build_model()
    model.load_weights(weights)
    # Weights from another run would fine-tune a stranger: they must compute the parent.
    check_parity(
        model,
        DigitModel.load(parent_path).temperature,
        parent_bytes,
        model_batch(data.x_test[:PARITY_IMAGES]),
    )
    parent_config = TrainConfig(**parent_card["training"]["config"])
    mix, result = _fit(model, keras, data, learn, parent_config, config)

    created = dt.datetime.now(dt.timezone.utc)
    version = created.strftime("%Y%m%d.%H%M%S") + ("-ft-quick" if config.quick else "-ft")
    feedback = {**describe(rows), "learned_samples": len(learn), "per_class": learn.per_class()}
    proto = to_onnx(
        model,
        result["temperature"],
        {
            "version": version,
            "created": created.isoformat(timespec="seconds"),
            "parent_version": parent_info.version,
            "parent_sha256": parent_info.sha256,
            "feedback_ids_sha256": feedback["ids_sha256"],
            "temperature": f"{result['temperature']:.6f}",
        },
    )
    onnx_bytes = proto.SerializeToString()
    parity = check_parity(
        model, result["temperature"], onnx_bytes, model_batch(data.x_test[:PARITY_IMAGES])
    )

    with tempfile.TemporaryDirectory(prefix="finetune-") as staging_name:
        staging = Path(staging_name)
        (staging / MODEL_FILE).write_bytes(onnx_bytes)
        card = {
            "model": cards.model_entry(staging / MODEL_FILE, version, model.count_params()),
            "calibration": {"temperature": round(result["temperature"], 6)},
            "parity": parity,
            "lineage": {
                "parent": {"version": parent_info.version, "sha256": parent_info.sha256},
                "feedback": {
                    **feedback,
                    "source": _public(source),
                    "held_out_submissions": len(held_rows),
                    "held_out_samples": len(held_out),
                    "left_out_digits": left_out,
                },
            },
            "data": {**parent_card.get("data", {}), "finetune_mix": mix},
            "training": {
                "config": parent_config.as_dict(),
                "finetune": {**dataclasses.asdict(config), **result["history"]},
            },
            "versions": cards.package_versions(),
            "created_at": created.isoformat(timespec="seconds"),
        }
        cards.write_card(card, staging)
        sets = guard.benches(
            data.x_test, data.y_test, held_out, config.suite_per_style, config.suite_per_kind
        )
        before = guard.score(DigitModel.load(parent_path), sets)
        after = guard.score(DigitModel.load(staging / MODEL_FILE), sets)
        problems = guard.verdict(before, after, sets)
        _print_guard(before, after, sets)
        card["lineage"]["guard"] = {
            "before": before,
            "after": after,
            "max_drop_points": {bench.name: bench.max_drop for bench in sets},
            "counts": {bench.name: len(bench.labels) for bench in sets},
            "passed": not problems,
        }
        if problems:
            raise GuardRefused(
                "the fine-tuned model is worse than its parent, so it was not written:\n  "
                + "\n  ".join(problems),
                card["lineage"]["guard"],
            )
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(staging / MODEL_FILE, out_dir / MODEL_FILE)
    model.save_weights(out_dir / WEIGHTS_FILE)
    cards.write_card(card, out_dir)
    if not config.quick:  # the card's full figures, as for any model (`make evaluate` checks them)
        from training.pipeline import reevaluate

        card = reevaluate(out_dir, data, write=True)
    card["training"]["finetune"]["seconds"] = round(time.perf_counter() - started, 1)
    cards.write_card(card, out_dir)
    print(f"wrote {version} to {out_dir}/ (parent {parent_info.version})")
    return card


def _fit(model, keras, data, learn, parent_config: TrainConfig, config: FinetuneConfig):
    """Fine-tune on the mix in place; returns (what the mix held, temperature and history)."""
    from training.calibrate import fit_temperature
    from training.canvas import canvas_inputs
    from training.train import generated, split_validation, training_dataset

    keras.utils.set_random_seed(config.seed)
    # The parent's own split, so its validation digits stay unseen and calibrate honestly.
    x_train, y_train, x_val, y_val = split_validation(data, parent_config)
    rng = np.random.default_rng(config.seed)
    replay = rng.choice(len(x_train), min(config.mnist_replay, len(x_train)), replace=False)
    mix_config = dataclasses.replace(
        parent_config,
        batch_size=config.batch_size,
        seed=config.seed,
        synthetic_per_class=config.synthetic_per_class,
        nondigits=round(
            len(replay) * config.nondigit_share * parent_config.nondigits / len(x_train)
        ),
    )
    x_gen, y_gen, synthetic, nondigits = generated(mix_config, x_train, 1.0, config.seed)
    base = len(replay) + len(x_gen)
    times = repeats(len(learn), base, config.feedback_repeat, config.feedback_share)
    x = np.concatenate(
        [
            model_batch(x_train[replay]),
            model_batch(x_gen),
            model_batch(np.repeat(learn.images, times, 0)),
        ]
    )
    y = np.concatenate([y_train[replay], y_gen, np.repeat(learn.labels, times)])
    mix = {
        "mnist_replay": len(replay),
        "synthetic_digits": synthetic,
        "nondigits": nondigits,
        "feedback_samples": len(learn),
        "feedback_repeats": times,
        "feedback_share": round(len(learn) * times / len(y), 4),
    }
    print(f"mix: {mix}")

    # Frozen batch-norm statistics: a small, skewed mix must not re-centre every layer.
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    steps = config.epochs * math.ceil(len(x) / config.batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(config.learning_rate, steps)
        ),
        # The parent's own loss: without its label smoothing the fine-tune sharpens every
        # logit, and the "not a digit" class loses drawings at the margin.
        loss=keras.losses.CategoricalCrossentropy(
            from_logits=True, label_smoothing=parent_config.label_smoothing
        ),
        metrics=["accuracy"],
    )
    history = model.fit(
        training_dataset(x, y, mix_config),
        epochs=config.epochs,
        shuffle=False,
        verbose=1 if sys.stdout.isatty() else 2,
    ).history
    val_gen, val_gen_y, _, _ = generated(mix_config, x_train, 0.1, config.seed + 100)
    x_val = np.concatenate([model_batch(canvas_inputs(x_val)), model_batch(val_gen)])
    temperature = fit_temperature(
        model.predict(x_val, batch_size=512, verbose=0), np.concatenate([y_val, val_gen_y])
    )
    print(f"calibration temperature {temperature:.3f}")
    return mix, {
        "temperature": temperature,
        "history": {"loss": [float(v) for v in history["loss"]]},
    }


def _public(source: str) -> str:
    """The source as the card may show it: no password in a database URL."""
    if "://" in source and "@" in source.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = source.split("://", 1)
        return f"{scheme}://{rest.split('@', 1)[1]}"
    return source


def _print_guard(before: dict, after: dict, sets: list) -> None:
    print(f"{'guard':>20}  {'parent':>8}  {'new':>8}  {'change':>7}  limit")
    for bench in sets:
        old, new = before[bench.name], after[bench.name]
        print(
            f"{bench.name:>20}  {old:7.2f}%  {new:7.2f}%  {new - old:+7.2f}  -{bench.max_drop}"
            f"  ({len(bench.labels)} images)"
        )
