"""The built site, checked in headless Chromium as a reader would see it.

Every page of the table of contents is served over HTTP on loopback and opened in a real
browser: it loads, its images render (natural width > 0), every link to another page of
the site (and to an anchor on it) resolves, and each chapter's Colab button points at
that chapter's notebook in the configured repository. A screenshot of a chapter page is
kept in ``_build/screenshots`` (uploaded as a CI artefact).

The browser is found by :func:`find_browser` (``PNEUMO_BROWSER``, else Chromium or
Chrome on the PATH); ``make test`` installs Debian's Chromium when none is present.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# The flags a sandboxed, offline machine needs: no background connections to Google.
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_PAGE = "chapters/02_baseline_cnn"


def find_browser() -> str:
    """Return the path of a Chromium-family browser, or fail saying how to get one."""
    configured = os.environ.get("PNEUMO_BROWSER", "").strip()
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"PNEUMO_BROWSER={configured!r} is not a file: point it at a Chromium.")
        return configured
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        "The site is checked in headless Chromium and none was found. Install it "
        "(Debian/Ubuntu: `apt-get install chromium`; `make test` does this when it can) "
        "or set PNEUMO_BROWSER to a Chromium or Chrome executable."
    )


def toc_pages() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p["chapters"]]


def notebook_pages() -> list[str]:
    return [page for page in toc_pages() if (ROOT / f"{page}.ipynb").exists()]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep the test output readable
        pass


@pytest.fixture(scope="module")
def site_url():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make test` (it builds the site first)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = find_browser()
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=executable, args=BROWSER_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture(scope="module")
def visited(browser, site_url):
    """Open every page of the table of contents once; record what the browser saw."""
    seen = {}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    for entry in toc_pages():
        url = urljoin(site_url, f"{entry}.html")
        response = page.goto(url, wait_until="load", timeout=60_000)
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
