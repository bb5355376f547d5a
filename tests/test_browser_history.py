"""The history on the page, in a real Chromium against the real app.

A person draws a few digits and a number, and expects them listed with a thumbnail, kept
across reloads until deleted (one, or all), and downloadable as CSV and JSON in one click
each, with nothing sent to the server for it.
"""

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from browser_helpers import (
    ANSWER_TIMEOUT_MS,
    DIGITS,
    SEVEN_BAR,
    SEVEN_LEG,
    SEVERAL_DIGITS,
    answering,
    draw_with_mouse,
    number_strokes,
    switch_to_number_mode,
)
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]  # the server, playwright, browser and desktop fixtures

ROWS = "#history-list .history-item"


def draw_and_wait(page: Page, answer: str, strokes) -> None:
    """Draw, wait for the answer and for its history row, then clear the pad."""
    rows = page.locator(ROWS).count()
    draw_with_mouse(page, strokes)
    expect(page.locator("#digit")).to_have_text(answer, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(ROWS)).to_have_count(rows + 1)
    expect(page.locator(ROWS).first.locator(".history-answer")).to_have_text(answer)
    page.keyboard.press("Escape")


def answers(page: Page) -> list[str]:
    return page.locator(f"{ROWS} .history-answer").all_text_contents()


def test_history_lists_answers_keeps_them_across_reloads_and_deletes(desktop) -> None:
    page, watch = desktop
    expect(page.locator("#history-empty")).to_be_visible()
    expect(page.get_by_role("button", name="Download CSV")).to_be_disabled()
    for digit in ["1", "7", "0"]:
        draw_and_wait(page, digit, DIGITS[digit])
    assert answers(page) == ["0", "7", "1"], "newest first"
    expect(page.locator("#history-count")).to_have_text("3 drawings")
    thumbnails = page.locator(f"{ROWS} img").evaluate_all("imgs => imgs.map(i => i.src)")
    assert all(src.startswith("data:image/png;base64,") for src in thumbnails)
    assert all(len(src) < 4000 for src in thumbnails), "thumbnails stay small"
    widths = page.locator(f"{ROWS} img").evaluate_all("imgs => imgs.map(i => i.naturalWidth)")
    assert all(width > 0 for width in widths), "thumbnails are real images"
    details = page.locator(f"{ROWS} .history-details").all_text_contents()
    assert all("%" in row and re.search(r"\b20\d\d\b", row) for row in details), "with the date"
    # The model's version once, on the oldest row of the run it answered.
    assert ["model" in row for row in details] == [False, False, True]

    page.reload()
    expect(page.locator(ROWS)).to_have_count(3)
    assert answers(page) == ["0", "7", "1"]

    page.get_by_role("button", name="Delete 7", exact=False).click()
    expect(page.locator(ROWS)).to_have_count(2)
    assert answers(page) == ["0", "1"]
    # Focus stays in the list, on the next row's Delete button, for keyboard users.
    assert page.evaluate("document.activeElement.dataset.remove") is not None
    page.reload()
    assert answers(page) == ["0", "1"]

    # Two hundred rows can go in one click, so the click can be taken back.
    page.get_by_role("button", name="Delete all").click()
    expect(page.locator(ROWS)).to_have_count(0)
    expect(page.locator("#history-undo")).to_contain_text("Deleted 2 drawings.")
    expect(page.get_by_role("button", name="Undo").last).to_be_focused()
    page.locator("#history-undo button").click()
    assert answers(page) == ["0", "1"]
    expect(page.locator("#history-undo")).to_be_hidden()
    page.get_by_role("button", name="Delete all").click()
    expect(page.locator("#history-empty")).to_be_visible()
    page.reload()
    expect(page.locator(ROWS)).to_have_count(0)
    # Keeping the history sends nothing: the only POSTs were the predictions.
    assert {
        r.url.rsplit("/", 1)[-1].split("?")[0] for r in watch.requests if r.method == "POST"
    } == {"predict"}


def test_one_row_per_drawing_with_its_final_answer(desktop) -> None:
    page, _ = desktop
    draw_with_mouse(page, [SEVEN_LEG])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(ROWS)).to_have_count(1)
    draw_with_mouse(page, [SEVEN_BAR])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"{ROWS} .history-answer")).to_have_text(["7"])
    page.get_by_role("button", name="Undo").click()
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(f"{ROWS} .history-answer")).to_have_text(["1"])


def test_each_answer_is_recorded_as_itself_and_a_mode_switch_starts_a_new_row(desktop) -> None:
    page, _ = desktop
    page.route("**/predict*", answering(SEVERAL_DIGITS))
    draw_with_mouse(page, DIGITS["1"])
    expect(page.locator(f"{ROWS} .history-answer")).to_have_text(["several digits, not one"])
    expect(page.locator(f"{ROWS} .history-details")).not_to_contain_text("%")
    page.unroute("**/predict*")
    page.keyboard.press("Escape")

    # A 1 corrected to 7, then read as a number: the digit's row keeps its answer and its
    # correction, and the number gets a row of its own.
    draw_and_wait(page, "1", DIGITS["1"])
    page.get_by_role("button", name="Undo").click()  # the Escape in draw_and_wait cleared it
    draw_with_mouse(page, DIGITS["1"])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("group", name="Wrong? It was").get_by_role("button", name="7").click()
    expect(page.locator(ROWS).first.locator(".history-details")).to_contain_text("was 7")
    rows = page.locator(ROWS).count()
    page.get_by_role("radio", name="Number").check()
    expect(page.locator(ROWS)).to_have_count(rows + 1, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(ROWS).nth(1).locator(".history-answer")).to_have_text("1")
    expect(page.locator(ROWS).nth(1).locator(".history-details")).to_contain_text("was 7")
    expect(page.locator(ROWS).first.locator(".history-details")).not_to_contain_text("was 7")


