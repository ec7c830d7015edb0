"""The budget table: one row per profile and use, read by recipes, chapters and the benchmark."""

import ast
import dataclasses
import inspect
import json
import re
from pathlib import Path

import keras
import pytest

from pneumo_helpers import budgets, config, federated, recipes

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pneumo_helpers"
CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))
QUICK = config.profile("quick")


# ------------------------------------------------------------------ the table itself


def test_every_profile_has_the_same_rows_and_every_recipe_a_benchmark_row():
    uses = {name: set(rows) for name, rows in budgets.BUDGETS.items()}
    assert set(uses) == set(config.PROFILES)
    assert len({frozenset(rows) for rows in uses.values()}) == 1, uses
    for profile in config.PROFILES:
        for name in recipes.RECIPES:
            row = budgets.budget(profile, name)
            assert (row.use, row.model) == (name, name)
        for use, row in budgets.BUDGETS[profile].items():
            assert row.use == use


@pytest.mark.parametrize("profile", sorted(budgets.BUDGETS))
def test_rows_hold_valid_settings(profile):
    for row in budgets.BUDGETS[profile].values():
        assert row.epochs >= 1 and row.batch_size >= 1 and 1 <= row.patience, row
        assert row.learning_rate > 0 and row.weight_decay >= 0, row
        assert row.monitor in ("val_auc", "val_loss"), row
        assert row.schedule in ("plateau", "warmup_cosine", "constant"), row
        assert row.batchnorm_momentum is None or 0 < row.batchnorm_momentum < 1, row
        assert row.readers, row


def test_every_model_with_batchnorm_states_its_momentum():
    for rows in budgets.BUDGETS.values():
        for row in rows.values():
            if row.model in ("baseline_cnn", "vgg16_transfer", "resnet50_hybrid"):
                assert row.batchnorm_momentum is not None, row
            if row.model == "cnn_transformer_hybrid":
                assert row.batchnorm_momentum is not None, row


def test_shorter_rows_name_their_base_and_differ_only_where_the_table_says():
    for rows in budgets.BUDGETS.values():
        for use, (base, readers) in budgets.SHORTER_ROWS.items():
            row = rows[use]
            assert row.model == rows[base].model and row.readers == readers
            assert row.epochs <= rows[base].epochs, row


def test_the_full_profile_is_the_quick_one_with_its_stated_changes():
    quick, full = budgets.BUDGETS["quick"], budgets.BUDGETS["full"]
    assert set(budgets.FULL_CHANGES) <= {row.use for row in budgets.QUICK_ROWS}
    for row in budgets.QUICK_ROWS:
        assert quick[row.use] == row
        changes = budgets.FULL_CHANGES.get(row.use, {})
        assert budgets.differences(full[row.use], row) == {
            key: (value, getattr(row, key)) for key, value in changes.items()
        }, row.use  # every stated change is a real one, and nothing else differs


def test_the_profile_carries_chapter_2s_row():
    for name, profile in config.PROFILES.items():
        row = budgets.budget(name, "baseline_cnn")
        assert (profile.epochs, profile.batch_size, profile.patience) == (
            row.epochs,
            row.batch_size,
            row.patience,
        )


def test_differences_name_what_changes_a_model_and_nothing_else():
    base = budgets.budget("quick", "baseline_cnn")
    assert budgets.differences(base, base) == {}
    same = dataclasses.replace(base, use="elsewhere", readers="another chapter")
    assert budgets.differences(same, base) == {}
    short = budgets.budget("quick", "baseline_cnn_explain")
    changed = budgets.differences(short, base)
    assert changed["epochs"] == (short.epochs, base.epochs)
    assert "use" not in changed and "readers" not in changed


def test_an_unknown_row_or_profile_gets_a_clear_error():
    with pytest.raises(budgets.BudgetError, match="no_such_row"):
        budgets.budget("quick", "no_such_row")
    with pytest.raises(budgets.BudgetError, match="huge"):
        budgets.budget("huge", "baseline_cnn")
    assert issubclass(budgets.BudgetError, ValueError)


def test_the_federated_row_matches_the_helpers_it_describes():
    """Chapter 8 passes rounds, epochs and filters; the learning rate and batch size are the
    helpers' defaults, which the row must state truly."""
    for rows in budgets.BUDGETS.values():
        row = rows["federated"]
        for function in (federated.run_fedavg, federated.train_centralised):
            parameters = inspect.signature(function).parameters
            assert parameters["learning_rate"].default == row.learning_rate
            assert parameters["batch_size"].default == row.batch_size


# ------------------------------------------------------------------ recipes read their row


def test_the_baseline_builds_with_its_rows_batchnorm_momentum(tiny_dataset):
    for use in ("baseline_cnn", "baseline_cnn_explain"):
        row = dataclasses.replace(budgets.budget(QUICK, use), epochs=1)
        trained = recipes.train_baseline_cnn(tiny_dataset(), QUICK, seed=0, budget=row)
        momenta = {
            layer.momentum
            for layer in trained.result.model.layers
            if isinstance(layer, keras.layers.BatchNormalization)
        }
        assert momenta == {row.batchnorm_momentum}
        assert trained.budget == row
        assert trained.result.epochs_run == 1


