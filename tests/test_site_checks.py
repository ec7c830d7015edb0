"""The site checks' own helpers, tested without a built site.

tests/site runs only after `make test` has built _build/html; these tests load its
helpers directly, so a broken check shows up in the ordinary unit-test run too.
"""

import importlib.util
from pathlib import Path

SITE_TESTS = Path(__file__).resolve().parent / "site" / "test_site.py"


def _site_checks():
    spec = importlib.util.spec_from_file_location("site_checks", SITE_TESTS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_literal_markup_finds_asterisks_and_backticks_in_glued_text():
    checks = _site_checks()
    page = (
        '<p>Of the pairs, <span class="pasted-text">10</span> join training and validation: '
        '<span class="pasted-text">The duplicates inflate the *validation* scores</span>. '
        '<span class="pasted-text">its results are in `benchmarks/results.md`</span>.</p>'
    )
    assert checks.literal_markup(page) == [
        "The duplicates inflate the *validation* scores",
        "its results are in `benchmarks/results.md`",
    ]


def test_literal_markup_ignores_plain_glued_text_and_prose_outside_glue():
    checks = _site_checks()
    page = (
        "<p>The <em>validation</em> split, *rendered elsewhere*, and <code>`x`</code>: "
        '<span class="pasted-text">0.968 ± 0.004 (95 % CI 0.95–0.98), 2 × 3 px</span> '
        '<span class="pasted-text">sensitivity <b>0.9</b></span></p>'
    )
    assert checks.literal_markup(page) == []


def test_literal_markup_reads_nested_spans_inside_a_glue():
    checks = _site_checks()
    page = '<span class="pasted-text">a <span>*nested*</span> word</span> after'
    assert checks.literal_markup(page) == ["a *nested* word"]
