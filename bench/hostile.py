"""`python -m bench.hostile`: what one laptop can do to the server, measured on loopback.

Each attack is a plain function that the hostile-traffic tests (tests/test_hostile_connections.py)
also run, with smaller counts, against a real server; run from the command line, it starts
`python -m serving` on a free port with the environment given, attacks it, and prints one
JSON line of figures per attack, so the same attack can be run on two versions of the code:

    python -m bench.hostile slow-readers --clients 200 --env MAX_CONNECTIONS=50
    python -m bench.hostile slow-readers --clients 300 --env MAX_CONNECTIONS=96 --open-files 256
    python -m bench.hostile slow-bodies --clients 1000 --env WORKERS=2
    python -m bench.hostile big-heads
    python -m bench.hostile gzip-burst --clients 60 --env WORKERS=2
"""

import argparse
import json
import multiprocessing
import os
import resource
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from pathlib import Path

from bench.server import REPO_ROOT, free_port, start_server, stop_server, wait_ready

WASM = "/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm"
"""The largest file the server sends (14 MB; 3.7 MB gzipped)."""
SEVEN = (REPO_ROOT / "tests" / "fixtures" / "seven.png").read_bytes()
"""A normal /predict request's body: one drawn 7."""


def process_tree(pid: int) -> list[int]:
    """The server's process and its children (the workers), from /proc."""
    pids, index = [pid], 0
    while index < len(pids):
        task = Path(f"/proc/{pids[index]}/task/{pids[index]}/children")
        with suppress(OSError):  # the process has just exited
            pids += [int(child) for child in task.read_text().split()]
        index += 1
    return pids


def resident_mb(pid: int) -> float:
    """Resident memory of the server's processes, added up, in MB."""
    total = 0
    for each in process_tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """CPU time (user and system) one process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_descriptors(pid: int) -> int:
    """Descriptors the server's processes hold open, added up."""
    total = 0
    for each in process_tree(pid):
        with suppress(OSError):
            total += len(list(Path(f"/proc/{each}/fd").iterdir()))
    return total


def connect(port: int, first_bytes: bytes, receive_buffer: int = 0) -> socket.socket:
    """A connection that has sent `first_bytes`; a small receive buffer makes a slow reader
    leave more of a response on the server's side."""
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    conn.settimeout(5)
    conn.connect(("127.0.0.1", port))
    conn.sendall(first_bytes)
    return conn


def get(path: str, *headers: str) -> bytes:
    """A GET request's head."""
    lines = [f"GET {path} HTTP/1.1", "Host: hostile", *headers, "", ""]
    return "\r\n".join(lines).encode()


def probe(port: int, timeout: float = 5.0) -> dict:
    """GET /health/live and POST /predict (a drawn 7) on new connections: status and seconds."""
    figures = {}
    for name, request in (
        ("live", get("/health/live", "Connection: close")),
        (
            "predict",
            b"POST /predict HTTP/1.1\r\nHost: hostile\r\nContent-Type: image/png\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(SEVEN) + SEVEN,
        ),
    ):
        start = time.perf_counter()
        status = None
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
                conn.sendall(request)
                line = conn.makefile("rb").readline().split()
                status = int(line[1]) if len(line) > 1 else None
        except OSError:
            pass
        figures[name] = (status, round(time.perf_counter() - start, 3))
    return figures


def slow_readers(port: int, pid: int, clients: int, settle: float = 3.0) -> dict:
    """`clients` connections GET the wasm and never read; then resident memory, descriptors,
    and whether a probe and a prediction still answer."""
    before = resident_mb(pid)
    readers = []
    try:
        for _ in range(clients):
            try:
                readers.append(connect(port, get(WASM), receive_buffer=4096))
            except OSError:
                break
        time.sleep(settle)
        return {
            "attack": "slow-readers",
            "clients": clients,
            "connected": len(readers),
            "rss_mb_before": before,
            "rss_mb": resident_mb(pid),
            "descriptors": open_descriptors(pid),
            "probe": probe(port),
        }
    finally:
        for conn in readers:
            conn.close()


SLOW_BODY_HEAD = (
    b"POST /predict HTTP/1.1\r\nHost: hostile\r\nContent-Type: image/png\r\n"
    b"Content-Length: 1048576\r\n\r\n"
)


def _trickle(port: int, clients: int, rate: float, report: Connection, stop: Event) -> None:
    """The slow-body attacker's process: connect, report how many, then send each
    connection a byte in turn, `rate` rounds a second, reconnecting any the server cut off."""
    raise_file_limit(clients + 64)
    held: list[socket.socket] = []
    for _ in range(clients):
        try:
            held.append(connect(port, SLOW_BODY_HEAD + b"x"))
        except OSError:
            break
    report.send(len(held))
    while not stop.is_set():
        started = time.monotonic()
        for index, conn in enumerate(held):
            try:
                conn.send(b"x")
            except OSError:
                conn.close()
                with suppress(OSError):  # refused: try again next round
                    held[index] = connect(port, SLOW_BODY_HEAD + b"x")
        stop.wait(max(0.0, 1.0 / rate - (time.monotonic() - started)))
    for conn in held:
        conn.close()


