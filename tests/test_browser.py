"""The web page in a real headless Chromium, against the real app (`python -m serving`).

A person draws with a mouse or a finger and expects an answer without pressing anything,
undo and clear that do what they say, a page that never scrolls under the finger, and a
plain message (then recovery) when the server goes away. These tests do exactly that.
"""

import contextlib
import json
import re

import pytest
from browser_helpers import (
    ANSWER_TIMEOUT_MS,
    CHROMIUM,
    CHROMIUM_ARGS,
    FOUR,
    ONE,
    OUTPUT_DIR,
    SEVEN,
    SEVEN_BAR,
    SEVEN_LEG,
    SEVERAL_DIGITS,
    ZERO,
    AppServer,
    answering,
    bar_values,
    contrast_ratios,
    draw_with_finger,
    draw_with_mouse,
    draw_with_pen,
    open_page,
    read_pad,
    seen_bright_pixels,
)
from playwright.sync_api import Browser, JSHandle, Page, Playwright, expect

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]  # the server, playwright, browser and desktop fixtures

DIGITS = {"1": ONE, "7": SEVEN, "0": ZERO, "4": FOUR}

SETTLED = """() => new Promise(requestAnimationFrame).then(() =>
  Promise.all(document.getAnimations().map(a => a.finished)))"""
"""Resolves once the bars have finished moving to their new lengths."""


def record_pointer_types(page: Page) -> JSHandle:
    """A live list of the pointerType of every pointerdown on the pad."""
    return page.evaluate_handle(
        """() => {
          const kinds = [];
          const pad = document.getElementById("pad");
          pad.addEventListener("pointerdown", (e) => kinds.push(e.pointerType));
          return kinds;
        }"""
    )


def expect_answer(page: Page, digit: str) -> None:
    """The big digit, an aria-live summary, ten bars led by that digit, and the 28x28 view."""
    # Answers that came while drawing may already show the digit: wait for the final one.
    expect(page.locator("#result")).to_have_attribute(
        "aria-busy", "false", timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#digit")).to_have_text(digit, timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#summary")).to_contain_text(digit)
    expect(page.locator("#summary")).to_contain_text("%")
    # A clean digit is a confident answer: no "unsure" advice.
    expect(page.locator("#result")).to_have_attribute("data-state", "sure")
    expect(page.locator("#advice")).to_be_hidden()
    expect(page.locator("#bars .bar")).to_have_count(10)
    bars = bar_values(page)
    assert sorted(bars) == [str(d) for d in range(10)]
    assert max(bars, key=bars.get) == digit
    assert sum(bars.values()) == pytest.approx(1.0, abs=0.01)
    top = page.locator(f'#bars .bar[data-digit="{digit}"]')
    expect(top).to_have_class(re.compile(r"\btop\b"))
    page.evaluate(SETTLED)
    fill = top.locator(".bar-fill").bounding_box()
    track = top.locator(".bar-track").bounding_box()
    assert fill["width"] / track["width"] == pytest.approx(bars[digit], abs=0.03)
    assert 20 < seen_bright_pixels(page) < 400, "the 28x28 view should show a digit"


@pytest.mark.parametrize("digit", list(DIGITS))
def test_digits_are_recognized_while_drawing_without_a_click(desktop, digit: str) -> None:
    page, watch = desktop
    draw_with_mouse(page, DIGITS[digit])
    expect_answer(page, digit)
    assert watch.predictions() >= 1
    if digit == "7":
        page.screenshot(path=str(OUTPUT_DIR / "drawn-page.png"), full_page=True)


def test_strokes_are_smooth_sized_for_28x28_and_crisp_on_high_dpi(desktop) -> None:
    page, _ = desktop
    draw_with_mouse(page, [[(0.2, 0.5), (0.8, 0.5)]])
    pad = read_pad(page, [(0.5, 0.5), (0.5, 0.5 + 1 / 30), (0.5, 0.5 + 1 / 20)])
    assert pad["width"] == 2 * pad["cssWidth"], "backing store follows devicePixelRatio"
    centre, inside, outside = pad["at"]
    assert centre and inside and not outside, "ink width is about 1/13 of the pad's side"
    assert pad["ink"] == pytest.approx(0.6 / 13, rel=0.2)


def test_a_pen_draws_too(desktop) -> None:
    page, _ = desktop
    kinds = record_pointer_types(page)
    draw_with_pen(page, page.context.new_cdp_session(page), ONE[0])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    assert kinds.json_value() == ["pen"]
    assert read_pad(page, [(0.51, 0.5)])["at"] == [True]


def test_undo_and_clear_by_button_and_key(desktop) -> None:
    page, watch = desktop
    on_leg, on_bar = (0.55, 0.6), (0.3, 0.18)
    draw_with_mouse(page, [SEVEN_LEG])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    draw_with_mouse(page, [SEVEN_BAR])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    assert read_pad(page, [on_leg, on_bar])["at"] == [True, True]

    page.get_by_role("button", name="Undo").click()
    assert read_pad(page, [on_leg, on_bar])["at"] == [True, False]
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)

    page.keyboard.press("Control+z")
    assert read_pad(page)["ink"] == 0
    expect(page.locator("#summary")).to_have_text("Draw a digit")
    expect(page.locator("#digit")).to_have_text("?")

    draw_with_mouse(page, ONE)
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    page.get_by_role("button", name="Clear").click()
    assert read_pad(page)["ink"] == 0
    expect(page.locator("#summary")).to_have_text("Draw a digit")
    expect(page.locator("#bars .bar-value")).to_have_text(["\N{EN DASH}"] * 10)
    assert seen_bright_pixels(page) == 0

    draw_with_mouse(page, ZERO)
    expect(page.locator("#digit")).to_have_text("0", timeout=ANSWER_TIMEOUT_MS)
    page.keyboard.press("Escape")
    assert read_pad(page)["ink"] == 0
    expect(page.locator("#summary")).to_have_text("Draw a digit")

    # A blank pad is never sent: Recognize and Enter just ask for a digit.
    sent = watch.predictions()
    page.get_by_role("button", name="Recognize").click()
    page.locator("body").press("Enter")
    expect(page.locator("#summary")).to_have_text("Draw a digit")
    assert watch.predictions() == sent


