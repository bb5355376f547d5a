"""POST /feedback and GET /feedback/export through the real app, stored in a real SQLite file.

Storage under load, crashes and PostgreSQL are in test_feedback_storage.py.
"""

import base64
import csv
import dataclasses
import io
import json
import subprocess
import sys
from dataclasses import replace

import msgspec
import numpy as np
import pytest
from feedback_helpers import AUTH, NUMBER_101, ONE, SEVEN, TOKEN, body, drawing
from starlette.testclient import TestClient

from feedback import Feedback, Submission, open_store
from feedback.export import MAX_ID, inputs_array, parse_id, read_rows, render
from serving.app import create_app
from serving.shapes import FeedbackBody


@pytest.fixture
def app_settings(settings, tmp_path):
    """The session's settings with a fresh feedback file and an export token."""
    return replace(settings, feedback_db=str(tmp_path / "fb.sqlite3"), feedback_token=TOKEN)


@pytest.fixture
def client(app_settings):
    with TestClient(create_app(app_settings)) as client:
        yield client


def stored(app_settings) -> list:
    store = open_store(app_settings.feedback_db)
    try:
        return list(store.export())
    finally:
        store.close()


def test_a_correction_is_stored_with_everything_needed_to_learn_from_it(client, app_settings):
    answer = client.post(
        "/predict?include_input=true",
        content=SEVEN,
        headers={"Content-Type": "image/png", "X-Request-ID": "a1"},
    )
    response = client.post(
        "/feedback",
        json=body(answer_request_id="a1", model_version=answer.json()["model_version"]),
        headers={"X-Request-ID": "fb-1"},
    )
    assert response.status_code == 201, response.text
    assert response.json() == {"id": 1}
    [row] = stored(app_settings)
    assert row.id == 1 and row.created_at.endswith("Z")
    feedback = row.feedback
    assert (feedback.label, feedback.answer, feedback.mode) == ("7", "1", "digit")
    assert feedback.model_version == answer.json()["model_version"]
    assert (feedback.request_id, feedback.answer_request_id) == ("fb-1", "a1")
    assert feedback.image == SEVEN  # the original bytes, not a re-encoding
    # The 28x28 input stored is the one /predict fed the model for the same drawing.
    seen = np.array(answer.json()["input"], dtype=np.float32)
    np.testing.assert_allclose(inputs_array(feedback)[0], seen, atol=6e-4)


def test_multipart_form_is_accepted_like_json(client, app_settings):
    response = client.post(
        "/feedback",
        files={"image": ("d.png", ONE, "image/png")},
        data={"label": "1", "answer": "7", "model_version": "v1"},
    )
    assert response.status_code == 201, response.text
    [row] = stored(app_settings)
    assert (row.feedback.label, row.feedback.answer, row.feedback.image) == ("1", "7", ONE)


def test_number_mode_stores_one_input_per_digit_of_the_label(client, app_settings):
    response = client.post("/feedback", json=body(NUMBER_101, "101", answer="107"))
    assert response.status_code == 201, response.text
    [row] = stored(app_settings)
    assert row.feedback.mode == "number"
    inputs = inputs_array(row.feedback)
    assert inputs.shape == (3, 28, 28)
    # The two 1s are the narrow digits; the 0 in the middle is the wide one.
    widths = [(image.max(axis=0) > 0.2).sum() for image in inputs]
    assert widths[1] > widths[0] and widths[1] > widths[2]


