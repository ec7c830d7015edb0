"""Tests of the training recipes' logic, the saved runs, and the model comparison.

The real backbones are too slow to train here, so a tiny stand-in with the same layer
names takes their place: the recipe's steps (feature extraction then fine-tuning, or
training from scratch) are what is tested.
"""

import dataclasses
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

import pneumo_helpers
from pneumo_helpers import budgets, config, evaluation, models, recipes, training
from pneumo_helpers.recipes import runs, trainers

QUICK = config.profile("quick")


def tiny_transfer_builder(pretrained: bool):
    """A stand-in for build_vgg16_transfer: a nested backbone with VGG16's layer names."""

    def build(input_shape, weights, *, learning_rate=1e-3, resize_to=None, **options):
        inputs = keras.Input(input_shape)
        backbone_in = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3, padding="same", name="block4_conv1")(backbone_in)
        x = keras.layers.BatchNormalization(name="block4_bn")(x)
        x = keras.layers.Conv2D(4, 3, padding="same", name="block5_conv1")(x)
        backbone = keras.Model(backbone_in, x, name="vgg16")
        backbone.trainable = not pretrained
        features = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
        outputs = keras.layers.Dense(1, activation="sigmoid", name="pneumonia")(features)
        model = keras.Model(inputs, outputs)
        loaded = "imagenet" if pretrained else "random"
        model.pneumo_weights = models.WeightsInfo("vgg16", "imagenet", loaded, "test")
        return models.compile_binary(model, learning_rate)

    return build


PLAN = dataclasses.replace(
    budgets.budget(QUICK, "vgg16_transfer"),
    use="vgg16_transfer_test",
    head_epochs=1,
    head_learning_rate=1e-3,
    fine_tune_epochs=2,
    fine_tune_learning_rate=1e-5,
    fine_tune_from="block5_conv1",
    epochs=2,
    learning_rate=3e-4,
    batchnorm_momentum=0.8,
)


def test_pretrained_weights_mean_feature_extraction_then_fine_tuning(monkeypatch, tiny_dataset):
    monkeypatch.setitem(trainers._BUILDERS, "vgg16_transfer", tiny_transfer_builder(True))
    trained = recipes.train_vgg16_transfer(tiny_dataset(), QUICK, seed=0, budget=PLAN)
    result, model = trained.result, trained.result.model
    assert trained.weights.pretrained
    assert result.epochs_run == PLAN.head_epochs + PLAN.fine_tune_epochs
    assert 1 <= result.best_epoch <= result.epochs_run
    backbone = model.get_layer("vgg16")
    assert backbone.get_layer("block5_conv1").trainable
    assert not backbone.get_layer("block4_conv1").trainable
    assert not backbone.get_layer("block4_bn").trainable
    assert float(model.optimizer.learning_rate) == pytest.approx(PLAN.fine_tune_learning_rate)


def test_random_weights_mean_training_everything_from_scratch(monkeypatch, tiny_dataset):
    monkeypatch.setitem(trainers._BUILDERS, "vgg16_transfer", tiny_transfer_builder(False))
    trained = recipes.train_vgg16_transfer(tiny_dataset(), QUICK, seed=0, budget=PLAN)
    model = trained.result.model
    assert not trained.weights.pretrained
    assert trained.result.epochs_run == PLAN.epochs
    assert all(layer.trainable for layer in model.get_layer("vgg16").layers)
    assert float(model.optimizer.learning_rate) == pytest.approx(PLAN.learning_rate)
    bn = model.get_layer("vgg16").get_layer("block4_bn")
    assert bn.momentum == pytest.approx(PLAN.batchnorm_momentum)
    assert trained.budget == PLAN


def test_a_budget_row_sets_the_batch_size(monkeypatch, tiny_dataset):
    monkeypatch.setitem(trainers._BUILDERS, "vgg16_transfer", tiny_transfer_builder(False))
    plan = dataclasses.replace(PLAN, epochs=1, batch_size=8)
    trained = recipes.train_vgg16_transfer(tiny_dataset(), QUICK, seed=0, budget=plan)
    images, _ = next(iter(trained.val_data))
    assert images.shape[0] == 8


