"""Data efficiency: train models on growing shares of the training split and compare them.

A *data-efficiency sweep* trains every model on, say, 10 %, 30 % and 100 % of the training
X-rays (the same stratified subsets for every model, the same seeds) and evaluates each run
the course's one way: threshold chosen on the full validation split, metrics on the full
test split. Plotting test AUC against the training-set size shows which architecture
needs more data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import config, data, evaluation, plots

#: A recipe: ``recipe(dataset, profile, seed=..., verbose=...)`` returning a trained model
#: with its validation and test datasets (see :mod:`pneumo_helpers.recipes`).
Recipe = Callable[..., object]


class SweepError(ValueError):
    """A data-efficiency sweep received an argument it cannot use."""


def training_subset(
    dataset: data.PneumoniaMNIST, fraction: float, seed: int = 0
) -> data.PneumoniaMNIST:
    """Return ``dataset`` with only a stratified share of its training split.

    Each class keeps ``fraction`` of its X-rays (at least one), drawn at random with
    ``seed``; the validation and test splits are untouched, so every run is evaluated
    on the same data. ``fraction=1`` returns the dataset unchanged.

    Raises
    ------
    SweepError
        ``fraction`` is not in (0, 1].
    """
    if not 0.0 < fraction <= 1.0:
        raise SweepError(f"fraction must be in (0, 1], got {fraction!r} (e.g. 0.1 for 10 %).")
    if fraction == 1.0:
        return dataset
    images, labels = dataset.train
    rng = np.random.default_rng(seed)
    keep = []
    for value in np.unique(labels):
        members = np.flatnonzero(labels == value)
        count = max(1, int(round(fraction * len(members))))
        keep.append(rng.choice(members, size=count, replace=False))
    index = np.sort(np.concatenate(keep))
    return dataclasses.replace(dataset, train=data.Split(images[index], labels[index]))


@dataclass
class SweepResult:
    """What :func:`data_efficiency_sweep` returns.

    Attributes
    ----------
    table : one row per run: ``model``, ``fraction``, ``n_train``, ``seed``, the test
        metrics ``auc``, ``accuracy``, ``sensitivity``, ``specificity``, and ``seconds``
        and ``epochs_run`` of training.
    trained : every run's trained model and datasets, keyed by ``(model, fraction, seed)``.
    """

    table: pd.DataFrame
    trained: dict[tuple[str, float, int], object] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Return the mean test AUC per model (rows) and training-set size (columns)."""
        return self.table.pivot_table(
            index="model", columns="n_train", values="auc", aggfunc="mean"
        )


def data_efficiency_sweep(
    recipes: Mapping[str, Recipe],
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    fractions: Sequence[float] = (0.1, 0.3, 1.0),
    seeds: Sequence[int] = (0,),
    *,
    epochs: int | None = None,
    reuse: Mapping[tuple[str, float, int], object] | None = None,
    verbose: bool = True,
) -> SweepResult:
    """Train every recipe on every share of the training split and score it on the test split.

    Parameters
    ----------
    recipes
        ``{"name": recipe}``, e.g. ``{"baseline_cnn": recipes.train_baseline_cnn}``.
    dataset
        the full data set; its validation and test splits are used as they are.
    profile
        the profile the recipes read (image size, batch size, epochs, patience).
    fractions
        shares of the training split, each in (0, 1].
    seeds
        one run per seed; a seed fixes both the subset and the training.
    epochs
        when given, replaces ``profile.epochs`` for every run (a shorter sweep).
    reuse
        runs already trained with the same recipe and settings, keyed by
        ``(name, fraction, seed)``; they are evaluated, not trained again.
    verbose
        print one line per run.

    Returns
    -------
    SweepResult
        the table of test metrics and the trained runs.
    """
    if not recipes:
        raise SweepError(
            "recipes is empty: pass e.g. {'baseline_cnn': recipes.train_baseline_cnn}."
        )
    if not fractions or not seeds:
        raise SweepError("fractions and seeds must each hold at least one value.")
    for fraction in fractions:
        if not 0.0 < fraction <= 1.0:
            raise SweepError(f"every fraction must be in (0, 1], got {fraction!r}.")
    if epochs is not None:
        if epochs < 1:
            raise SweepError(f"epochs must be at least 1, got {epochs}.")
        profile = dataclasses.replace(profile, epochs=int(epochs))
    reuse = dict(reuse or {})
    rows, trained = [], {}
    for seed in seeds:
        for fraction in fractions:
            subset = training_subset(dataset, fraction, seed)
            for name, recipe in recipes.items():
                key = (name, float(fraction), int(seed))
                run = reuse.get(key)
                if run is None:
                    run = recipe(subset, profile, seed=int(seed), verbose=0)
                scores = evaluation.evaluate_model(
                    run.result.model,
                    run.val_data,
                    run.test_data,
                    dataset.val.labels,
                    dataset.test.labels,
                )
                trained[key] = run
                rows.append(
                    {
                        "model": name,
                        "fraction": float(fraction),
                        "n_train": len(subset.train.labels),
                        "seed": int(seed),
                        **{m: scores[m] for m in ("auc", "accuracy", "sensitivity", "specificity")},
                        "seconds": run.result.seconds,
                        "epochs_run": run.result.epochs_run,
                    }
                )
                if verbose:
                    print(
                        f"{name:>14} on {len(subset.train.labels):>5} X-rays "
                        f"({fraction:.0%}), seed {seed}: test AUC {scores['auc']:.3f} "
                        f"({run.result.seconds:.0f} s)",
                        flush=True,
                    )
    return SweepResult(pd.DataFrame(rows), trained)


def plot_data_efficiency(table: pd.DataFrame, *, ax=None, labels: Mapping[str, str] | None = None):
    """Plot test AUC against the number of training X-rays, one line per model.

    Points are the mean over seeds; with several seeds a band shows their range.
    """
    ax = plots.new_axes(ax)
    labels = dict(labels or {})
    for name, rows in table.groupby("model", sort=False):
        stats = rows.groupby("n_train")["auc"].agg(["mean", "min", "max"]).sort_index()
        ax.plot(stats.index, stats["mean"], marker="o", label=labels.get(name, name))
        if rows["seed"].nunique() > 1:
            ax.fill_between(stats.index, stats["min"], stats["max"], alpha=0.2)
    ax.set_xscale("log")
    sizes = sorted(table["n_train"].unique())
    ax.set_xticks(sizes, [f"{n:,}" for n in sizes])
    ax.minorticks_off()
    ax.set(
        xlabel="Training X-rays (log scale)",
        ylabel="Test ROC AUC",
        title="How much data does each model need?",
    )
    ax.legend(loc="lower right")
    return ax
