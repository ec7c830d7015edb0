"""Checks on the built site (run by `make test` after `jupyter-book build`).

They read _build/html as a reader's browser would get it: every page of the table of
contents exists, every chapter shows its executed check cell and its figures, glued
numbers were filled in (as plain text, without literal markdown), and the Colab button
opens the right notebook.
"""

import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.fixture(scope="module", autouse=True)
def built_site():
    if not (HTML / "index.html").exists():
        pytest.fail("_build/html is missing: run `make test` (it builds the site first)")


def toc_entries() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    return [toc["root"]] + [c["file"] for p in toc.get("parts", []) for c in p["chapters"]]


@pytest.mark.parametrize("entry", toc_entries())
def test_every_page_of_the_toc_is_built(entry):
    page = HTML / f"{entry}.html"
    assert page.exists(), f"{page} was not built"
    assert "<h1" in page.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_page_shows_its_executed_check_and_figures(path):
    html = (HTML / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8")
    assert "Check passed" in html, f"{path.stem}: the check cell's output is not on the page"
    assert "output traceback" not in html, f"{path.stem}: an error traceback is on the page"
    has_plots = any("plt.show()" in c.source for c in nbformat.read(path, as_version=4).cells)
    if has_plots:
        assert re.search(r'<img[^>]+src="[^"]*_images/[^"]+\.png"', html), (
            f"{path.stem}: no figure rendered"
        )
        for src in re.findall(r'<img[^>]+src="([^"]*_images/[^"]+)"', html):
            assert (HTML / "chapters" / src).resolve().is_file(), f"missing image {src}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glued_values_are_filled_in(path):
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    if "{glue:" not in prose:
        pytest.skip(f"{path.stem} glues nothing into its prose")
    html = (HTML / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8")
    assert "{glue" not in html and "glue:text" not in html
    assert 'class="pasted-text"' in html, f"{path.stem}: no glued value on the page"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_button_opens_this_notebook(path):
    html = (HTML / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8")
    repo = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    slug = repo.removeprefix("https://github.com/")
    expected = f"https://colab.research.google.com/github/{slug}/blob/main/chapters/{path.name}"
    assert expected in html, f"{path.stem}: no Colab link to {expected}"


class _TableCells(HTMLParser):
    """Collects the text of every table cell on a page."""

    def __init__(self):
        super().__init__()
        self.depth, self.cell, self.cells = 0, None, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "table"
        if self.depth and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        self.depth -= tag == "table"
        if tag in ("td", "th") and self.cell is not None:
            self.cells.append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def unrounded(cell: str) -> bool:
    """More than four significant decimals, e.g. 0.996078 or 43.500000 (but not 0.00001).

    Identifiers are not measurements: a dotted DICOM UID (1.2.826.0.1.3680043...) or a run
    of more than 17 digits (more than any float64 prints, e.g. dicognito's 2.1196225903...)
    is left alone.
    """
    cell = re.sub(r"\d+(?:\.\d+){2,}\.?", "", cell)  # dotted UIDs, whole or shortened
    decimals = [d for d in re.findall(r"(\d+)\.(\d+)", cell) if len("".join(d).lstrip("0")) <= 17]
    return any(len(d.lstrip("0")) > 4 for _, d in decimals)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_tables_are_rounded(path):
    parser = _TableCells()
    parser.feed((HTML / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8"))
    long = [cell for cell in parser.cells if unrounded(cell)]
    assert not long, f"{path.stem}: round the table(s) showing {long[:6]}"


def test_the_rounding_check_sees_unrounded_cells():
    assert unrounded("0.996078") and unrounded("43.500000") and unrounded("[0.123456]")
    assert not unrounded("0.00001") and not unrounded("0.968 ± 0.004") and not unrounded("1214")
    assert not unrounded("1.2.826.0.1.3680043.8.498.52...") and not unrounded("1.2.840.10008.1.2")
    assert not unrounded("2.11962259031616906375748850...")  # a UID of 28 digits, shortened
    assert unrounded("uid 1.2.3.4, AUC 0.94512")  # a UID beside a long number hides nothing


class _PastedText(HTMLParser):
    """Collects the text of every glued value (myst-nb's ``pasted-text`` spans) on a page."""

    def __init__(self):
        super().__init__()
        self.depth, self.texts = 0, []

    def handle_starttag(self, tag, attrs):
        if self.depth:
            self.depth += tag == "span"
        elif tag == "span" and "pasted-text" in (dict(attrs).get("class") or "").split():
            self.depth, self.texts = 1, [*self.texts, ""]

    def handle_endtag(self, tag):
        if self.depth and tag == "span":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.texts[-1] += data


def literal_markup(html: str) -> list[str]:
    """Glued texts that show markdown literally: a *word* in asterisks, or a backtick.

    ``{glue:text}`` pastes a string as it is, so markdown inside it reaches the reader
    as asterisks and backticks; the chapters must glue plain text.
    """
    parser = _PastedText()
    parser.feed(html)
    return [t for t in parser.texts if "`" in t or re.search(r"\*[^\s*][^*]*\*", t)]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_glued_text_shows_no_literal_markdown(path):
    html = (HTML / "chapters" / f"{path.stem}.html").read_text(encoding="utf-8")
    shown = literal_markup(html)
    assert not shown, f"{path.stem}: glued text shows markdown literally: {shown[:4]}"


def test_the_markup_check_sees_literal_markdown():
    page = (
        '<p>A <span class="pasted-text">0.95</span> and <span class="pasted-text">'
        "The duplicates inflate the *validation* scores</span>, "
        '<span class="pasted-text">see `benchmarks/results.md`</span>; '
        "<em>prose</em> *outside* a glue is not checked.</p>"
    )
    assert literal_markup(page) == [
        "The duplicates inflate the *validation* scores",
        "see `benchmarks/results.md`",
    ]
    plain = '<span class="pasted-text">2 × 3 = 6, and 95 % CI 0.90–0.97</span>'
    assert literal_markup(plain) == []
