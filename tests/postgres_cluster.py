"""A throwaway PostgreSQL server for the feedback tests, from Debian's `postgresql` package.

initdb and pg_ctl live in /usr/lib/postgresql/<version>/bin and refuse to run as root, so
as root (CI) they run as the `postgres` user through runuser. The cluster lives in a temp
directory, listens on 127.0.0.1 and a free port with trust authentication, and is stopped
and deleted at the end. A machine without PostgreSQL fails these tests: CI installs it.
"""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory; fails the test if there is none."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    pytest.fail(
        "PostgreSQL is not installed: apt-get install postgresql (the feedback store is "
        "tested against the real server; .ci/run installs it)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(frozen=True)
class Cluster:
    """A running throwaway cluster, and what it takes to restart or freeze it."""

    url: str
    data: Path
    pg_ctl: list[str]
    """pg_ctl, run as the postgres user when we are root."""

    def restart(self) -> None:
        """Stop (fast: every session is ended) and start again on the same port and options
        (pg_ctl keeps them); -l again, for the reason given in running_cluster."""
        log = self.data.parent / "server.log"
        subprocess.run(
            [*self.pg_ctl, "-D", str(self.data), "-l", str(log), "-m", "fast", "-w", "restart"],
            check=True,
            capture_output=True,
            timeout=60,
        )

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """The postmaster and every backend stopped with SIGSTOP, as a hung host would be:
        connections stay open and nothing answers. SIGCONT when the block ends."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        processes = [postmaster, *_children(postmaster)]
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in processes:
                os.kill(pid, signal.SIGCONT)


def _children(parent: int) -> list[int]:
    """The processes whose parent is `parent`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == parent:
            found.append(int(stat.parent.name))
    return found


@contextlib.contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a fresh cluster; yields it, and stops and deletes it at the end."""
    bin_dir = postgres_bin()
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    home = Path(tempfile.mkdtemp(prefix="nv-pg-"))
    data = home / "data"
    if as_root:
        shutil.chown(home, "postgres", "postgres")
    port = free_port()
    pg_ctl = [*run_as, str(bin_dir / "pg_ctl")]
    try:
        subprocess.run(
            [*run_as, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
            check=True,
            capture_output=True,
        )
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=on"
        # -l: the server must not inherit our pipes, or waiting for pg_ctl never ends.
        log = home / "server.log"
        start = [*pg_ctl, "-D", str(data), "-l", str(log), "-o", options]
        subprocess.run([*start, "-w", "start"], check=True, capture_output=True, timeout=60)
        try:
            yield Cluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", data, pg_ctl)
        finally:
            subprocess.run(
                [*pg_ctl, "-D", str(data), "-m", "immediate", "stop"],
                capture_output=True,
                timeout=60,
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a fresh cluster; yields its postgresql:// URL."""
    with running_cluster() as cluster:
        yield cluster.url


def fresh_database(url: str, name: str) -> str:
    """A new empty database in the cluster at `url`; its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + name
