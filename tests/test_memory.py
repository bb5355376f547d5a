"""serving.runtime.memory: freed blocks stay with the process instead of being faulted in again."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

CHURN = """
import sys
import numpy as np
if sys.argv[1] == "keep":
    from serving.runtime.memory import keep_freed_memory
    assert keep_freed_memory()
def faults():
    return int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[7])
rng = np.random.default_rng(0)
def request():  # six arrays of 0.8-5.6 MB, as a number-mode request allocates
    arrays = [np.ones(int(n)) for n in rng.integers(100_000, 700_000, 6)]
    return sum(a.nbytes for a in arrays)
for _ in range(3):
    request()
before, touched = faults(), 0
for _ in range(20):
    touched += request()
print((faults() - before) / (touched / 4096))
"""


SPAWN = """
import subprocess, sys
from serving.runtime.memory import keep_freed_memory
keep_freed_memory()
subprocess.run([sys.executable, "-c", sys.argv[1], "default"], check=True)
"""


def faulted_share(mode: str) -> float:
    """The share of the pages a run of requests touched that it had to fault in."""
    command = [SPAWN, CHURN] if mode == "spawned" else [CHURN, mode]
    result = subprocess.run(
        [sys.executable, "-c", *command],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return float(result.stdout)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts faults in /proc")
def test_freed_blocks_are_reused_without_page_faults():
    """Without it, glibc unmaps blocks this large as soon as they are freed, and every
    request faults its pages in again; with it, almost none are."""
    assert faulted_share("default") > 0.3
    assert faulted_share("keep") < 0.05


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts faults in /proc")
def test_a_process_started_afterwards_keeps_them_too():
    """A worker that uvicorn spawns (a restart) is a new program: it must start with the
    same thresholds as the server that started it."""
    assert faulted_share("spawned") < 0.05
