"""Several workers: metrics add up over all of them, connections reach all of them, and
the server stops cleanly (exit 0) when asked to by a signal."""

import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bench.server import STARTED, free_port, start_server, stop_server, wait_ready

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "seven.png"


def worker_pids(parent: int) -> list[int]:
    """The parent's children that serve (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [
        int(pid)
        for pid in children
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


@pytest.fixture(scope="module")
def two_workers():
    port = free_port()
    process = start_server(port, WORKERS="2", LOG_LEVEL="warning")
    try:
        wait_ready(process, port)
        deadline = time.monotonic() + 30
        while len(worker_pids(process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        yield process, f"http://127.0.0.1:{port}"
    finally:
        stop_server(process)


def test_load_is_spread_over_both_workers(two_workers):
    """16 keep-alive clients: each worker (its own SO_REUSEPORT socket) does a fair share."""
    process, url = two_workers
    workers = worker_pids(process.pid)
    assert len(workers) == 2, workers
    before = {pid: cpu_ticks(pid) for pid in workers}
    png = FIXTURE.read_bytes()

    def client(_: int) -> list[int]:
        with httpx.Client(base_url=url, timeout=30) as session:
            return [
                session.post(
                    "/predict", content=png, headers={"Content-Type": "image/png"}
                ).status_code
                for _ in range(15)
            ]

    with ThreadPoolExecutor(16) as pool:
        statuses = [s for batch in pool.map(client, range(16)) for s in batch]
    assert statuses == [200] * len(statuses)
    used = {pid: cpu_ticks(pid) - before[pid] for pid in workers}
    total = sum(used.values())
    assert total > 0 and min(used.values()) >= 0.2 * total, used


def test_metrics_add_up_over_every_worker(two_workers):
    """Whichever worker answers the scrape, it counts every worker's requests."""
    _, url = two_workers
    for _ in range(30):
        with httpx.Client(base_url=url) as fresh:  # a new connection each time
            assert fresh.get("/health/live").status_code == 200
    counts = set()
    for _ in range(8):
        with httpx.Client(base_url=url) as fresh:
            text = fresh.get("/metrics").text
        found = re.search(r'http_requests_total\{route="/health/live",status="200"\} (\S+)', text)
        counts.add(float(found.group(1)))
    assert counts == {30.0}, counts


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_make_serve_stopped_by_a_signal_exits_0(workers, sig):
    """The server shuts down gracefully and exits 0, so make reports no error."""
    port = free_port()
    make = subprocess.Popen(
        ["make", "--no-print-directory", "serve"],
        cwd=REPO_ROOT,
        env={**os.environ, "PORT": str(port), "WORKERS": workers, "LOG_LEVEL": "warning"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_ready(make, port, timeout=120)
        server = int(Path(f"/proc/{make.pid}/task/{make.pid}/children").read_text().split()[0])
        os.kill(server, sig)
        output = make.communicate(timeout=30)[0].decode()
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
    assert make.returncode == 0, output
    assert "make: ***" not in output and "Traceback" not in output, output


def test_workers_are_forked_before_onnxruntime_and_load_the_model_once_each(tmp_path):
    """Two workers start forked from a supervisor that never loads onnxruntime (importing it
    starts a thread, and a process with threads must not fork); each loads the model once,
    before it opens its listener, and the supervisor says it listens only after both have."""
    port, log = free_port(), tmp_path / "server.log"
    process = start_server(port, log=log, WORKERS="2", LOG_LEVEL="info")
    try:
        wait_ready(process, port)
        deadline = time.monotonic() + 30
        while log.read_bytes().count(STARTED) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = worker_pids(process.pid)
        assert len(workers) == 2, workers
        supervisor_command = Path(f"/proc/{process.pid}/cmdline").read_bytes()
        assert "onnxruntime" not in Path(f"/proc/{process.pid}/maps").read_text()
        for pid in workers:
            assert Path(f"/proc/{pid}/cmdline").read_bytes() == supervisor_command  # forked
            assert "onnxruntime" in Path(f"/proc/{pid}/maps").read_text()
        text = log.read_text()
        assert text.count("serving model ") == 2, text
        listening = text.index("with 2 workers")
        # Each worker had its model loaded and its listener open when the supervisor said so.
        assert text.count("loaded the model and opened its listener", 0, listening) == 2, text
    finally:
        stop_server(process)


def test_the_garbage_collector_sets_aside_what_the_start_up_made():
    """Each serving process freezes its start-up objects (serving.runtime.server.CleanServer), so
    that full collections no longer walk the libraries, the app and the model."""
    import asyncio
    import gc

    import uvicorn

    from serving.runtime.server import CleanServer

    gc.unfreeze()
    config = uvicorn.Config("serving.app:app", host="127.0.0.1", port=free_port(), log_config=None)
    server = CleanServer(config)
    config.load()
    server.lifespan = config.lifespan_class(config)

    async def start_and_stop() -> int:
        await server.startup()
        frozen = gc.get_freeze_count()
        await server.shutdown()
        return frozen

    try:
        assert asyncio.run(start_and_stop()) > 10_000
    finally:
        gc.unfreeze()
