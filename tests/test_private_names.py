"""No private name crosses a module boundary or appears in a chapter.

A name that starts with one underscore belongs to its module: other modules of
``pneumo_helpers`` and the chapters use only public names, so that a module can change its
insides without breaking a chapter, and a chapter shows students only what the package
stands behind. The test reads the source (no import) of every module and every chapter's
code cells and fails on

* ``module._name``: an attribute starting with one underscore, read from a name that an
  import bound to a module of the package (``from pneumo_helpers import evaluation`` then
  ``evaluation._check``, or ``pneumo_helpers.evaluation._check``);
* ``from .x import _name`` or ``from pneumo_helpers.x import _name``.

Dunder names (``__version__``) are public by convention; ``self._x`` and a module's own
private names are fine, and so are other libraries' documented underscore APIs
(``sys._getframe``), which are theirs to keep.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "pneumo_helpers").rglob("*.py"))
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _ours(node: ast.ImportFrom | None, module: str = "") -> bool:
    """True when an import names this package (relative, or ``pneumo_helpers...``)."""
    if node is not None and node.level > 0:
        return True
    name = module if node is None else node.module or ""
    return name == "pneumo_helpers" or name.startswith("pneumo_helpers.")


def _root(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def private_uses(source: str) -> list[str]:
    """Return ``"line: text"`` for every private name ``source`` takes from a package module."""
    tree = ast.parse(source)
    modules: set[str] = set()  # local names bound to the package or its modules
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _ours(None, alias.name):
                    modules.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and _ours(node):
            for alias in node.names:
                if _is_private(alias.name):
                    module = "." * node.level + (node.module or "")
                    found.append(f"{node.lineno}: from {module} import {alias.name}")
                else:  # a module or a public name: only modules matter below
                    modules.add(alias.asname or alias.name)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _is_private(node.attr)
            and _root(node.value) in modules
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(set(found), key=lambda item: int(item.split(":")[0]))


def chapter_code(path: Path) -> str:
    """Return a chapter's code cells as one Python source (shell and magic lines left out)."""
    cells = nbformat.read(path, as_version=4).cells
    lines = [
        line
        for cell in cells
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if not line.lstrip().startswith(("!", "%"))
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_take_no_private_names_from_other_modules(path):
    uses = private_uses(path.read_text())
    assert not uses, (
        f"{path.relative_to(ROOT)} uses private names of other modules: {uses}. "
        "Make the name public (with a docstring) in the module that owns it, or keep the "
        "code in that module."
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapters_use_no_private_names(path):
    uses = private_uses(chapter_code(path))
    assert not uses, (
        f"{path.name} uses private names: {uses}. Chapters call the public helpers; show "
        "the public function (inspect.getsource) rather than a private one."
    )


@pytest.mark.parametrize(
    "source",
    [
        "from pneumo_helpers import evaluation\nevaluation._check_binary(1, 2)",
        "from . import evaluation\nx = evaluation._METRIC_NAMES",
        "from .evaluation import _check_binary",
        "from ..evaluation.metrics import _ratio",
        "import pneumo_helpers.fairness as fairness\nfairness._point_metrics",
        "import pneumo_helpers\npneumo_helpers.evaluation._check_binary",
        "from pneumo_helpers.fairness import _run_audit",
    ],
)
def test_the_scan_sees_private_names_taken_from_modules(source):
    assert private_uses(source)


@pytest.mark.parametrize(
    "source",
    [
        "class A:\n    def f(self):\n        return self._x",
        "def _helper():\n    pass\n\n_helper()",
        "import keras\nkeras.__version__",
        "from __future__ import annotations",
        "from pneumo_helpers import evaluation\nevaluation.check_binary(1, 2)",
        "frame = object()\nframe._private",  # not a module
        "import sys\nsys._getframe(1)",  # another library's documented API
    ],
)
def test_the_scan_allows_own_privates_dunders_and_attributes_of_objects(source):
    assert not private_uses(source)
