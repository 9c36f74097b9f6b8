"""The README is the front page: what it says must stay true. Its commands are make targets, its
relative links resolve (files, and headings for anchors), the docs pages it links are in the site's
navigation, and its example is the shipped example DAG. Also what a page copies from code (the SQL
schema), and no line of prose that Markdown would turn into a heading."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^\s*```")


def fenced_blocks(text: str, language: str) -> list[str]:
    """The fenced code blocks of one language, in order."""
    return re.findall(rf"(?ms)^```{language}\n(.*?)^```", text)


def prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """A heading's anchor, as GitHub and MkDocs' toc make it for plain headings."""
    text = re.sub(r"[^\w\s-]", "", heading.strip().lower())
    return re.sub(r"\s+", "-", text)


def heading_anchors(page: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in prose_lines(page.read_text()) if re.match(r"#{1,6} ", line)}


def relative_links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall("\n".join(prose_lines(page.read_text())))
        if not re.match(r"[a-z]+:", target)
    ]


def nav_pages(nav: list) -> set[str]:
    pages: set[str] = set()
    for item in nav:
        for value in item.values() if isinstance(item, dict) else [item]:
            pages |= nav_pages(value) if isinstance(value, list) else {value}
    return pages


def test_the_readme_commands_are_make_targets():
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"(?m)^([\w.-]+):", makefile))
    phony = set(re.search(r"(?m)^\.PHONY:(.*)$", makefile).group(1).split())
    commands = [
        line.split()[1]
        for block in fenced_blocks(README.read_text(), "bash")
        for line in block.splitlines()
        if line.startswith("make ")
    ]
    assert commands[:2] == ["demo", "test"]
    assert set(commands) <= targets & phony


def test_every_relative_link_of_the_readme_resolves_to_a_file_and_heading():
    links = relative_links(README)
    assert len(links) >= 15  # the feature list links the docs pages
    for link in links:
        path, _, anchor = link.partition("#")
        target = (ROOT / path).resolve()
        assert target.is_file(), f"README.md links {link}: no such file"
        if anchor:
            assert anchor in heading_anchors(target), f"README.md links {link}: no such heading"


def test_the_docs_pages_the_readme_links_are_in_the_site():
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]
    built = {f"docs/{page}" for page in nav_pages(nav)}
    linked = {link.partition("#")[0] for link in relative_links(README) if link.startswith("docs/")}
    assert linked and linked <= built


def test_the_readme_example_is_the_shipped_example_dag():
    """The README cannot include a file, so its example is a copy: of the DAG file after its docstring,
    without the docs' snippet markers."""
    source = (ROOT / "example_dags" / "attendee_calendar_sync.py").read_text()
    code = source.split('"""', 2)[2].strip("\n")
    shipped = "\n".join(line for line in code.splitlines() if "--8<--" not in line)
    assert fenced_blocks(README.read_text(), "python")[0].strip("\n") == shipped


def test_the_schema_on_the_analytics_page_is_the_one_the_provider_creates():
    from airflow_provider_attendee.analytics.schema import DIALECTS, TableNames, ddl

    page_sql = fenced_blocks((ROOT / "docs" / "analytics.md").read_text(), "sql")[0]
    without_comments = "\n".join(line.split("--")[0].rstrip() for line in page_sql.splitlines())
    created = ";\n".join(ddl(TableNames(), DIALECTS["postgresql"])) + ";"
    assert without_comments.strip() == created


def test_the_action_items_table_on_the_analytics_page_is_the_one_the_notes_create():
    from airflow_provider_attendee.analytics.action_items import action_items_ddl
    from airflow_provider_attendee.analytics.schema import DIALECTS, TableNames

    action_items_sql = fenced_blocks((ROOT / "docs" / "analytics.md").read_text(), "sql")[1]
    without_comments = "\n".join(line.split("--")[0].rstrip() for line in action_items_sql.splitlines())
    assert without_comments.strip() == action_items_ddl(TableNames(), DIALECTS["postgresql"]) + ";"


def test_no_line_of_prose_starts_like_a_heading_without_being_one():
    """Python-Markdown makes a heading of any line starting with '#', e.g. a wrapped "#54659" issue
    reference in the middle of a paragraph; a real heading has a space after its hashes."""
    pages = [README, *sorted((ROOT / "docs").rglob("*.md"))]
    accidental = [
        f"{page.relative_to(ROOT)}: {line}"
        for page in pages
        for line in prose_lines(page.read_text())
        if line.startswith("#") and not re.match(r"#{1,6} \S", line)
    ]
    assert accidental == []
