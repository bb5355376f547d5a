"""How long the drawing's own answer takes after the pen or finger lifts, with a mouse on a
desktop and with touch on an emulated Pixel 7 (CDP touch events, Chromium's real input path).

The figures are measured and printed (and written to test-output/lift-latency.json) for the
README; the assertion is loose, because a shared 2-core machine can stall any one answer. It
still fails if the request waits for the browser's idle time again (about 1 s on touch).
"""

import json
import statistics

import pytest
from browser_helpers import (
    ANSWER_TIMEOUT_MS,
    OUTPUT_DIR,
    SEVEN,
    AppServer,
    draw_with_finger,
    draw_with_mouse,
    open_page,
)
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]

DRAWINGS = 15
"""Drawings measured per device: enough for a steady median."""

LOOSE_BOUND_MS = 500
"""Five times the target, so that a loaded machine does not fail the test; idle-time
encoding (the bug this guards) took about 1000 ms."""

RECORD_LIFTS = """() => {
  // Page-side clocks: when the pointer lifted, when /predict was asked, when the answer showed.
  const marks = { lift: [], request: [], answer: [] };
  const pad = document.getElementById("pad");
  pad.addEventListener("pointerup", () => marks.lift.push(performance.now()));
  const fetch = window.fetch;
  window.fetch = (url, options) => {
    if (String(url).startsWith("predict")) marks.request.push(performance.now());
    return fetch(url, options);
  };
  const result = document.getElementById("result");
  new MutationObserver(() => {
    if (result.getAttribute("aria-busy") === "false") marks.answer.push(performance.now());
  }).observe(result, { attributes: true, attributeFilter: ["aria-busy"] });
  window.liftMarks = marks;
}"""

LAST_LIFT = """() => {
  // The first request and the first answer after the last lift: the drawing's own answer.
  const { lift, request, answer } = window.liftMarks;
  const t = lift[lift.length - 1];
  return [request.find((r) => r >= t) - t, answer.find((a) => a >= t) - t];
}"""


def measure(page: Page, draw) -> dict[str, float]:
    """Median milliseconds from lift to the request and to the answer shown, over DRAWINGS."""
    page.evaluate(RECORD_LIFTS)
    requests, answers = [], []
    for _ in range(DRAWINGS):
        page.keyboard.press("Escape")
        draw()
        expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
        expect(page.locator("#result")).to_have_attribute(
            "aria-busy", "false", timeout=ANSWER_TIMEOUT_MS
        )
        request, answer = page.evaluate(LAST_LIFT)
        requests.append(request)
        answers.append(answer)
    return {
        "request_p50_ms": round(statistics.median(requests), 1),
        "answer_p50_ms": round(statistics.median(answers), 1),
        "answer_max_ms": round(max(answers), 1),
    }


def report(name: str, figures: dict[str, float]) -> None:
    path = OUTPUT_DIR / "lift-latency.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(saved | {name: figures}, indent=2))
    print(f"\n{name}: {figures}")


def test_a_mouse_drawing_is_answered_right_after_the_button_lifts(desktop) -> None:
    page, _ = desktop
    figures = measure(page, lambda: draw_with_mouse(page, SEVEN))
    report("desktop mouse", figures)
    assert figures["request_p50_ms"] < LOOSE_BOUND_MS


def test_a_finger_drawing_is_answered_right_after_it_lifts_on_a_pixel_7(
    browser: Browser, playwright, server: AppServer
) -> None:
    page, watch = open_page(browser, server, **playwright.devices["Pixel 7"])
    cdp = page.context.new_cdp_session(page)
    figures = measure(page, lambda: draw_with_finger(page, cdp, SEVEN[0]))
    report("Pixel 7 touch", figures)
    assert figures["request_p50_ms"] < LOOSE_BOUND_MS
    watch.assert_clean()
    page.context.close()
