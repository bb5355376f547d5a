"""`python -m bench.finetune`: what a full fine-tune from feedback does to the committed model,
for a set of correct corrections and for a poisoned one.

Each set goes to the real server (`python -m serving` on loopback, serving the parent, with a
SQLite feedback file of its own) through POST /feedback as the page sends it: the PNG of the
digit drawn on the 280x280 canvas, its label and the served model's version. `python -m
training finetune` then learns from that file, full size, and its --report says whether the
guard let the new model be written, with the guard's figures for parent and candidate on every
set. The markdown table it prints goes into docs/benchmarks.md; the figures also go to
bench/results/finetune.json (not committed).
"""

import argparse
import base64
import http.client
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.digits import draw_on_canvas, to_png
from bench.machine import machine, record
from bench.server import REPO_ROOT, free_port, start_server, stop_server, wait_ready
from recognizer.contract import MODEL_FILE
from training.canvas import CANVAS_SIZE
from training.data import Mnist, load
from training.strokes import TEMPLATES, draw_digit

RESULTS = Path(__file__).resolve().parent / "results" / "finetune.json"
CANVAS_DIGITS = 700
"""Correct corrections that are MNIST *training* digits, so the MNIST test set stays unseen."""
STROKE_DIGITS = 300
"""Correct corrections drawn from pen strokes in the school styles, every digit alike."""
POISONED_ONES = 1_000
SEED = 2_026
GUARDED = ("mnist_test", "style_suite", "nondigit_suite", "feedback_held_out")


@dataclass(frozen=True)
class Corrections:
    """One set of feedback as the page would send it: canvas PNGs and the labels given."""

    name: str
    description: str
    pngs: list[bytes]
    labels: list[str]


def correct_set(data: Mnist) -> Corrections:
    """Corrections that are right: canvas-drawn MNIST training digits and stroke-drawn
    digits, each with its true label."""
    rng = np.random.default_rng(SEED)
    chosen = rng.choice(len(data.x_train), CANVAS_DIGITS, replace=False)
    pngs = [to_png(draw_on_canvas(data.x_train[i], rng)) for i in chosen]
    labels = [str(data.y_train[i]) for i in chosen]
    for i in range(STROKE_DIGITS):
        digit = i % 10
        styles = list(TEMPLATES[digit])
        style = styles[(i // 10) % len(styles)]
        pngs.append(to_png(draw_digit(digit, style, rng, CANVAS_SIZE).convert("RGBA")))
        labels.append(str(digit))
    return Corrections(
        "correct",
        f"{len(pngs):,} correct corrections ({CANVAS_DIGITS} canvas-drawn MNIST training "
        f"digits, {STROKE_DIGITS} stroke-drawn)",
        pngs,
        labels,
    )


def poisoned_set(data: Mnist) -> Corrections:
    """Every MNIST training 1 of the set labelled 7: learnable, and what must never ship."""
    rng = np.random.default_rng(SEED)
    ones = np.flatnonzero(data.y_train == 1)[:POISONED_ONES]
    return Corrections(
        "poisoned",
        f"{len(ones):,} MNIST training 1s, every one labelled 7 (poisoned)",
        [to_png(draw_on_canvas(data.x_train[i], rng)) for i in ones],
        ["7"] * len(ones),
    )


def send(corrections: Corrections, db: Path, model_dir: Path) -> str:
    """Post every correction to a real server storing feedback in `db`; the served version."""
    port = free_port()
    process = start_server(
        port, FEEDBACK_DB=str(db), MODEL_PATH=str(model_dir / MODEL_FILE), LOG_LEVEL="warning"
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        wait_ready(process, port, timeout=60)
        connection.request("GET", "/health")
        version = json.loads(connection.getresponse().read())["model_version"]
        for png, label in zip(corrections.pngs, corrections.labels, strict=True):
            body = {
                "image": base64.b64encode(png).decode("ascii"),
                "label": label,
                "model_version": version,
            }
            connection.request(
                "POST", "/feedback", json.dumps(body), {"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            answer = response.read()
            if response.status != 201:
                raise RuntimeError(f"POST /feedback answered {response.status}: {answer[:300]}")
    finally:
        connection.close()
        stop_server(process)
    return version


def finetune(db: Path, model_dir: Path, data: str | None, work: Path) -> dict:
    """`python -m training finetune` on the feedback in `db`, full size: its report (written or
    refused, the guard's figures) and the seconds the command took. Its log goes to stderr."""
    report = work / "report.json"
    command = [sys.executable, "-m", "training", "finetune", "--feedback", str(db)]
    command += ["--model-dir", str(model_dir), "--out", str(work / "model")]
    command += ["--report", str(report), *(["--data", data] if data else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, stdout=sys.stderr)
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):  # 0 written, 1 refused by the guard
        raise RuntimeError(f"the fine-tune could not run (exit {done.returncode})")
    return json.loads(report.read_text()) | {"seconds": round(seconds)}


def markdown(results: dict) -> str:
    """The table for docs/benchmarks.md, with what it was measured on."""
    m = results["machine"]
    lines = [
        f"`{results['command']}` on {results['started']}, from the parent "
        f"`{results['parent']}`. Machine: {m['cpu']}, {m['cores']} cores, {m['os']}, Python "
        f"{m['python']}; 1-minute load average {m['load_average_at_start'][0]} at the start "
        f"and {m['load_average_at_end'][0]} at the end.",
        "",
        "| Feedback sent through `POST /feedback` | MNIST test | Style suite | Non-digit suite "
        "| Held-out feedback | Result |",
        "|---|---|---|---|---|---|",
    ]
    for run in results["sets"]:
        guard = run["guard"]
        cells = [f"{guard['before'][name]:.2f} → {guard['after'][name]:.2f} %" for name in GUARDED]
        cells[-1] += f" ({guard['counts']['feedback_held_out']} held out)"
        result = f"written as `{run['version']}`" if run["written"] else "refused by the guard"
        lines.append(
            f"| {run['description']} | " + " | ".join(cells) + f" | {result}, {run['seconds']} s |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.finetune", description=__doc__)
    parser.add_argument("--data", help="mnist.npz (default: $MNIST_PATH, else datasets/)")
    parser.add_argument(
        "--model-dir", type=Path, default=REPO_ROOT / "artifacts", help="the parent"
    )
    args = parser.parse_args()
    model_dir = args.model_dir.resolve()

    data = load(args.data)
    results: dict = {
        "machine": machine(),
        "started": time.strftime("%Y-%m-%d %H:%M %Z"),
        "command": " ".join(["python -m bench.finetune", *sys.argv[1:]]),
        "sets": [],
    }
    for corrections in (correct_set(data), poisoned_set(data)):
        with tempfile.TemporaryDirectory(prefix=f"nv-finetune-{corrections.name}-") as name:
            work = Path(name)
            print(f"{corrections.name}: sending {len(corrections.pngs)} ...", file=sys.stderr)
            results["parent"] = send(corrections, work / "feedback.sqlite3", model_dir)
            print(f"{corrections.name}: fine-tuning ...", file=sys.stderr)
            run = finetune(work / "feedback.sqlite3", model_dir, args.data, work)
            results["sets"].append(
                {"name": corrections.name, "description": corrections.description} | run
            )
    record(results, RESULTS, markdown(results))


if __name__ == "__main__":
    main()