def test_chain_results_joins_two_phases():
    first = training.TrainingResult(None, {"loss": [3.0, 2.0], "val_auc": [0.6, 0.7]}, 1.5, 2)
    second = training.TrainingResult(
        "model", {"loss": [1.0], "val_auc": [0.8], "learning_rate": [1e-5]}, 2.0, 1
    )
    joined = recipes.chain_results(first, second)
    assert joined.history["loss"] == [3.0, 2.0, 1.0]
    assert joined.history["learning_rate"][2] == 1e-5 and np.isnan(
        joined.history["learning_rate"][0]
    )
    assert (joined.seconds, joined.best_epoch, joined.epochs_run) == (3.5, 3, 3)
    assert joined.model == "model"


def test_every_course_model_has_a_recipe_and_a_budget_row_in_every_profile():
    assert {"baseline_cnn", "vgg16_transfer", "resnet50_hybrid", "cnn_transformer_hybrid"} <= set(
        recipes.RECIPES
    )
    for profile in config.PROFILES:
        for name in recipes.RECIPES:
            assert budgets.budget(profile, name).model == name


def test_cnn_transformer_hybrid_recipe_trains(tiny_dataset):
    row = dataclasses.replace(budgets.budget(QUICK, "cnn_transformer_hybrid"), epochs=1)
    trained = recipes.train_cnn_transformer_hybrid(
        tiny_dataset(),
        QUICK,
        seed=0,
        budget=row,
        embed_dim=8,
        num_heads=2,
        num_layers=1,
        stem_filters=(4,),
    )
    assert trained.result.epochs_run == 1
    assert trained.result.model.get_layer("tokens").output.shape == (None, 64, 8)
    assert not trained.weights.pretrained
    momenta = {
        layer.momentum
        for layer in trained.result.model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }
    assert momenta == {row.batchnorm_momentum}


# ------------------------------------------------------------------ saved runs


@pytest.fixture
def counting_recipe(monkeypatch):
    """Register a tiny recipe that counts how often it trains."""
    calls = []

    def recipe(dataset, profile, seed=42, verbose=0):
        calls.append(seed)
        config.set_seed(seed)
        train, val, test = recipes.standard_datasets(dataset, profile, seed, augment=False)
        model = models.build_baseline_cnn((dataset.size, dataset.size, 1), filters=(4,))
        result = training.fit(
            model, train, val, epochs=1, patience=1, train_labels=dataset.train.labels
        )
        return recipes.Trained(result, val, test)

    monkeypatch.setitem(recipes.RECIPES, "counting", recipe)
    return calls


def test_load_or_train_trains_once_and_then_reads_the_saved_run(
    counting_recipe, tmp_path, tiny_dataset
):
    dataset = tiny_dataset()
    first = recipes.load_or_train("counting", dataset, QUICK, seed=1, directory=tmp_path)
    second = recipes.load_or_train("counting", dataset, QUICK, seed=1, directory=tmp_path)
    assert counting_recipe == [1]
    np.testing.assert_allclose(second.test_scores, first.test_scores)
    assert second.params == first.params > 0 and second.predict_ms > 0
    assert "No pretrained part" in second.weights and not second.pretrained
    assert (tmp_path / "counting-quick-seed1.json").is_file()

    recipes.load_or_train("counting", dataset, QUICK, seed=2, directory=tmp_path)
    assert counting_recipe == [1, 2]  # another seed is another run


def test_stale_or_corrupt_runs_are_trained_again(counting_recipe, tmp_path, tiny_dataset):
    dataset = tiny_dataset()
    run = recipes.load_or_train("counting", dataset, QUICK, seed=0, directory=tmp_path)
    path = tmp_path / "counting-quick-seed0.json"
    record = json.loads(path.read_text())
    record["fingerprint"] = "0" * 16  # as if the code or the data had changed
    path.write_text(json.dumps(record))
    assert recipes.load_run("counting", dataset, QUICK, 0, tmp_path) is None
    path.write_text("{not json")
    assert recipes.load_run("counting", dataset, QUICK, 0, tmp_path) is None
    again = recipes.load_or_train("counting", dataset, QUICK, seed=0, directory=tmp_path)
    assert counting_recipe == [0, 0]
    assert dataclasses.asdict(again).keys() == dataclasses.asdict(run).keys()


def test_fingerprint_depends_on_profile_seed_and_data(tiny_dataset):
    dataset = tiny_dataset()
    base = recipes.run_fingerprint("x", dataset, QUICK, 0)
    assert base == recipes.run_fingerprint("x", dataset, QUICK, 0)
    assert base != recipes.run_fingerprint("x", dataset, QUICK, 1)
    assert base != recipes.run_fingerprint("x", dataset, config.profile("full"), 0)
    assert base != recipes.run_fingerprint("x", tiny_dataset(size=8), QUICK, 0)


