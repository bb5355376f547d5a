"""`python -m bench`: start-up, latency and throughput of the service, in one run.

Side by side for WORKERS=1 and WORKERS=2 on the same machine in the same minute or two:
time from process start to the first 200 for the page's /predict request and until every
worker answers, then /health and /predict at
concurrency 1, 8 and 32 with wrk, and number mode. The /predict request is the page's
own: a pen digit painted by the page's paint() in Chromium and exported by
canvas.toBlob() (tests/fixtures/page_canvases.npz), cropped to its ink as the page does,
posted raw to /predict?include_input=true; one more run posts the whole canvas. Number
mode's requests are the page's too: six-digit numbers painted in Chromium on the 840x280
number pad, posted as the page's JSON (tests/fixtures/page_numbers.npz). The
markdown table it prints goes into docs/benchmarks.md; the figures also go to
bench/results/latest.json (not committed).
"""

import argparse
import http.client
import io
import json
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image

from bench import wrk
from bench.machine import machine, record
from bench.page_canvases import load as load_page_canvases
from bench.page_numbers import load as load_page_numbers
from bench.page_numbers import page_body
from bench.server import (
    STARTED,
    free_port,
    post_status,
    start_server,
    stop_server,
    wait_ready,
)

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"
CONCURRENCIES = (1, 8, 32)
PAGE_PATH = "/predict?include_input=true"


CROP_MARGIN = 2
"""As web/js/client.js's cropToInk: paper left around the ink of a cropped drawing."""


