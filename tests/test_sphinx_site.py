"""The site's Sphinx extension keeps one copy of each script on a page."""

from sphinx.builders.html._assets import _JavaScript

from pneumo_helpers.sphinx_site import unique_scripts

THEBE = 'const THEBE_JS_URL = "https://unpkg.com/thebe@0.8.2/lib/index.js"'


def test_an_inline_script_added_as_none_and_as_empty_is_kept_once():
    # What Sphinx 7.4 hands the page: the builder's copy (None) and the registry's ('').
    scripts = [
        _JavaScript("_static/doctools.js", priority=200),
        _JavaScript(None, body=THEBE),
        _JavaScript("_static/sphinx-thebe.js", **{"async": "async"}),
        _JavaScript("", body=THEBE),
    ]
    kept = unique_scripts(scripts)
    assert kept == scripts[:3]


def test_different_scripts_and_plain_strings_are_all_kept():
    scripts = [
        _JavaScript(None, body="let a = 1;"),
        _JavaScript(None, body="let b = 2;"),
        _JavaScript(None, body="let a = 1;", priority=800),
        "_static/custom.js",
    ]
    assert unique_scripts(scripts) == scripts
