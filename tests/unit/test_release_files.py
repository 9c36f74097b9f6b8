"""What a release relies on: the version and the changelog in step, and the docs' link checker."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

from packaging.version import Version

from airflow_provider_attendee import __version__

ROOT = Path(__file__).resolve().parents[2]


def changelog_sections() -> list[str]:
    return re.findall(r"(?m)^## (.+)$", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))


def test_the_version_and_the_changelog_are_in_step():
    """Between releases the version is the next one with .dev0 and the top section is "Unreleased"; at a
    release, the top section is that version. Released sections go down, all below the current version."""
    version = Version(__version__)
    sections = changelog_sections()
    released = [Version(s.split(" - ")[0]) for s in sections if s != "Unreleased"]
    if version.is_devrelease:
        assert sections[0] == "Unreleased"
        assert released and released[0] < version
    else:
        assert Version(sections[0].split(" - ")[0]) == version
    assert released == sorted(released, reverse=True)
    assert sections.count("Unreleased") <= 1


def test_the_link_checker_finds_broken_links_and_anchors(tmp_path):
    check = runpy.run_path(str(ROOT / "scripts" / "check_links.py"))
    (tmp_path / "guide").mkdir()
    (tmp_path / "index.html").write_text(
        '<h2 id="start">Start</h2><a href="guide/">ok</a> <a href="#start">ok</a> '
        '<a href="https://example.invalid/">external, not fetched</a> <a href="gone/">broken</a> '
        '<link rel="stylesheet" href="https://cdn.example.invalid/x.css">'
    )
    (tmp_path / "guide" / "index.html").write_text(
        '<a href="../index.html#start">ok</a> <a href="../index.html#nowhere">broken anchor</a> '
        '<a href="/guide/">ok, from the root</a>'
    )
    problems = check["broken_links"](tmp_path)
    assert problems == [
        "guide/index.html: ../index.html#nowhere (no such anchor)",
        "index.html: https://cdn.example.invalid/x.css (loaded from the internet)",
        "index.html: gone/ (no such file)",
    ]
