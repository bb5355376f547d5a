"""The result panel as a careful user meets it: the words, a panel that does not jump,
contrast in both schemes, touch targets on a Pixel 7, and states that say what is going on.

What the model answers is the model's business; what the page says and shows for each kind
of answer is ours, so most answers here are given as the API shapes them.
"""

import re

import pytest
from browser_helpers import (
    ANSWER_TIMEOUT_MS,
    DIGITS,
    FOUR,
    OUTPUT_DIR,
    SEVEN,
    SEVERAL_DIGITS,
    AppServer,
    answering,
    contrast_ratios,
    draw_with_finger,
    draw_with_mouse,
    number_strokes,
    open_page,
    place,
)
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]

EIGHT_ANSWER = {
    "digit": 8,
    "confidence": 0.97,
    "probabilities": {str(d): 0.0 for d in range(10)} | {"8": 0.97, "3": 0.03},
    "blank": False,
    "model_version": "test",
}
UNSURE_EIGHT = EIGHT_ANSWER | {
    "confidence": 0.45,
    "probabilities": {str(d): 0.0 for d in range(10)} | {"3": 0.4, "8": 0.45, "9": 0.15},
}


def wait_settled(page: Page) -> None:
    expect(page.locator("#result")).to_have_attribute(
        "aria-busy", "false", timeout=ANSWER_TIMEOUT_MS
    )


def test_the_words_take_articles_and_the_advice_offers_its_action(desktop) -> None:
    page, _ = desktop
    page.route("**/predict*", answering(EIGHT_ANSWER))
    draw_with_mouse(page, SEVEN)
    expect(page.locator("#summary")).to_have_text("It's an 8, 97% sure.")
    page.unroute("**/predict*")
    page.route("**/predict*", answering(UNSURE_EIGHT))
    page.get_by_role("button", name="Recognize").click()
    expect(page.locator("#advice")).to_contain_text("It could also be a 3.")

    page.unroute("**/predict*")
    page.route("**/predict*", answering(SEVERAL_DIGITS))
    page.get_by_role("button", name="Recognize").click()
    expect(page.locator("#summary")).to_have_text("Several digits, not one")
    page.get_by_role("button", name="Read it as a number").click()
    expect(page.locator("#pad")).to_have_attribute("data-aspect", "3")
    expect(page.get_by_role("radio", name="Number")).to_be_checked()


def test_the_number_field_speaks_with_the_pages_own_words(desktop) -> None:
    page, watch = desktop
    page.get_by_role("radio", name="Number").check()
    draw_with_mouse(page, place(DIGITS["1"], 0.5))
    wait_settled(page)
    field = page.get_by_label("The right number")
    field.fill("12a")
    sent = len(watch.posts("/feedback"))
    page.get_by_role("button", name="Send").click()
    message = field.evaluate("input => input.validationMessage")
    assert message == "Type the right number with digits only, 1 to 12 of them."
    assert len(watch.posts("/feedback")) == sent


def panel_layout(page: Page) -> tuple[float, float]:
    """The result panel's height and where its 28x28 view sits (what a jump would move)."""
    panel = page.locator("#result").bounding_box()
    seen = page.locator(".seen").bounding_box()
    return round(panel["height"]), round(seen["y"] - panel["y"])


def test_the_panel_keeps_its_place_and_a_new_answer_drops_the_old_thanks(desktop) -> None:
    page, _ = desktop
    empty = panel_layout(page)
    draw_with_mouse(page, SEVEN)
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    wait_settled(page)
    expect(page.get_by_role("button", name="Right")).to_be_visible()
    assert panel_layout(page) == empty, "the feedback row appeared without moving anything"

    page.get_by_role("button", name="Right").click()
    expect(page.locator("#feedback-thanks")).to_have_text("Thanks! Glad it was right.")
    assert panel_layout(page) == empty
    # A new answer within the thank-you's 2.5 s: the thanks belonged to the old one.
    page.get_by_role("button", name="Recognize").click()
    expect(page.get_by_role("button", name="Right")).to_be_visible()
    expect(page.locator("#feedback-thanks")).to_have_text("")
    page.keyboard.press("Escape")
    expect(page.locator("#feedback")).to_be_hidden()
    assert panel_layout(page) == empty, "nor when it went away"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_unsure_and_rejected_answers_meet_wcag_aa(desktop, scheme: str) -> None:
    page, _ = desktop
    page.emulate_media(color_scheme=scheme)
    page.route("**/predict*", answering(UNSURE_EIGHT))
    draw_with_mouse(page, FOUR)
    expect(page.locator("#result")).to_have_attribute("data-state", "unsure")
    ratios = contrast_ratios(page, ["#digit", "#summary", "#advice", "#answered-by"])
    page.unroute("**/predict*")
    page.route("**/predict*", answering(SEVERAL_DIGITS))
    page.get_by_role("button", name="Recognize").click()
    expect(page.locator("#result")).to_have_attribute("data-state", "rejected")
    rejected = contrast_ratios(page, ["#digit", "#summary", "#advice", "#switch-to-number"])
    ratios |= {f"rejected {k}": v for k, v in rejected.items()}
    print(f"\n{scheme}: { {k: round(v, 2) for k, v in ratios.items()} }")
    low = {selector: round(ratio, 2) for selector, ratio in ratios.items() if ratio < 4.5}
    assert low == {}, f"text below 4.5:1 in the {scheme} scheme"
    page.screenshot(path=str(OUTPUT_DIR / f"rejected-{scheme}.png"))


