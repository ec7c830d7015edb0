"""pneumo_helpers.interactive: the figures' numbers, their outputs, and the figures in a browser.

The browser tests draw every explorer on a page of its own, move each slider to every
step with the mouse and read the numbers back from the drawn SVG; they also show that a
slider whose steps do not update the readout is caught, that a legend click hides and
shows a line, and that the snippet draws where no page has loaded Plotly (Colab, classic
Jupyter: it loads the script from Plotly's CDN, here served from the local file) and
falls back to its static image where the script cannot load.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from browser_tools import (
    BROWSER_ARGS,
    drawn_lines,
    figures_on,
    find_browser,
    legend_names,
    move_slider,
    numbers,
    readout,
    slider_labels,
    step_position,
    toggle_legend,
)

from pneumo_helpers import evaluation, interactive
from pneumo_helpers.interactive import sphinx as sphinx_ext


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = np.clip(rng.normal(0.3 + 0.4 * labels, 0.2), 0, 1)
    return labels, scores


@pytest.fixture(scope="module")
def edge_table():
    index = pd.MultiIndex.from_product([["small", "large"], ["LiteRT float32", "LiteRT int8"]])
    return pd.DataFrame(
        {
            "size (KB)": [30.0, 9.5, 400.0, 110.2],
            "latency p50 (ms)": [0.1, 0.09, 0.3, 0.21],
            "test AUC": [0.93, 0.931, 0.95, 0.949],
        },
        index=index,
    )


@pytest.fixture(scope="module")
def figures(scored, edge_table):
    labels, scores = scored
    curves = {"FedAvg, IID": {0: 0.5, 1: 0.8, 2: 0.9}, "FedAvg, non-IID": {0: 0.5, 1: 0.6, 2: 0.85}}
    return {
        "threshold": interactive.threshold_explorer(labels, scores, 0.47),
        "prevalence": interactive.prevalence_explorer(
            0.97, 0.7, {"screening": 0.05, "test split": 0.625}
        ),
        "rounds": interactive.rounds_explorer(curves, {"pooled": 0.95, "H1 alone": 0.8}),
        "formats": interactive.formats_explorer(
            edge_table, ["small", "large"], ["LiteRT float32", "LiteRT int8"]
        ),
    }


# --- the numbers ---------------------------------------------------------------------------


def test_ppv_and_npv_follow_bayes_rule():
    assert interactive.ppv(0.9, 0.8, 0.5) == pytest.approx(0.45 / (0.45 + 0.1))
    assert interactive.npv(0.9, 0.8, 0.5) == pytest.approx(0.4 / (0.4 + 0.05))
    # The split's own prevalence gives back the measured PPV: tp / (tp + fp).
    labels = np.array([1] * 30 + [0] * 70)
    scores = np.r_[np.linspace(0.4, 1, 30), np.linspace(0, 0.7, 70)]
    m = evaluation.binary_metrics(labels, scores, 0.5)
    prevalence = labels.mean()
    got = interactive.ppv(m["sensitivity"], m["specificity"], prevalence)
    assert got == pytest.approx(m["precision"])
    assert interactive.npv(m["sensitivity"], m["specificity"], prevalence) == pytest.approx(
        m["npv"]
    )
    assert interactive.ppv(0.9, 0.8, 0.05) < interactive.ppv(0.9, 0.8, 0.5)


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_probabilities_out_of_range_are_refused_with_a_sentence(bad):
    with pytest.raises(ValueError, match="must lie between 0 and 1"):
        interactive.ppv(0.9, 0.8, bad)
    with pytest.raises(ValueError, match="must lie between 0 and 1"):
        interactive.prevalence_explorer(bad, 0.8, {"screening": 0.05})


def test_threshold_readouts_are_the_evaluation_engines_metrics(figures, scored):
    labels, scores = scored
    figure = figures["threshold"]
    assert list(figure.readouts) == [f"{t:.2f}" for t in np.arange(0.05, 0.951, 0.05)]
    for label, text in figure.readouts.items():
        m = evaluation.binary_metrics(labels, scores, float(label))
        got = numbers(text, "sensitivity", "specificity", "PPV", "NPV")
        assert got == {
            "sensitivity": f"{m['sensitivity']:.3f}",
            "specificity": f"{m['specificity']:.3f}",
            "PPV": f"{m['precision']:.3f}",
            "NPV": f"{m['npv']:.3f}",
        }, label
    # Each slider step writes its own readout and confusion matrix; the start is the step
    # nearest the chosen threshold, which a dashed line marks.
    spec = figure.spec()
    slider = spec["layout"]["sliders"][0]
    assert slider["steps"][slider["active"]]["label"] == "0.45"
    for step in slider["steps"]:
        data, layout, traces = step["args"]
        assert layout["annotations[0].text"] == figure.readouts[step["label"]]
        m = evaluation.binary_metrics(labels, scores, float(step["label"]))
        assert data["z"] == [[[m["tn"], m["fp"]], [m["fn"], m["tp"]]]]
        assert spec["data"][traces[0]]["type"] == "heatmap"
    assert spec["layout"]["annotations"][0]["name"] == "readout"
    assert any(s["x0"] == 0.47 and s["line"]["dash"] == "dash" for s in spec["layout"]["shapes"])


def test_threshold_explorer_refuses_mismatched_input_with_a_sentence(scored):
    labels, scores = scored
    with pytest.raises(ValueError, match="two 1-D arrays of one length"):
        interactive.threshold_explorer(labels[:-1], scores, 0.5)
    with pytest.raises(ValueError, match="chosen_threshold must lie between 0 and 1"):
        interactive.threshold_explorer(labels, scores, 1.2)


def test_prevalence_readouts_follow_the_formula(figures):
    figure = figures["prevalence"]
    assert {"1%", "5%", "20%", "50%"} <= set(figure.readouts)
    for label, text in figure.readouts.items():
        p = float(label.rstrip("%")) / 100
        got = numbers(text, "PPV", "NPV")
        assert got["PPV"] == f"{interactive.ppv(0.97, 0.7, p):.3f}", label
        assert got["NPV"] == f"{interactive.npv(0.97, 0.7, p):.3f}", label
    marks = [a["text"] for a in figures["prevalence"].spec()["layout"]["annotations"][1:]]
    assert marks == ["screening (5%)", "test split (62%)"]


def test_rounds_readouts_and_reference_lines(figures):
    figure = figures["rounds"]
    assert figure.readouts == {
        "0": "Round 0: FedAvg, IID 0.500, FedAvg, non-IID 0.500",
        "1": "Round 1: FedAvg, IID 0.800, FedAvg, non-IID 0.600",
        "2": "Round 2: FedAvg, IID 0.900, FedAvg, non-IID 0.850",
    }
    names = [trace["name"] for trace in figure.spec()["data"]]
    assert names == ["FedAvg, IID", "FedAvg, non-IID", "pooled (0.950)", "H1 alone (0.800)"]
    with pytest.raises(ValueError, match="share no round"):
        interactive.rounds_explorer({"a": {1: 0.5}, "b": {2: 0.6}}, {})
    with pytest.raises(ValueError, match="at least one federation"):
        interactive.rounds_explorer({}, {})


def test_formats_readouts_and_bad_tables(figures, edge_table):
    figure = figures["formats"]
    assert figure.readouts["LiteRT int8"] == (
        "LiteRT int8:<br>small 9.5 KB, 0.090 ms, AUC 0.931<br>large 110.2 KB, 0.210 ms, AUC 0.949"
    )
    with pytest.raises(ValueError, match="lacks the columns"):
        interactive.formats_explorer(
            edge_table.drop(columns="test AUC"), ["small"], ["LiteRT int8"]
        )
    with pytest.raises(ValueError, match="has no row for"):
        interactive.formats_explorer(edge_table, ["tiny"], ["LiteRT int8"])


# --- the outputs ---------------------------------------------------------------------------


def test_each_output_carries_the_plot_its_fallback_and_a_caption(figures):
    for figure in figures.values():
        bundle = figure._repr_mimebundle_()
        assert set(bundle) == {
            "text/html",
            "application/vnd.plotly.v1+json",
            "image/png",
            "text/plain",
        }
        assert base64.b64decode(bundle["image/png"])[:8] == b"\x89PNG\r\n\x1a\n"
        assert json.loads(json.dumps(bundle["application/vnd.plotly.v1+json"]))["data"]
        page = bundle["text/html"]
        assert f'class="{interactive.MARKER}"' in page and "<figcaption>Try:" in page
        assert f'aria-label="{figure.alt[:20]}' in page.replace("&#x27;", "'")
        assert interactive.cdn_url() in page  # only where no page has loaded Plotly
        assert "<br>" not in figure.alt and "<br>" not in figure.caption  # read aloud as is
        assert "</script>" not in page.split("var spec = ")[1].split(";\n")[0]


def test_a_figure_needs_png_bytes_a_caption_and_alt_text(figures):
    base = figures["rounds"]
    with pytest.raises(ValueError, match="PNG bytes"):
        interactive.InteractiveFigure("x", base.figure, b"GIF89a", "Try: this.", "alt")
    with pytest.raises(ValueError, match="caption and alt text"):
        interactive.InteractiveFigure("x", base.figure, base.fallback_png, " ", "alt")
    with pytest.raises(ValueError, match="letters or digits"):
        interactive.InteractiveFigure("--", base.figure, base.fallback_png, "Try.", "alt")


def test_jupyterlab_has_the_renderer_for_plotlys_output():
    import sys

    extension = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-plotly"
    assert (extension / "package.json").is_file(), f"{extension}: plotly's JupyterLab renderer"


def test_the_sphinx_extension_adds_plotly_to_pages_with_figures_only(tmp_path):
    added = []
    app = SimpleNamespace(
        add_js_file=lambda name, **kw: added.append(name),
        outdir=str(tmp_path),
        builder=SimpleNamespace(format="html"),
    )
    sphinx_ext._add_script(app, "plain", "page.html", {"body": "<p>no figure</p>"}, None)
    assert added == []
    body = f'<figure class="{interactive.MARKER}" id="pneumo-x">'
    sphinx_ext._add_script(app, "chapter", "page.html", {"body": body}, None)
    assert added == ["plotly.min.js"]
    sphinx_ext._copy_script(app, None)
    copied = tmp_path / "_static" / "plotly.min.js"
    assert copied.read_bytes() == sphinx_ext.plotly_script().read_bytes()
    assert f"plotly.js v{interactive.plotly_js_version()}" in copied.read_text()[:200]


# --- in a browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=find_browser(), args=BROWSER_ARGS)
        try:
            yield instance
        finally:
            instance.close()


def _page(browser, tmp_path, figures, head: str):
    """A page holding the figures, opened with every request outside it refused."""
    path = tmp_path / "page.html"
    body = "".join(figure.html() for figure in figures)
    path.write_text(f"<html><head>{head}</head><body>{body}</body></html>")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.errors, page.outside = [], []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))

    def route(request_route):
        url = request_route.request.url
        if url.startswith("file://"):
            request_route.continue_()
        else:
            page.outside.append(url)
            request_route.abort()

    page.route("**/*", route)
    return page, path


def _local_plotly() -> str:
    return f'<script src="file://{sphinx_ext.plotly_script()}"></script>'


def test_every_slider_step_shows_its_numbers_in_the_browser(browser, figures, tmp_path):
    page, path = _page(browser, tmp_path, figures.values(), _local_plotly())
    page.goto(path.as_uri())
    assert figures_on(page) == [f.slug for f in figures.values()]
    for figure in figures.values():
        labels = slider_labels(page, figure.slug)
        assert labels == list(figure.readouts), figure.slug
        for label in [*labels[1:], labels[0]]:
            assert move_slider(page, figure.slug, label) == figure.readouts[label], label
    assert page.errors == [] and page.outside == []


def test_a_slider_that_stops_changing_the_numbers_is_caught(browser, figures, tmp_path):
    broken = copy.deepcopy(figures["prevalence"])
    for step in broken.figure.layout.sliders[0].steps:
        step.args = [{}, {}]  # the steps no longer update the readout
    page, path = _page(browser, tmp_path, [broken], _local_plotly())
    page.goto(path.as_uri())
    figures_on(page)
    shown = move_slider(page, broken.slug, "50%")
    assert shown != broken.readouts["50%"]
    assert shown == readout(page, broken.slug) == broken.readouts["5%"]


def test_a_legend_click_hides_and_shows_a_reference_line(browser, figures, tmp_path):
    figure = figures["rounds"]
    page, path = _page(browser, tmp_path, [figure], _local_plotly())
    page.goto(path.as_uri())
    figures_on(page)
    assert "pooled (0.950)" in legend_names(page, figure.slug)
    lines = drawn_lines(page, figure.slug)
    toggle_legend(page, figure.slug, "pooled (0.950)")
    assert drawn_lines(page, figure.slug) == lines - 1
    toggle_legend(page, figure.slug, "pooled (0.950)")
    assert drawn_lines(page, figure.slug) == lines


def test_without_the_site_the_snippet_loads_plotly_from_the_cdn(browser, figures, tmp_path):
    """Colab's and classic Jupyter's output frames have no Plotly: the snippet fetches it."""
    figure = figures["threshold"]
    page, path = _page(browser, tmp_path, [figure], "")
    page.unroute("**/*")
    script = sphinx_ext.plotly_script().read_bytes()
    page.route(
        interactive.cdn_url(),
        lambda r: r.fulfill(body=script, content_type="application/javascript"),
    )
    page.goto(path.as_uri())
    assert figures_on(page) == [figure.slug]
    assert move_slider(page, figure.slug, "0.30") == figure.readouts["0.30"]
    assert page.errors == []


def test_where_plotly_cannot_load_the_static_image_opens(browser, figures, tmp_path):
    figure = figures["rounds"]
    page, path = _page(browser, tmp_path, [figure], "")
    page.goto(path.as_uri())
    details = page.locator(f"#{figure.element_id}-fallback")
    details.wait_for(state="attached")
    page.wait_for_function(f"() => document.getElementById('{figure.element_id}-fallback').open")
    assert page.locator(f"#{figure.element_id}-fallback img").evaluate("i => i.naturalWidth") > 0
    assert page.outside == [interactive.cdn_url()]


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_in_jupyterlab_the_figure_draws_and_its_slider_moves(browser, figures, tmp_path):
    """JupyterLab draws Plotly's JSON with plotly's own renderer (installed with plotly).

    That renderer shows the output's PNG first and turns it into the interactive figure
    when the pointer enters it; then the slider moves as on the site.
    """
    import subprocess
    import sys
    import time
    import urllib.request

    import nbformat

    figure = figures["threshold"]
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("threshold_figure")
    cell.outputs = [nbformat.v4.new_output("display_data", data=figure._repr_mimebundle_())]
    notebook.cells = [cell]
    # A kernel named, or JupyterLab asks for one in a dialog that covers the page.
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, tmp_path / "figure.ipynb")
    port, token = _free_port(), "pneumo-test"
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={tmp_path}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within a minute")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{base}/lab/tree/figure.ipynb?token={token}", timeout=60_000)
        image = page.locator(".jp-RenderedPlotly img.plot-img")
        image.wait_for(state="visible", timeout=60_000)
        plot = ".js-plotly-plot"  # the renderer's own node becomes the plot
        for _ in range(10):  # the notebook is still laying out: point at the image again
            page.wait_for_timeout(1_000)
            box = image.bounding_box()
            if box is None:
                break
            page.mouse.move(0, 0)
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            if page.locator(plot).count():
                break
        page.wait_for_selector(plot, timeout=30_000)
        text = f'{plot} g.annotation[data-index="0"] text.annotation-text'
        page.wait_for_selector(text, timeout=30_000)
        assert page.locator(text).text_content() == figure.readouts["0.45"]
        rail = page.locator(f"{plot} rect.slider-rail-rect")
        rail.scroll_into_view_if_needed()
        labels = list(figure.readouts)
        x = step_position(rail.bounding_box(), labels.index("0.30"), len(labels))
        box = rail.bounding_box()
        page.mouse.click(x, box["y"] + box["height"] / 2)
        page.wait_for_function(
            "([sel, want]) => document.querySelector(sel)?.textContent === want",
            arg=[text, figure.readouts["0.30"]],
            timeout=10_000,
        )
        assert errors == [], errors
        page.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