# Armed before a drawing: when the pen lifts (after the pad's own handler has asked for the
# drawing's answer), wait for that answer to end the busy state, and count the stored rows
# in that same moment.
_ROWS_WHEN_SETTLED = """
async () => {
  const { History } = await import("./js/history.js");
  const result = document.getElementById("result");
  window.rowsWhenSettled = new Promise((resolve) => {
    document.getElementById("pad").addEventListener("pointerup", () => {
      const watch = new MutationObserver(() => {
        if (result.getAttribute("aria-busy") !== "false") return;
        watch.disconnect();
        resolve(new History().entries.length);
      });
      watch.observe(result, { attributes: true, attributeFilter: ["aria-busy"] });
    }, { once: true });
  });
}
"""


def test_the_row_is_stored_with_the_answer(desktop) -> None:
    """No moment in which the answer is on screen but its row is not stored (it was 5-56 ms,
    a thumbnail being encoded): a page closed or reloaded right then lost the row."""
    page, _ = desktop
    for stored, digit in enumerate("17", start=1):
        page.evaluate(_ROWS_WHEN_SETTLED)
        draw_with_mouse(page, DIGITS[digit])
        assert page.evaluate("window.rowsWhenSettled") == stored
        expect(page.locator("#digit")).to_have_text(digit)
        page.keyboard.press("Escape")


def test_history_downloads_as_csv_and_json(desktop) -> None:
    page, _ = desktop
    start = datetime.now(timezone.utc) - timedelta(seconds=1)
    draw_and_wait(page, "4", DIGITS["4"])
    switch_to_number_mode(page)
    draw_and_wait(page, "417", number_strokes("417"))
    version = page.evaluate("fetch('health').then(r => r.json()).then(h => h.model_version)")

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Download CSV").click()
    assert csv_download.value.suggested_filename.endswith(".csv")
    text = Path(csv_download.value.path()).read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [row["answer"] for row in rows] == ["417", "4"]
    assert [row["mode"] for row in rows] == ["number", "digit"]
    assert rows[0]["number"] == "417" and rows[0]["digit"] == ""
    assert rows[1]["digit"] == "4" and rows[1]["number"] == ""
    for row in rows:
        assert 0.5 < float(row["confidence"]) <= 1
        assert row["model_version"] == version
        assert row["request_id"], "the id of the answer's line in the server log"
        assert row["source"] == "server"
        assert start <= datetime.fromisoformat(row["time"]) <= datetime.now(timezone.utc)
        assert row["thumbnail"].startswith("data:image/png;base64,")

    with page.expect_download() as json_download:
        page.get_by_role("button", name="Download JSON").click()
    assert json_download.value.suggested_filename.endswith(".json")
    document = json.loads(Path(json_download.value.path()).read_text(encoding="utf-8"))
    entries = document["entries"]
    assert [e["answer"] for e in entries] == ["417", "4"]
    assert entries[0]["number"] == "417" and entries[1]["digit"] == 4
    assert {e["model_version"] for e in entries} == {version}
    assert [e["confidence"] for e in entries] == [float(r["confidence"]) for r in rows]


KEEP_MANY = """async () => {
  const { History, HISTORY_LIMIT, entryFor, toCsv } = await import("./js/history.js");
  const history = new History();
  const answer = { digit: 3, confidence: 0.9, model_version: 'v1, "quoted"',
                   request_id: "=HYPERLINK(1)" };
  for (let i = 0; i < HISTORY_LIMIT + 5; i += 1) {
    history.record(entryFor(`d${i}`, "digit", answer, ""));
  }
  const kept = history.entries;
  return { limit: HISTORY_LIMIT, count: kept.length, newest: kept[0].id, oldest: kept.at(-1).id,
           csv: toCsv(kept.slice(0, 1)) };
}"""


def test_history_keeps_the_newest_rows_quotes_csv_cells_and_defuses_formulas(desktop) -> None:
    page, _ = desktop
    kept = page.evaluate(KEEP_MANY)
    assert kept["count"] == kept["limit"] == 200
    assert (kept["newest"], kept["oldest"]) == ("d204", "d5"), "the oldest rows go first"
    (row,) = csv.DictReader(io.StringIO(kept["csv"]))
    assert row["model_version"] == 'v1, "quoted"'
    assert row["request_id"] == "'=HYPERLINK(1)", "a spreadsheet must not run it"
    page.reload()
    expect(page.locator(ROWS)).to_have_count(200)
