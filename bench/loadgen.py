"""A lean HTTP/1.1 load generator on raw asyncio streams.

The machine has two cores shared by the server and the load generator, so the
client must cost as little CPU as possible: requests are pre-built bytes on
keep-alive connections, and a response is read by its Content-Length.
"""

import asyncio
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class LoadResult:
    """Latencies (seconds) of the successful requests, and how long the run took."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0

    def summary(self, items_per_request: int = 1) -> dict:
        """Figures for the report: p50/p99 in milliseconds, requests and predictions per second."""
        latencies = np.array(self.latencies) * 1000
        count = len(latencies)
        return {
            "requests": count,
            "errors": self.errors,
            "p50_ms": round(float(np.percentile(latencies, 50)), 2) if count else None,
            "p99_ms": round(float(np.percentile(latencies, 99)), 2) if count else None,
            "requests_per_s": round(count / self.seconds, 1) if self.seconds else 0.0,
            "predictions_per_s": round(count * items_per_request / self.seconds, 1)
            if self.seconds
            else 0.0,
        }


def build_request(path: str, body: bytes, content_type: str) -> bytes:
    """One complete keep-alive POST, ready to write to the socket."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
            break
    await reader.readexactly(length)
    return status


async def _connect(port: int, concurrency: int) -> list[tuple]:
    """Open the connections one by one, before the clock starts.

    With several workers, each keep-alive connection stays with the worker that
    accepted it; spacing the connects out gives the others a chance to accept some
    (it helps, but the kernel still decides, so worker balance varies run to run).
    """
    connections = []
    for _ in range(concurrency):
        connections.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.005)
    return connections


async def _connection(
    streams: tuple,
    requests: list[bytes],
    offset: int,
    deadline: float,
    budget: list[int],
    result: LoadResult,
) -> None:
    reader, writer = streams
    index = offset
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            request = requests[index % len(requests)]
            index += 1
            start = time.perf_counter()
            writer.write(request)
            status = await _read_response(reader)
            if status == 200:
                result.latencies.append(time.perf_counter() - start)
            else:
                result.errors += 1
    finally:
        writer.close()


async def _run(
    port: int, requests: list[bytes], concurrency: int, seconds: float, count: int
) -> LoadResult:
    result = LoadResult()
    budget = [count]
    connections = await _connect(port, concurrency)
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(
            _connection(streams, requests, i * 7, deadline, budget, result)
            for i, streams in enumerate(connections)
        )
    )
    result.seconds = time.perf_counter() - start
    return result


def run_load(
    port: int, requests: list[bytes], concurrency: int, seconds: float, count: int
) -> LoadResult:
    """Send requests (cycling) on `concurrency` connections until time or count runs out."""
    return asyncio.run(_run(port, requests, concurrency, seconds, count))