def test_recognize_button_and_enter_ask_again(desktop) -> None:
    page, watch = desktop
    draw_with_mouse(page, SEVEN)
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator("#result")).to_have_attribute(
        "aria-busy", "false", timeout=ANSWER_TIMEOUT_MS
    )
    sent = watch.predictions()
    with page.expect_response("**/predict?include_input=true") as answer:
        page.get_by_role("button", name="Recognize").click()
    assert answer.value.ok
    request = answer.value.request
    assert request.headers["content-type"] == "image/png"
    seen = answer.value.json()["input"]
    assert len(seen) == 28 and all(len(row) == 28 for row in seen)
    with page.expect_response("**/predict?include_input=true"):
        page.locator("body").press("Enter")
    assert watch.predictions() == sent + 2
    expect(page.locator("#digit")).to_have_text("7")


def test_an_older_answer_never_overwrites_a_newer_one(desktop) -> None:
    page, watch = desktop
    held = []

    def hold_while_asked(route) -> None:
        if held_mode:
            held.append(route)
        else:
            route.continue_()

    held_mode = True
    page.route("**/predict*", hold_while_asked)
    draw_with_mouse(page, [SEVEN_LEG])
    page.wait_for_timeout(300)
    assert held, "drawing should have asked for a prediction"
    held_mode = False
    draw_with_mouse(page, [SEVEN_BAR])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)

    # The page cancelled every older request; letting them through now changes nothing.
    held_urls = {id(route.request) for route in held}
    aborted = [r for r in watch.failed if id(r) in held_urls]
    assert len(aborted) == len(held)
    for route in held:
        with contextlib.suppress(Exception):  # the request is already gone, which is the point
            route.continue_()
    page.wait_for_timeout(500)
    expect(page.locator("#digit")).to_have_text("7")


def test_low_confidence_says_so_and_suggests_what_helps(desktop) -> None:
    page, _ = desktop
    # How sure a model is about a scribble is the model's business; what the page does with
    # an unsure answer is ours. So this one answer, shaped as the contract says, is given.
    probabilities = {str(d): 0.02 for d in range(10)} | {"4": 0.45, "9": 0.39}
    unsure = {"digit": 4, "confidence": 0.45, "probabilities": probabilities, "blank": False}
    page.route("**/predict*", lambda route: route.fulfill(json=unsure))
    draw_with_mouse(page, FOUR)
    expect(page.locator("#summary")).to_have_text("Maybe 4? Only 45% sure.")
    expect(page.locator("#advice")).to_be_visible()
    expect(page.locator("#advice")).to_contain_text("could also be a 9")
    expect(page.locator("#advice")).to_contain_text("large")
    expect(page.locator("#result")).to_have_attribute("data-state", "unsure")


REJECTED = SEVERAL_DIGITS | {
    "reason": "not_a_digit",
    "message": "This does not look like a digit. Draw one digit, 0 to 9, large and clear.",
}


