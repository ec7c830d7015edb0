"""Sphinx extension: serve Plotly's script from the site, on the pages that draw with it.

Registered in ``_config.yml`` (``sphinx: extra_extensions``). Plotly's script is copied
from the installed ``plotly`` package into the site's ``_static`` folder, and added to the
``<head>`` of exactly the pages whose body holds an interactive figure
(:data:`~pneumo_helpers.interactive.figure.MARKER`). Loaded in the head, before the
figures' own scripts run, it lets them draw without fetching anything: the pages work
offline, and no page without a figure pays for the script's 4 MB.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from .figure import MARKER

SCRIPT = "plotly.min.js"


def plotly_script() -> Path:
    """The plotly.min.js that the installed ``plotly`` package bundles."""
    import plotly

    path = Path(plotly.__file__).parent / "package_data" / SCRIPT
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: the installed plotly package has no bundled script; "
            "reinstall it with `pip install --force-reinstall plotly`."
        )
    return path


def _add_script(app, pagename, templatename, context, doctree) -> None:
    if MARKER in context.get("body", ""):
        app.add_js_file(SCRIPT, priority=400)  # for this page only (Sphinx resets after it)


def _copy_script(app, exception) -> None:
    if exception is None and app.builder.format == "html":
        static = Path(app.outdir) / "_static"
        static.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(plotly_script(), static / SCRIPT)


def setup(app):
    plotly_script()  # fail at the start of a build, not at its end
    app.connect("html-page-context", _add_script)
    app.connect("build-finished", _copy_script)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
