"""Tests of the data-efficiency sweep: stratified subsets, one row per run, reuse, the plot."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from pneumo_helpers import config, data, data_efficiency, recipes, training


def _dataset(n_train: int = 100) -> data.PneumoniaMNIST:
    rng = np.random.default_rng(0)

    def split(n):
        labels = np.array([0, 1, 1, 1] * (n // 4))
        images = rng.integers(0, 100, size=(len(labels), 8, 8)).astype(np.uint8)
        images[labels == 1] += 100  # brighter means pneumonia: the mean pixel ranks perfectly
        return data.Split(images, labels)

    return data.PneumoniaMNIST(split(n_train), split(40), split(40), size=8, path=Path("fake"))


class _MeanBrightness:
    """A stand-in model whose score is the mean pixel: instant, and AUC 1 on _dataset."""

    def predict(self, dataset, verbose=0):
        return np.concatenate([np.asarray(x).mean(axis=(1, 2, 3)) for x, _ in dataset])[:, None]


def _recipe(calls):
    def recipe(dataset, profile, seed=0, verbose=0):
        calls.append((len(dataset.train.labels), profile.epochs, seed))
        _, val, test = recipes.standard_datasets(dataset, profile, seed, augment=False)
        result = training.TrainingResult(_MeanBrightness(), {"loss": [1.0]}, 0.1, 1)
        return recipes.Trained(result, val, test)

    return recipe


def test_training_subset_is_stratified_and_leaves_val_and_test_alone():
    dataset = _dataset(100)
    subset = data_efficiency.training_subset(dataset, 0.2, seed=1)
    assert data.class_counts(subset.train.labels) == {"normal": 5, "pneumonia": 15}
    assert subset.val is dataset.val and subset.test is dataset.test
    again = data_efficiency.training_subset(dataset, 0.2, seed=1)
    np.testing.assert_array_equal(subset.train.images, again.train.images)
    assert data_efficiency.training_subset(dataset, 1.0) is dataset
    with pytest.raises(data_efficiency.SweepError, match="fraction"):
        data_efficiency.training_subset(dataset, 0.0)


def _two_model_sweep(dataset, calls, **options):
    """Models "a" and "b" at 20 % and 100 % of the training split, seeds 0 and 1."""
    return data_efficiency.data_efficiency_sweep(
        {"a": _recipe(calls), "b": _recipe(calls)},
        dataset,
        config.PROFILES["quick"],
        fractions=(0.2, 1.0),
        seeds=(0, 1),
        verbose=False,
        **options,
    )


def test_sweep_runs_every_model_size_and_seed_and_reuses_runs():
    dataset, calls = _dataset(100), []
    profile = config.PROFILES["quick"]
    done = _recipe([])(dataset, profile, seed=0)
    sweep = _two_model_sweep(dataset, calls, reuse={("a", 1.0, 0): done})
    table = sweep.table
    assert len(table) == 2 * 2 * 2
    assert sorted(table["n_train"].unique()) == [20, 100]
    assert (table["auc"] == 1.0).all()
    assert len(calls) == 7  # the reused run was not trained again
    assert {epochs for _, epochs, _ in calls} == {profile.epochs}  # the profile, untouched
    assert sweep.trained[("a", 1.0, 0)] is done
    assert list(sweep.summary().columns) == [20, 100]
    ax = data_efficiency.plot_data_efficiency(table)
    assert ax.get_ylabel() == "Test ROC AUC" and len(ax.get_lines()) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recipes": {}}, "recipes is empty"),
        ({"fractions": (0.5, 1.5)}, "fraction"),
        ({"seeds": ()}, "at least one"),
    ],
)
def test_sweep_rejects_bad_arguments(kwargs, message):
    arguments = {
        "recipes": {"a": _recipe([])},
        "dataset": _dataset(),
        "profile": config.PROFILES["quick"],
        **kwargs,
    }
    with pytest.raises(data_efficiency.SweepError, match=message):
        data_efficiency.data_efficiency_sweep(**arguments)


def test_repeat_to_size_keeps_every_xray_and_the_class_balance():
    dataset = _dataset(100)
    subset = data_efficiency.training_subset(dataset, 0.2, seed=1)
    repeated = data_efficiency.repeat_to_size(subset, 100, seed=1)
    assert len(repeated.train.labels) == 100
    assert data.class_counts(repeated.train.labels) == {"normal": 25, "pneumonia": 75}
    distinct = {image.tobytes() for image in repeated.train.images}
    assert distinct == {image.tobytes() for image in subset.train.images}
    assert repeated.val is dataset.val and repeated.test is dataset.test
    with pytest.raises(data_efficiency.SweepError, match="at least"):
        data_efficiency.repeat_to_size(subset, 10)


def test_equal_updates_sweep_and_verdicts_per_fraction():
    dataset, calls = _dataset(100), []
    sweep = _two_model_sweep(dataset, calls, equal_updates=True)
    assert {n for n, _, _ in calls} == {100}  # every run trains on 100 rows
    assert sorted(sweep.table["n_train"].unique()) == [20, 100]  # distinct X-rays
    assert sweep.table["updates"].nunique() == 1
    assert set(sweep.test_scores) == {(m, f, s) for m in "ab" for f in (0.2, 1.0) for s in (0, 1)}
    rows = data_efficiency.paired_comparisons(sweep, dataset.test.labels, "a", "b", n_boot=50)
    assert len(rows) == 4 and (rows["difference"] == 0).all()
    assert data_efficiency.verdict_per_fraction(rows, "a", "b") == {0.2: None, 1.0: None}
    better = rows.assign(low=0.01, high=0.02)
    assert data_efficiency.verdict_per_fraction(better, "a", "b") == {0.2: "a", 1.0: "a"}
    mixed = better.assign(low=[0.01, -0.02, -0.03, -0.02], high=[0.02, -0.01, -0.01, -0.01])
    assert data_efficiency.verdict_per_fraction(mixed, "a", "b") == {0.2: None, 1.0: "b"}
