"""The page's service worker, stamped with the files it caches and a hash of their contents.

A browser installs a new service worker only when sw.js changes byte for byte, and the
worker names its caches after these hashes: so whenever a shell file changes, sw.js
changes, the browser installs the new worker, and the new shell lands in a new cache.
Hashing the files when sw.js is served does that with no build step and no version
constant for anyone to forget. The shell includes the scripts the server renders
(js/contract.js), hashed as they are served; they go out like the page's files on disk,
revalidated by their ETag and gzipped for a client that takes it.
"""

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from starlette.datastructures import Headers
from starlette.responses import Response

from serving import files

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


def service_worker(web_dir: Path, generated: Mapping[str, bytes]) -> bytes:
    """web/sw.js with the shell and runtime file lists and their version hashes filled in.

    `generated` holds the shell files the server renders (path under web/ and body), which
    are cached and versioned like the files on disk.
    """
    source = (web_dir / SERVICE_WORKER).read_text(encoding="utf-8")
    on_disk = [
        f
        for f in _files(web_dir)
        if not f.startswith(f"{RUNTIME_DIR}/") and f != SERVICE_WORKER and f not in generated
    ]
    shell = sorted([*on_disk, *generated])
    runtime = runtime_files(web_dir)
    shell_version = _version(web_dir, on_disk, generated)
    manifest = {
        "shell": {"version": shell_version, "files": [SHELL_ROOT, *shell]},
        "runtime": {"version": _version(web_dir, runtime, {}), "files": runtime},
    }
    line = f"self.MANIFEST = {json.dumps(manifest)};"
    return MANIFEST_LINE.sub(lambda _: line, source, count=1).encode("utf-8")


def script_response(request_headers: Headers, body: bytes) -> Response:
    """A script the server renders (the service worker, the page's contract), as the page's
    files are sent: revalidated every time by its ETag, gzipped for a client that takes it."""
    plain = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    gzip_etag = plain[:-1] + '-gzip"'
    headers = {"Cache-Control": "no-cache", "Vary": "Accept-Encoding", "ETag": plain}
    known = request_headers.get("if-none-match")
    if known in (plain, gzip_etag):  # either copy of this body is still good
        return Response(status_code=304, headers=headers | {"ETag": known})
    if files.accepts_gzip(request_headers):
        body = files.gzipped(body)
        headers |= {"ETag": gzip_etag, "Content-Encoding": "gzip"}
    return Response(body, media_type="text/javascript", headers=headers)


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


def _version(web_dir: Path, names: list[str], generated: Mapping[str, bytes]) -> str:
    """A short hash of the files' names and contents, on disk and generated."""
    hashes = {}
    for name in names:
        stat = (web_dir / name).stat()
        hashes[name] = file_hash(web_dir / name, stat.st_mtime_ns, stat.st_size)
    hashes |= {name: hashlib.sha256(body).hexdigest() for name, body in generated.items()}
    combined = hashlib.sha256()
    for name in sorted(hashes):
        combined.update(f"{name}\0{hashes[name]}\0".encode())
    return combined.hexdigest()[:16]


@functools.lru_cache(maxsize=256)
def file_hash(path: Path, mtime_ns: int, size: int) -> str:
    """One file's sha256, computed again only when the file changes (the wasm is 14 MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
