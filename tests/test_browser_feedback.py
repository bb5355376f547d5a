"""The feedback control on the page, in a real Chromium against the real app and its store.

After an answer a person taps "Right", or one of the ten digits after "Wrong? It was"
(the right number in number mode): one tap, a thank-you, and the correction is in the
server's feedback store, as its export shows. A server that collects nothing shows no
control.
"""

import base64
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_helpers import (
    ANSWER_TIMEOUT_MS,
    DIGITS,
    OUTPUT_DIR,
    AppServer,
    draw_with_mouse,
    number_strokes,
    open_page,
    switch_to_number_mode,
)
from playwright.sync_api import Browser, Page, expect

from bench.server import free_port

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]  # playwright, browser, desktop (on this module's server)

TOKEN = "browser-test-token"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    """The real app, collecting feedback into a fresh SQLite file, export on with a token."""
    OUTPUT_DIR.mkdir(exist_ok=True)
    database = tmp_path_factory.mktemp("feedback") / "feedback.sqlite3"
    app = AppServer(free_port(), FEEDBACK_DB=str(database), FEEDBACK_TOKEN=TOKEN)
    app.start()
    yield app
    app.stop()


def exported(page: Page, server: AppServer) -> list[dict]:
    """Every stored submission, from the server's own export (with the token)."""
    response = page.request.get(
        server.url + "feedback/export?format=ndjson",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status == 200, response.text()
    return [json.loads(line) for line in response.text().splitlines() if line]


def test_a_correction_is_one_tap_and_reaches_the_store(desktop, server: AppServer) -> None:
    page, watch = desktop
    before = len(exported(page, server))
    draw_with_mouse(page, DIGITS["1"])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    control = page.locator("#feedback")
    expect(control).to_be_visible()
    expect(page.get_by_role("button", name="Right")).to_be_visible()
    wrong = page.get_by_role("group", name="Wrong? It was")
    expect(wrong.get_by_role("button")).to_have_count(10)
    last_answer = watch.posts("/predict")[-1].response().json()

    with page.expect_response("**/feedback") as sent:
        wrong.get_by_role("button", name="7", exact=True).click()
    assert sent.value.status == 201, sent.value.text()
    expect(page.locator("#feedback-thanks")).to_have_text("Thanks! Noted: it was 7.")
    expect(control).to_be_hidden(timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#history-list .history-details").first).to_contain_text("was 7")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    (row,) = csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8")))
    assert (row["answer"], row["feedback"]) == ("1", "7")

    rows = exported(page, server)
    assert len(rows) == before + 1
    row = rows[-1]
    assert row["id"] == sent.value.json()["id"]
    assert (row["label"], row["answer"], row["mode"]) == ("7", "1", "digit")
    assert row["model_version"] == last_answer["model_version"]
    assert row["answer_request_id"] == last_answer["request_id"]
    assert base64.b64decode(row["image"]).startswith(PNG_MAGIC)
    assert len(base64.b64decode(row["inputs"])) == 28 * 28 * 4


def test_right_is_a_quiet_confirmation(desktop, server: AppServer) -> None:
    page, _ = desktop
    before = len(exported(page, server))
    draw_with_mouse(page, DIGITS["0"])
    expect(page.locator("#digit")).to_have_text("0", timeout=ANSWER_TIMEOUT_MS)
    with page.expect_response("**/feedback") as sent:
        page.get_by_role("button", name="Right").click()
    assert sent.value.status == 201, sent.value.text()
    expect(page.locator("#feedback-thanks")).to_contain_text("Thanks")
    rows = exported(page, server)
    assert len(rows) == before + 1
    assert (rows[-1]["label"], rows[-1]["answer"]) == ("0", "0")
    # The next drawing offers the control again.
    page.keyboard.press("Escape")
    draw_with_mouse(page, DIGITS["7"])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_role("button", name="Right")).to_be_visible()


def test_in_number_mode_the_right_number_is_typed(desktop, server: AppServer) -> None:
    page, _ = desktop
    before = len(exported(page, server))
    switch_to_number_mode(page)
    draw_with_mouse(page, number_strokes("417"))
    expect(page.locator("#digit")).to_have_text("417", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#feedback-digits, .feedback-digits")).to_be_hidden()
    field = page.get_by_label("The right number")
    field.fill("4x")
    page.get_by_role("button", name="Send").click()
    assert page.evaluate("document.getElementById('feedback-number').validity.valid") is False
    field.fill("411")
    with page.expect_response("**/feedback") as sent:
        field.press("Enter")
    assert sent.value.status == 201, sent.value.text()
    expect(page.locator("#feedback-thanks")).to_have_text("Thanks! Noted: it was 411.")
    row = exported(page, server)[before]
    assert (row["label"], row["answer"], row["mode"]) == ("411", "417", "number")
    assert len(base64.b64decode(row["inputs"])) == 3 * 28 * 28 * 4


def test_no_control_when_the_server_collects_nothing(browser: Browser, tmp_path: Path) -> None:
    app = AppServer(free_port(), FEEDBACK="off", FEEDBACK_DB=str(tmp_path / "unused.sqlite3"))
    app.start()
    try:
        page, watch = open_page(browser, app)
        draw_with_mouse(page, DIGITS["7"])
        expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
        page.wait_for_timeout(300)
        expect(page.locator("#feedback")).to_be_hidden()
        assert watch.posts("/feedback") == []
        watch.assert_clean()
        page.context.close()
    finally:
        app.stop()


def test_the_page_takes_as_many_digits_as_its_server(browser: Browser, tmp_path: Path) -> None:
    """MAX_DIGITS reaches the page through js/contract.js: its words and the number field."""
    app = AppServer(free_port(), MAX_DIGITS="4", FEEDBACK_DB=str(tmp_path / "feedback.sqlite3"))
    app.start()
    try:
        page, watch = open_page(browser, app)
        switch_to_number_mode(page)
        expect(page.locator(".for-number").first).to_contain_text("up to 4 digits side by side")
        draw_with_mouse(page, number_strokes("417"))
        expect(page.locator("#digit")).to_have_text("417", timeout=ANSWER_TIMEOUT_MS)
        field = page.get_by_label("The right number")
        assert field.evaluate("input => input.maxLength") == 4
        field.fill("12a")
        page.get_by_role("button", name="Send").click()
        message = field.evaluate("input => input.validationMessage")
        assert message == "Type the right number with digits only, 1 to 4 of them."
        watch.assert_clean()
        page.context.close()
    finally:
        app.stop()


def test_a_404_on_first_use_hides_the_control_for_good(desktop) -> None:
    page, watch = desktop
    # A server behind a proxy that drops /feedback, though /health says it collects.
    page.route(
        "**/feedback",
        lambda route: route.fulfill(status=404, json={"error": "this server does not collect"}),
    )
    draw_with_mouse(page, DIGITS["1"])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("group", name="Wrong? It was").get_by_role("button", name="4").click()
    expect(page.locator("#feedback")).to_be_hidden()
    page.keyboard.press("Escape")
    draw_with_mouse(page, DIGITS["7"])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    page.wait_for_timeout(300)
    expect(page.locator("#feedback")).to_be_hidden()
    watch.errors.clear()  # the browser logs the 404 it was given
