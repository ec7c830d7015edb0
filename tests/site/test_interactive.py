"""The interactive figures on the built site, moved in headless Chromium with no internet.

Each chapter glues the numbers its own tables computed (with pneumo_helpers.evaluation),
for the settings its figure offers: myst-nb writes them to
``_build/jupyter_execute/chapters/<chapter>.glue.json``. The test moves each slider to
each of those settings with the mouse and asserts that the numbers the page then shows
are the chapter's; it toggles each reference model of chapter 8 in the legend and
asserts that its line goes and comes back. A slider whose steps stop updating the
numbers fails here.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
from browser_tools import drawn_lines, figures_on, move_slider, numbers, toggle_legend

from pneumo_helpers.interactive import MARKER, plotly_js_version

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
EXECUTED = ROOT / "_build" / "jupyter_execute"

#: The interactive figures each chapter page must hold.
FIGURES = {
    "chapters/02_baseline_cnn": ["threshold-explorer", "prevalence-explorer"],
    "chapters/08_federated_learning": ["rounds-explorer"],
    "chapters/10_edge_deployment": ["formats-explorer"],
}


def glued(entry: str, key: str):
    """A JSON value the chapter glued (a string holding JSON), read from its glue file."""
    path = EXECUTED / f"{entry}.glue.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: the site was not built from executed chapters")
    data = json.loads(path.read_text())
    if key not in data:
        pytest.fail(f"{entry} glued no {key!r}: glued {sorted(data)[:20]}...")
    return json.loads(ast.literal_eval(data[key]["data"]["text/plain"]))


def as_shown(value) -> str:
    """A glued number as the figures print it (NaN, glued as JSON null, is n/a)."""
    return "n/a" if value is None else f"{value:.3f}"


@pytest.fixture
def page(browser, site_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.outside = []

    def route(request_route):
        if request_route.request.url.startswith(site_url):
            request_route.continue_()
        else:
            page.outside.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    yield page
    page.close()


def open_chapter(page, site_url, entry):
    page.goto(urljoin(site_url, f"{entry}.html"), wait_until="load", timeout=60_000)
    assert figures_on(page) == FIGURES[entry], entry
    assert not [u for u in page.outside if "plot" in u], page.outside


@pytest.mark.parametrize("entry", sorted(FIGURES))
def test_figure_pages_serve_plotly_themselves_and_others_do_not_load_it(entry):
    script = HTML / "_static" / "plotly.min.js"
    assert script.is_file(), "the site does not serve plotly.min.js"
    assert f"plotly.js v{plotly_js_version()}" in script.read_text(errors="replace")[:300]
    html = (HTML / f"{entry}.html").read_text(encoding="utf-8")
    assert re.search(r'<script src="[./]*_static/plotly\.min\.js', html), entry
    for slug in FIGURES[entry]:
        assert f'id="pneumo-{slug}"' in html, f"{entry}: no {slug}"
        fallback = re.search(
            rf'id="pneumo-{slug}-fallback".*?<img alt="([^"]+)" src="data:image/png', html, re.S
        )
        assert fallback and len(fallback.group(1)) > 40, (
            f"{entry}: {slug} has no described fallback"
        )
    assert html.count("<figcaption>Try:") >= len(FIGURES[entry])
    intro = (HTML / "chapters" / "intro.html").read_text(encoding="utf-8")
    assert MARKER not in intro and "plotly.min.js" not in intro


def test_threshold_slider_shows_the_chapters_metrics(page, site_url):
    entry = "chapters/02_baseline_cnn"
    table = glued(entry, "threshold_table_json")
    open_chapter(page, site_url, entry)
    assert len(table) >= 3
    for threshold, row in table.items():
        shown = move_slider(page, "threshold-explorer", threshold)
        got = numbers(shown, "sensitivity", "specificity", "PPV", "NPV")
        assert got == {
            "sensitivity": as_shown(row["sensitivity"]),
            "specificity": as_shown(row["specificity"]),
            "PPV": as_shown(row["precision"]),
            "NPV": as_shown(row["npv"]),
        }, (threshold, shown, row)


def test_prevalence_slider_shows_the_chapters_predictive_values(page, site_url):
    entry = "chapters/02_baseline_cnn"
    table = glued(entry, "prevalence_table_json")
    open_chapter(page, site_url, entry)
    for prevalence, row in table.items():
        shown = move_slider(page, "prevalence-explorer", prevalence)
        got = numbers(shown, "PPV", "NPV")
        assert got == {"PPV": as_shown(row["PPV"]), "NPV": as_shown(row["NPV"])}, (
            prevalence,
            shown,
        )


def test_rounds_slider_and_hospital_toggles(page, site_url):
    entry = "chapters/08_federated_learning"
    table = glued(entry, "rounds_table_json")  # {round: {federation: AUC}}
    references = glued(entry, "references_json")
    open_chapter(page, site_url, entry)
    for round_number in [*list(table)[:-1][::-1], list(table)[-1]]:
        shown = move_slider(page, "rounds-explorer", round_number)
        expected = {name: f"{auc:.3f}" for name, auc in table[round_number].items()}
        assert numbers(shown, *expected) == expected, (round_number, shown)
    lines = drawn_lines(page, "rounds-explorer")
    assert lines == len(next(iter(table.values()))) + len(references)
    for name, value in references.items():
        legend = f"{name} ({value:.3f})"
        toggle_legend(page, "rounds-explorer", legend)
        assert drawn_lines(page, "rounds-explorer") == lines - 1, f"{legend} did not hide"
        toggle_legend(page, "rounds-explorer", legend)
        assert drawn_lines(page, "rounds-explorer") == lines, f"{legend} did not come back"


def test_formats_slider_shows_the_chapters_table(page, site_url):
    entry = "chapters/10_edge_deployment"
    table = glued(entry, "formats_table_json")  # {format: {candidate: {column: value}}}
    open_chapter(page, site_url, entry)
    for format_name in [*list(table)[1:], list(table)[0]]:
        shown = move_slider(page, "formats-explorer", format_name)
        for name, row in table[format_name].items():
            expected = (
                f"{name} {row['size (KB)']:.1f} KB, {row['latency p50 (ms)']:.3f} ms, "
                f"AUC {row['test AUC']:.3f}"
            )
            assert expected in shown, (format_name, expected, shown)
