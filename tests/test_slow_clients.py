"""Idle and slow clients cannot lock the server out, and cannot flood its log; responses
are written whole (head and body in one write) without holding back any that has no body."""

import errno
import logging
import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bench.server import free_port, wait_ready
from serving.runtime.connections import ResponseWriter
from serving.runtime.logs import OncePerInterval

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURE = REPO_ROOT / "tests" / "fixtures" / "seven.png"
LIMIT = 50
TIMEOUT = 2.0
OPEN_FILES = 170  # 2 x MAX_CONNECTIONS + the reserve it needs, and not much more


def low_file_limit() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory):
    """A real server with MAX_CONNECTIONS=50, CLIENT_TIMEOUT=2 and `ulimit -n 170`."""
    port = free_port()
    log = tmp_path_factory.mktemp("slow") / "server.log"
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MAX_CONNECTIONS": str(LIMIT),
        "CLIENT_TIMEOUT": str(TIMEOUT),
        "LOG_LEVEL": "warning",
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "serving"],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=sink,
            preexec_fn=low_file_limit,
        )
    try:
        wait_ready(process, port)
        yield port, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def open_connections(port: int, count: int, first_bytes: bytes) -> list[socket.socket]:
    """`count` connections that each send `first_bytes` and then nothing more."""
    sockets = []
    for _ in range(count):
        conn = socket.create_connection(("127.0.0.1", port), timeout=5)
        conn.sendall(first_bytes)
        sockets.append(conn)
    return sockets


def closed_by_server(conn: socket.socket) -> bool:
    conn.settimeout(0.05)
    try:
        conn.recv(4096)  # an answer or the end of the stream: the server has let go
        return True
    except (TimeoutError, BlockingIOError):
        return False
    except ConnectionResetError:
        return True


def timed(call) -> tuple[httpx.Response, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def test_idle_connections_beyond_the_limit_do_not_lock_out_requests(guarded_server):
    """Six times MAX_CONNECTIONS half-sent heads: a probe and a prediction still answer at once."""
    port, log = guarded_server
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    idle = open_connections(port, 6 * LIMIT, b"GET /health HTTP/1.1\r\nHost: slow\r\n")
    try:
        base = f"http://127.0.0.1:{port}"
        live, live_seconds = timed(lambda: httpx.get(f"{base}/health/live", timeout=5))
        predicted, predict_seconds = timed(
            lambda: httpx.post(
                f"{base}/predict",
                content=FIXTURE.read_bytes(),
                headers={"Content-Type": "image/png"},
                timeout=5,
            )
        )
        assert live.status_code == 200 and live_seconds < 1.0, live_seconds
        assert predicted.status_code == 200 and predict_seconds < 1.0, predict_seconds
        assert predicted.json()["digit"] == 7
        # The oldest idle connections made room; the newest still wait, until their deadline.
        assert sum(closed_by_server(conn) for conn in idle) >= 5 * LIMIT
        time.sleep(TIMEOUT + 1.0)
        assert all(closed_by_server(conn) for conn in idle), "a head never finished, yet open"
    finally:
        for conn in idle:
            conn.close()
    text = log.read_text()
    assert len(text) < 4000 and text.count("\n") < 20, text[:2000]
    assert "Traceback" not in text


def test_a_body_that_never_arrives_gets_408(guarded_server):
    port, _ = guarded_server
    head = b"POST /predict HTTP/1.1\r\nHost: slow\r\nContent-Type: image/png\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT + 3) as conn:
        conn.sendall(head + b"Content-Length: 1000\r\n\r\n")
        answer = conn.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_uvicorns_own_400_and_the_431_are_json_with_the_security_headers(guarded_server):
    port, _ = guarded_server
    for request, status, error in (
        (b"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400, b"is not valid"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", 431, b""),
        (b"NOT HTTP AT ALL\r\n\r\n", 400, b"is not valid"),
    ):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(request)  # the server reads the whole request before it answers
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 %d" % status), answer[:200]
        assert b"content-type: application/json" in head
        assert b"content-security-policy: default-src 'self'" in head
        assert body.startswith(b'{"error": "the request ' + error)


def test_resource_errors_are_logged_once_per_interval():
    """'Too many open files' on every accept must not become one traceback per attempt."""
    once = OncePerInterval(seconds=0.5)
    error = OSError(errno.EMFILE, "Too many open files")

    def record() -> logging.LogRecord:
        return logging.LogRecord(
            "asyncio",
            logging.ERROR,
            __file__,
            1,
            "socket.accept() out of system resource",
            None,
            (OSError, error, None),
        )

    first = record()
    assert once.filter(first)
    assert first.exc_info is None and "Too many open files" in first.getMessage()
    assert not any(once.filter(record()) for _ in range(10_000))
    time.sleep(0.6)
    later = record()
    assert once.filter(later)
    assert "10000 more like this" in later.getMessage()


def read_response(conn: socket.socket) -> bytes:
    """One whole response with a Content-Length, from a keep-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def test_responses_without_a_body_and_interim_ones_are_not_held(guarded_server):
    """The head waits for the body to go out in one write (runtime.connections.ResponseWriter),
    but never for a body that does not come: HEAD, 304, and "100 Continue", which the client
    waits for before it sends its body. All on one keep-alive connection."""
    port, _ = guarded_server
    png = FIXTURE.read_bytes()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"HEAD /health HTTP/1.1\r\nHost: t\r\n\r\n")
        head = conn.recv(65536)
        assert head.startswith(b"HTTP/1.1 200 ") and head.endswith(b"\r\n\r\n"), head

        conn.sendall(b"GET /model.onnx HTTP/1.1\r\nHost: t\r\n\r\n")
        etag = next(
            line.split(b": ", 1)[1]
            for line in read_response(conn).split(b"\r\n")
            if line.lower().startswith(b"etag:")
        )
        conn.sendall(b"GET /model.onnx HTTP/1.1\r\nHost: t\r\nIf-None-Match: " + etag + b"\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 304 ")

        conn.sendall(
            b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: image/png\r\n"
            b"Expect: 100-continue\r\nContent-Length: " + str(len(png)).encode() + b"\r\n\r\n"
        )
        assert conn.recv(65536) == b"HTTP/1.1 100 Continue\r\n\r\n"
        conn.sendall(png)
        answer = read_response(conn)
        assert answer.startswith(b"HTTP/1.1 200 ") and b'"digit":7' in answer, answer[:300]


class RecordingTransport:
    """Each write as the kernel would get it: one entry per system call."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def writelines(self, parts) -> None:
        self.sent.append(b"".join(parts))

    def close(self) -> None:
        self.closed = True


def test_the_head_goes_out_with_the_first_body_part():
    transport, completed = RecordingTransport(), []
    writer = ResponseWriter(transport, lambda: completed.append(True), transport.close)
    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim: at once
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\n")
    assert transport.sent == [b"HTTP/1.1 100 Continue\r\n\r\n"]
    writer.write(b"body")
    writer.response_complete()
    assert transport.sent[1:] == [b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nbody"]
    assert completed == [True]

    transport = RecordingTransport()
    writer = ResponseWriter(transport, lambda: None, transport.close)
    writer.write(b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    writer.close()  # an error after the head: the head first, then the close
    assert transport.sent == [b"HTTP/1.1 500 Internal Server Error\r\n\r\n"] and transport.closed