def test_the_fingerprint_covers_every_module_of_the_whole_package():
    package = Path(pneumo_helpers.__file__).resolve().parent
    assert recipes.PACKAGE_ROOT == package
    names = [path.relative_to(package).as_posix() for path in recipes.fingerprinted_modules()]
    assert names == [path.relative_to(package).as_posix() for path in sorted(package.rglob("*.py"))]
    assert {"__init__.py", "config.py", "recipes/runs.py", "recipes/trainers.py"} <= set(names)
    assert any(name.startswith("evaluation/") for name in names)


def test_the_fingerprint_changes_with_the_code(monkeypatch, tiny_dataset):
    dataset = tiny_dataset()
    base = recipes.run_fingerprint("x", dataset, QUICK, 0)
    modules = recipes.fingerprinted_modules()
    monkeypatch.setattr(runs, "fingerprinted_modules", lambda: modules[:-1])
    assert recipes.run_fingerprint("x", dataset, QUICK, 0) != base


def test_expected_weights_says_what_a_training_would_start_from(monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv(models.WEIGHTS_ENV, raising=False)
    assert recipes.expected_weights("baseline_cnn") == "none"
    assert recipes.expected_weights("vgg16_transfer") == "random"  # nothing in the cache
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / recipes.IMAGENET_WEIGHTS["vgg16"].rsplit("/", 1)[1]).write_bytes(b"h5")
    assert recipes.expected_weights("vgg16_transfer") == "imagenet"
    assert recipes.expected_weights("resnet50_hybrid") == "random"
    monkeypatch.setenv(models.WEIGHTS_ENV, "none")
    assert recipes.expected_weights("vgg16_transfer") == "random"


