"""Start `python -m serving` as a real process on a free loopback port and wait for it.

The benchmark and the tests that need a real server (concurrency, cold start)
share this, so they measure and exercise the same thing.
"""

import http.client
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http_get_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """The status of GET path on loopback, or None when nothing answers yet."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(
                f"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
            )
            status_line = conn.makefile("rb").readline()
    except OSError:
        return None
    parts = status_line.split()
    return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None


def start_server(
    port: int, log: Path | None = None, open_files: int | None = None, **env: str
) -> subprocess.Popen:
    """`python -m serving` on 127.0.0.1:port with extra environment, under `ulimit -n
    open_files` if given; its log goes to the file `log`, or is discarded."""
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **env}
    sink = subprocess.DEVNULL if log is None else log.open("wb")

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))

    try:
        return subprocess.Popen(
            [sys.executable, "-m", "serving"],
            cwd=REPO_ROOT,
            env=environment,
            stdout=sink,
            stderr=sink,
            preexec_fn=None if open_files is None else limit_files,
        )
    finally:
        if log is not None:
            sink.close()


def post_status(port: int, path: str, body: bytes, content_type: str, timeout: float = 1.0):
    """The status of one POST on a new loopback connection, or None when nothing answers."""
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            connection.request("POST", path, body, {"Content-Type": content_type})
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()
    except (OSError, http.client.HTTPException):
        return None


STARTED = b"Application startup complete."
"""What uvicorn logs in each worker when its lifespan has run (the model loaded and warmed
up), just before it takes the connections waiting on its listener."""


def wait_ready(process: subprocess.Popen, port: int, timeout: float = 30.0) -> float:
    """Seconds until GET /health answers 200; raises if the server dies or takes too long."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        if http_get_status(port, "/health", timeout=0.5) == 200:
            return time.perf_counter() - start
        time.sleep(0.002)
    raise TimeoutError(f"no 200 from /health within {timeout} s")


def stop_server(process: subprocess.Popen) -> None:
    """Ask the server to shut down gracefully, and make sure it has gone."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
