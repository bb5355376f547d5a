"""The API page at /docs: what a developer needs without reading the schema, in a real browser,
within the CSP; and the examples it shows are true to the types they illustrate."""

import base64
import json
import re

import httpx
import jsonschema
import pytest
from browser_helpers import ANSWER_TIMEOUT_MS, OUTPUT_DIR, SEVEN, Watch, draw_with_mouse
from playwright.sync_api import expect

from serving.openapi import EXAMPLES, SEVEN_PNG, build_spec

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_an_instance_of_its_type(name: str) -> None:
    spec = build_spec("test", 64)
    document = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    jsonschema.validate(spec["components"]["schemas"][name]["examples"][0], document)


def test_docs_without_a_slash_say_where_the_page_is(server) -> None:
    answer = httpx.get(f"{server.url}docs", timeout=10)
    assert answer.status_code == 308
    assert answer.headers["location"] == "docs/"
    assert 'href="docs/"' in answer.text


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_docs_describe_every_endpoint_and_type_and_try_predict(browser, server, scheme) -> None:
    spec = httpx.get(f"{server.url}openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1100, "height": 900})
    page = context.new_page()
    watch = Watch(page, server.url.rstrip("/"))
    page.goto(f"{server.url}docs/")
    expect(page.locator("#paths .operation")).to_have_count(operations)
    expect(page.locator("#types .type")).to_have_count(len(spec["components"]["schemas"]))
    assert spec["info"]["title"] in page.inner_text("h1")

    predict = page.locator("#op-post--predict")
    # Fields in words, a curl line, a sample of each answer, every status.
    expect(predict.locator("table").first).to_contain_text("include_input")
    expect(predict.locator("pre").first).to_contain_text("curl -s -X POST")
    for answer in ("Prediction", "NumberPrediction", "BatchPrediction"):
        expect(predict).to_contain_text(f"Sample response: 200 {answer}")
    expect(predict).to_contain_text("415")
    for operation in page.locator("#paths .operation").all():
        expect(operation.locator("pre").first).to_contain_text("curl -s")
    # The answer types in full, with every field described; backticks are code, not text.
    for name in ("Answer", "NumberAnswer", "NumberDigit", "Probabilities"):
        expect(page.locator(f"#type-{name} h3")).to_have_text(name)
    rows = page.locator("#type-Answer tbody tr")
    expect(rows).to_have_count(len(spec["components"]["schemas"]["Answer"]["properties"]))
    for row in rows.all():
        assert row.locator("td").nth(2).inner_text().strip(), "a field without a description"
    for cell in page.locator("#paths td table tbody td:nth-child(3)").all():
        assert cell.inner_text().strip(), "a form field without a description"
    assert "`" not in page.inner_text("main")
    assert page.get_by_role("link", name="← The drawing page").get_attribute("href") == "../"

    # Try it with a drawing: the server's own answer comes back.
    page.locator("#try").scroll_into_view_if_needed()
    draw_with_mouse(page, SEVEN, pad="#try-pad")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#try-status")).to_have_text(re.compile("^200"), timeout=ANSWER_TIMEOUT_MS)
    assert json.loads(page.inner_text("#try-response"))["digit"] == 7
    expect(page.locator("#try-curl")).to_contain_text("--data-binary @drawing.png")
    # ... and with a file.
    seven = {"name": "seven.png", "mimeType": "image/png", "buffer": base64.b64decode(SEVEN_PNG)}
    page.set_input_files("#try-file", files=[seven])
    page.get_by_role("radio", name="number").check()
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#try-curl")).to_contain_text("seven.png")
    expect(page.locator("#try-response")).to_contain_text(
        '"number": "7"', timeout=ANSWER_TIMEOUT_MS
    )
    if scheme == "light":
        page.screenshot(path=str(OUTPUT_DIR / "docs.png"))
    watch.assert_clean()  # a CSP violation is a console error; no request leaves the server
    context.close()
