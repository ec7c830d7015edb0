"""A headless Chromium for the tests, and how to drive the course's interactive figures in it.

:func:`find_browser` finds the browser (``PNEUMO_BROWSER``, else Chromium or Chrome on the
PATH; ``make test`` installs Debian's Chromium when none is present). The other functions
drive an interactive figure as a reader would (Playwright): sliders are moved with the
mouse, on the rail below the step's label, and legend entries are clicked. What they
return is read from the drawn page (the SVG text), not from the figure's data. Used by
the site's browser tests (tests/site) and the unit tests of pneumo_helpers.interactive.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

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


#: Plotly waits this long after a legend click to tell it from a double click (ms).
DOUBLE_CLICK_DELAY = 300

NUMBER = r"(n/a|[0-9]+(?:\.[0-9]+)?)"


def figures_on(page, timeout: float = 30_000) -> list[str]:
    """The interactive figures on the page, once each has been drawn."""
    slugs = page.evaluate(
        "() => Array.from(document.querySelectorAll('figure.pneumo-interactive'),"
        " f => f.dataset.figure)"
    )
    for slug in slugs:
        page.wait_for_selector(
            f'#pneumo-{slug}[data-drawn="true"]', state="attached", timeout=timeout
        )
    return slugs


def _plot(slug: str) -> str:
    return f"#pneumo-{slug}-plot"


def readout(page, slug: str) -> str:
    """The readout the figure displays now (its first annotation, as drawn).

    Plotly draws each ``<br>``-separated line of a text as its own ``tspan.line``; the lines
    are joined back with ``<br>``, so that the result reads like the figure's own readout.
    """
    text = page.locator(f'{_plot(slug)} g.annotation[data-index="0"] text.annotation-text')
    lines = text.locator("tspan.line").all_text_contents()
    return "<br>".join(line.strip() for line in lines) if lines else text.text_content().strip()


def slider_labels(page, slug: str) -> list[str]:
    """The labels of the figure's slider steps, in order (Plotly draws only those that fit)."""
    return page.evaluate(
        "sel => document.querySelector(sel)._fullLayout.sliders[0].steps.map(s => s.label)",
        _plot(slug),
    )


def step_position(rail: dict, index: int, n_steps: int) -> float:
    """Where step ``index`` sits on the rail (plotly.js: 8 px rail inset, 10 px step inset)."""
    if n_steps == 1:
        return rail["x"] + rail["width"] / 2
    return rail["x"] + 2 + (rail["width"] - 4) * index / (n_steps - 1)


def move_slider(page, slug: str, label: str, timeout: float = 5_000) -> str:
    """Click the slider's rail at ``label``'s step; return the readout drawn for that step."""
    labels = slider_labels(page, slug)
    if label not in labels:
        raise ValueError(f"{slug}: no slider step {label!r} among {labels}")
    index = labels.index(label)
    before = readout(page, slug)
    moved = active_step(page, slug) != label
    rail = page.locator(f"{_plot(slug)} rect.slider-rail-rect")
    rail.scroll_into_view_if_needed()
    box = rail.bounding_box()
    page.mouse.click(step_position(box, index, len(labels)), box["y"] + box["height"] / 2)
    page.wait_for_function(
        "([sel, i]) => { const gd = document.querySelector(sel);"
        " return gd && gd._fullLayout && gd._fullLayout.sliders[0].active === i; }",
        arg=[_plot(slug), index],
        timeout=timeout,
    )
    # The step's update is drawn after the slider moved: wait for the readout to change
    # (a broken step never changes it, and the caller's comparison then fails).
    selector = f'{_plot(slug)} g.annotation[data-index="0"] text.annotation-text'
    if moved:
        try:
            page.wait_for_function(
                "([sel, old]) => { const t = document.querySelector(sel); if (!t) return false;"
                " const lines = Array.from(t.querySelectorAll('tspan.line'),"
                " l => l.textContent.trim());"
                " return (lines.length ? lines.join('<br>') : t.textContent.trim()) !== old; }",
                arg=[selector, before],
                timeout=timeout,
            )
        except Exception:  # noqa: BLE001 - the readout did not change: return it as it is
            pass
    return readout(page, slug)


def active_step(page, slug: str) -> str:
    """The label of the step the slider shows as current."""
    index = page.evaluate(
        "sel => document.querySelector(sel)._fullLayout.sliders[0].active", _plot(slug)
    )
    return slider_labels(page, slug)[index]


def legend_names(page, slug: str) -> list[str]:
    return [
        t.strip()
        for t in page.locator(
            f"{_plot(slug)} g.legend g.traces text.legendtext"
        ).all_text_contents()
    ]


def drawn_lines(page, slug: str) -> int:
    """How many line traces are drawn in the plot area now."""
    return page.locator(f"{_plot(slug)} g.scatterlayer g.trace path.js-line").count()


def toggle_legend(page, slug: str, name: str) -> None:
    """Click a legend entry (Plotly then hides or shows that trace)."""
    names = legend_names(page, slug)
    if name not in names:
        raise ValueError(f"{slug}: no legend entry {name!r} among {names}")
    entry = page.locator(f"{_plot(slug)} g.legend g.traces").nth(names.index(name))
    entry.locator("rect.legendtoggle").click()
    page.wait_for_timeout(DOUBLE_CLICK_DELAY + 200)


def numbers(text: str, *names: str) -> dict[str, str]:
    """The numbers that follow each name in a readout, e.g. ``sensitivity 0.985``."""
    found = {}
    for name in names:
        match = re.search(re.escape(name) + r"\s+" + NUMBER, text)
        if match is None:
            raise AssertionError(f"no number after {name!r} in the readout {text!r}")
        found[name] = match.group(1)
    return found
