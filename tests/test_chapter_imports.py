"""Every chapter imports only what its setup cell installs on Colab.

On Colab a chapter's setup cell installs this package and its declared requirements: the
core list plus the chapter's ``EXTRAS`` (pyproject.toml). This test reads each chapter's
imports, and those of every ``pneumo_helpers`` module it reaches, and checks that each one
is the standard library, the package itself, or provided by a distribution among those
requirements and their dependencies. Imports guarded by ``except ImportError`` are optional
by design (the code says what to install) and are not counted.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest

from pneumo_helpers import colab

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pneumo_helpers"
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _guarded(tree: ast.AST) -> set[int]:
    """Return the ids of import nodes inside ``try`` blocks that catch ImportError."""
    guarded = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            caught = {ast.unparse(h.type) for h in node.handlers if h.type is not None}
            if caught & {"ImportError", "ModuleNotFoundError"}:
                for child in node.body:
                    guarded |= {id(n) for n in ast.walk(child)}
    return guarded


def imports_of(source: str, package: str = "pneumo_helpers") -> set[str]:
    """Return the dotted modules ``source`` imports (required ones only).

    ``package`` is the package the source belongs to, for its relative imports (a module
    of ``pneumo_helpers.fairness`` imports ``.audit`` from there and ``..config`` from
    ``pneumo_helpers``).
    """
    tree = ast.parse(source)
    optional, found = _guarded(tree), set()
    for node in ast.walk(tree):
        if id(node) in optional:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            if node.module.split(".")[0] == "pneumo_helpers":
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level >= 1:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            if node.module:
                base = f"{base}.{node.module}"
                found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}  # names may be modules
    return found


def package_file(module: str) -> tuple[Path, str] | None:
    """Return the source file of a ``pneumo_helpers`` module and the package it sits in."""
    parts = module.split(".")[1:]
    if not parts:
        return None
    file = PACKAGE.joinpath(*parts).with_suffix(".py")
    if file.is_file():
        return file, ".".join(module.split(".")[:-1])
    init = PACKAGE.joinpath(*parts, "__init__.py")
    if init.is_file():
        return init, module
    return None


def chapter_source(path: Path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code"]
    lines = [line for cell in code[1:] for line in cell.splitlines()]  # not the setup cell
    return "\n".join(line for line in lines if not line.lstrip().startswith(("!", "%")))


def chapter_extras(path: Path) -> tuple[str, ...]:
    setup = next(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    match = re.search(r"(?m)^EXTRAS = (\(.*?\))", setup)
    assert match, f"{path.name}: the setup cell names no EXTRAS"
    return ast.literal_eval(match.group(1))


def external_modules(path: Path) -> set[str]:
    """Return the top-level third-party modules a chapter needs, through pneumo_helpers."""
    todo, seen, external = list(imports_of(chapter_source(path))), set(), set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        top = module.split(".")[0]
        if top == "pneumo_helpers":
            found = package_file(module)
            if found is not None:
                todo += imports_of(found[0].read_text(), found[1])
            continue
        if top not in sys.stdlib_module_names and top != "__future__":
            external.add(top)
    return external


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_imports_resolve_from_its_declared_requirements(path):
    extras = chapter_extras(path)
    allowed = colab.dependency_closure(colab.requirements(*extras))
    providers = metadata.packages_distributions()
    missing = {}
    for module in sorted(external_modules(path)):
        dists = {colab.canonical(d) for d in providers.get(module, [])}
        if not dists & allowed:
            missing[module] = sorted(dists) or ["(not installed here)"]
    assert not missing, (
        f"{path.name} imports modules that its setup cell (EXTRAS={extras}) would not install "
        f"on Colab: {missing}. Declare them in pyproject.toml (core or an extra) or drop them."
    )


def test_the_check_sees_a_missing_requirement():
    assert "myst_nb" in imports_of("from myst_nb import glue")
    assert imports_of("try:\n    import myst_nb\nexcept ImportError:\n    pass") == set()
    flwr = {colab.canonical(d) for d in metadata.packages_distributions()["flwr"]}
    assert not flwr & colab.dependency_closure(colab.requirements())  # core alone lacks Flower
    assert flwr & colab.dependency_closure(colab.requirements("federated"))
    # Sub-packages are followed: fairlearn is imported by a module of pneumo_helpers.fairness.
    assert "fairlearn" in external_modules(ROOT / "chapters" / "07_bias_audit.ipynb")