def test_a_run_saved_offline_is_stale_once_imagenet_weights_are_reachable(
    counting_recipe, monkeypatch, tmp_path, tiny_dataset
):
    """The fingerprint covers the weights a run started from, not the ones it asked for."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(models.WEIGHTS_ENV, raising=False)
    monkeypatch.setitem(recipes.RECIPE_BACKBONES, "counting", "vgg16")
    fallback = models.WeightsInfo("vgg16", "imagenet", "random", "ImageNet download failed")
    original = recipes.RECIPES["counting"]
    monkeypatch.setitem(
        recipes.RECIPES,
        "counting",
        lambda *a, **k: dataclasses.replace(original(*a, **k), weights=fallback),
    )
    probes = []

    def offline(**kwargs):
        probes.append(kwargs["origin"])
        raise OSError("offline")

    monkeypatch.setattr(keras.utils, "get_file", offline)
    dataset = tiny_dataset()
    run = recipes.load_or_train("counting", dataset, QUICK, seed=0, directory=tmp_path)
    assert not run.pretrained
    assert recipes.load_run("counting", dataset, QUICK, 0, tmp_path) is not None  # still offline
    assert probes == [recipes.IMAGENET_WEIGHTS["vgg16"]]  # it did look

    def online(**kwargs):  # the download now succeeds and lands in Keras' cache
        folder = tmp_path / "keras" / "models"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / kwargs["origin"].rsplit("/", 1)[1]).write_bytes(b"h5")

    monkeypatch.setattr(keras.utils, "get_file", online)
    assert recipes.load_run("counting", dataset, QUICK, 0, tmp_path) is None  # train again


def test_load_or_train_rejects_unknown_names(tmp_path, tiny_dataset):
    with pytest.raises(ValueError, match="not a recipe"):
        recipes.load_or_train("alexnet", tiny_dataset(), QUICK, directory=tmp_path)


def test_results_dir_follows_its_setting(monkeypatch, tmp_path):
    monkeypatch.setenv(config.RESULTS_DIR_ENV, str(tmp_path / "runs"))
    assert config.results_dir() == (tmp_path / "runs").resolve()
    monkeypatch.delenv(config.RESULTS_DIR_ENV)
    assert config.results_dir().name == "results"


# ------------------------------------------------------------------ comparison


def test_compare_models_reads_every_model_the_same_way():
    rng = np.random.default_rng(0)
    y_val, y_test = rng.integers(0, 2, 200), rng.integers(0, 2, 300)
    good = (y_val + rng.normal(0, 0.4, 200), y_test + rng.normal(0, 0.4, 300))
    poor = (y_val + rng.normal(0, 2.0, 200), y_test + rng.normal(0, 2.0, 300))
    squash = lambda s: 1 / (1 + np.exp(-s))  # noqa: E731
    scores = {"good": tuple(map(squash, good)), "poor": tuple(map(squash, poor))}
    table = evaluation.compare_models(scores, y_val, y_test, n_boot=50, seed=0)
    assert list(table.index) == ["good", "poor"]
    assert table.loc["good", "auc"] > table.loc["poor", "auc"]
    for name in (*evaluation.COMPARISON_METRICS, "sensitivity_at_spec"):
        assert (table[f"{name}_low"] <= table[name]).all() and (
            table[name] <= table[f"{name}_high"]
        ).all()
    # the same threshold and test metrics as evaluation.evaluate_model, which the benchmark uses
    threshold = evaluation.choose_threshold(y_val, scores["good"][0])
    point = evaluation.binary_metrics(y_test, scores["good"][1], threshold)
    assert table.loc["good", "accuracy"] == pytest.approx(point["accuracy"])
    assert {"val_threshold_sensitivity", "val_threshold_specificity"} <= set(table.columns)
    text = evaluation.format_intervals(table)
    assert isinstance(text, pd.DataFrame) and "–" in text.loc["good", "auc"]
    with pytest.raises(ValueError, match="empty"):
        evaluation.compare_models({}, y_val, y_test)


def test_sensitivity_at_specificity_reads_the_roc_curve():
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.5, 0.8, 0.95])
    assert evaluation.sensitivity_at_specificity(y, scores, 0.75) == pytest.approx(1.0)
    assert evaluation.sensitivity_at_specificity(y, scores, 1.0) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="target"):
        evaluation.sensitivity_at_specificity(y, scores, 0.0)


@pytest.mark.parametrize(("size", "grid"), [(28, 7), (64, 8), (128, 8), (224, 7)])
def test_hybrid_stem_pools_until_the_grid_is_about_8x8(size, grid):
    filters = recipes.hybrid_stem_filters(size)
    side = size
    for _ in filters:
        side //= 2
    assert side == grid


def test_chapter_options_shorten_the_quick_profile_only():
    full = config.profile("full")
    vgg = recipes.chapter_options("vgg16_transfer", QUICK)["budget"]
    benchmark = budgets.budget(QUICK, "vgg16_transfer")
    assert vgg == budgets.budget(QUICK, "vgg16_transfer_chapter")
    assert vgg.epochs <= benchmark.epochs
    assert vgg.head_epochs + vgg.fine_tune_epochs <= vgg.epochs
    assert vgg.learning_rate == benchmark.learning_rate
    assert recipes.chapter_options("vgg16_transfer", full) == {}
    hybrid = recipes.chapter_options("cnn_transformer_hybrid", QUICK)["budget"]
    assert hybrid.epochs == budgets.budget(QUICK, "cnn_transformer_hybrid_chapter").epochs
    assert recipes.chapter_options("baseline_cnn", QUICK) == {}


def test_runs_trained_with_other_options_do_not_count(monkeypatch, tmp_path, tiny_dataset):
    calls = []

    def recipe(dataset, profile, seed=42, verbose=0, epochs=1):
        calls.append(epochs)
        train, val, test = recipes.standard_datasets(dataset, profile, seed, augment=False)
        model = models.build_baseline_cnn((dataset.size, dataset.size, 1), filters=(4,))
        result = training.fit(
            model, train, val, epochs=epochs, patience=1, train_labels=dataset.train.labels
        )
        return recipes.Trained(result, val, test)

    monkeypatch.setitem(recipes.RECIPES, "optioned", recipe)
    dataset = tiny_dataset()
    recipes.load_or_train("optioned", dataset, QUICK, seed=0, directory=tmp_path, epochs=1)
    recipes.load_or_train("optioned", dataset, QUICK, seed=0, directory=tmp_path, epochs=1)
    assert calls == [1]
    run = recipes.load_or_train("optioned", dataset, QUICK, seed=0, directory=tmp_path, epochs=2)
    assert calls == [1, 2] and run.epochs_run <= 2
    assert recipes.run_fingerprint(
        "x", dataset, QUICK, 0, {"epochs": 1}
    ) != recipes.run_fingerprint("x", dataset, QUICK, 0)
