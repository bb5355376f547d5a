"""The API page at /docs renders the OpenAPI document in a real browser, within the CSP."""

import httpx
import pytest
from browser_helpers import Watch

pytestmark = pytest.mark.browser
pytest_plugins = ["browser_fixtures"]


def test_docs_page_lists_every_operation_without_errors(browser, server):
    spec = httpx.get(f"{server.url}openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    page = browser.new_page()
    watch = Watch(page, server.url.rstrip("/"))
    page.goto(f"{server.url}docs")
    page.wait_for_function(f"document.querySelectorAll('#paths details').length === {operations}")
    assert spec["info"]["title"] in page.inner_text("h1")
    page.locator("#paths details").first.click()
    assert "POST" in page.inner_text("#paths").upper()
    assert "/predict" in page.inner_text("#paths")
    watch.assert_clean()  # a CSP violation is a console error; no request leaves the server
    page.context.close()
