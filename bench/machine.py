"""What a benchmark ran on, recorded beside its figures: they mean little without it."""

import json
import os
import platform
from pathlib import Path


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


def record(results: dict, path: Path, table: str) -> None:
    """A finished run: the load at its end beside the machine, its figures written to `path`
    (bench/results/, not committed) and its markdown table printed for the docs."""
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(table)
    print(f"\n(written to {path})")
