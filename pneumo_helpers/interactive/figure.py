"""One interactive figure: a Plotly figure, its static fallback, and a caption saying what to try.

:class:`InteractiveFigure` is what a chapter displays. Its output carries three renderings
of the same figure, and each place that shows a notebook picks the one it can draw:

* ``text/html``: the figure drawn by Plotly in the browser, no kernel needed. On the
  published site the Plotly script is served by the site itself (see
  :mod:`pneumo_helpers.interactive.sphinx`), so the page works offline; in Colab, classic
  Jupyter and VS Code, where no page has loaded Plotly, the snippet loads the script of the
  installed plotly's own version from Plotly's CDN. Beside the plot, a static image of it
  sits in a *details* element (for screen readers and print), opened by itself when the
  script cannot load.
* ``application/vnd.plotly.v1+json``: JupyterLab draws this with the renderer that the
  ``plotly`` package installs. That renderer shows the output's PNG first and turns it
  into the interactive figure when the pointer enters it.
* ``image/png``: the static fallback, drawn with matplotlib. The PDF export and viewers
  without JavaScript (GitHub's, nbviewer without scripts) show it.

Every slider step carries a *readout*, a line of numbers the figure displays for that
setting (e.g. the sensitivity at threshold 0.30). The chapter's own tables compute the
same numbers another way, and the site's browser test moves each slider and compares.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from dataclasses import dataclass, field

#: Marks the HTML of every interactive figure: the Sphinx extension adds the Plotly script
#: to exactly the pages that hold one.
MARKER = "pneumo-interactive"

#: The size of the static fallback image, in pixels at its resolution.
FALLBACK_DPI = 100


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    if not slug:
        raise ValueError(f"A figure's name must contain letters or digits, got {name!r}.")
    return slug


def plotly_js_version() -> str:
    """The version of plotly.js that the installed ``plotly`` package bundles."""
    from plotly.offline import get_plotlyjs_version

    return get_plotlyjs_version()


def cdn_url() -> str:
    """Plotly's CDN address of the bundled plotly.js version (used only outside the site)."""
    return f"https://cdn.plot.ly/plotly-{plotly_js_version()}.min.js"


def figure_png(fallback) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it (it is shown only as a fallback)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fallback.savefig(buffer, format="png", dpi=FALLBACK_DPI, bbox_inches="tight")
    plt.close(fallback)
    return buffer.getvalue()


@dataclass
class InteractiveFigure:
    """A Plotly figure with a static fallback image, a caption, and its slider readouts.

    Args:
        name: a short name; the HTML element's id is ``pneumo-<slug of name>``.
        figure: the ``plotly.graph_objects.Figure``.
        fallback_png: the static image (PNG bytes), e.g. from :func:`figure_png`.
        caption: what the figure shows and what to try, in one or two sentences.
        alt: a text description of the figure for screen readers.
        readouts: ``{slider step label: the readout line shown at that step}``.
    """

    name: str
    figure: object
    fallback_png: bytes
    caption: str
    alt: str
    readouts: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.slug = _slug(self.name)
        if not self.fallback_png.startswith(b"\x89PNG"):
            raise ValueError(f"{self.name}: the fallback must be PNG bytes (see figure_png).")
        if not self.caption.strip() or not self.alt.strip():
            raise ValueError(f"{self.name}: an interactive figure needs a caption and alt text.")

    @property
    def element_id(self) -> str:
        return f"pneumo-{self.slug}"

    def spec(self) -> dict:
        """The figure as plain JSON (data, layout), as plotly.js takes it."""
        return json.loads(self.figure.to_json())

    def html(self) -> str:
        """The HTML snippet: the plot, its static image, the caption, and the drawing script."""
        spec = self.spec()
        height = int(spec.get("layout", {}).get("height") or 450)
        png = base64.b64encode(self.fallback_png).decode("ascii")
        alt = html.escape(self.alt, quote=True)
        # Inside <script>, "</" would end the element: JSON escapes it.
        payload = json.dumps(spec, separators=(",", ":")).replace("</", "<\\/")
        config = json.dumps({"responsive": True, "displaylogo": False})
        element = self.element_id
        return f"""<figure class="{MARKER}" id="{element}" data-figure="{self.slug}">
<div class="{MARKER}-plot" id="{element}-plot" role="img" aria-label="{alt}"
 style="width:100%;height:{height}px"></div>
<details class="{MARKER}-fallback" id="{element}-fallback"><summary>Static image of this
figure (for print and screen readers)</summary>
<img alt="{alt}" src="data:image/png;base64,{png}" style="max-width:100%"/></details>
<figcaption>{html.escape(self.caption)}</figcaption>
</figure>
<script type="text/javascript">
(function () {{
  var spec = {payload};
  var element = "{element}";
  function fallback() {{
    var plot = document.getElementById(element + "-plot");
    if (plot) {{ plot.style.display = "none"; }}
    var details = document.getElementById(element + "-fallback");
    if (details) {{ details.open = true; }}
  }}
  function draw() {{
    window.Plotly.newPlot(element + "-plot", spec.data, spec.layout, {config})
      .then(function () {{ document.getElementById(element).dataset.drawn = "true"; }});
  }}
  if (window.Plotly) {{ draw(); return; }}
  var script = document.createElement("script");
  script.src = "{cdn_url()}";
  script.onload = draw;
  script.onerror = fallback;
  document.head.appendChild(script);
}})();
</script>"""

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        return {
            "text/html": self.html(),
            "application/vnd.plotly.v1+json": self.spec(),
            "image/png": base64.b64encode(self.fallback_png).decode("ascii"),
            "text/plain": f"Interactive figure ({self.name}): {self.caption}",
        }
