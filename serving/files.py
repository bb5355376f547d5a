"""Files sent as they are on disk, or as a gzip copy made once per file version.

The page's HTML, JavaScript and CSS, and the offline runtime (a 14.2 MB WebAssembly file,
3.7 MB gzipped), go to a client that accepts gzip as a gzip copy. Compressing the wasm
takes about a second of CPU, so it must not happen per request (60 simultaneous requests
on a fresh worker once took 14.9 s and 758 MB), nor per worker: the first request for a
file version makes its copy in a cache directory, under an exclusive lock that the other
requests, threads and workers wait on (single flight), and every later one sends it. A
copy is named after the file's path and version (modification time and size), and a new
version replaces the old copy.

Every file, copy or not, is streamed from disk in 64 KB parts (Starlette's FileResponse,
which waits for each part to be taken), so a client that reads slowly holds a bounded
buffer, not the whole file; serving.runtime.connections aborts one that stops reading.
"""

import asyncio
import fcntl
import functools
import gzip
import hashlib
import logging
import os
import shutil
import stat
import tempfile
from pathlib import Path

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

logger = logging.getLogger("serving")

COMPRESSIBLE = frozenset({".html", ".js", ".mjs", ".css", ".json", ".svg", ".webmanifest", ".wasm"})
"""What is worth compressing; PNG icons are compressed already."""
LEVEL = 6
"""gzip's default level: the wasm to 3.7 MB in about a second; 9 saves 1 % for 3x the time."""
CACHE_DIR = Path(tempfile.gettempdir()) / f"number-visualizer-gzip-{os.getuid()}"
"""Where the copies are kept (a container's /tmp, an emptyDir in Kubernetes); its owner only."""


def accepts_gzip(headers: Headers) -> bool:
    """Whether the request's Accept-Encoding takes gzip (q=0 refuses it)."""
    for item in headers.get("accept-encoding", "").lower().split(","):
        coding, _, params = item.partition(";")
        if coding.strip() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _cache_dir() -> Path:
    """The cache directory, made private to this user; OSError if it cannot be, or if
    someone else owns it (a shared /tmp)."""
    CACHE_DIR.mkdir(mode=0o700, exist_ok=True)
    info = CACHE_DIR.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(f"{CACHE_DIR} is not a private directory of this user")
    return CACHE_DIR


def gzip_copy(path: Path, mtime_ns: int, size: int) -> Path:
    """The gzip copy of this version of `path`, made now if no one has made it yet.

    Blocks: run it in a thread. Raises OSError when no copy can be kept.
    """
    directory = _cache_dir()
    name = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    copy = directory / f"{name}-{mtime_ns}-{size}.gz"
    if copy.is_file():
        return copy
    with open(directory / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one maker per file, across threads and workers
        if copy.is_file():
            return copy  # made while this one waited
        partial = copy.with_suffix(f".{os.getpid()}.part")
        try:
            with (
                path.open("rb") as source,
                partial.open("wb") as file,
                gzip.GzipFile("", "wb", LEVEL, file, mtime=0) as target,  # no name in its header
            ):
                shutil.copyfileobj(source, target, 1 << 20)
            partial.replace(copy)
        finally:
            partial.unlink(missing_ok=True)  # left only if the copy failed (a full disk)
        for old in directory.glob(f"{name}-*.gz"):
            if old != copy:
                old.unlink(missing_ok=True)
    return copy


class GzipCopies:
    """One worker's view of the copies: each file version is asked for once per process
    (the others wait on that), then found without a thread hand-off."""

    def __init__(self) -> None:
        self._made: dict[tuple[Path, int, int], Path] = {}
        self._locks: dict[tuple[Path, int, int], asyncio.Lock] = {}
        self._failed = False

    async def get(self, path: Path, info: os.stat_result) -> Path | None:
        """The copy for this version of `path`, or None if none can be kept (and the file
        is then sent as it is)."""
        if self._failed:
            return None  # no cache directory: not tried again on every request
        key = (path, info.st_mtime_ns, info.st_size)
        copy = self._made.get(key)
        if copy is not None and copy.is_file():
            return copy
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            copy = self._made.get(key)
            if copy is None or not copy.is_file():
                try:
                    copy = await anyio.to_thread.run_sync(gzip_copy, *key)
                except OSError as exc:
                    logger.warning("sending files uncompressed: no gzip copy (%s)", exc)
                    self._failed = True
                    return None
                self._made[key] = copy
        self._locks.pop(key, None)
        return copy

    async def response(
        self, scope: Scope, path: Path, info: os.stat_result, headers: dict[str, str]
    ) -> Response:
        """`path` streamed from disk with `headers` (ETag and Content-Type among them), or
        its gzip copy for a client that accepts gzip; 304 when the client has that one."""
        request_headers = Headers(scope=scope)
        headers = {**headers, "Vary": "Accept-Encoding"}
        plain, gzip_etag = headers["ETag"], headers["ETag"][:-1] + '-gzip"'
        known = request_headers.get("if-none-match")
        if known in (plain, gzip_etag):  # either copy of this version is still good
            return Response(status_code=304, headers=headers | {"ETag": known})
        copy = None
        if path.suffix in COMPRESSIBLE and accepts_gzip(request_headers):
            copy = await self.get(path, info)
        if copy is not None:
            headers |= {"ETag": gzip_etag, "Content-Encoding": "gzip"}
        return FileResponse(copy or path, headers=headers, stat_result=None if copy else info)


@functools.lru_cache(maxsize=4)
def gzipped(body: bytes) -> bytes:
    """A small generated body (the service worker) gzipped, once per distinct body."""
    return gzip.compress(body, LEVEL, mtime=0)


class PageFiles(StaticFiles):
    """Starlette's StaticFiles, sending the gzip copy of a text file to a client that
    accepts gzip."""

    def __init__(self, *args, copies: GzipCopies, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.copies = copies

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse) or response.stat_result is None:
            return response  # 304, 404, a redirect
        if response.status_code != 200:  # the 404 page
            return response
        served = Path(response.path)
        headers = {
            name: response.headers[name]
            for name in ("content-type", "etag", "last-modified")
            if name in response.headers
        }
        headers["ETag"] = headers.pop("etag")
        return await self.copies.response(scope, served, response.stat_result, headers)
