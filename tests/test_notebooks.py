"""Book-level checks on the chapter sources: clean, listed, set up and checked."""

import re
from pathlib import Path

import nbformat
import pytest
import yaml

import pneumo_helpers

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


def code_cells(path: Path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 3


def test_every_toc_entry_exists_and_every_notebook_is_listed():
    listed = toc_files()
    for entry in listed:
        matches = [p for p in (ROOT / f"{entry}.ipynb", ROOT / f"{entry}.md") if p.exists()]
        assert matches, f"_toc.yml lists {entry}, but no .ipynb or .md file exists for it"
    for path in NOTEBOOKS:
        entry = str(path.relative_to(ROOT).with_suffix(""))
        assert entry in listed, f"{path.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    for index, cell in enumerate(code_cells(path)):
        assert not cell.outputs, f"{path.name} code cell {index} has outputs: strip them"
        assert cell.execution_count is None, f"{path.name} code cell {index} has a count"


def repository_url_in_config() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


def test_repository_url_has_one_value():
    assert pneumo_helpers.REPOSITORY_URL == repository_url_in_config()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_is_the_colab_setup_cell_with_the_configured_url(path):
    first = code_cells(path)[0].source
    assert "google.colab" in first, f"{path.name}: the first code cell must be the setup cell"
    urls = re.findall(r'REPOSITORY_URL = "([^"]+)"', first)
    assert urls == [repository_url_in_config()], f"{path.name}: setup cell URL {urls}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_ends_with_a_check_cell(path):
    last = code_cells(path)[-1].source
    assert last.lstrip().startswith("# Check"), f"{path.name}: the last cell must be the check"
    assert "assert " in last, f"{path.name}: the check cell asserts nothing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_glued_name_in_the_prose_is_computed(path):
    nb = nbformat.read(path, as_version=4)
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    used = set(re.findall(r"\{glue:(?:text|md|any)?\}`([^`:]+)", prose))
    glued = set(re.findall(r"glue\(\s*[\"']([^\"']+)[\"']", code))
    assert used <= glued, f"{path.name}: prose uses {sorted(used - glued)} but nothing glues it"


CHAPTERS = [p for p in NOTEBOOKS if re.match(r"\d\d_", p.name)]


def exercises_and_solutions(path: Path) -> list[tuple[str, int]]:
    """Return (label, number of code cells in its gated solution) for each exercise."""
    cells = nbformat.read(path, as_version=4).cells
    found, inside = [], False
    for cell in cells:
        if cell.cell_type == "markdown":
            label = re.search(r"```\{exercise\}[^\n]*\n:label: (\S+)", cell.source)
            start = re.search(r"```\{solution-start\} (\S+)", cell.source)
            if label:
                found.append([label.group(1), 0])
            if start:
                assert found and start.group(1) == found[-1][0], f"{path.name}: {start.group(0)}"
                inside = True
            if "```{solution-end}" in cell.source:
                inside = False
        elif inside:
            found[-1][1] += 1
    return [tuple(item) for item in found]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_three_exercises_with_runnable_gated_solutions(path):
    exercises = exercises_and_solutions(path)
    runnable = [label for label, code_cells in exercises if code_cells]
    assert len(runnable) >= 3, f"{path.name}: exercises with code solutions: {runnable}"


def test_exercise_labels_are_unique_across_the_book():
    labels = [label for path in CHAPTERS for label, _ in exercises_and_solutions(path)]
    duplicated = sorted({label for label in labels if labels.count(label) > 1})
    assert not duplicated, f"exercise labels used twice: {duplicated}"


# Picks of the best or worst in a chapter are either choices (made with evidence.choose on
# validation) or descriptions of results, marked "# report" on their line.
_PICK_METHODS = {"idxmax", "idxmin", "argmax", "argmin", "nlargest", "nsmallest"}
_PICK_FUNCTIONS = {"max", "min", "sorted"}


def unmarked_picks(source: str) -> list[str]:
    """Return the picks in ``source`` that neither use evidence.choose nor say # report."""
    import ast

    lines, found = source.splitlines(), []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        method = isinstance(func, ast.Attribute) and func.attr in _PICK_METHODS
        keyed = (
            isinstance(func, ast.Name)
            and func.id in _PICK_FUNCTIONS
            and any(k.arg == "key" for k in node.keywords)
        )
        if (method or keyed) and "# report" not in lines[node.lineno - 1]:
            found.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
    for node in ast.walk(ast.parse(source)):
        if _first_of_sorted(node) and "# report" not in lines[node.lineno - 1]:
            found.append(f"line {node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def _is_sort(node) -> bool:
    import ast

    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute | ast.Name)
        and getattr(node.func, "attr", getattr(node.func, "id", None))
        in ("sort_values", "argsort", "sorted")
    )


