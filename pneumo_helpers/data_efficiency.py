"""Data efficiency: train models on growing shares of the training split and compare them.

A *data-efficiency sweep* trains every model on, say, 10 %, 30 % and 100 % of the training
X-rays (the same stratified subsets for every model, the same seeds) and evaluates each run
the course's one way: threshold chosen on the full validation split, metrics on the full
test split. Plotting test AUC against the training-set size shows which architecture
needs more data.

At equal *epochs* a 10 % run makes ten times fewer weight updates than a full run, which
mixes "too few X-rays" with "too little training". With ``equal_updates=True`` every
subset is repeated until it has as many rows as the full training split, so every run
makes the same number of weight updates. :func:`paired_comparisons` then compares two
models run by run on the same test X-rays, and :func:`verdict_per_fraction` says, per
share, what every seed agrees on.
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


def repeat_to_size(dataset: data.PneumoniaMNIST, size: int, seed: int = 0) -> data.PneumoniaMNIST:
    """Return ``dataset`` with its training X-rays repeated (in random order) to ``size`` rows.

    Every X-ray appears ``size // n`` or ``size // n + 1`` times; one epoch of the result
    is as many weight updates as one epoch of a training split of ``size`` X-rays.
    """
    images, labels = dataset.train
    if size < len(labels):
        raise SweepError(f"size ({size}) must be at least the training split's {len(labels)}.")
    order = np.random.default_rng(seed).permutation(len(labels))
    index = np.resize(order, size)
    return dataclasses.replace(dataset, train=data.Split(images[index], labels[index]))


def training_subset(
    dataset: data.PneumoniaMNIST, fraction: float, seed: int = 0
) -> data.PneumoniaMNIST:
    """Return ``dataset`` with only a stratified share of its training split.

    Each class keeps ``fraction`` of its X-rays (at least one), drawn at random with
    ``seed``; the validation and test splits are untouched, so every run is evaluated
    on the same data. ``fraction=1`` returns the dataset unchanged.

    Raises:
        SweepError: ``fraction`` is not in (0, 1].
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

    Attributes:
        table: one row per run: ``model``, ``fraction``, ``n_train`` (distinct X-rays),
            ``seed``, the test metrics ``auc``, ``accuracy``, ``sensitivity``,
            ``specificity``, and ``seconds``, ``epochs_run`` and ``updates`` (weight
            updates) of training.
        trained: every run's trained model and datasets, keyed by ``(model, fraction,
            seed)``.
        test_scores: every run's pneumonia scores on the test split, with the same keys.
    """

    table: pd.DataFrame
    trained: dict[tuple[str, float, int], object] = field(default_factory=dict)
    test_scores: dict[tuple[str, float, int], np.ndarray] = field(default_factory=dict)

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
    reuse: Mapping[tuple[str, float, int], object] | None = None,
    equal_updates: bool = False,
    verbose: bool = True,
) -> SweepResult:
    """Train every recipe on every share of the training split and score it on the test split.

    Each recipe trains with its budget row (:mod:`pneumo_helpers.budgets`); for a shorter
    sweep, bind a shorter row, e.g. ``functools.partial(recipes.train_baseline_cnn,
    budget=budgets.budget(profile, "baseline_cnn_sweep"))``.

    Args:
        recipes: ``{"name": recipe}``, e.g. ``{"baseline_cnn":
            recipes.train_baseline_cnn}``.
        dataset: the full data set; its validation and test splits are used as they are.
        profile: the profile the recipes read.
        fractions: shares of the training split, each in (0, 1].
        seeds: one run per seed; a seed fixes both the subset and the training.
        reuse: runs already trained with the same recipe and settings, keyed by ``(name,
            fraction, seed)``; they are evaluated, not trained again.
        equal_updates: repeat every subset to the full split's size
            (:func:`repeat_to_size`), so that every run makes the same number of weight
            updates, whatever its share.
        verbose: print one line per run.

    Returns:
        SweepResult: the table of test metrics and the trained runs.
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
    reuse = dict(reuse or {})
    rows, trained, test_scores = [], {}, {}
    for seed in seeds:
        for fraction in fractions:
            subset = training_subset(dataset, fraction, seed)
            n_train = len(subset.train.labels)
            if equal_updates and fraction < 1.0:
                subset = repeat_to_size(subset, len(dataset.train.labels), seed)
            for name, recipe in recipes.items():
                key = (name, float(fraction), int(seed))
                run = reuse.get(key)
                if run is None:
                    run = recipe(subset, profile, seed=int(seed), verbose=0)
                row = getattr(run, "budget", None)  # the run's budget row, when it has one
                batch_size = row.batch_size if row is not None else profile.batch_size
                steps_per_epoch = -(-len(subset.train.labels) // batch_size)
                model = run.result.model
                val_scores = evaluation.predict_scores(model, run.val_data)
                threshold = evaluation.choose_threshold(dataset.val.labels, val_scores, "youden")
                test_scores[key] = evaluation.predict_scores(model, run.test_data)
                scores = evaluation.binary_metrics(dataset.test.labels, test_scores[key], threshold)
                trained[key] = run
                rows.append(
                    {
                        "model": name,
                        "fraction": float(fraction),
                        "n_train": n_train,
                        "seed": int(seed),
                        **{m: scores[m] for m in ("auc", "accuracy", "sensitivity", "specificity")},
                        "seconds": run.result.seconds,
                        "epochs_run": run.result.epochs_run,
                        "updates": run.result.epochs_run * steps_per_epoch,
                    }
                )
                if verbose:
                    print(
                        f"{name:>14} on {n_train:>5} X-rays "
                        f"({fraction:.0%}), seed {seed}: test AUC {scores['auc']:.3f} "
                        f"({run.result.seconds:.0f} s)",
                        flush=True,
                    )
    return SweepResult(pd.DataFrame(rows), trained, test_scores)


def paired_comparisons(
    sweep: SweepResult,
    y_test,
    model_a: str,
    model_b: str,
    metric: str = "auc",
    n_boot: int = 1000,
) -> pd.DataFrame:
    """Compare two models of a sweep run by run: A − B on the same test X-rays, per share and seed.

    Each row is one :func:`pneumo_helpers.evaluation.paired_bootstrap` of the two runs that
    share a ``fraction`` and a ``seed`` (the same subset, the same seed).

    Returns:
        One row per ``(fraction, seed)``: ``difference``, ``low``, ``high`` and the
        ``comparison`` itself (a :class:`~pneumo_helpers.evaluation.PairedComparison`).
    """
    rows = []
    for fraction, seed in sweep.table[["fraction", "seed"]].drop_duplicates().itertuples(False):
        a = sweep.test_scores[(model_a, float(fraction), int(seed))]
        b = sweep.test_scores[(model_b, float(fraction), int(seed))]
        result = evaluation.paired_bootstrap(y_test, a, b, metric, n_boot=n_boot, seed=int(seed))
        rows.append(
            {
                "fraction": float(fraction),
                "seed": int(seed),
                "difference": result.difference,
                "low": result.low,
                "high": result.high,
                "comparison": result,
            }
        )
    return pd.DataFrame(rows)


def verdict_per_fraction(
    comparisons: pd.DataFrame, name_a: str, name_b: str
) -> dict[float, str | None]:
    """Say, per share of the data, which model every seed's paired interval favours.

    A is better at a share only when the interval of A − B lies above zero for every seed
    (B better: below zero for every seed); otherwise the data show no consistent difference.

    Returns:
        ``{fraction: name_a}``, ``name_b``, or None where the seeds do not all agree.
    """
    if comparisons.empty:
        raise SweepError(f"no comparisons of {name_a} and {name_b}: run the sweep first.")
    verdicts: dict[float, str | None] = {}
    for fraction, rows in comparisons.groupby("fraction"):
        if (rows["low"] > 0).all():
            verdicts[float(fraction)] = name_a
        elif (rows["high"] < 0).all():
            verdicts[float(fraction)] = name_b
        else:
            verdicts[float(fraction)] = None
    return verdicts


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