@pytest.mark.parametrize(
    ("payload", "status", "words"),
    [
        (body(label="x"), 400, "'label' must be a digit"),
        # A lone bar: too narrow to hold two digits. (A 7 can be cut in two now: a "12"
        # written touching may have been read as 7, and its correction teaches the cut.)
        (body(ONE, "12"), 400, "cannot be split into 2 digits"),
        (body(label="77", mode="digit"), 400, "one digit in digit mode"),
        (body(label=12), 400, "'label' must be a digit"),
        (body(label=None), 400, "'label' is missing"),
        (body(NUMBER_101, "10", mode="number"), 400, "cannot be split into 2 digits"),
        (body(NUMBER_101, "1" * 13), 400, "at most 12"),
        (body(model_version=None), 400, "'model_version' is missing"),
        (body(model_version="has spaces"), 400, "'model_version' must be"),
        (body(model_version="v1\n"), 400, "'model_version' must be"),
        (body(label="7\n"), 400, "'label' must be a digit"),
        (body(answer="seven"), 400, "'answer' must be a digit"),
        (body(mode="letters"), 400, "'mode' must be"),
        (body(b"not an image"), 400, "not a readable image"),
        (body(drawing()), 400, "no ink"),
        ({**body(), "image": "***"}, 400, "not valid base64"),
        ({"label": "7", "model_version": "v1"}, 400, "'image' is missing"),
        ([1, 2], 400, "must be an object"),
    ],
)
def test_bad_input_is_a_4xx_and_nothing_is_stored(client, app_settings, payload, status, words):
    response = client.post("/feedback", json=payload)
    assert response.status_code == status, response.text
    assert words in response.json()["error"]
    assert stored(app_settings) == []


def test_bodies_that_are_not_json_or_multipart_or_too_large_are_refused(client, app_settings):
    response = client.post("/feedback", content=SEVEN, headers={"Content-Type": "image/png"})
    assert response.status_code == 415
    too_large = client.post("/feedback", json=body(SEVEN + b"\0" * 1_100_000))
    assert too_large.status_code == 413
    assert "error" in too_large.json()
    assert stored(app_settings) == []


def test_a_resent_submission_with_the_same_key_is_stored_once(client, app_settings):
    first = client.post("/feedback", json=body(), headers={"Idempotency-Key": "k-1"})
    again = client.post("/feedback", json=body(), headers={"Idempotency-Key": "k-1"})
    by_field = client.post("/feedback", json=body(client_id="k-1"))
    other = client.post("/feedback", json=body(), headers={"Idempotency-Key": "k-2"})
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (200, first.json())
    assert (by_field.status_code, by_field.json()) == (200, first.json())
    assert other.status_code == 201 and other.json() != first.json()
    assert len(stored(app_settings)) == 2
    clash = client.post("/feedback", json=body(client_id="k-3"), headers={"Idempotency-Key": "k-4"})
    assert clash.status_code == 400


@pytest.mark.parametrize(
    "change",
    [{"label": "1"}, {"answer": 2}, {"model_version": "v2"}, {"answer_request_id": "r-9"}],
)
def test_a_key_reused_for_another_submission_is_422_and_stores_nothing(
    client, app_settings, change
):
    """As payment APIs do: the same key with another body is refused, not answered with the
    first id (which would drop the new correction silently)."""
    key = {"Idempotency-Key": "k-1"}
    first = client.post("/feedback", json=body(), headers=key)
    other = client.post("/feedback", json=body(**change), headers=key)
    assert other.status_code == 422, other.text
    assert "already used for another submission" in other.json()["error"]
    other_image = client.post("/feedback", json=body(ONE, "7"), headers=key)
    assert other_image.status_code == 422
    again = client.post("/feedback", json=body(), headers=key)
    assert (again.status_code, again.json()) == (200, first.json())
    assert len(stored(app_settings)) == 1


def test_other_methods_are_405(client):
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/feedback")
        assert response.status_code == 405
        assert response.headers["allow"] == "POST"
        assert "POST /feedback" in response.json()["error"]


def test_with_feedback_off_it_answers_404_and_health_says_so(app_settings):
    with TestClient(create_app(replace(app_settings, feedback=False))) as client:
        assert client.get("/health").json()["feedback"] is False
        response = client.post("/feedback", json=body())
        assert response.status_code == 404
        assert "FEEDBACK=off" in response.json()["error"]
    assert stored(app_settings) == []


