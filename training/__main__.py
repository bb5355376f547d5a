"""Command line: `python -m training run ...` and `python -m training evaluate ...`."""

import argparse
import os
import sys
from pathlib import Path

from training.config import TrainConfig
from training.data import MNIST_ENV, DataError

DEFAULTS = TrainConfig()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    data_help = f"local mnist.npz (default: ${MNIST_ENV}, else download the official file)"
    run = commands.add_parser("run", help="train, export to ONNX, evaluate, write artifacts")
    run.add_argument("--data", help=data_help)
    run.add_argument("--out", type=Path, default=Path("runs/latest"), help="output directory")
    run.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    run.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    run.add_argument("--seed", type=int, default=DEFAULTS.seed)
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
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    from training.data import load
    from training.pipeline import check, reevaluate, run  # after parsing: --help is instant

    try:
        if args.command == "run":
            config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed)
            run(config.for_quick_run() if args.quick else config, args.data, args.out)
            return 0
        if args.check:
            return 0 if check(args.model_dir, args.data) else 1
        reevaluate(args.model_dir, load(args.data), write=args.write)
        return 0
    except (DataError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
