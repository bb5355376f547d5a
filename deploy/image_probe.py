"""Probe a freshly started container: wait until it is ready, then recognise a canvas PNG.

Run by deploy/image-test.sh with the host's python3, so it uses the standard library only.
The time to ready is measured from --started, the moment just before `run` was called.
"""

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def wait_ready(url: str, started: float, timeout: float) -> float:
    """Seconds from `started` until GET /health/ready answers 200; raises TimeoutError."""
    deadline = started + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health/ready", timeout=1) as response:
                if response.status == 200:
                    return time.time() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet, or 503 while the model warms up
        time.sleep(0.02)
    raise TimeoutError(f"{url}/health/ready did not answer 200 within {timeout:.0f} s")


def post_json(url: str, document: dict) -> tuple[int, dict]:
    """POST a JSON document; the status and the JSON answer."""
    request = urllib.request.Request(
        url,
        data=json.dumps(document).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.load(response)


def predict(url: str, png: bytes) -> dict:
    """POST the PNG as the web page does: base64 in a JSON body."""
    return post_json(f"{url}/predict", {"image": base64.b64encode(png).decode("ascii")})[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:18080")
    parser.add_argument("--started", type=float, required=True, help="epoch seconds of `run`")
    parser.add_argument("--png", type=Path, required=True, help="a canvas PNG of one digit")
    parser.add_argument("--expect", type=int, required=True, help="the digit drawn in the PNG")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ready")
    parser.add_argument("--max-ready", type=float, default=2.0, help="fail above this many s")
    parser.add_argument(
        "--predictions", type=int, default=100, help="predictions to make in all (memory check)"
    )
    args = parser.parse_args()

    try:
        ready_s = wait_ready(args.url, args.started, args.timeout)
    except TimeoutError as exc:
        print(f"FAIL: {exc}", file=sys.stderr)
        return 1
    answer = predict(args.url, args.png.read_bytes())
    print(f"ready {ready_s:.2f} s after run (target < {args.max_ready:g} s)")
    print(
        f"POST /predict {args.png.name}: digit {answer['digit']}, "
        f"confidence {answer['confidence']:.4f}, model {answer['model_version']}"
    )
    if answer["digit"] != args.expect:
        print(f"FAIL: expected digit {args.expect}, got {answer['digit']}", file=sys.stderr)
        return 1
    # The image's one writable place, /data, must take a correction (the default FEEDBACK_DB).
    status, stored = post_json(
        f"{args.url}/feedback",
        {
            "image": base64.b64encode(args.png.read_bytes()).decode("ascii"),
            "label": str(args.expect),
            "answer": answer["digit"],
            "model_version": answer["model_version"],
        },
    )
    print(f"POST /feedback: {status} {stored}")
    if status != 201:
        print("FAIL: feedback was not stored in the container", file=sys.stderr)
        return 1
    for _ in range(args.predictions - 1):  # so the memory figure is after real use
        predict(args.url, args.png.read_bytes())
    if ready_s >= args.max_ready:
        print(f"FAIL: ready took {ready_s:.2f} s, over {args.max_ready:g} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
