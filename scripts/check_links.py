"""Check the internal links of the built docs site: every link to a page of the site, and every
``#anchor``, must exist. External links (http, https, mailto) are not fetched: the site is checked offline.
And the site must work offline: a page that loads a script, stylesheet or image from elsewhere fails.

``make docs`` runs it on ``site/`` after ``mkdocs build --strict``; prints each broken link and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class Page(HTMLParser):
    """The ids a page defines, the links it makes, and the resources it loads (scripts, styles, images)."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("id", "name"):
            if values.get(name):
                self.ids.add(str(values[name]))
        for name in ("href", "src"):
            if tag in ("a", "link", "img", "script") and values.get(name):
                self.links.append(str(values[name]))
                if tag != "a":
                    self.resources.append(str(values[name]))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def target_file(site: Path, page: Path, path: str) -> Path:
    """The file a link points to: relative to the page, or to the site's root when absolute (the 404
    page's links); a folder means its index.html."""
    if path.startswith("/"):
        target = (site / unquote(path).lstrip("/")).resolve()
    else:
        target = (page.parent / unquote(path)).resolve() if path else page
    if target.is_dir() or path.endswith("/"):
        target = target / "index.html"
    return target


def broken_links(site: Path) -> list[str]:
    site = site.resolve()
    pages = {path: parse(path) for path in site.rglob("*.html")}
    problems = []
    for path, page in sorted(pages.items()):
        for resource in page.resources:
            if urlsplit(resource).netloc:  # http(s)://... or //host/...: needs the internet
                problems.append(f"{path.relative_to(site)}: {resource} (loaded from the internet)")
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith(("mailto:", "javascript:", "data:")):
                continue  # external: not fetched
            target = target_file(site, path, parts.path)
            where = f"{path.relative_to(site)}: {link}"
            if not target.is_relative_to(site) or not target.exists():
                problems.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else parse(target).ids
                if unquote(parts.fragment) not in ids:
                    problems.append(f"{where} (no such anchor)")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/check_links.py", description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built site (mkdocs' site_dir)")
    args = parser.parse_args(argv)
    pages = sum(1 for _ in args.site.rglob("*.html"))
    problems = broken_links(args.site)
    for problem in problems:
        print(f"broken link: {problem}")
    print(f"links checked in {pages} pages: {len(problems)} broken")
    return 1 if problems or not pages else 0


if __name__ == "__main__":
    sys.exit(main())
