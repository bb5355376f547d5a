"""Number mode on the page, in a real Chromium against the real app.

A person switches to "Number", writes a number with several strokes per digit, and expects
the number large, a box with the digit read over each part of the drawing, and a way to
fix the split when it is wrong: strokes drawn far apart are always separate digits, and
"Join" / "Split" regroup the strokes.
"""

import json

import pytest
from browser_helpers import (
    ANSWER_TIMEOUT_MS,
    DIGITS,
    NUMBER_ASPECT,
    OUTPUT_DIR,
    AppServer,
    Stroke,
    answering,
    draw_with_finger,
    draw_with_mouse,
    draw_with_pen,
    number_strokes,
    open_page,
    place,
    switch_to_number_mode,
)
from playwright.sync_api import Browser, Page, Route, expect

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]  # the server, playwright, browser and desktop fixtures

EXPORT_HEIGHT = 280
"""Height of the PNG the page posts (web/js/pad.js EXPORT_SIDE); boxes are in its pixels."""


def expect_number(page: Page, text: str) -> None:
    """The number large, one box per digit over the pad, one part per digit in the list."""
    expect(page.locator("#result")).to_have_attribute(
        "aria-busy", "false", timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#digit")).to_have_text(text, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text(text)
    expect(page.locator("#boxes .part-box")).to_have_count(len(text))
    read = page.eval_on_selector_all("#boxes .part-box", "bs => bs.map(b => b.dataset.digit)")
    assert read == list(text)
    expect(page.locator("#parts .part")).to_have_count(len(text))
    expect(page.locator("#bars")).to_be_hidden()


def box_spans(page: Page) -> list[tuple[float, float]]:
    """Each box's left and right edge as fractions of the pad's width."""
    pad = page.locator("#pad").bounding_box()
    spans = []
    for box in page.locator("#boxes .part-box").all():
        b = box.bounding_box()
        spans.append(
            ((b["x"] - pad["x"]) / pad["width"], (b["x"] + b["width"] - pad["x"]) / pad["width"])
        )
    return spans


def centre_x(strokes: list[Stroke]) -> float:
    xs = [x for stroke in strokes for x, _ in stroke]
    return (min(xs) + max(xs)) / 2


def number_requests(page_requests) -> list[dict]:
    """The JSON bodies of the page's number-mode requests, oldest first."""
    bodies = []
    for request in page_requests:
        if request.method == "POST" and request.url.endswith("/predict"):
            body = request.post_data_json
            if isinstance(body, dict) and body.get("mode") == "number":
                bodies.append(body)
    return bodies


@pytest.mark.parametrize("text", ["2026", "417"])
def test_a_multi_stroke_number_is_read_with_a_box_per_digit(desktop, text: str) -> None:
    page, watch = desktop
    switch_to_number_mode(page)
    pad = page.locator("#pad").bounding_box()
    assert pad["width"] / pad["height"] == pytest.approx(NUMBER_ASPECT, rel=0.02)
    assert pad["width"] >= 800, "on a desktop the wide pad spans the page"

    draw_with_mouse(page, number_strokes(text))
    expect_number(page, text)
    # Each box sits over the strokes of the digit it names, left to right.
    step = 1 / (len(text) + 1)
    for i, (left, right) in enumerate(box_spans(page)):
        middle = centre_x(place(DIGITS[text[i]], step * (i + 1)))
        assert left < middle < right, f"box {i} does not cover digit {text[i]}"

    # The page sent the drawing in number mode, with each stroke's x-extent as a hint.
    body = number_requests(watch.requests)[-1]
    strokes = len(number_strokes(text))
    assert len(body["strokes"]) == strokes
    width = NUMBER_ASPECT * EXPORT_HEIGHT
    assert all(0 <= x0 < x1 <= width for x0, x1 in body["strokes"])
    assert body["image"].startswith("data:image/png;base64,")
    # A sure number keeps join and split folded away, one tap from view.
    expect(page.locator("#result")).to_have_attribute("data-state", "sure")
    expect(page.locator("#split .split-button").first).to_be_hidden()
    page.get_by_text("Split wrong?").click()
    expect(page.locator("#split .split-button").first).to_be_visible()
    if text == "2026":
        page.screenshot(path=str(OUTPUT_DIR / "drawn-number.png"), full_page=True)


def merged_answer(route: Route) -> None:
    """A server that reads the whole drawing as one part it cannot name."""
    body = route.request.post_data_json
    if not (isinstance(body, dict) and body.get("mode") == "number"):
        route.continue_()
        return
    part = {
        "digit": None,
        "confidence": 0.0,
        "probabilities": {str(d): 0.1 for d in range(10)},
        "reason": "several_digits",
        "message": "This looks like several digits.",
        "box": [20, 20, 820, 260],
    }
    answer = {"number": None, "digits": [part], "confidence": 0.0, "model_version": "test"}
    route.fulfill(json=answer)


def test_strokes_drawn_far_apart_are_always_separate_digits(desktop) -> None:
    page, watch = desktop
    switch_to_number_mode(page)
    page.route("**/predict*", merged_answer)
    seven_one = place(DIGITS["7"], 0.3) + place(DIGITS["1"], 0.7)
    draw_with_mouse(page, seven_one)
    expect_number(page, "71")
    # The page read each group of strokes as its own digit, in one batch request.
    batches = [
        r.post_data_json
        for r in watch.posts("/predict")
        if isinstance(r.post_data_json, dict) and "images" in r.post_data_json
    ]
    assert len(batches[-1]["images"]) == 2
    left, right = box_spans(page)
    assert left[1] < 0.5 < right[0], "the boxes follow the page's split"


def split_four(route: Route) -> None:
    """A server that reads a two-stroke 4 as two parts: "1" and "1"."""
    body = route.request.post_data_json
    if not (isinstance(body, dict) and body.get("mode") == "number"):
        route.continue_()
        return
    if len(body["strokes"]) != 2:
        route.continue_()  # the first stroke alone
        return
    (a0, a1), (b0, b1) = body["strokes"]
    middle = ((a0 + a1) / 2 + (b0 + b1) / 2) / 2
    parts = [
        {"digit": 1, "confidence": 0.6, "probabilities": {"1": 0.6}, "box": [a0, 30, middle, 250]},
        {"digit": 1, "confidence": 0.6, "probabilities": {"1": 0.6}, "box": [middle, 30, b1, 250]},
    ]
    route.fulfill(
        json={"number": "11", "digits": parts, "confidence": 0.36, "model_version": "test"}
    )


def test_join_and_split_correct_the_split(desktop) -> None:
    page, watch = desktop
    switch_to_number_mode(page)
    page.route("**/predict*", split_four)
    draw_with_mouse(page, place(DIGITS["4"], 0.5))
    expect_number(page, "11")

    join = page.get_by_role("button", name="parts 1 and 2 into one digit")
    expect(join).to_be_visible()
    join.click()
    expect_number(page, "4")
    batch = [r for r in watch.posts("/predict") if "images" in (r.post_data_json or {})][-1]
    assert len(batch.post_data_json["images"]) == 1

    split = page.get_by_role("button", name="Split 4: part 1 into two digits")
    split.click()
    expect(page.locator("#boxes .part-box")).to_have_count(2, timeout=ANSWER_TIMEOUT_MS)
    expect(page.get_by_role("button", name="parts 1 and 2 into one digit")).to_be_visible()
    # A split that made things worse is undone in one tap.
    page.get_by_role("button", name="Back to 4").click()
    expect_number(page, "4")

    # A new drawing starts again from the server's split.
    page.keyboard.press("Escape")
    expect(page.locator("#boxes .part-box")).to_have_count(0)
    expect(page.locator("#split")).to_be_hidden()
    draw_with_mouse(page, place(DIGITS["4"], 0.5))
    expect_number(page, "11")


def test_the_mode_is_remembered_and_digit_mode_brings_the_square_pad_back(desktop) -> None:
    page, _ = desktop
    switch_to_number_mode(page)
    draw_with_mouse(page, number_strokes("417"))
    expect_number(page, "417")

    page.reload()
    expect(page.get_by_role("radio", name="Number")).to_be_checked()
    expect(page.locator("#pad")).to_have_attribute("data-aspect", str(NUMBER_ASPECT))
    expect(page.locator("#summary")).to_have_text("Draw a number")

    page.get_by_role("radio", name="Digit").check()
    expect(page.locator("#summary")).to_have_text("Draw a digit")
    pad = page.locator("#pad").bounding_box()
    assert pad["width"] == pytest.approx(pad["height"], abs=1)
    draw_with_mouse(page, DIGITS["7"])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#bars")).to_be_visible()
    expect(page.locator("#boxes .part-box")).to_have_count(0)
    expect(page.locator("#parts .part")).to_have_count(0)


def test_on_a_phone_the_wide_pad_fits_and_takes_finger_and_pen(
    browser: Browser, server: AppServer
) -> None:
    page, watch = open_page(
        browser,
        server,
        viewport={"width": 360, "height": 640},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    switch_to_number_mode(page)
    layout = page.evaluate(
        "() => ({wide: document.documentElement.scrollWidth, width: innerWidth})"
    )
    assert layout["wide"] <= layout["width"], "nothing sticks out sideways"
    pad = page.locator("#pad").bounding_box()
    assert pad["width"] >= 0.9 * 360, "the pad uses the phone's width"
    assert pad["width"] / pad["height"] == pytest.approx(NUMBER_ASPECT, rel=0.02)
    # Six digits side by side get cells about as wide as a fingertip is long.
    assert pad["width"] / 6 >= 50

    cdp = page.context.new_cdp_session(page)
    (one,) = place(DIGITS["1"], 0.3)
    (seven,) = place(DIGITS["7"], 0.7)
    draw_with_finger(page, cdp, one)
    draw_with_pen(page, cdp, seven)
    expect_number(page, "17")
    assert page.evaluate("scrollY") == 0
    page.screenshot(path=str(OUTPUT_DIR / "drawn-phone-number.png"), full_page=True)
    watch.assert_clean()
    page.context.close()


def test_a_number_with_a_part_that_is_not_a_digit_is_not_claimed(desktop) -> None:
    """The part is named only when there are several; a drawing that is not a number as a
    whole (the server's `not_a_number`) is said so; the history says "not a number", no %."""
    page, _ = desktop
    switch_to_number_mode(page)
    part = {"digit": 4, "confidence": 0.9, "probabilities": {"4": 0.9}, "box": [100, 40, 300, 240]}
    odd = {
        "digit": None,
        "confidence": 0.0,
        "probabilities": {},
        "reason": "not_a_digit",
        "message": "This does not look like a digit.",
        "box": [400, 40, 600, 240],
    }
    answer = {
        "number": None,
        "digits": [part, odd],
        "confidence": 0.0,
        "reason": "not_a_digit",
        "message": "Part of this drawing does not look like a digit; redraw the marked part.",
        "model_version": "test",
    }
    page.route(
        "**/predict*",
        lambda route: route.fulfill(body=json.dumps(answer), content_type="application/json"),
    )
    draw_with_mouse(page, place(DIGITS["4"], 0.25) + place(DIGITS["0"], 0.6))
    expect(page.locator("#summary")).to_have_text("Part 2 is not a digit")
    expect(page.locator("#advice")).to_contain_text("redraw the marked part")
    expect(page.locator("#digit")).to_have_text("4?")
    expect(page.locator('#boxes .part-box[data-digit=""]')).to_have_count(1)
    expect(page.locator("#parts .part").nth(1)).to_have_text("not a digit")
    row = page.locator("#history-list .history-item").first
    expect(row.locator(".history-answer")).to_have_text("not a number")
    expect(row.locator(".history-details")).not_to_contain_text("%")

    digits_but_no_number = [part, part | {"box": [400, 40, 600, 240]}]
    page.unroute("**/predict*")
    page.route(
        "**/predict*",
        answering(answer | {"digits": digits_but_no_number, "reason": "not_a_number"}),
    )
    page.get_by_role("button", name="Recognize").click()
    expect(page.locator("#summary")).to_have_text("This doesn't look like a number")

    page.unroute("**/predict*")
    page.route("**/predict*", answering(answer | {"digits": [odd | {"box": [300, 40, 540, 240]}]}))
    page.keyboard.press("Escape")
    draw_with_mouse(page, place(DIGITS["4"], 0.5))
    expect(page.locator("#summary")).to_have_text("This is not a digit")


FAR_APART = """async ([gap]) => {
  const { FAR_GAP, separateFarApart } = await import("./js/numbers.js");
  const extents = [
    { x0: 0, x1: 0.5, y0: 0, y1: 1 },
    { x0: 0.5 + gap * FAR_GAP, x1: 1.2, y0: 0, y1: 1 },
  ];
  return separateFarApart([[0, 1]], extents);
}"""


@pytest.mark.parametrize(("gap", "groups"), [(0.95, [[0, 1]]), (1.01, [[0], [1]]), (3, [[0], [1]])])
def test_far_apart_means_a_gap_of_at_least_far_gap(desktop, gap: float, groups) -> None:
    page, _ = desktop
    assert page.evaluate(FAR_APART, [gap]) == groups