def test_not_a_digit_is_said_plainly_with_no_digit_highlighted(desktop) -> None:
    page, _ = desktop
    # Which drawings the model rejects is the model's business (tested in test_answers);
    # what the page shows for a rejection is ours, so this answer is given as the API says.
    page.route("**/predict*", lambda route: route.fulfill(json=REJECTED))
    draw_with_mouse(page, ZERO + ONE)
    expect(page.locator("#summary")).to_have_text("Not a digit")
    expect(page.locator("#advice")).to_have_text(REJECTED["message"])
    expect(page.locator("#result")).to_have_attribute("data-state", "rejected")
    expect(page.locator("#digit")).to_have_text("?")
    expect(page.locator("#bars .bar.top")).to_have_count(0)
    page.unroute("**/predict*")
    page.route("**/predict*", answering(SEVERAL_DIGITS))
    page.get_by_role("button", name="Recognize").click()
    expect(page.locator("#summary")).to_have_text("Several digits, not one")
    expect(page.locator("#advice")).to_have_text("This looks like several digits.")
    # The advice on the page says what to draw in each mode.
    expect(page.locator(".masthead .for-digit")).to_contain_text("one digit")
    expect(page.locator(".masthead .for-digit")).to_contain_text("large")


LETTER_A = [[(0.2, 0.9), (0.5, 0.1), (0.8, 0.9)], [(0.33, 0.55), (0.67, 0.55)]]


def test_a_letter_drawn_for_real_is_answered_not_a_digit(desktop) -> None:
    page, _ = desktop
    draw_with_mouse(page, LETTER_A)
    expect(page.locator("#result")).to_have_attribute(
        "data-state", "rejected", timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#result")).to_have_attribute(
        "aria-busy", "false", timeout=ANSWER_TIMEOUT_MS
    )
    expect(page.locator("#summary")).to_have_text(re.compile("^(Not a digit|Several digits)"))
    expect(page.locator("#advice")).to_be_visible()
    expect(page.locator("#bars .bar.top")).to_have_count(0)
    expect(page.locator("#history-list .history-answer")).to_have_text(["not a digit"])
    # A "not a digit" answer can still be corrected, but not confirmed.
    expect(page.get_by_role("group", name="Wrong? It was")).to_be_visible()
    expect(page.get_by_role("button", name="Right")).to_be_hidden()


def test_phone_touch_draws_without_scrolling(browser: Browser, server: AppServer) -> None:
    page, watch = open_page(
        browser,
        server,
        viewport={"width": 360, "height": 640},
        device_scale_factor=3,
        is_mobile=True,
        has_touch=True,
    )
    layout = page.evaluate(
        "() => ({scroll: document.documentElement.scrollHeight, inner: innerHeight,"
        " wide: document.documentElement.scrollWidth, width: innerWidth})"
    )
    assert layout["scroll"] > layout["inner"], "the page must be scrollable for this to mean much"
    assert layout["wide"] <= layout["width"], "nothing sticks out sideways"

    kinds = record_pointer_types(page)
    draw_with_finger(page, page.context.new_cdp_session(page), SEVEN[0])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    assert kinds.json_value() == ["touch"]
    assert page.evaluate("scrollY") == 0
    assert read_pad(page, [(0.5, 0.18)])["at"] == [True]
    answer = page.locator("#digit").bounding_box()
    assert answer["y"] + answer["height"] <= 640, "the answer shows without scrolling"
    page.screenshot(path=str(OUTPUT_DIR / "drawn-phone.png"), full_page=True)

    page.set_viewport_size({"width": 320, "height": 568})
    narrow = page.evaluate(
        "() => ({wide: document.documentElement.scrollWidth, width: innerWidth,"
        " pad: document.getElementById('pad').getBoundingClientRect().width})"
    )
    assert narrow["wide"] <= narrow["width"]
    assert narrow["pad"] >= 240, "the pad uses the width of a small phone"
    watch.assert_clean()
    page.context.close()


