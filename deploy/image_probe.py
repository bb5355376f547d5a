"""Probe a freshly started container: wait until it is ready, then recognise a canvas PNG.

Run by deploy/image-test.sh with the host's python3, so it uses the standard library only.
The time to ready is reported two ways: from --started, the moment just before `run` was
called (what a user waits, the container engine's own start included), and from
--process-started, the moment the engine says the container's process began (the server's
own start). Only the server's own start is held to --max-ready: the engine's share depends on
the machine and its storage (2.3 s of 2.7 on one CI machine, where the server took 0.3 s).
"""

import argparse
import base64
import datetime
import json
import re
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


def engine_time(text: str) -> float:
    """Epoch seconds of a container engine's timestamp, as `inspect` prints State.StartedAt.

    podman prints "2026-12-07 22:52:57.536080713 +0000 UTC", docker "2026-12-07T22:52:57.5Z";
    datetime.fromisoformat takes neither (nanoseconds, the zone's name), so it is read by hand.
    """
    found = re.match(
        r"(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?", text
    )
    if found is None:
        raise ValueError(f"not a container engine's timestamp: {text!r}")
    day, clock, fraction, zone = found.groups()
    offset = "+0000" if zone in (None, "Z") else zone.replace(":", "")
    moment = datetime.datetime.strptime(f"{day} {clock} {offset}", "%Y-%m-%d %H:%M:%S %z")
    return moment.timestamp() + float(f"0.{fraction or 0}")


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
    parser.add_argument(
        "--process-started",
        type=engine_time,
        required=True,
        help="the container's State.StartedAt, as the engine's `inspect` prints it",
    )
    parser.add_argument("--png", type=Path, required=True, help="a canvas PNG of one digit")
    parser.add_argument("--expect", type=int, required=True, help="the digit drawn in the PNG")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for ready")
    parser.add_argument(
        "--max-ready", type=float, default=2.0, help="fail if the server's own start is longer"
    )
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
    engine_s = args.process_started - args.started
    server_s = ready_s - engine_s
    print(
        f"ready {ready_s:.2f} s after run: the engine started the container in {engine_s:.2f} s, "
        f"the server was ready {server_s:.2f} s after its process began "
        f"(limit {args.max_ready:g} s)"
    )
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
    if server_s >= args.max_ready:
        print(
            f"FAIL: the server took {server_s:.2f} s to be ready, over {args.max_ready:g} s",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