def _first_of_sorted(node) -> bool:
    """``x.sort_values(...).index[0]``, ``.iloc[-1]``, ``.head(1)``, ``np.argsort(a)[-1]``..."""
    import ast

    if isinstance(node, ast.Subscript):
        target = node.value
        if isinstance(target, ast.Attribute) and target.attr in ("index", "iloc", "loc"):
            target = target.value
        end = node.slice
        first_or_last = isinstance(end, ast.Constant | ast.UnaryOp)
        return first_or_last and _is_sort(target)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr in ("head", "tail") and _is_sort(node.func.value)
    return False


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_pick_is_a_recorded_choice_or_marked_as_reporting(path):
    picks = [
        f"code cell {index}, {pick}"
        for index, cell in enumerate(code_cells(path))
        for pick in unmarked_picks(
            "\n".join(
                line
                for line in cell.source.splitlines()
                if not line.lstrip().startswith(("!", "%"))
            )
        )
    ]
    assert not picks, (
        f"{path.name} picks a best or worst without saying whether it chooses (use "
        "evidence.choose(..., split='validation')) or reports (add '# report' to the line): "
        f"{picks}"
    )


def test_the_pick_check_sees_an_unmarked_pick():
    assert unmarked_picks("best = table['test auc'].idxmax()")
    assert not unmarked_picks("best = table['test auc'].idxmax()  # report: the best published")
    assert not unmarked_picks("x = scores.max(axis=0)\ny = max(a, b)")
    assert unmarked_picks("best = table.sort_values('auc').index[-1]")
    assert unmarked_picks("top = table.sort_values('auc', ascending=False).head(1)")
    assert unmarked_picks("worst = np.argsort(scores)[0]")
    assert not unmarked_picks("ranked = table.sort_values('auc')  # a display order")


# --------------------------------------------------------------------------------------
# Listings of the helpers' code: the idea, not the argument checks
# --------------------------------------------------------------------------------------

#: A listing shows at most this many lines after its signature (the idea is 5-15 lines;
#: a few more where the code is laid out one argument per line).
LISTING_BODY_LINES = 25


def listings(path: Path) -> list[tuple[str, dict]]:
    """Return ``(dotted name, keyword arguments)`` of every ``show_source`` call in a chapter."""
    import ast

    found = []
    for cell in code_cells(path):
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "show_source":
                target = ast.unparse(node.args[0])
                keywords = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
                found.append((target, keywords))
    return found


def resolve(target: str):
    import importlib

    module, _, attribute = target.partition(".")
    value = importlib.import_module(f"pneumo_helpers.{module}")
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_listings_show_the_idea_in_a_few_lines(path):
    import ast

    from pneumo_helpers.notebook import idea_source

    raw = [c.source for c in code_cells(path) if "Code(inspect.getsource" in c.source]
    assert not raw, f"{path.name}: list helper code with show_source, not inspect.getsource"
    for target, keywords in listings(path):
        if not target.split(".")[0].isidentifier() or "." not in target:
            continue
        shown = idea_source(resolve(target), **keywords).splitlines()
        if keywords:  # an excerpt: a header comment, then the lines
            body = len(shown) - 1
        else:
            node = ast.parse("\n".join(shown)).body[0]
            body = len(shown) - (0 if isinstance(node, ast.ClassDef) else node.body[0].lineno - 1)
        assert body <= LISTING_BODY_LINES, (
            f"{path.name}: the listing of {target} shows {body} lines after its signature; "
            f"show the idea (show_source(..., start=..., stop=...)) in at most "
            f"{LISTING_BODY_LINES}."
        )
        assert not target.rsplit(".", 1)[-1].startswith("_"), f"{path.name} lists private {target}"


def test_idea_source_drops_docstrings_and_guards_and_cuts_excerpts():
    from pneumo_helpers.notebook import idea_source

    def example(x, y=1):
        """A docstring the chapter's prose replaces."""
        if x < 0:
            raise ValueError("x must be at least 0")
        total = x + y
        for _ in range(2):
            if total > 100:
                raise RuntimeError("too big")
            total *= 2
        return total

    shown = idea_source(example)
    assert "docstring" not in shown and "raise" not in shown
    assert shown.splitlines() == [
        "def example(x, y=1):",
        "    total = x + y",
        "    for _ in range(2):",
        "        total *= 2",
        "    return total",
    ]
    excerpt = idea_source(example, start="for _ in", stop="return")
    assert excerpt.splitlines()[1:] == ["for _ in range(2):", "    total *= 2"]
    assert "excerpt" in excerpt.splitlines()[0]
    with pytest.raises(ValueError, match="'while' is not in the source"):
        idea_source(example, start="while")
