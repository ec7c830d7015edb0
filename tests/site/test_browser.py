"""The built site, checked in headless Chromium as a reader would see it.

Every page of the table of contents is served over HTTP on loopback and opened in a real
browser: it loads, its images render (natural width > 0), every link to another page of
the site (and to an anchor on it) resolves, and each chapter's Colab button points at
that chapter's notebook in the configured repository. A screenshot of a chapter page is
kept in ``_build/screenshots`` (uploaded as a CI artefact).

The browser is found by :func:`browser_tools.find_browser` (``PNEUMO_BROWSER``, else
Chromium or Chrome on the PATH); ``make test`` installs Debian's Chromium when none is
present.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
SCREENSHOT_PAGE = "chapters/02_baseline_cnn"


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p["chapters"]]


def notebook_pages() -> list[str]:
    return [page for page in toc_pages() if (ROOT / f"{page}.ipynb").exists()]


def _offline(route, site_url: str, log: dict) -> None:
    """The browser has no internet: a request outside the site is refused, and recorded."""
    url = route.request.url
    if url.startswith(site_url) or url.startswith("data:"):
        route.continue_()
    else:
        log["outside"].append(url)
        route.abort()


def _console_error(message, site_url: str, log: dict) -> None:
    if message.type != "error":
        return
    where = (message.location or {}).get("url", "")
    if message.text.startswith("Failed to load resource") and not where.startswith(site_url):
        return  # a refused request outside the site: recorded in "outside"
    log["errors"].append(f"{message.text} ({where})")


@pytest.fixture(scope="module")
def visited(browser, site_url):
    """Open every page of the table of contents once; record what the browser saw."""
    seen = {}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log = {"errors": [], "outside": [], "failed": []}
    page.on("pageerror", lambda error: log["errors"].append(f"uncaught: {error}"))
    page.on("console", lambda message: _console_error(message, site_url, log))
    page.on("response", lambda r: r.status >= 400 and log["failed"].append(f"{r.status} {r.url}"))
    page.route("**/*", lambda route: _offline(route, site_url, log))
    for entry in toc_pages():
        for kept in log.values():
            kept.clear()
        url = urljoin(site_url, f"{entry}.html")
        response = page.goto(url, wait_until="load", timeout=60_000)
        page.wait_for_timeout(300)  # scripts that run after load (theme, toggles) log too
        images = page.evaluate(
            """() => Array.from(document.images).map(img => ({
                src: img.currentSrc || img.src, complete: img.complete,
                width: img.naturalWidth}))"""
        )
        links = page.evaluate("() => Array.from(document.querySelectorAll('a[href]'), a => a.href)")
        seen[entry] = {
            "status": response.status if response else None,
            "title": page.title(),
            "h1": page.locator("h1").count(),
            "images": images,
            "links": links,
            "colab": page.evaluate(
                """() => Array.from(document.querySelectorAll(
                    'a[href^="https://colab.research.google.com/"]'), a => a.href)"""
            ),
            **{key: list(kept) for key, kept in log.items()},
        }
        if entry == SCREENSHOT_PAGE:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{Path(entry).name}.png"), full_page=True)
    page.close()
    return seen


@pytest.mark.parametrize("entry", toc_pages())
def test_page_loads_with_a_title_and_heading(visited, entry):
    seen = visited[entry]
    assert seen["status"] == 200, f"{entry}: HTTP {seen['status']}"
    assert seen["title"].strip(), f"{entry}: empty <title>"
    assert seen["h1"] >= 1, f"{entry}: no <h1> heading"


@pytest.mark.parametrize("entry", toc_pages())
def test_every_image_renders(visited, site_url, entry):
    local = [img for img in visited[entry]["images"] if img["src"].startswith(site_url)]
    broken = [img["src"] for img in local if not img["complete"] or img["width"] <= 0]
    assert not broken, f"{entry}: images that did not render: {broken}"
    if (ROOT / f"{entry}.ipynb").exists() and "plt.show()" in (ROOT / f"{entry}.ipynb").read_text():
        figures = [img for img in local if "/_images/" in img["src"]]
        assert figures, f"{entry}: the chapter draws figures but none is on the page"


def _ids_of(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("entry", toc_pages())
def test_no_internal_link_is_broken(visited, site_url, entry):
    broken = []
    for href in visited[entry]["links"]:
        if not href.startswith(site_url):
            continue  # external: GitHub, Colab, Binder, DOIs
        parsed = urlparse(href)
        relative = unquote(parsed.path)[len(urlparse(site_url).path) :]
        target = HTML / (relative or "index.html")
        if target.is_dir():
            target = target / "index.html"
        if not target.is_file():
            broken.append(href)
        elif parsed.fragment and target.suffix == ".html":
            if unquote(parsed.fragment) not in _ids_of(target):
                broken.append(href)
    assert not broken, f"{entry}: broken internal links: {sorted(set(broken))}"


@pytest.mark.parametrize("entry", notebook_pages())
def test_colab_button_opens_this_chapter(visited, entry):
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    slug = repo.removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{slug}/blob/main/{entry}.ipynb"
    assert visited[entry]["colab"] == [expected], f"{entry}: Colab links {visited[entry]['colab']}"


def test_a_screenshot_of_a_chapter_is_kept(visited):
    shot = SCREENSHOTS / f"{Path(SCREENSHOT_PAGE).name}.png"
    assert shot.is_file(), f"no screenshot at {shot}"
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 50_000, "the screenshot is suspiciously small (blank page?)"


@pytest.mark.parametrize("entry", toc_pages())
def test_no_page_logs_a_javascript_error(visited, entry):
    assert visited[entry]["errors"] == [], f"{entry}: {visited[entry]['errors']}"
    assert visited[entry]["failed"] == [], (
        f"{entry}: requests that failed: {visited[entry]['failed']}"
    )


@pytest.mark.parametrize("entry", toc_pages())
def test_no_page_fetches_plotly_from_outside_the_site(visited, entry):
    """Offline, the interactive figures must still draw: Plotly is served by the site itself.

    Other outside requests are refused and recorded, not failed: MathJax comes from its CDN.
    """
    outside = visited[entry]["outside"]
    assert not [url for url in outside if "plot" in url.lower()], f"{entry}: {outside}"
