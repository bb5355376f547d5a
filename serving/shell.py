"""The page's service worker, stamped with the files it caches and a hash of their contents.

A browser installs a new service worker only when sw.js changes byte for byte, and the
worker names its caches after these hashes: so whenever a shell file changes, sw.js
changes, the browser installs the new worker, and the new shell lands in a new cache.
Hashing the files when sw.js is served does that with no build step and no version
constant for anyone to forget.
"""

import functools
import hashlib
import json
import os
import re
from pathlib import Path

SERVICE_WORKER = "sw.js"
MANIFEST_LINE = re.compile(r"^self\.MANIFEST = .*;$", re.MULTILINE)
"""The line in web/sw.js that the served copy replaces."""

RUNTIME_DIR = "vendor"
"""The offline runtime (onnxruntime-web): cached in the background after the first visit,
never part of the shell the page needs to open."""

RUNTIME_TYPES = {".mjs": "text/javascript", ".wasm": "application/wasm"}
RUNTIME_SUFFIXES = tuple(RUNTIME_TYPES)
"""What the runtime needs at run time; its licence and notices stay on the server."""

SHELL_ROOT = "./"
"""The page's own address, which the shell must answer as it answers index.html."""


def service_worker(web_dir: Path) -> bytes:
    """web/sw.js with the shell and runtime file lists and their version hashes filled in."""
    source = (web_dir / SERVICE_WORKER).read_text(encoding="utf-8")
    files = _files(web_dir)
    runtime = runtime_files(web_dir)
    shell = [f for f in files if not f.startswith(f"{RUNTIME_DIR}/") and f != SERVICE_WORKER]
    manifest = {
        "shell": {"version": _version(web_dir, shell), "files": [SHELL_ROOT, *shell]},
        "runtime": {"version": _version(web_dir, runtime), "files": runtime},
    }
    line = f"self.MANIFEST = {json.dumps(manifest)};"
    return MANIFEST_LINE.sub(lambda _: line, source, count=1).encode("utf-8")


def runtime_files(web_dir: Path) -> list[str]:
    """The offline runtime's files, as paths under web/."""
    return [
        f
        for f in _files(web_dir)
        if f.startswith(f"{RUNTIME_DIR}/") and f.endswith(RUNTIME_SUFFIXES)
    ]


def runtime_file(web_dir: Path, name: str) -> tuple[Path, os.stat_result, dict[str, str]]:
    """One runtime file, its stat and its headers (its ETag is its sha256, computed once
    per version); serving.files sends it, or its gzip copy."""
    path = web_dir / name
    info = path.stat()
    headers = {
        "Content-Type": RUNTIME_TYPES[path.suffix],
        "ETag": f'"{file_hash(path, info.st_mtime_ns, info.st_size)}"',
        "Cache-Control": "no-cache",
    }
    return path, info, headers


def _files(web_dir: Path) -> list[str]:
    """Every file under web/ (dot files aside), as sorted POSIX paths relative to it."""
    if not web_dir.is_dir():
        return []
    relative = (path.relative_to(web_dir) for path in web_dir.rglob("*") if path.is_file())
    return sorted(p.as_posix() for p in relative if not any(s.startswith(".") for s in p.parts))


def _version(web_dir: Path, files: list[str]) -> str:
    """A short hash of the files' names and contents."""
    combined = hashlib.sha256()
    for name in files:
        stat = (web_dir / name).stat()
        combined.update(
            f"{name}\0{file_hash(web_dir / name, stat.st_mtime_ns, stat.st_size)}\0".encode()
        )
    return combined.hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def file_hash(path: Path, mtime_ns: int, size: int) -> str:
    """One file's sha256, computed again only when the file changes (the wasm is 14 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
