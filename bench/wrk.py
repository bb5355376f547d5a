"""Load with wrk (Debian's `wrk` package): one client thread, pre-built requests, keep-alive.

wrk is C: on a 2-core machine shared with the server, a Python client would be the
bottleneck long before the server is. Each run posts a rotation of request bodies
(pre-formatted once in Lua, so a request costs the client almost nothing), reads wrk's
latency percentiles, and charges the CPU time wrk used to the client, so the report can
show that the client was not what limited the figure.
"""

import re
import resource
import shutil
import subprocess
import tempfile
from pathlib import Path

SCRIPT = """
local paths = {%(paths)s}
local requests = {}
for i, path in ipairs(paths) do
  local file = assert(io.open(path, "rb"))
  local body = file:read("*all")
  file:close()
  requests[i] = wrk.format("%(method)s", "%(path)s", {["Content-Type"] = "%(type)s"}, body)
end
local n = 0
request = function()
  n = n %% #requests + 1
  return requests[n]
end
"""

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk_path() -> str:
    """The wrk binary, or a clear error saying how to install it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: apt-get install wrk (Debian) or brew install wrk")
    return found


def run(
    port: int,
    path: str,
    bodies: list[bytes] | None,
    content_type: str,
    connections: int,
    seconds: float,
) -> dict:
    """One wrk run; GET when there are no bodies. Latencies in ms, throughput in req/s."""
    with tempfile.TemporaryDirectory(prefix="nv-wrk-") as directory:
        files = []
        for index, body in enumerate(bodies or []):
            file = Path(directory) / f"body{index}"
            file.write_bytes(body)
            files.append(file)
        command = [
            wrk_path(),
            "--threads",
            "1",
            "--connections",
            str(connections),
            "--duration",
            f"{seconds:g}s",
            "--timeout",
            "5s",
            "--latency",
        ]
        if files:
            script = Path(directory) / "post.lua"
            script.write_text(
                SCRIPT
                % {
                    "paths": ", ".join(f'"{f}"' for f in files),
                    "method": "POST",
                    "path": path,
                    "type": content_type,
                }
            )
            command += ["--script", str(script)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        finished = subprocess.run(
            [*command, f"http://127.0.0.1:{port}{path}"],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = parse(finished.stdout)
    client_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    figures["client_cpu_us_per_request"] = (
        round(client_cpu / figures["requests"] * 1e6, 1) if figures["requests"] else None
    )
    return figures


def parse(output: str) -> dict:
    """Requests, errors, req/s and the 50th/99th latency percentiles from wrk's report."""

    def latency(percent: str) -> float | None:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        return round(float(found[1]) * UNITS[found[2]], 3) if found else None

    requests = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if requests is None or rate is None:
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    return {
        "requests": int(requests[1]),
        "requests_per_s": round(float(rate[1])),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "errors": (int(non_2xx[1]) if non_2xx else 0)
        + (sum(map(int, socket_errors.groups())) if socket_errors else 0),
    }