TARGETS = """() => [...document.querySelectorAll("button, summary, label:has(input), input")]
  .filter((e) => !e.closest("label") || e.tagName === "LABEL")  // a radio's target is its label
  .filter((e) => e.checkVisibility({ visibilityProperty: true }))
  .map((e) => [e.id || e.textContent.trim(), e.getBoundingClientRect()])
  .map(([name, r]) => [name.slice(0, 20), Math.round(r.width), Math.round(r.height)])"""


def test_on_a_pixel_7_every_target_is_44_px_and_the_states_say_what_is_happening(
    browser: Browser, playwright, server: AppServer
) -> None:
    # No service worker: with the model cached on the device, the page would answer itself.
    phone = playwright.devices["Pixel 7"]
    page, watch = open_page(browser, server, **phone, service_workers="block")
    # Before any drawing: an invitation, and a 28x28 view that says what it will show.
    expect(page.locator(".seen-empty")).to_be_visible()
    expect(page.locator("#history-empty")).to_contain_text("No drawings yet")
    cdp = page.context.new_cdp_session(page)
    draw_with_finger(page, cdp, SEVEN[0])
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    wait_settled(page)
    expect(page.locator(".seen-empty")).to_be_hidden()
    row = page.locator("#history-list .history-item").first
    expect(row.locator(".history-details")).to_contain_text(re.compile(r"\b20\d\d\b"))
    small = [t for t in page.evaluate(TARGETS) if t[1] < 44 or t[2] < 44]
    assert small == [], "touch targets under 44x44 px"
    page.screenshot(path=str(OUTPUT_DIR / "phone-digit.png"), full_page=True)

    # The server goes away before a drawing got its answer: no "Draw a digit" under it.
    page.get_by_role("button", name="Clear").click()
    for path in ("**/predict*", "**/model.onnx", "**/health/ready"):
        page.route(path, lambda route: route.abort())
    draw_with_finger(page, cdp, SEVEN[0])
    expect(page.locator("#notice")).to_contain_text("Can't reach the server")
    expect(page.locator("#summary")).to_have_text("No answer yet")
    watch.assert_clean(allowed_errors="Failed to load resource|net::ERR_FAILED")
    page.context.close()


SCREENSHOTS = OUTPUT_DIR / "screenshots"
"""The finished states, as docs/screenshots/ shows them (copied from here by hand)."""


def server_answer_as(changes: dict):
    """A route handler: the server's own answer (with the 28x28 input it saw), changed."""
    return lambda route: route.fulfill(json=route.fetch().json() | changes)


def test_screenshots_of_the_finished_states(browser: Browser, server: AppServer) -> None:
    page, watch = open_page(browser, server, device_scale_factor=1)
    SCREENSHOTS.mkdir(exist_ok=True)
    draw_with_mouse(page, SEVEN)
    expect(page.locator("#digit")).to_have_text("7", timeout=ANSWER_TIMEOUT_MS)
    wait_settled(page)
    page.screenshot(path=str(SCREENSHOTS / "digit.png"), full_page=True)
    for name, answer in (("unsure", UNSURE_EIGHT), ("not-a-digit", SEVERAL_DIGITS)):
        page.route("**/predict*", server_answer_as(answer))
        page.get_by_role("button", name="Recognize").click()
        expect(page.locator("#result")).to_have_attribute("data-state", re.compile("unsure|rej"))
        page.locator(".layout").screenshot(path=str(SCREENSHOTS / f"{name}.png"))
        page.unroute("**/predict*")
    page.get_by_role("button", name="Read it as a number").click()
    page.keyboard.press("Escape")
    draw_with_mouse(page, number_strokes("2026"))
    expect(page.locator("#digit")).to_have_text("2026", timeout=ANSWER_TIMEOUT_MS)
    wait_settled(page)
    page.screenshot(path=str(SCREENSHOTS / "number.png"), full_page=True)
    page.locator("#history").screenshot(path=str(SCREENSHOTS / "history.png"))
    page.get_by_role("link", name="The API and its documentation").click()
    expect(page.locator("#paths .operation").first).to_be_visible()
    page.locator("#op-post--predict").evaluate("section => section.scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "docs.png"))
    watch.assert_clean()
    page.context.close()


@pytest.mark.parametrize("width", [1100, 412])
def test_sure_unsure_and_rejected_answers_take_the_same_space(browser, server, width) -> None:
    page, watch = open_page(browser, server, viewport={"width": width, "height": 900})
    empty = panel_layout(page)
    draw_with_mouse(page, SEVEN)
    for answer in (EIGHT_ANSWER, UNSURE_EIGHT, SEVERAL_DIGITS):
        page.unroute("**/predict*")
        page.route("**/predict*", answering(answer))
        page.get_by_role("button", name="Recognize").click()
        expect(page.locator("#result")).to_have_attribute("aria-busy", "false")
        expect(page.locator("#summary")).not_to_have_text(re.compile("^Draw"))
        assert panel_layout(page) == empty, f"the panel moved for {answer['confidence']}"
    watch.assert_clean()
    page.context.close()


def test_a_number_answer_takes_the_space_kept_for_it(desktop) -> None:
    page, _ = desktop
    page.get_by_role("radio", name="Number").check()
    expect(page.locator("#summary")).to_have_text("Draw a number")
    empty = panel_layout(page)
    draw_with_mouse(page, number_strokes("2026"))
    expect(page.locator("#digit")).to_have_text("2026", timeout=ANSWER_TIMEOUT_MS)
    wait_settled(page)
    assert panel_layout(page) == empty
