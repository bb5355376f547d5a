"""`python -m bench`: cold start, latency, throughput and install size of the service.

Every run is bounded in time and request count, uses realistic requests (the
page's own: a 280x280 canvas PNG posted raw, with ?include_input=true), and is
reported with the machine it ran on. Results go to bench/results/latest.json.
"""

import argparse
import base64
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.digits import canvas_pngs
from bench.loadgen import build_request, run_load
from bench.server import REPO_ROOT, free_port, start_server, stop_server, wait_ready

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
BATCH_SIZE = 16


def machine() -> dict:
    """What the figures were measured on; the load average says how busy it was."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import onnxruntime

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "os": platform.platform(terse=True),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def cold_start(runs: int) -> dict:
    """Process start to the first 200 from /health, several times; the median is the figure."""
    times = []
    for _ in range(runs):
        port = free_port()
        started = time.perf_counter()
        process = start_server(port, WORKERS="1")
        try:
            wait_ready(process, port)
            times.append(time.perf_counter() - started)
        finally:
            stop_server(process)
    return {
        "runs": runs,
        "median_s": round(statistics.median(times), 3),
        "min_s": round(min(times), 3),
    }


def load_figures(workers: int, pngs: list[bytes], seconds: float) -> dict:
    """Latency at concurrency 1, throughput at 8 and 32, and batched throughput, for one server."""
    page_requests = [build_request("/predict?include_input=true", png, "image/png") for png in pngs]
    batches = [
        build_request(
            "/predict",
            json.dumps(
                {"images": [base64.b64encode(p).decode() for p in pngs[i : i + BATCH_SIZE]]}
            ).encode(),
            "application/json",
        )
        for i in range(0, len(pngs) - BATCH_SIZE + 1, BATCH_SIZE)
    ]
    port = free_port()
    process = start_server(port, WORKERS=str(workers))
    try:
        wait_ready(process, port)
        run_load(port, page_requests, concurrency=max(2, workers * 2), seconds=2, count=400)  # warm
        return {
            "c1": run_load(port, page_requests, 1, seconds, count=2000).summary(),
            "c8": run_load(port, page_requests, 8, seconds, count=20000).summary(),
            "c32": run_load(port, page_requests, 32, seconds, count=20000).summary(),
            f"c8_batch{BATCH_SIZE}": run_load(port, batches, 8, seconds, count=5000).summary(
                BATCH_SIZE
            ),
        }
    finally:
        stop_server(process)


def install_size(timeout: float) -> dict:
    """Size of a fresh venv holding only the serve extra's dependencies (no pip, no tests)."""
    import tomllib  # Python 3.11+, which only this measurement needs

    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    requirements = extras["optional-dependencies"]["serve"]
    with tempfile.TemporaryDirectory(prefix="nv-serve-venv-") as directory:
        venv = Path(directory) / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
        pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python")]
        installed = subprocess.run(
            [*pip, "install", "--quiet", "--disable-pip-version-check", *requirements],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if installed.returncode != 0:
            raise RuntimeError(f"pip could not install the serve extra:\n{installed.stderr}")
        site = next(venv.glob("lib/python*/site-packages"))
        largest = sorted(((_size(d), d.name) for d in site.iterdir() if d.is_dir()), reverse=True)
        total = _size(venv)
    return {
        "requirements": requirements,
        "venv_mb": round(total / 1e6, 1),
        "largest_mb": {name: round(size / 1e6, 1) for size, name in largest[:5]},
    }


def _size(directory: Path) -> int:
    files = directory.rglob("*")
    return sum(f.stat().st_size for f in files if f.is_file() and not f.is_symlink())


def markdown(results: dict) -> str:
    """The table for the README."""
    m = results["machine"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, "
        f"onnxruntime {m['onnxruntime']}; 1-minute load average {m['load_average_at_start'][0]} "
        f"at the start and {m['load_average_at_end'][0]} at the end",
        "",
        "| Measure | Figure | Target |",
        "|---|---|---|",
        f"| Cold start: process start to first 200 from /health (median of "
        f"{results['cold_start']['runs']}) | {results['cold_start']['median_s']} s | < 0.5 s |",
    ]
    for workers, figures in results["load"].items():
        c1, c8, c32 = figures["c1"], figures["c8"], figures["c32"]
        batch = figures[f"c8_batch{BATCH_SIZE}"]
        lines += [
            f"| WORKERS={workers}: /predict latency at concurrency 1, p50 / p99 | "
            f"{c1['p50_ms']} / {c1['p99_ms']} ms | p50 < 3 ms |",
            f"| WORKERS={workers}: throughput at concurrency 8 (p99) | "
            f"{c8['requests_per_s']} predictions/s ({c8['p99_ms']} ms) | |",
            f"| WORKERS={workers}: throughput at concurrency 32 (p99) | "
            f"{c32['requests_per_s']} predictions/s ({c32['p99_ms']} ms) | |",
            f"| WORKERS={workers}: batches of {BATCH_SIZE} at concurrency 8 | "
            f"{batch['predictions_per_s']} predictions/s | >= 1000/s with several workers |",
        ]
    if "install" in results:
        largest = ", ".join(f"{k} {v}" for k, v in results["install"]["largest_mb"].items())
        lines.append(
            f"| Serve-only venv (serve extra, no pip; largest, MB: {largest}) | "
            f"{results['install']['venv_mb']} MB | <= 220 MB |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="per load run (default 5)")
    parser.add_argument("--cold-runs", type=int, default=5, help="cold starts to time (default 5)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="WORKERS to try")
    parser.add_argument(
        "--skip-install", action="store_true", help="skip the venv size (needs PyPI)"
    )
    args = parser.parse_args()

    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    pngs, _ = canvas_pngs(256, seed=7)
    results["request"] = {
        "kind": "POST /predict?include_input=true, raw 280x280 canvas PNG of a real MNIST digit",
        "mean_png_bytes": round(sum(map(len, pngs)) / len(pngs)),
    }
    print("cold start ...", file=sys.stderr)
    results["cold_start"] = cold_start(args.cold_runs)
    results["load"] = {}
    for workers in args.workers:
        print(f"load with WORKERS={workers} ...", file=sys.stderr)
        results["load"][str(workers)] = load_figures(workers, pngs, args.seconds)
    if not args.skip_install:
        print("serve-only venv ...", file=sys.stderr)
        results["install"] = install_size(timeout=600)
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(markdown(results))
    print(f"\n(written to {RESULTS.relative_to(REPO_ROOT)})")


if __name__ == "__main__":
    main()
