"""The README and docs/ stay a manual: short, linked to files that exist, about the product."""

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 500
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#+ (.+)$", re.MULTILINE)
WORK_LOG_WORDS = re.compile(r"\b(issues?|sessions?)\b", re.IGNORECASE)
RUNTIME_SESSIONS = re.compile(r"\bmodel session\b|\bthreads per session\b")
"""onnxruntime's own word, in the Configuration table generated from serving/settings.py."""


def prose(page: Path) -> str:
    """The page without its fenced code blocks, whose brackets are not links."""
    return FENCE.sub("", page.read_text(encoding="utf-8"))


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {anchor(h) for h in HEADING.findall(prose(page))}


def relative_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(prose(page)) if not re.match(r"[a-z]+:", t)]


def leads_to_heading(page: Path, fragment: str) -> bool:
    """No fragment, a file that is not Markdown, or a heading the page has."""
    return not fragment or page.suffix != ".md" or fragment in anchors(page)


def broken_links(page: Path) -> list[str]:
    """Relative links whose file, or whose heading in a Markdown file, does not exist."""
    broken = []
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists() or not leads_to_heading(resolved, fragment):
            broken.append(target)
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_points_to_a_file_and_heading_that_exist(page: Path):
    assert not broken_links(page), f"{page.name}: broken links {broken_links(page)}"


def test_the_link_checker_finds_a_missing_file_and_a_missing_heading(tmp_path: Path):
    page = tmp_path / "page.md"
    page.write_text(
        "# Top\n\n[ok](#top) [gone](missing.md) [no heading](#nowhere) [web](https://a.b)\n"
        "```sh\n[not a link](in-code.md)\n```\n"
    )
    assert relative_links(page) == ["#top", "missing.md", "#nowhere"]
    assert broken_links(page) == ["missing.md", "#nowhere"]


def test_the_readme_is_at_most_500_lines():
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_the_manual_describes_the_product_not_its_work_log(page: Path):
    found = WORK_LOG_WORDS.findall(RUNTIME_SESSIONS.sub("", page.read_text(encoding="utf-8")))
    assert not found, f"{page.name} mentions {found}: the git log holds the history"
