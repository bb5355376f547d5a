"""Nothing lost: both feedback back ends against the real thing, under parallel writers, and a
real server killed with SIGKILL in the middle of a burst.

SQLite is a file in a temp directory; PostgreSQL is a throwaway cluster from Debian's
package (tests/postgres_cluster.py), so these tests fail where PostgreSQL is missing.
"""

import dataclasses
import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import httpx
import pytest
from feedback_helpers import ONE, SEVEN, Server, body
from postgres_cluster import fresh_database, throwaway_cluster

from bench.server import free_port
from feedback import Feedback, KeyReused, StoreError, open_store
from feedback.export import inputs_array

BACKENDS = ["sqlite", "postgres"]
IMAGES = {"7": SEVEN, "1": ONE}


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """One PostgreSQL server for the module; each test gets its own database in it."""
    with throwaway_cluster() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def target(request, tmp_path) -> str:
    """A FEEDBACK_DB value for a new, empty database of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "feedback.sqlite3")
    cluster_url = request.getfixturevalue("cluster")
    return fresh_database(cluster_url, f"fb_{uuid.uuid4().hex[:12]}")


def record(label: str = "7", key: str | None = None, tag: str = "r") -> Feedback:
    return Feedback(
        label=label,
        answer="1",
        model_version="v1",
        mode="digit" if len(label) == 1 else "number",
        image=IMAGES.get(label, SEVEN),
        inputs=bytes(range(256)) * (len(label) * 28 * 28 * 4 // 256 + 1),
        request_id=tag,
        answer_request_id=None,
        client_key=key,
    )


def test_store_and_export_round_trip(target):
    store = open_store(target)
    try:
        assert store.count() == 0  # created on first use
        sent = [record("7", tag="a"), record("1", key="k", tag="b"), record("2026", tag="c")]
        sent[1] = Feedback(**{**sent[1].__dict__, "answer": None, "answer_request_id": "p-1"})
        ids = [store.add(feedback) for feedback in sent]
        assert [new for _, new in ids] == [True, True, True]
        assert [i for i, _ in ids] == sorted({i for i, _ in ids})
        rows = list(store.export())
        assert [row.feedback for row in rows] == sent
        assert [row.id for row in rows] == [i for i, _ in ids]
        assert all(row.created_at.endswith("Z") for row in rows)
        assert [row.created_at for row in rows] == sorted(row.created_at for row in rows)
        assert [row.id for row in store.export(after=ids[0][0])] == [i for i, _ in ids[1:]]
        assert store.delete([ids[0][0], 10_000]) == 1
        assert store.count() == 2
    finally:
        store.close()


def test_export_pages_through_many_rows(target):
    store = open_store(target)
    try:
        for i in range(450):  # more than two pages
            store.add(record(tag=str(i)))
        assert [row.feedback.request_id for row in store.export()] == [str(i) for i in range(450)]
    finally:
        store.close()


def test_one_key_sent_by_many_writers_at_once_is_stored_once(target):
    """Writers with their own store (as separate processes or replicas) race on one key."""
    stores = [open_store(target) for _ in range(8)]
    barrier = threading.Barrier(len(stores))

    def send(store):
        barrier.wait()
        return store.add(record(key="the-same-key"))

    try:
        with ThreadPoolExecutor(len(stores)) as pool:
            results = list(pool.map(send, stores))
        assert len({ident for ident, _ in results}) == 1
        assert sum(new for _, new in results) == 1
        assert stores[0].count() == 1
    finally:
        for store in stores:
            store.close()


def test_many_parallel_writers_every_acknowledged_row_is_there(target):
    writers, each = 12, 25
    stores = [open_store(target) for _ in range(writers)]

    def write(index: int) -> list[int]:
        return [stores[index].add(record(tag=f"{index}-{n}"))[0] for n in range(each)]

    try:
        with ThreadPoolExecutor(writers) as pool:
            acknowledged = [i for ids in pool.map(write, range(writers)) for i in ids]
        rows = list(stores[0].export())
        assert len(acknowledged) == len(set(acknowledged)) == writers * each
        assert sorted(acknowledged) == [row.id for row in rows]
        assert {row.feedback.request_id for row in rows} == {
            f"{w}-{n}" for w in range(writers) for n in range(each)
        }
    finally:
        for store in stores:
            store.close()


FIRST_TABLE = """CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    client_key TEXT UNIQUE,
    request_id TEXT NOT NULL,
    answer_request_id TEXT,
    mode TEXT NOT NULL CHECK (mode IN ('digit', 'number')),
    label TEXT NOT NULL,
    answer TEXT,
    model_version TEXT NOT NULL,
    image BLOB NOT NULL,
    inputs BLOB NOT NULL
)"""
"""The table as the first servers wrote it, its columns in another order than the record's."""


def test_a_database_the_first_servers_made_is_read_and_written(tmp_path):
    path = tmp_path / "feedback.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        connection.execute("INSERT INTO schema_version VALUES (1)")
        connection.execute(FIRST_TABLE)
    store = open_store(str(path))
    try:
        sent = [record("7", key="k", tag="a"), record("2026", tag="b")]
        assert [store.add(feedback)[1] for feedback in sent] == [True, True]
        assert store.add(sent[0]) == (1, False)
        assert [row.feedback for row in store.export()] == sent
    finally:
        store.close()


