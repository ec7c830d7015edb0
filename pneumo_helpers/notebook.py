"""What a chapter needs from its notebook: ``glue``, with or without myst-nb.

The book glues numbers into prose with myst-nb's ``glue``. Colab has no myst-nb (and
installing it would bring Sphinx into a student's runtime), so :func:`glue` uses
myst-nb's when it is installed and otherwise writes the very same output: a display
whose metadata names the value, which a notebook shows (or, with ``display=False``,
hides) and which the book would read all the same.
"""

from __future__ import annotations

from typing import Any

#: The MIME prefix myst-nb gives a glued value that is not displayed.
GLUE_PREFIX = "application/papermill.record/"


def _glue(name: str, variable: Any, display: bool = True) -> None:
    from IPython.core.formatters import format_display_data
    from IPython.display import display as show

    bundle, metadata = format_display_data(variable)
    prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = {"name": name, "mime_prefix": prefix}
    show({prefix + key: value for key, value in bundle.items()}, raw=True, metadata=metadata)


try:
    from myst_nb import glue
except ImportError:  # Colab, or any runtime without the book's tools
    glue = _glue
    glue.__doc__ = "Glue ``variable`` under ``name`` for the book (myst-nb's format)."

__all__ = ["glue"]