@contextmanager
def slow_bodies(port: int, clients: int, rate: float = 1.0) -> Iterator[int]:
    """`clients` connections that each declare a 1 MB /predict body and send it `rate` bytes
    a second, reconnecting any the server closes, as an attacker would, for as long as the
    context lasts; yields how many connected. They run in a process of their own, so that
    the attacker's work does not delay the client that measures."""
    context = multiprocessing.get_context("fork")
    receiving, sending = context.Pipe(duplex=False)
    stop = context.Event()
    attacker = context.Process(target=_trickle, args=(port, clients, rate, sending, stop))
    attacker.start()
    try:
        yield receiving.recv() if receiving.poll(60) else 0
    finally:
        stop.set()
        attacker.join(timeout=10)
        if attacker.exitcode is None:
            attacker.kill()
            attacker.join()


def raise_file_limit(count: int) -> None:
    """Let this process hold `count` descriptors, as far as the hard limit allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < count:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(count, hard), hard))


def slow_bodies_figures(port: int, clients: int, seconds: float) -> dict:
    """Probe and prediction latency, every half second, while slow bodies hold the server."""
    with slow_bodies(port, clients) as connected:
        probes = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            probes.append(probe(port))
            time.sleep(0.5)
    statuses = {name: [p[name][0] for p in probes] for name in ("live", "predict")}
    times = {name: [p[name][1] for p in probes] for name in ("live", "predict")}
    return {
        "attack": "slow-bodies",
        "clients": clients,
        "connected": connected,
        "probes": len(probes),
        "not_200": {name: sum(s != 200 for s in statuses[name]) for name in statuses},
        "max_s": {name: max(times[name]) for name in times},
        "median_s": {name: statistics.median(times[name]) for name in times},
    }


def head_status(port: int, request: bytes) -> int | None:
    """The status the server answers a request head sent in one piece with."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(request)
            line = conn.makefile("rb").readline().split()
            return int(line[1]) if len(line) > 1 else None
    except OSError:
        return None


BIG_HEADS = {
    "one 60 KB header": get("/health/live", "X-Big: " + "a" * 60_000),
    "10,000 headers": get("/health/live", *(f"X-{i}: b" for i in range(10_000))),
    "a 20 KB URL": get("/health/live?" + "a" * 20_000),
}
"""Request heads over the 16 KB limit, each sent in one write."""


def big_heads(port: int) -> dict:
    """The status each oversized head gets."""
    return {"attack": "big-heads"} | {name: head_status(port, r) for name, r in BIG_HEADS.items()}


def gzip_burst(port: int, pid: int, clients: int) -> dict:
    """`clients` simultaneous gzip GETs of the wasm on a fresh server: the time until the
    last has its whole answer, and the server's resident memory at its peak."""
    peak = [resident_mb(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak.append(resident_mb(pid))
            done.wait(0.05)

    def fetch(_: int) -> int:
        conn = connect(port, get(WASM, "Accept-Encoding: gzip", "Connection: close"))
        conn.settimeout(60)
        received = 0
        with conn:
            while chunk := conn.recv(1 << 20):
                received += len(chunk)
        return received

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        sizes = list(pool.map(fetch, range(clients)))
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return {
        "attack": "gzip-burst",
        "clients": clients,
        "seconds": round(seconds, 2),
        "smallest_answer_bytes": min(sizes),
        "peak_rss_mb": max(peak),
    }


ATTACKS: dict[str, Callable[[int, int, argparse.Namespace], dict]] = {
    "slow-readers": lambda port, pid, args: slow_readers(port, pid, args.clients),
    "slow-bodies": lambda port, pid, args: slow_bodies_figures(port, args.clients, args.seconds),
    "big-heads": lambda port, pid, args: big_heads(port),
    "gzip-burst": lambda port, pid, args: gzip_burst(port, pid, args.clients),
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hostile", description=__doc__)
    parser.add_argument("attack", choices=sorted(ATTACKS))
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=12.0, help="slow-bodies: how long")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--open-files", type=int, help="the server's `ulimit -n`")
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    port = free_port()
    process = start_server(port, open_files=args.open_files, **{"LOG_LEVEL": "warning"} | env)
    try:
        wait_ready(process, port)
        time.sleep(0.5)  # every worker up
        figures = ATTACKS[args.attack](port, process.pid, args)
    finally:
        stop_server(process)
    print(json.dumps(figures | {"env": env, "open_files": args.open_files}), file=sys.stdout)


if __name__ == "__main__":
    main()
