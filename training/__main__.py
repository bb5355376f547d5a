"""Command line: `python -m training run ...`, `python -m training evaluate ...` and
`python -m training finetune --feedback ...`."""

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

from training.config import TrainConfig
from training.data import MNIST_ENV, DataError
from training.pendigits import PENDIGITS_ENV, PendigitsError

DEFAULTS = TrainConfig()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data_help = f"local mnist.npz (default: ${MNIST_ENV}, else datasets/mnist.npz)"
    run = commands.add_parser("run", help="train, export to ONNX, evaluate, write artifacts")
    run.add_argument("--data", help=data_help)
    run.add_argument(
        "--pendigits",
        help=f"pendigits-orig.tra[.xz] (default: ${PENDIGITS_ENV}, else datasets/)",
    )
    run.add_argument("--out", type=Path, default=Path("runs/latest"), help="output directory")
    run.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    run.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    run.add_argument("--seed", type=int, default=DEFAULTS.seed)
    run.add_argument(
        "--pen-renderings",
        type=int,
        default=DEFAULTS.pen_renderings,
        help="times each training writer's pen-written digit is drawn into the training set",
    )
    run.add_argument(
        "--quick", action="store_true", help="a small subset and one epoch: a smoke test"
    )

    evaluate = commands.add_parser("evaluate", help="recompute a model card's figures")
    evaluate.add_argument("--data", help=data_help)
    evaluate.add_argument("--model-dir", type=Path, default=Path("artifacts"))
    evaluate.add_argument(
        "--check", action="store_true", help="exit 1 unless the figures match the card"
    )
    evaluate.add_argument(
        "--write", action="store_true", help="store the recomputed figures in the card"
    )

    finetune = commands.add_parser(
        "finetune", help="learn from users' feedback; write the model only if the guard passes"
    )
    finetune.add_argument(
        "--feedback",
        required=True,
        help="an export (.ndjson or .csv), a SQLite file, a postgresql:// URL, or the server's "
        "URL (its token from $FEEDBACK_TOKEN)",
    )
    finetune.add_argument("--model-dir", type=Path, default=Path("artifacts"), help="the parent")
    finetune.add_argument(
        "--weights", type=Path, help="the parent's Keras weights (default: next to its model)"
    )
    finetune.add_argument("--out", type=Path, default=Path("runs/finetune"))
    finetune.add_argument("--data", help=data_help)
    finetune.add_argument("--epochs", type=int)
    finetune.add_argument(
        "--quick", action="store_true", help="small mix and suites, one epoch: a smoke test"
    )
    finetune.add_argument(
        "--report",
        type=Path,
        help="also write the outcome here as JSON: written or refused, the new version, and the "
        "guard's figures before and after on each set",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    from training.data import load
    from training.pipeline import check, reevaluate, run  # after parsing: --help is instant

    if args.command == "finetune":
        return run_finetune(args)
    try:
        if args.command == "run":
            config = TrainConfig(
                epochs=args.epochs,
                batch_size=args.batch_size,
                seed=args.seed,
                pen_renderings=args.pen_renderings,
            )
            run(
                config.for_quick_run() if args.quick else config,
                args.data,
                args.out,
                args.pendigits,
            )
            return 0
        if args.check:
            return 0 if check(args.model_dir, args.data) else 1
        reevaluate(args.model_dir, load(args.data), write=args.write)
        return 0
    except (DataError, PendigitsError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_finetune(args: argparse.Namespace) -> int:
    """0: a new model was written; 1: the guard refused it; 2: it could not run."""
    from training.feedback_set import NotEnoughFeedback
    from training.finetune import FinetuneConfig, GuardRefused, finetune

    config = FinetuneConfig().for_quick_run() if args.quick else FinetuneConfig()
    if args.epochs:
        config = dataclasses.replace(config, epochs=args.epochs)
    try:
        card = finetune(
            args.model_dir, args.feedback, args.out, args.data, config, weights=args.weights
        )
    except GuardRefused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        write_report(args.report, {"written": False, "guard": exc.guard})
        return 1
    except (DataError, FileNotFoundError, NotEnoughFeedback, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    version = card["model"]["version"]
    write_report(
        args.report, {"written": True, "version": version, "guard": card["lineage"]["guard"]}
    )
    return 0


def write_report(path: Path | None, report: dict) -> None:
    """The fine-tune's outcome as JSON at `path`, if one was asked for: what a benchmark reads
    instead of the log (a refused model has no card)."""
    if path is not None:
        path.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
