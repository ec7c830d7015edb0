"""A Sphinx extension of the course's site: each page lists each of its scripts once.

Why it is needed: Sphinx 7.4 (the newest that Jupyter Book 1 allows) writes an inline
script twice when an extension adds it with ``app.add_js_file(None, body=...)`` after the
HTML builder is initialised. ``Sphinx.add_js_file`` hands the builder the filename ``None``,
while the builder, when it prepares writing, adds the registry's copy again as ``''``;
the two copies compare unequal, so both reach the page. sphinx-thebe (which Jupyter Book
always loads) declares ``const THEBE_JS_URL`` that way, and the second declaration is an
uncaught ``SyntaxError`` on every page; sphinx-togglebutton's ``togglebuttonSelector`` is
written twice too. Sphinx fixed it upstream in 2025 (sphinx-doc/sphinx#13402, a Sphinx 8
release), but Jupyter Book 1 requires ``sphinx~=7.0``. So this handler drops the repeated
copies from each page's ``script_files``, reading ``None`` and ``''`` as the same (empty)
filename; with a fixed Sphinx it finds nothing to drop.

It is loaded from ``_config.yml`` (``sphinx: extra_extensions``).
"""

from __future__ import annotations

from typing import Any

# After the other extensions' html-page-context handlers, which may add scripts to a page.
_LATE = 900


def _script_key(script: Any) -> tuple:
    """What makes two script assets the same tag: filename (None read as ''), priority, attrs."""
    attributes = getattr(script, "attributes", None)
    if attributes is None:  # a plain string put in by a template or html_context
        return ("str", str(script))
    return (
        script.filename or "",
        getattr(script, "priority", 500),
        tuple(sorted(attributes.items())),
    )


def unique_scripts(scripts: list) -> list:
    """The scripts in their order, each kept at its first occurrence."""
    seen = set()
    kept = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    return kept


def _drop_repeated_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if isinstance(scripts, list):
        context["script_files"] = unique_scripts(scripts)


def setup(app) -> dict[str, Any]:
    app.connect("html-page-context", _drop_repeated_scripts, priority=_LATE)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