def test_health_says_feedback_is_collected(client):
    assert client.get("/health").json()["feedback"] is True


def test_export_needs_the_token(client, app_settings):
    client.post("/feedback", json=body())
    assert client.get("/feedback/export").status_code == 401
    for wrong in ("Bearer nope", f"Basic {TOKEN}", f"Bearer {TOKEN}x", TOKEN, "Bearer "):
        response = client.get("/feedback/export", headers={"Authorization": wrong})
        assert response.status_code == 401, wrong
        assert response.headers["www-authenticate"] == "Bearer"
        assert "image" not in response.text
    assert client.get("/feedback/export", headers=AUTH).status_code == 200


def test_without_a_token_configured_export_is_404_whatever_is_sent(app_settings):
    with TestClient(create_app(replace(app_settings, feedback_token=""))) as client:
        for headers in ({}, {"Authorization": "Bearer "}, AUTH):
            response = client.get("/feedback/export", headers=headers)
            assert response.status_code == 404
            assert "FEEDBACK_TOKEN" in response.json()["error"]


def test_export_round_trips_in_both_formats(client, app_settings):
    client.post("/feedback", json=body(answer_request_id="r-7"))
    client.post("/feedback", json=body(ONE, "1", answer=None))
    ndjson = client.get("/feedback/export?format=ndjson", headers=AUTH)
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert ndjson.headers["cache-control"] == "no-store"
    text_csv = client.get("/feedback/export?format=csv", headers=AUTH)
    assert text_csv.headers["content-type"].startswith("text/csv")
    expected = stored(app_settings)
    for form, text in (("ndjson", ndjson.text), ("csv", text_csv.text)):
        rows = list(read_rows(io.StringIO(text), form))
        assert [(r.id, r.created_at) for r in rows] == [(r.id, r.created_at) for r in expected]
        for got, want in zip(rows, expected, strict=True):
            assert got.feedback == replace(want.feedback, client_key=None)
    first = json.loads(ndjson.text.splitlines()[0])
    assert first["label"] == "7" and first["answer_request_id"] == "r-7"
    assert base64.b64decode(first["image"]) == SEVEN
    header = next(csv.reader(io.StringIO(text_csv.text)))
    assert header[:4] == ["id", "created_at", "mode", "label"]
    after = client.get("/feedback/export?after=1", headers=AUTH)
    assert [json.loads(line)["id"] for line in after.text.splitlines()] == [2]
    assert client.get("/feedback/export?format=xml", headers=AUTH).status_code == 400
    assert client.get("/feedback/export?after=-1", headers=AUTH).status_code == 400


@pytest.mark.parametrize(
    "after", ["²", "٣", "-1", "+1", " 1", "1 ", "1\n", "", "0x1", "1.0", "1" * 20, str(MAX_ID + 1)]
)
def test_after_is_ascii_digits_within_the_id_range_or_400(client, after):
    """str.isdigit took "²" (then a 500) and "٣" (as 3); 20 digits overflowed SQLite's
    integer after the 200 was sent."""
    client.post("/feedback", json=body())
    response = client.get("/feedback/export", params={"after": after}, headers=AUTH)
    assert response.status_code == 400, response.text
    assert "'after' must be a stored id" in response.json()["error"]


def test_after_takes_the_whole_id_range():
    assert [parse_id(t) for t in ("0", "007", str(MAX_ID))] == [0, 7, MAX_ID]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("model_version", '=HYPERLINK("http://x")'),
        ("model_version", "@SUM(A1)"),
        ("model_version", "-1+1"),
        ("model_version", "v1;rm"),
        ("answer_request_id", "=1+1"),
        ("answer_request_id", "-1"),
        ("answer_request_id", "a b"),
    ],
)
def test_version_and_request_id_take_a_strict_pattern(client, app_settings, field, value):
    response = client.post("/feedback", json=body(**{field: value}))
    assert response.status_code == 400, response.text
    assert f"'{field}' must be" in response.json()["error"]
    assert stored(app_settings) == []