def test_the_table_has_a_column_for_each_field_of_the_record(target):
    store = open_store(target)
    store.count()
    store.close()
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target) as connection:
            columns = connection.execute(
                "SELECT column_name, is_nullable = 'YES' FROM information_schema.columns "
                "WHERE table_name = 'feedback' ORDER BY ordinal_position"
            ).fetchall()
    else:
        with sqlite3.connect(target) as connection:
            info = connection.execute("PRAGMA table_info(feedback)").fetchall()
            columns = [(name, not notnull) for _, name, _, notnull, _, pk in info if not pk]
    nullable = {"client_key", "answer_request_id", "answer"}
    expected = [(field.name, field.name in nullable) for field in dataclasses.fields(Feedback)]
    assert [c for c in columns if c[0] != "id"] == [("created_at", False), *expected]


def test_a_database_from_a_newer_version_is_refused(target):
    store = open_store(target)
    store.count()
    store.close()
    if target.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(target, autocommit=True) as connection:
            connection.execute("UPDATE schema_version SET version = 99")
    else:
        with sqlite3.connect(target) as connection:
            connection.execute("UPDATE schema_version SET version = 99")
    newer = open_store(target)
    with pytest.raises(StoreError, match="schema version 99"):
        newer.add(record())
    newer.close()


def test_an_unreachable_postgres_is_a_store_error():
    store = open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/none")
    with pytest.raises(StoreError, match="cannot connect"):
        store.add(record())


def test_a_store_error_never_shows_the_password():
    """libpq quotes a malformed URL whole in its message; the store masks the password."""
    for url in (
        f"postgresql://nv:S3cret@127.0.0.1:{free_port()}/none",
        "postgresql://nv:S3cret@127.0.0.1:notaport/none",
        "postgresql://nv:S3cret@127.0.0.1/none?sslmode=bogus",
    ):
        with pytest.raises(StoreError) as raised:
            open_store(url).add(record())
        assert "S3cret" not in str(raised.value), raised.value


def test_a_known_key_with_another_submission_is_refused(target):
    """The stored row is the first submission's fingerprint: the same one again gets its
    id, any other gets KeyReused and stores nothing."""
    store = open_store(target)
    try:
        assert store.add(record(key="k")) == (1, True)
        assert store.add(record(key="k", tag="resent")) == (1, False)  # another request id
        for other in (record("1", key="k"), replace(record(key="k"), answer="2")):
            with pytest.raises(KeyReused):
                store.add(other)
        assert store.count() == 1
    finally:
        store.close()


# --- a real server process ------------------------------------------------------------------


def post(client: httpx.Client, label: str, key: str) -> httpx.Response:
    return client.post(
        "/feedback",
        json=body(IMAGES[label], label, answer_request_id=key),
        headers={"Idempotency-Key": key},
    )


def stored_rows(target: str) -> list:
    store = open_store(target)
    try:
        return list(store.export())
    finally:
        store.close()


def assert_whole(rows: list) -> None:
    """Every row is complete: the very image sent for its label, and its full input."""
    for row in rows:
        assert row.feedback.image == IMAGES[row.feedback.label]
        assert inputs_array(row.feedback).shape == (1, 28, 28)
        assert row.feedback.model_version == "v1"


def test_parallel_writers_through_a_real_server_with_two_workers(target):
    server = Server(target, workers=2)
    server.start()
    writers, each = 8, 15
    try:

        def write(index: int) -> list[int]:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                responses = [post(client, "7", f"w{index}-{n}") for n in range(each)]
            assert all(r.status_code == 201 for r in responses), [r.text for r in responses]
            return [r.json()["id"] for r in responses]

        with ThreadPoolExecutor(writers) as pool:
            acknowledged = [i for ids in pool.map(write, range(writers)) for i in ids]
    finally:
        server.stop()
    rows = stored_rows(target)
    assert sorted(acknowledged) == [row.id for row in rows]
    assert len(rows) == writers * each
    assert_whole(rows)


def test_sigkill_in_a_burst_loses_no_acknowledged_row(target):
    server = Server(target)
    server.start()
    acknowledged: dict[str, int] = {}  # idempotency key -> id, for every 201
    unanswered: set[str] = set()  # sent, but the server died before answering
    lock = threading.Lock()
    writers = 6

    def burst(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for n in range(10_000):
                key = f"b{index}-{n}"
                label = "7" if n % 2 else "1"
                try:
                    response = post(client, label, key)
                except httpx.HTTPError:
                    with lock:
                        unanswered.add(key)
                    return
                assert response.status_code == 201, response.text
                with lock:
                    acknowledged[key] = response.json()["id"]

    try:
        with ThreadPoolExecutor(writers) as pool:
            running = [pool.submit(burst, i) for i in range(writers)]
            deadline = time.monotonic() + 60
            while len(acknowledged) < 60 and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(server.process.pid, signal.SIGKILL)
            for future in running:
                future.result()
        server.process.wait()
        assert len(acknowledged) >= 60

        rows = stored_rows(target)  # straight from the database, before any restart
        stored_ids = {row.id for row in rows}
        assert set(acknowledged.values()) <= stored_ids
        assert len(rows) <= len(acknowledged) + len(unanswered)
        assert_whole(rows)

        # After a restart the clients resend what was never answered, with the same keys:
        # each is stored once, whether or not it made it before the kill.
        server.start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for key in sorted(unanswered):
                response = post(client, "7" if int(key.rsplit("-", 1)[1]) % 2 else "1", key)
                assert response.status_code in (200, 201), response.text
            for key, ident in list(acknowledged.items())[:5]:
                again = post(client, "7" if int(key.rsplit("-", 1)[1]) % 2 else "1", key)
                assert (again.status_code, again.json()["id"]) == (200, ident)
    finally:
        server.stop()
    rows = stored_rows(target)
    assert len(rows) == len(acknowledged) + len(unanswered)
    assert set(acknowledged.values()) <= {row.id for row in rows}
    assert_whole(rows)
