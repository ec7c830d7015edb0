"""Comparing models: one function scores every model the same way, with intervals.

The threshold is chosen on validation and applied to the test split; the intervals come
from the course's one bootstrap (:mod:`pneumo_helpers.evaluation.bootstrap`), with the
same resamples for every model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .bootstrap import bootstrap_ci, metrics_table
from .metrics import binary_metrics, choose_threshold, sensitivity_at_specificity

#: The metrics a comparison reports with intervals, in the order chapters show them.
COMPARISON_METRICS = ("auc", "accuracy", "sensitivity", "specificity")


def evaluate_scores(
    y_val,
    val_scores,
    y_test,
    test_scores,
    *,
    specificity_target: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Score one model the course's one way, with 95 % bootstrap intervals.

    The decision threshold is chosen on the validation split (Youden's J, as in
    :func:`evaluate_model`) and applied to the test split. Two more numbers answer a
    hospital's question, "if we accept 10 % false alarms among normal X-rays, how many
    children with pneumonia do we find?":

    * ``sensitivity_at_spec``: read off the test ROC curve at ``specificity_target``
      (:func:`sensitivity_at_specificity`), what the model *can* do;
    * ``val_threshold_sensitivity`` / ``val_threshold_specificity``: what a threshold set
      on validation for that specificity *does* on the test split, where it may drift.

    Returns:
        ``threshold``; for each of :data:`COMPARISON_METRICS` and ``sensitivity_at_spec``
        the test value and its interval (``auc``, ``auc_low``, ``auc_high``, ...); and
        ``val_threshold_sensitivity``, ``val_threshold_specificity``.
    """
    threshold = choose_threshold(y_val, val_scores, "youden")
    table = metrics_table(
        y_test, test_scores, threshold, metrics=COMPARISON_METRICS, n_boot=n_boot, seed=seed
    )
    result: dict[str, float] = {"threshold": threshold}
    for name, row in table.iterrows():
        result[name] = float(row["value"])
        result[f"{name}_low"] = float(row["low"])
        result[f"{name}_high"] = float(row["high"])

    def at_target(t, s):
        return sensitivity_at_specificity(t, s, specificity_target)

    result["sensitivity_at_spec"] = at_target(y_test, test_scores)
    low, high = bootstrap_ci(y_test, test_scores, at_target, n_boot=n_boot, seed=seed)
    result["sensitivity_at_spec_low"], result["sensitivity_at_spec_high"] = low, high
    spec_threshold = choose_threshold(y_val, val_scores, "specificity", target=specificity_target)
    drifted = binary_metrics(y_test, test_scores, spec_threshold)
    result["val_threshold_sensitivity"] = drifted["sensitivity"]
    result["val_threshold_specificity"] = drifted["specificity"]
    return result


def compare_models(
    scores: dict[str, tuple[np.ndarray, np.ndarray]],
    y_val,
    y_test,
    *,
    specificity_target: float = 0.9,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Return one row per model, every row computed by :func:`evaluate_scores`.

    Args:
        scores: ``{model name: (validation scores, test scores)}``.
        y_val, y_test: the validation and test labels.
        specificity_target: the validation specificity of the second threshold.
        n_boot, seed: bootstrap resamples and seed (the same resamples for every model).

    Raises:
        ValueError: no models, or scores that do not match the labels.
    """
    if not scores:
        raise ValueError("scores is empty: pass {model name: (val_scores, test_scores)}.")
    rows = {
        name: evaluate_scores(
            y_val,
            val_scores,
            y_test,
            test_scores,
            specificity_target=specificity_target,
            n_boot=n_boot,
            seed=seed,
        )
        for name, (val_scores, test_scores) in scores.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def format_intervals(
    table: pd.DataFrame,
    metrics: tuple[str, ...] = (*COMPARISON_METRICS, "sensitivity_at_spec"),
    digits: int = 3,
) -> pd.DataFrame:
    """Return ``value (low–high)`` strings for the metrics of a :func:`compare_models` table."""
    missing = [m for m in metrics if not {m, f"{m}_low", f"{m}_high"} <= set(table.columns)]
    if missing:
        raise ValueError(f"table lacks value/low/high columns for {missing}.")
    return pd.DataFrame(
        {
            name: [
                f"{row[name]:.{digits}f} ({row[f'{name}_low']:.{digits}f}–"
                f"{row[f'{name}_high']:.{digits}f})"
                for _, row in table.iterrows()
            ]
            for name in metrics
        },
        index=table.index,
    )
