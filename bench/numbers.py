"""Server time for a six-digit number, in process: `python -m bench.numbers [--data mnist.npz]`.

The PNG the page sends for six digits drawn with strokes, apart ("wide") and touching,
decoded, segmented, preprocessed and read by the model through the same function the
/predict route calls, with the server's default limits. No HTTP: this is the recognizer's
own share of a request's time. Beside the wall time, the process's CPU time (all its
threads: the model runs a large batch in two halves at once): on a machine shared with
other work, the wall time also measures the neighbours, the CPU time much less.
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
    runs/20 drawings of each kind, each read 20 times; and the p50 of its CPU time."""
    defaults = Settings()  # the server's default limits, as a request would meet them

    model = DigitModel.load(model_path)
    rng = np.random.default_rng(SEED)
    result = {}
    for kind in ("wide", "touching"):
        times, cpu = [], []
        for i in range(runs):
            if i % 20 == 0:
                canvas, _, _ = make_number("strokes", kind, 6, rng, (x_test, y_test))
                buffer = io.BytesIO()
                canvas.save(buffer, format="PNG")
                request = PredictionRequest([buffer.getvalue()], mode="number")
            start, start_cpu = time.perf_counter(), time.process_time()
            predict(request, model, defaults.max_image_pixels, defaults.max_digits)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        result[kind] = {
            "p50_ms": round(1000 * float(np.median(times)), 2),
            "p90_ms": round(1000 * float(np.percentile(times, 90)), 2),
            "p50_cpu_ms": round(1000 * float(np.median(cpu)), 2),
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