def page_requests(count: int = 16) -> list[bytes]:
    """The page's own PNGs: pen digits at 280x280 as Chromium's toBlob wrote them."""
    fixture = load_page_canvases()
    picked = [i for i, kind in enumerate(fixture["kinds"]) if kind == "pen-280"]
    picked = picked[:: max(1, len(picked) // count)][:count]
    return [fixture["pngs"][i] for i in picked]


def crop_to_ink(png: bytes) -> bytes:
    """What the page posts since issue 14: the canvas cropped to its non-white pixels plus
    CROP_MARGIN of paper (web/js/client.js cropToInk; the same pixels, Pillow's encoder)."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
    inked = (pixels != 255).any(axis=2)
    rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
    height, width = inked.shape
    m = CROP_MARGIN
    if (
        rows.size == 0
        or rows[0] < m
        or cols[0] < m
        or rows[-1] >= height - m
        or cols[-1] >= width - m
    ):
        return png
    box = pixels[rows[0] - m : rows[-1] + 1 + m, cols[0] - m : cols[-1] + 1 + m]
    if box.shape[0] * box.shape[1] > 0.8 * width * height:
        return png
    buffer = io.BytesIO()
    Image.fromarray(box, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def ready_after_start(workers: int, runs: int, body: bytes) -> dict:
    """Median seconds from process start to the first 200 for the page's /predict request,
    and to the first 200 after every worker has logged that its startup is complete.

    A worker opens its listener only once its model is loaded (serving.runtime.server), so no
    request waits for a worker that is still loading; the second figure says when all of
    them take requests."""
    first, every = [], []
    for _ in range(runs):
        port = free_port()
        with tempfile.TemporaryDirectory(prefix="nv-ready-") as directory:
            log = Path(directory) / "server.log"
            started = time.perf_counter()
            process = start_server(port, log=log, WORKERS=str(workers))
            try:
                answered = None
                while time.perf_counter() - started < 30:
                    if process.poll() is not None:
                        raise RuntimeError(f"the server exited with code {process.returncode}")
                    if post_status(port, PAGE_PATH, body, "image/png", timeout=0.5) == 200:
                        now = time.perf_counter() - started
                        answered = answered or now
                        if log.read_bytes().count(STARTED) >= workers:
                            first.append(answered)
                            every.append(now)
                            break
                    time.sleep(0.002)
                else:
                    raise TimeoutError("the server did not answer within 30 s")
            finally:
                stop_server(process)
    return {
        "first_answer_s": round(statistics.median(first), 3),
        "every_worker_s": round(statistics.median(every), 3),
    }


def post_json(port: int, body: dict) -> tuple[int, dict]:
    """One JSON POST to /predict: the status and the decoded answer."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def server_figures(workers: int, pngs: list[bytes], numbers: list[dict], seconds: float) -> dict:
    """/health and /predict at every concurrency, and number mode, on one running server."""
    port = free_port()
    process = start_server(port, WORKERS=str(workers))
    figures: dict = {}
    try:
        wait_ready(process, port)
        wrk.run(port, PAGE_PATH, pngs, "image/png", 8, 1)  # warm up every worker
        for concurrency in CONCURRENCIES:
            figures[f"health_c{concurrency}"] = wrk.run(
                port, "/health", None, "", concurrency, seconds
            )
            figures[f"predict_c{concurrency}"] = wrk.run(
                port, PAGE_PATH, [crop_to_ink(p) for p in pngs], "image/png", concurrency, seconds
            )
        figures["whole_c8"] = wrk.run(port, PAGE_PATH, pngs, "image/png", 8, seconds)
        figures["predict_server"] = server_time(
            port, PAGE_PATH, [crop_to_ink(p) for p in pngs], "image/png"
        )
        figures["number"] = number_figures(port, numbers, seconds)
    finally:
        stop_server(process)
    return figures


def number_figures(port: int, numbers: list[dict], seconds: float) -> dict:
    """Latency of number mode at concurrency 1 over the page's numbers, and how many of
    them it reads right, if the server has number mode."""
    bodies = [json.dumps(page_body(number)).encode() for number in numbers]
    read = []
    for number, body in zip(numbers, bodies, strict=True):
        status, answer = post_json(port, json.loads(body))
        if status != 200:
            return {"available": False, "status": status, "error": answer.get("error")}
        read.append(answer.get("number") == number["digits"])
    figures = wrk.run(port, "/predict", bodies, "application/json", 1, seconds)
    server = server_time(port, "/predict", bodies, "application/json")
    return {"available": True, "numbers": len(numbers), "read": sum(read)} | figures | server


def server_time(
    port: int, path: str, bodies: list[bytes], content_type: str, count: int = 320
) -> dict:
    """The server's own time for a request (its Server-Timing header) beside the time the
    client waited for the same request: medians and 99th percentiles over `count` requests
    (the bodies in turn) sent one after another on one connection."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    server, client = [], []
    try:
        for index in range(count):
            body = bodies[index % len(bodies)]
            start = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": content_type})
            response = connection.getresponse()
            response.read()
            client.append((time.perf_counter() - start) * 1000)
            timing = response.getheader("server-timing", "")
            if not timing.startswith("app;dur="):
                return {}  # a server without the header: nothing to report
            server.append(float(timing.removeprefix("app;dur=")))
    finally:
        connection.close()
    return {
        "server_p50_ms": round(statistics.median(server), 3),
        "server_p99_ms": round(float(np.percentile(server, 99)), 3),
        "client_p50_ms": round(statistics.median(client), 3),
    }


def model_figures(runs: int = 3_000) -> dict:
    """The model alone, as served (recognizer.model.DigitModel): one 28x28 input at a time."""
    from recognizer.model import DigitModel
    from serving.settings import DEFAULT_MODEL_PATH

    model = DigitModel.load(DEFAULT_MODEL_PATH)
    image = np.zeros((1, 28, 28), dtype=np.float32)
    image[0, 4:24, 12:16] = 1.0  # a bar: a 1
    for _ in range(200):
        model.predict(image)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(image)
        times.append(time.perf_counter() - start)
    return {
        "batch_1_p50_us": round(1e6 * statistics.median(times), 1),
        "batch_1_p99_us": round(1e6 * float(np.percentile(times, 99)), 1),
        "onnx_bytes": DEFAULT_MODEL_PATH.stat().st_size,
        "version": model.info.version,
    }


def markdown(results: dict) -> str:
    """The tables for docs/benchmarks.md."""
    m = results["machine"]
    load = results["load"]
    columns = list(load)
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, onnxruntime "
        f"{m['onnxruntime']}; 1-minute load average {m['load_average_at_start'][0]} at the "
        f"start and {m['load_average_at_end'][0]} at the end. Client: wrk, one thread, on "
        f"the same cores. Request: {results['request']}. Number mode: "
        f"{results['number_request']}.",
        "",
        "| | " + " | ".join(f"WORKERS={w}" for w in columns) + " |",
        "|---|" + "---|" * len(columns),
        "| ready after start (median): first `/predict` answer / every worker answering | "
        + " | ".join(
            f"{results['ready'][w]['first_answer_s']} / {results['ready'][w]['every_worker_s']} s"
            for w in columns
        )
        + " |",
    ]
    for route in ("health", "predict"):
        for c in CONCURRENCIES:
            cells = []
            for w in columns:
                f = load[w][f"{route}_c{c}"]
                errors = f" ({f['errors']} errors)" if f["errors"] else ""
                cells.append(
                    f"{f['requests_per_s']:,} req/s, p50 {f['p50_ms']} / p99 {f['p99_ms']} ms"
                    f"{errors}"
                )
            name = "`/health`" if route == "health" else "`/predict` (page's request)"
            lines.append(f"| {name}, c={c} | " + " | ".join(cells) + " |")
    cells = [
        f"{load[w]['whole_c8']['requests_per_s']:,} req/s, p50 {load[w]['whole_c8']['p50_ms']} ms"
        for w in columns
    ]
    lines.append(
        "| `/predict`, the whole 280x280 canvas (as before), c=8 | " + " | ".join(cells) + " |"
    )
    cells = [
        (
            f"p50 {t['server_p50_ms']} / p99 {t['server_p99_ms']} ms "
            f"of the client's p50 {t['client_p50_ms']} ms"
            if (t := load[w].get("predict_server"))
            else "no Server-Timing header"
        )
        for w in columns
    ]
    lines.append(
        "| `/predict` (page's request), the server's own time (Server-Timing), one at a time | "
        + " | ".join(cells)
        + " |"
    )
    cells = []
    for w in columns:
        n = load[w]["number"]
        if n["available"]:
            server = (
                f"; one at a time: server time p50 {n['server_p50_ms']} / p99 "
                f"{n['server_p99_ms']} ms of the client's {n['client_p50_ms']} ms"
                if "server_p50_ms" in n
                else ""
            )
            cells.append(
                f"p50 {n['p50_ms']} / p99 {n['p99_ms']} ms ({n['requests_per_s']} req/s){server}"
                f"; {n['read']} of {n['numbers']} read right"
            )
        else:
            cells.append(f"not available (HTTP {n['status']})")
    lines.append("| number mode, the page's six-digit numbers, c=1 | " + " | ".join(cells) + " |")
    client = [
        load[w][f"predict_c{c}"]["client_cpu_us_per_request"] for w in columns for c in (8, 32)
    ]
    model = results["model"]
    lines += [
        "",
        f"The model alone ({model['version']}, {model['onnx_bytes']:,} bytes of ONNX), one image "
        f"per run in process: p50 {model['batch_1_p50_us']} µs, p99 {model['batch_1_p99_us']} µs.",
        f"wrk's own CPU per /predict request: {min(client)}-{max(client)} µs "
        "(the client is not what limits the figures).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=4.0, help="per wrk run (default 4)")
    parser.add_argument("--ready-runs", type=int, default=3, help="starts to time (default 3)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="WORKERS to try")
    args = parser.parse_args()

    wrk.wrk_path()
    results: dict = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    results["model"] = model_figures()
    pngs = page_requests()
    crops = [crop_to_ink(p) for p in pngs]
    results["request"] = (
        f"{len(pngs)} pen digits painted by the page in Chromium on its 280x280 canvas and "
        f"cropped to the ink as the page does (mean {round(sum(map(len, crops)) / len(crops)):,}"
        f" bytes; whole: {round(sum(map(len, pngs)) / len(pngs)):,}), POST {PAGE_PATH}"
    )
    numbers = load_page_numbers()
    results["number_request"] = (
        f"{len(numbers)} six-digit numbers painted by the page in Chromium on its 840x280 "
        f"number pad (mean {round(sum(len(n['png']) for n in numbers) / len(numbers)):,} bytes),"
        " POST /predict as the page's JSON (mode number, include_input, stroke hint)"
    )
    results["ready"], results["load"] = {}, {}
    for workers in args.workers:
        print(f"WORKERS={workers}: start-up ...", file=sys.stderr)
        results["ready"][str(workers)] = ready_after_start(workers, args.ready_runs, crops[0])
        print(f"WORKERS={workers}: load ...", file=sys.stderr)
        results["load"][str(workers)] = server_figures(workers, pngs, numbers, args.seconds)
    record(results, RESULTS, markdown(results))


if __name__ == "__main__":
    main()
