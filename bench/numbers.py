"""Server time for a six-digit number, in process: `python -m bench.numbers [--data mnist.npz]`.

The PNG the page sends for six digits drawn with strokes, apart ("wide") and touching,
decoded, segmented, preprocessed and read by the model through the same function the
/predict route calls, with the server's default limits. No HTTP: this is the recognizer's
own share of a request's time.
"""

import argparse
import io
import json
import time
from pathlib import Path

import numpy as np

from recognizer.contract import MODEL_FILE
from recognizer.model import DigitModel
from serving.predictions import PredictionRequest, predict
from serving.settings import Settings
from training.data import load
from training.number_sets import SEED, make_number


def time_numbers(model_path: Path, x_test: np.ndarray, y_test: np.ndarray, runs: int = 200) -> dict:
    """p50 and p90, in ms, of serving.predictions.predict on the PNG of a 6-digit number,
    20 drawings of each kind, each read runs/20 times."""
    defaults = Settings()  # the server's default limits, as a request would meet them

    model = DigitModel.load(model_path)
    rng = np.random.default_rng(SEED)
    result = {}
    for kind in ("wide", "touching"):
        times = []
        for i in range(runs):
            if i % 20 == 0:
                canvas, _, _ = make_number("strokes", kind, 6, rng, (x_test, y_test))
                buffer = io.BytesIO()
                canvas.save(buffer, format="PNG")
                request = PredictionRequest([buffer.getvalue()], mode="number")
            start = time.perf_counter()
            predict(request, model, defaults.max_image_pixels, defaults.max_digits)
            times.append(time.perf_counter() - start)
        result[kind] = {
            "p50_ms": round(1000 * float(np.median(times)), 2),
            "p90_ms": round(1000 * float(np.percentile(times, 90)), 2),
        }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="mnist.npz (else $MNIST_PATH or datasets/)")
    parser.add_argument("--model", type=Path, default=Path("artifacts") / MODEL_FILE)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    data = load(args.data)
    print(json.dumps(time_numbers(args.model, data.x_test, data.y_test, args.runs), indent=1))


if __name__ == "__main__":
    main()
