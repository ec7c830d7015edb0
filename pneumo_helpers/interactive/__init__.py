"""Interactive figures that work on the published site with no kernel (Plotly).

A student reading the static site cannot run code, but can move a slider. Each figure
here is drawn by Plotly in the browser from the chapter's own computed data, carries a
static fallback image and a caption saying what to try (:class:`InteractiveFigure`), and
works in Colab and JupyterLab as well as on the site. :mod:`.sphinx` serves Plotly's
script from the site itself, so the pages work offline.
"""

from .explorers import (
    formats_explorer,
    formats_readout,
    npv,
    ppv,
    prevalence_explorer,
    prevalence_readout,
    rounds_explorer,
    rounds_readout,
    threshold_explorer,
    threshold_readout,
)
from .figure import MARKER, InteractiveFigure, cdn_url, figure_png, plotly_js_version

__all__ = [
    "MARKER",
    "InteractiveFigure",
    "cdn_url",
    "figure_png",
    "formats_explorer",
    "formats_readout",
    "npv",
    "plotly_js_version",
    "ppv",
    "prevalence_explorer",
    "prevalence_readout",
    "rounds_explorer",
    "rounds_readout",
    "threshold_explorer",
    "threshold_readout",
]