def test_the_keyboard_hint_goes_after_a_finger_and_comes_back_with_a_key(
    browser: Browser, playwright: Playwright, server: AppServer
) -> None:
    """A phone hides it from the start (Chromium's Pixel 7 matches (pointer: coarse)); a
    browser that says its pointer is fine (a laptop's touchpad, with a touch screen too)
    hides it while the last input was a finger."""
    phone, _ = open_page(browser, server, **playwright.devices["Pixel 7"])
    expect(phone.locator("#pad-help")).to_be_hidden()
    phone.context.close()

    page, watch = open_page(browser, server)  # a fine pointer; CDP's touches are real ones
    assert page.evaluate("matchMedia('(pointer: coarse)').matches") is False
    hint = page.locator("#pad-help")
    expect(hint).to_be_visible()
    cdp = page.context.new_cdp_session(page)
    draw_with_finger(page, cdp, SEVEN[0])
    expect(hint).to_be_hidden()
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    page.keyboard.press("Escape")  # a keyboard after all: the hint is for it
    expect(hint).to_be_visible()
    expect(page.locator("#summary")).to_have_text("Draw a digit")
    draw_with_finger(page, cdp, SEVEN[0])
    expect(hint).to_be_hidden()
    draw_with_mouse(page, SEVEN)
    expect(hint).to_be_visible()
    watch.assert_clean()
    page.context.close()


def test_keyboard_focus_order_labels_and_live_region(desktop) -> None:
    page, _ = desktop
    names = []
    for _ in range(4):
        page.keyboard.press("Tab")
        names.append(
            page.evaluate(
                "document.activeElement.labels?.[0]?.textContent.trim()"
                " || document.activeElement.textContent"
            )
        )
    assert names == ["Digit", "Undo", "Clear", "Recognize"]
    # The mode switch is a radio group: the arrow keys move between Digit and Number.
    page.get_by_role("radio", name="Digit").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name="Number")).to_be_checked()
    expect(page.locator("#summary")).to_have_text("Draw a number")
    expect(page.locator("#summary")).to_have_attribute("aria-live", "polite")
    expect(page.get_by_role("img", name=re.compile("Drawing pad"))).to_be_visible()
    expect(page.locator("#pad")).to_have_css("touch-action", "none")


TEXT = [
    "h1",
    ".masthead p",
    "#summary",
    "#advice",
    "#notice",
    "#bars-caption",
    ".bar-label",
    ".bar-value",
    ".hint",
    "#undo",
    "#recognize",
    ".seen figcaption",
    "#model-info",
    ".mode-switch label:first-of-type",
    ".mode-switch label:last-of-type",
    ".feedback-wrong",
    "#feedback-right",
    "#feedback-thanks",
    "#history-title",
    ".history-note",
    "#history-empty",
    "#history-csv",
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa(desktop, scheme: str) -> None:
    page, _ = desktop
    page.emulate_media(color_scheme=scheme)
    ratios = contrast_ratios(page, TEXT)
    low = {selector: round(ratio, 2) for selector, ratio in ratios.items() if ratio < 4.5}
    assert low == {}, f"text below 4.5:1 in the {scheme} scheme"


def test_installable_manifest_and_icons(desktop, server: AppServer) -> None:
    page, _ = desktop
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    response = page.request.get(server.url + href)
    assert response.ok
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = json.loads(response.body())
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == page.locator('meta[name="theme-color"]').get_attribute(
        "content"
    )
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        got = page.request.get(server.url + icon["src"])
        assert got.ok, icon["src"]
        assert got.headers["content-type"] == icon["type"]


def test_chromium_finds_the_page_installable(playwright: Playwright, server, tmp_path) -> None:
    # Playwright's usual contexts are incognito, where nothing installs: use a real profile.
    context = playwright.chromium.launch_persistent_context(
        tmp_path, executable_path=CHROMIUM, args=CHROMIUM_ARGS
    )
    try:
        page = context.new_page()
        page.goto(server.url)
        cdp = context.new_cdp_session(page)
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == []
        assert manifest["url"] == server.url + "manifest.webmanifest"
        assert cdp.send("Page.getInstallabilityErrors")["installabilityErrors"] == []
    finally:
        context.close()


def test_server_outage_is_reported_then_recovered(browser: Browser, server: AppServer) -> None:
    # Without a service worker (as over plain HTTP on a LAN) the page has no model of its own;
    # with one, it answers on the device instead (tests/test_offline.py).
    page, watch = open_page(browser, server, service_workers="block")
    draw_with_mouse(page, [SEVEN_LEG])
    expect(page.locator("#digit")).to_have_text("1", timeout=ANSWER_TIMEOUT_MS)
    notice = page.locator("#notice")
    expect(notice).to_be_hidden()

    server.stop()
    try:
        draw_with_mouse(page, [SEVEN_BAR])
        expect(notice).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        expect(notice).to_contain_text("Can't reach the server")
        assert read_pad(page, [(0.3, 0.18)])["at"] == [True], "the drawing is kept"
    finally:
        server.start()
    # No click, no new stroke: the page notices the server is back and answers.
    expect(notice).to_be_hidden(timeout=10_000)
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    watch.assert_clean(allowed_errors=r"net::ERR_CONNECTION_REFUSED|503")
    page.context.close()