def test_versions_and_ids_the_server_makes_are_accepted(client, app_settings):
    answer = client.post("/predict", content=SEVEN, headers={"Content-Type": "image/png"})
    fields = {"model_version": "20261125.225646-ft-quick", "answer_request_id": "a1.b:c-d_e"}
    assert client.post("/feedback", json=body(**fields)).status_code == 201
    made = {"answer_request_id": answer.headers["x-request-id"]}
    assert client.post("/feedback", json=body(**made)).status_code == 201


FORMULAS = ['=HYPERLINK("http://x","y")', "+1", "-1+1", "@SUM(A1)", "\tx", "\rx"]


def test_csv_cells_that_start_like_a_formula_are_quoted_and_read_back(app_settings):
    """Rows stored before the strict patterns (or by the CLI) may hold anything: the CSV
    shows each such cell as text, and read_rows gives back what was stored."""
    store = open_store(app_settings.feedback_db)
    try:
        for text in FORMULAS:
            store.add(
                Feedback(
                    mode="digit",
                    label="7",
                    answer=None,
                    model_version=text,
                    answer_request_id=text,
                    image=SEVEN,
                    request_id=text,
                    inputs=b"\0" * 3136,
                )
            )
        rows = list(store.export())
    finally:
        store.close()
    text = "".join(render(rows, "csv"))
    for line in list(csv.DictReader(io.StringIO(text, newline=""))):
        for name in ("model_version", "request_id", "answer_request_id"):
            assert line[name][0] == "'" and line[name][1] in "=+-@\t\r", line[name]
    back = read_rows(io.StringIO(text, newline=""), "csv")
    assert [r.feedback for r in back] == [r.feedback for r in rows]
    ndjson = "".join(render(rows, "ndjson"))  # for programs, not spreadsheets: as stored
    assert [json.loads(x)["model_version"] for x in ndjson.splitlines()] == FORMULAS


def test_metrics_count_feedback_by_outcome_without_content(client, app_settings):
    client.post("/feedback", json=body(), headers={"Idempotency-Key": "m-1"})
    client.post("/feedback", json=body(), headers={"Idempotency-Key": "m-1"})
    client.post("/feedback", json=body(label="x"))
    text = client.get("/metrics").text
    assert 'feedback_total{outcome="stored"} 1.0' in text
    assert 'feedback_total{outcome="duplicate"} 1.0' in text
    assert 'feedback_total{outcome="rejected"} 1.0' in text
    assert "m-1" not in text and 'label="' not in text


def test_the_cli_exports_the_same_rows_from_the_database(client, app_settings, tmp_path):
    client.post("/feedback", json=body())
    client.post("/feedback", json=body(ONE, "1"))
    served = client.get("/feedback/export?format=csv", headers=AUTH).text
    out = tmp_path / "fb.csv"
    command = [sys.executable, "-m", "feedback", "--db", app_settings.feedback_db]
    subprocess.run([*command, "export", "--format", "csv", "--out", str(out)], check=True)
    assert out.read_bytes().decode("utf-8") == served
    count = subprocess.run([*command, "count"], check=True, capture_output=True, text=True)
    assert count.stdout.strip() == "2"
    subprocess.run([*command, "delete", "1"], check=True, capture_output=True)
    assert [row.id for row in stored(app_settings)] == [2]


def test_the_openapi_document_describes_feedback(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths["/feedback"]["post"]["responses"]) >= {"200", "201", "400", "404", "413"}
    assert set(paths["/feedback/export"]["get"]["responses"]) >= {"200", "401", "404"}


def test_the_body_sends_the_records_submission_fields_and_a_key():
    """FeedbackBody is the record's Submission as JSON: its fields, and client_id (stored as
    client_key); everything else in the record is the server's."""
    sent = {field.name for field in msgspec.structs.fields(FeedbackBody)}
    assert sent == {field.name for field in dataclasses.fields(Submission)} | {"client_id"}