def test_a_recipe_refuses_another_models_row_and_a_changed_profile(tiny_dataset):
    with pytest.raises(recipes.RecipeError, match="vit"):
        recipes.train_baseline_cnn(tiny_dataset(), QUICK, budget=budgets.budget(QUICK, "vit"))
    shorter = dataclasses.replace(QUICK, epochs=3)
    with pytest.raises(recipes.RecipeError, match="budget"):
        recipes.train_baseline_cnn(tiny_dataset(), shorter)


def test_recipes_take_a_budget_row_and_no_epochs_of_their_own():
    for name, recipe in recipes.RECIPES.items():
        parameters = inspect.signature(recipe).parameters
        assert "epochs" not in parameters and "plan" not in parameters, name
        source = inspect.getsource(recipe)
        if name in ("vgg16_transfer", "resnet50_hybrid"):
            source = inspect.getsource(recipes.train_transfer)
        assert "budget" in source, name
        assert "profile.epochs" not in source and "profile.patience" not in source, name


def test_the_benchmark_trains_each_model_with_its_row():
    text = (ROOT / "benchmarks" / "run.py").read_text()
    assert "budgets.budget(profile, name)" in text
    assert "budget=budget" in text


# ------------------------------------------------------------------ one place: nothing else


BUDGET_NAME = re.compile(r"(^|_)(EPOCHS?|EPOCH_CAP|ROUNDS|SETTINGS|PLANS?)$")
BUDGET_KEY = re.compile(r"epoch|rounds")
ALLOWED = {"REHEARSAL_EPOCHS", "REHEARSAL_ROUNDS"}  # what a rehearsal shrinks to, not a budget


def _has_number(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Constant) and type(n.value) in (int, float) for n in ast.walk(node)
    )


def budget_definitions(tree: ast.AST) -> list[str]:
    """Return what in ``tree`` looks like a training budget defined outside the table."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                name = getattr(target, "id", "")
                if BUDGET_NAME.search(name) and name not in ALLOWED and _has_number(node.value):
                    found.append(f"{name} = {ast.unparse(node.value)[:60]}")
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    if BUDGET_KEY.search(key.value) and _has_number(node):
                        found.append(f"dict with key {key.value!r}: {ast.unparse(node)[:60]}")
                        break
        if isinstance(node, ast.Call):
            callee = ast.unparse(node.func)
            for keyword in node.keywords:
                # dataclasses.replace(profile, epochs=...): a budget hidden in a profile.
                if callee.endswith("replace") and keyword.arg in ("epochs", "patience"):
                    if any("profile" in ast.unparse(arg) for arg in node.args):
                        found.append(f"{callee}(profile, {keyword.arg}=...)")
    return found


def chapter_code(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            lines.append(
                "\n".join(line for line in source.splitlines() if not line.startswith(("%", "!")))
            )
    return "\n\n".join(lines)


#: ``flower_app.DEFAULTS`` is the Flower project's run configuration (its
#: ``[tool.flwr.app.config]``, a format Flower requires), used when the app runs on its own;
#: chapter 8 overrides its rounds and epochs from its row (checked below).
EXEMPT_DICT_KEYS = {"flower_app.py": "num-server-rounds"}


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "budgets.py"],
    ids=lambda p: p.name,
)
def test_no_module_but_budgets_defines_a_training_budget(path):
    found = budget_definitions(ast.parse(path.read_text()))
    exempt = EXEMPT_DICT_KEYS.get(path.name)
    assert [f for f in found if not (exempt and f"{exempt!r}" in f)] == [], path.name


def test_chapter_8_runs_flower_with_its_rows_rounds_and_epochs():
    code = chapter_code(ROOT / "chapters" / "08_federated_learning.ipynb")
    assert '"num-server-rounds": flower_rounds' in code
    assert '"local-epochs": LOCAL_EPOCHS' in code
    assert 'budgets.budget(profile, "federated")' in code


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_chapter_defines_a_training_budget(path):
    assert budget_definitions(ast.parse(chapter_code(path))) == [], path.name


def test_the_scan_catches_the_old_ways():
    old = """
EPOCHS = {"quick": 5, "full": 20}[profile.name]
SETTINGS = {"quick": {"rounds": 10, "epochs": 10}}
VIT_EPOCH_CAP = {"quick": 10}
chapter_profile = dataclasses.replace(profile, epochs=EPOCHS)
"""
    assert len(budget_definitions(ast.parse(old))) == 5
    new = """
row = budgets.budget(profile, "vit_chapter")
LOCAL_EPOCHS = config.budget(row.local_epochs)
FLOORS = {"quick": {"auc": 0.9}}
"""
    assert budget_definitions(ast.parse(new)) == []
