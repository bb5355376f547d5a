"""Keep the memory a request frees for the next request, instead of handing it back.

A number-mode request works on arrays of one to three megabytes (the decoded 840x280 pad,
its ink, the cut paths). glibc's malloc serves blocks that large with mmap, or trims them
off the top of the heap, and so gives them back to the kernel as soon as they are freed;
the next request then takes a page fault on every 4 KB it touches again. Measured on a
server reading the page's six-digit numbers: about 650 page faults per request, and 6.4 ms
of server time instead of 4.9 ms. glibc adapts its mmap threshold to the sizes it sees,
which is why the cost came and went with unrelated changes.

Raising both thresholds keeps such blocks in the heap: a worker holds on to up to
TRIM_BYTES of freed memory, and only blocks above MMAP_BYTES (a decoded image far larger
than any canvas) still go straight back to the kernel.
"""

import ctypes
import logging
import os

logger = logging.getLogger("serving")

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""mallopt's parameter numbers (glibc's malloc.h)."""

MMAP_BYTES = 8 * 1024 * 1024
"""Blocks at least this large are still mapped and unmapped on their own."""

TRIM_BYTES = 32 * 1024 * 1024
"""Free memory at the top of the heap beyond this is given back to the kernel."""

ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_BYTES), "MALLOC_TRIM_THRESHOLD_": str(TRIM_BYTES)}
"""The same thresholds as glibc reads them from the environment when a process starts: a
forked worker inherits this process's allocator, but one that uvicorn spawns (a restart,
or every worker when the supervisor cannot fork) is a new program, and gets them here."""


def keep_freed_memory() -> bool:
    """Tell glibc's malloc, in this process and in the processes it starts, to keep freed
    blocks up to MMAP_BYTES; False where there is no glibc (musl, macOS), whose allocators
    are left as they are. Thresholds already set in the environment are kept for those."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    try:
        # The process's own symbols, libc's among them: find_library("c") would run
        # ldconfig, 13 ms of the start-up.
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        logger.debug("no glibc mallopt: the allocator keeps its own thresholds")
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_BYTES)
    )
