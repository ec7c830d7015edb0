"""What a chapter needs from its notebook: ``glue``, with or without myst-nb, and listings.

The book glues numbers into prose with myst-nb's ``glue``. Colab has no myst-nb (and
installing it would bring Sphinx into a student's runtime), so :func:`glue` uses
myst-nb's when it is installed and otherwise writes the very same output: a display
whose metadata names the value, which a notebook shows (or, with ``display=False``,
hides) and which the book would read all the same.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
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


def _is_guard(node: ast.stmt) -> bool:
    """An argument check: ``if ...: raise ...`` (no else), or a call of a ``_check`` helper."""
    if isinstance(node, ast.If) and not node.orelse:
        return all(isinstance(child, ast.Raise) for child in node.body)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):  # not ``x = _check()``
        func = node.value.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name.startswith(("_check", "check_"))
    return False


def idea_source(obj: Any, start: str | None = None, stop: str | None = None) -> str:
    """Return the source of a function or class without its docstring and argument checks.

    What a chapter lists is the idea: the signature and the lines that do the work.
    Docstrings (the chapter's prose explains) and guard clauses (``if ...: raise``, calls
    of ``_check...`` helpers) are left out; the full source is one click away in the
    package. ``start`` and ``stop`` cut an excerpt: from the first line containing
    ``start`` up to, not including, the first line after it containing ``stop``.

    Args:
        obj: a function, method or class.
        start: text of the excerpt's first line (default: the whole definition).
        stop: text of the first line after the excerpt (default: to the end).

    Raises:
        ValueError: ``start`` or ``stop`` is not in the source.
    """
    source = textwrap.dedent(inspect.getsource(obj))
    lines = source.splitlines()
    drop: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        definition = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list):
                continue
            dropped = []
            for index, child in enumerate(statements):
                docstring = definition and field == "body" and index == 0
                docstring = docstring and isinstance(child, ast.Expr)
                docstring = docstring and isinstance(child.value, ast.Constant)
                if (docstring and isinstance(child.value.value, str)) or _is_guard(child):
                    dropped.append(child)
            if len(dropped) == len(statements):  # a block of checks only: keep it
                dropped = dropped[:1] if definition else []
            for child in dropped:
                drop.update(range(child.lineno - 1, child.end_lineno))
    kept = [line for number, line in enumerate(lines) if number not in drop]
    if start is not None or stop is not None:
        kept = _excerpt(kept, start, stop, getattr(obj, "__qualname__", repr(obj)))
    # No blank line left where a docstring was, nor two blank lines in a row.
    tidy: list[str] = []
    for line in kept:
        after_blank_or_colon = not tidy or not tidy[-1].strip() or tidy[-1].rstrip().endswith(":")
        if not line.strip() and after_blank_or_colon:
            continue
        tidy.append(line)
    return "\n".join(tidy).rstrip() + "\n"


def _excerpt(lines: list[str], start: str | None, stop: str | None, name: str) -> list[str]:
    first = 0 if start is None else next((i for i, ln in enumerate(lines) if start in ln), None)
    if first is None:
        raise ValueError(f"{start!r} is not in the source of {name}: update the listing.")
    end = len(lines)
    if stop is not None:
        end = next((i for i in range(first + 1, len(lines)) if stop in lines[i]), None)
        if end is None:
            raise ValueError(f"{stop!r} is not in the source of {name}: update the listing.")
    body = textwrap.dedent("\n".join(lines[first:end])).splitlines()
    return [f"# {name}, excerpt (the full source is in the package)", *body]


def show_source(obj: Any, start: str | None = None, stop: str | None = None) -> None:
    """Display :func:`idea_source` of ``obj`` (or an excerpt) as highlighted Python."""
    from IPython.display import Code, display

    display(Code(idea_source(obj, start, stop), language="python"))


__all__ = ["glue", "idea_source", "show_source"]
