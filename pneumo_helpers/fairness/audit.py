"""The audit: metrics by group with intervals, gaps between groups, calibration by group.

Point estimates per group come from fairlearn's ``MetricFrame`` with the metrics of the
course's one engine (:func:`pneumo_helpers.evaluation.point_metrics`); intervals from its
vectorised, class-stratified bootstrap (:func:`pneumo_helpers.evaluation.stratified_resamples`
and :func:`~pneumo_helpers.evaluation.resampled_metrics`), and Wilson intervals for rates
(:func:`pneumo_helpers.evaluation.wilson_interval`).

Clinical words: *sensitivity* is the share of pneumonia found; its complement, the
false-negative rate (``fnr``), is the *underdiagnosis* rate of Seyyed-Kalantari et al.
(2021): children with pneumonia whom the model calls normal.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import config, evaluation
from .groups import (
    FairnessInputError,
    UndefinedGroupMetricWarning,
    check_inputs,
    group_order,
    thresholds_per_case,
)

#: Metrics of :func:`audit` that have bootstrap intervals.
RATE_METRICS = ("auc", "sensitivity", "specificity", "fnr", "fpr", "ppv")
#: Metrics where a higher value is better (the others, ``fnr`` and ``fpr``, lower is better).
HIGHER_IS_BETTER = {"auc": True, "sensitivity": True, "specificity": True, "ppv": True}
HIGHER_IS_BETTER.update({"fnr": False, "fpr": False})
#: Plain-language names for tables, plots and model cards.
METRIC_LABELS = {
    "auc": "AUC",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "fnr": "Underdiagnosis (false-negative rate)",
    "fpr": "False-positive rate",
    "ppv": "Positive predictive value",
}
OVERALL = "overall"


@dataclass
class _AuditData:
    """An audit table and the bootstrap replicates behind it, ``{group: {metric: values}}``."""

    table: pd.DataFrame
    replicates: dict[Hashable, dict[str, np.ndarray]]


def _run_audit(
    y_true, y_score, groups, threshold, n_boot: int, seed: int, confidence: float
) -> _AuditData:
    categories = getattr(getattr(groups, "cat", None), "categories", None)
    name = getattr(groups, "name", None) or "group"
    y_true, y_score, groups = check_inputs(y_true, y_score, groups)
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 0:
        raise FairnessInputError(
            f"n_boot must be a non-negative integer (0 skips the intervals), got {n_boot!r}."
        )
    n_boot = config.budget(n_boot, config.REHEARSAL_BOOTSTRAP)
    if not 0.0 < confidence < 1.0:
        raise FairnessInputError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence!r}.")
    if str(OVERALL) in {str(g) for g in pd.unique(groups)}:
        raise FairnessInputError(
            f"groups holds the label {OVERALL!r}, which audit reserves for the overall row; "
            "rename that group."
        )
    thresholds = thresholds_per_case(threshold, groups)
    order = group_order(groups, categories)

    table = _metric_frame_table(y_true, y_score, thresholds, groups, order)
    undefined = table.index[(table["n_positive"] == 0) | (table["n_negative"] == 0)]
    if len(undefined):
        warnings.warn(
            f"groups {list(undefined)} lack pneumonia or normal cases, so their AUC and the "
            "rates that need the missing class are NaN. Collect more cases or merge groups.",
            UndefinedGroupMetricWarning,
            stacklevel=3,
        )

    # Groups draw one after another from one generator; the overall row draws afresh from
    # the seed, so its intervals are those of evaluation.metrics_table with that seed.
    group_rng = np.random.default_rng(seed)
    replicates: dict[Hashable, dict[str, np.ndarray]] = {}
    for group in [*order, OVERALL]:
        if group == OVERALL:
            members, rng = np.ones(len(groups), bool), np.random.default_rng(seed)
        else:
            members, rng = groups == group, group_rng
        if n_boot:
            resamples = evaluation.stratified_resamples(y_true[members], n_boot, rng)
            reps = evaluation.resampled_metrics(
                resamples, y_true[members], y_score[members], thresholds[members]
            )
        else:
            reps = {m: np.full(1, np.nan) for m in RATE_METRICS}
        replicates[group] = reps
        table.loc[group, "threshold"] = float(np.mean(thresholds[members]))
        for metric in RATE_METRICS:
            low, high = evaluation.percentile_interval(reps[metric], confidence)
            table.loc[group, f"{metric}_low"] = low
            table.loc[group, f"{metric}_high"] = high
    columns = ["n", "n_positive", "n_negative", "prevalence", "threshold"]
    for metric in RATE_METRICS:
        columns += [metric, f"{metric}_low", f"{metric}_high"]
    table = table[columns]
    table.index.name = name
    table.attrs.update({"confidence": confidence, "n_boot": n_boot, "seed": seed})
    return _AuditData(table, replicates)


def _metric_frame_table(y_true, y_score, thresholds, groups, order) -> pd.DataFrame:
    """Point estimates per group and overall: the engine's metrics, by fairlearn's MetricFrame."""
    from fairlearn.metrics import MetricFrame

    def metric(name: str) -> Callable:
        def compute(t, p, scores, thresholds):
            return evaluation.point_metrics(t, scores, np.asarray(thresholds))[name]

        return compute

    metrics = {
        "n": lambda t, p: len(t),
        "n_positive": lambda t, p: int(np.sum(t == 1)),
        "n_negative": lambda t, p: int(np.sum(t == 0)),
        "prevalence": lambda t, p: float(np.mean(t)),
        **{name: metric(name) for name in RATE_METRICS},
    }
    params = {name: {"scores": y_score, "thresholds": thresholds} for name in RATE_METRICS}
    frame = MetricFrame(
        metrics=metrics,
        y_true=y_true,
        y_pred=(y_score >= thresholds).astype(float),
        sensitive_features=pd.Series(groups, name="group"),
        sample_params=params,
    )
    by_group = frame.by_group.reindex(order)
    by_group.index = pd.Index(order, dtype=object)
    overall = frame.overall.to_frame(OVERALL).T
    table = pd.concat([by_group, overall]).astype(float)
    for column in ("n", "n_positive", "n_negative"):
        table[column] = table[column].astype(int)
    return table


def audit(
    y_true,
    y_score,
    groups,
    threshold: float | Mapping[Hashable, float] = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Audit a model's decisions by group, with bootstrap confidence intervals.

    Point estimates come from fairlearn's ``MetricFrame`` with the engine's metrics
    (:func:`pneumo_helpers.evaluation.point_metrics`); intervals from the engine's
    percentile bootstrap, which resamples each group's pneumonia and normal cases
    separately (so every resample keeps the group's size and prevalence), vectorised over
    resamples. The overall row's intervals are those of
    :func:`pneumo_helpers.evaluation.metrics_table` with the same ``seed``.

    Args:
        y_true: ``(N,)`` 0/1 labels (1 pneumonia).
        y_score: ``(N,)`` pneumonia scores.
        groups: one group label per case (e.g. ``metadata["site"]``); a pandas
            categorical keeps its category order, and a Series its name as the index name.
        threshold: a score at or above it counts as pneumonia; a number, a dict
            ``{group: threshold}`` for group-specific thresholds, or one threshold per
            case (thresholds set by another attribute, e.g. by site when auditing by sex).
        n_boot: bootstrap resamples; 0 skips the intervals (NaN bounds).
        seed: seed of the bootstrap.
        confidence: e.g. 0.95 for 95 % intervals.

    Returns:
        A DataFrame indexed by group with a last row ``"overall"``. Columns: ``n``,
        ``n_positive``, ``n_negative``, ``prevalence``, ``threshold`` (mean threshold
        applied), and for each of ``auc``, ``sensitivity``, ``specificity``, ``fnr``
        (underdiagnosis), ``fpr`` and ``ppv`` the value with ``_low`` and ``_high``
        bounds. Metrics a group cannot define (no positives or no negatives) are NaN,
        with an :class:`UndefinedGroupMetricWarning`.

    Raises:
        FairnessInputError: lengths differ, labels are not 0/1, scores are NaN, groups are
            missing, or a threshold is missing or not finite.
    """
    return _run_audit(y_true, y_score, groups, threshold, n_boot, seed, confidence).table


def gap_summary(
    y_true,
    y_score,
    groups,
    threshold: float | Mapping[Hashable, float] = 0.5,
    metrics: Sequence[str] = ("sensitivity", "specificity", "auc"),
    reference: Hashable | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Return each group's gap to the best (or a named) group, with bootstrap intervals.

    The reference is the group with the best point estimate of each metric (highest, or
    lowest for ``fnr`` and ``fpr``) unless ``reference`` names one; the reference itself
    gets no row (a group compared with itself is no comparison). Groups are resampled
    independently, with the same resamples as :func:`audit` for the same ``seed``, and
    the difference and ratio are computed within each resample.

    Where a rate (not the AUC) of either group is exactly 0 or 1, every resample of that
    group gives the same value and the bootstrap interval of the difference can collapse
    to zero width; there the difference gets Newcombe's hybrid score interval, built from
    the two groups' Wilson intervals (:func:`newcombe_interval`), and ``interval`` says
    ``"Newcombe"`` instead of ``"bootstrap"``.

    Returns:
        One row per (metric, group other than the reference), indexed by both, with
        columns ``value``, ``reference``, ``reference_value``, ``difference`` (group minus
        reference) with ``difference_low``/``_high``, ``interval`` (``"bootstrap"`` or
        ``"Newcombe"``), ``ratio`` (group / reference) with ``ratio_low``/``_high``
        (bootstrap), and ``excludes_zero``: True when the interval of the difference
        excludes 0 (a gap the data support at that confidence).
    """
    unknown = [m for m in metrics if m not in RATE_METRICS]
    if unknown:
        raise FairnessInputError(f"metrics {unknown} are not audit metrics; use {RATE_METRICS}.")
    result = _run_audit(y_true, y_score, groups, threshold, n_boot, seed, confidence)
    table, reps = result.table, result.replicates
    group_rows = table.drop(index=OVERALL)
    if reference is not None and reference not in group_rows.index:
        raise FairnessInputError(
            f"reference {reference!r} is not a group; the groups are {list(group_rows.index)}."
        )
    rows = []
    for metric in metrics:
        values = group_rows[metric]
        if reference is not None:
            ref = reference
        elif values.notna().any():
            ref = values.idxmax() if HIGHER_IS_BETTER[metric] else values.idxmin()
        else:
            ref = group_rows.index[0]
        for group in group_rows.index:
            if group == ref:
                continue
            difference = reps[group][metric] - reps[ref][metric]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = reps[group][metric] / reps[ref][metric]
            bounds = {}
            for key, sample in (("difference", difference), ("ratio", ratio)):
                low, high = evaluation.percentile_interval(sample, confidence)
                bounds[f"{key}_low"], bounds[f"{key}_high"] = low, high
            value, ref_value = values[group], values[ref]
            method = "bootstrap"
            if metric != "auc" and (value in (0.0, 1.0) or ref_value in (0.0, 1.0)):
                group_counts = _rate_counts(group_rows.loc[group])[metric]
                ref_counts = _rate_counts(group_rows.loc[ref])[metric]
                if group_counts[1] and ref_counts[1]:
                    low, high = newcombe_interval(*group_counts, *ref_counts, confidence)
                    bounds["difference_low"], bounds["difference_high"] = low, high
                    method = "Newcombe"
            rows.append(
                {
                    "metric": metric,
                    "group": group,
                    "value": value,
                    "reference": ref,
                    "reference_value": ref_value,
                    "difference": value - ref_value,
                    "difference_low": bounds["difference_low"],
                    "difference_high": bounds["difference_high"],
                    "interval": method,
                    "ratio": value / ref_value if np.isfinite(ref_value) and ref_value else np.nan,
                    "ratio_low": bounds["ratio_low"],
                    "ratio_high": bounds["ratio_high"],
                    "excludes_zero": bool(
                        bounds["difference_low"] > 0 or bounds["difference_high"] < 0
                    ),
                }
            )
    columns = ["metric", "group", "value", "reference", "reference_value", "difference"]
    columns += ["difference_low", "difference_high", "interval", "ratio", "ratio_low"]
    columns += ["ratio_high", "excludes_zero"]
    summary = pd.DataFrame(rows, columns=columns).set_index(["metric", "group"])
    summary.attrs.update({"confidence": confidence})
    return summary


def _rate_counts(row: pd.Series) -> dict[str, tuple[int, int]]:
    """``{rate: (successes, trials)}`` of one audit-table row, from its counts and rates."""
    n_pos, n_neg = int(row["n_positive"]), int(row["n_negative"])
    tp = int(round(row["sensitivity"] * n_pos)) if n_pos else 0
    fp = int(round(row["fpr"] * n_neg)) if n_neg else 0
    return {
        "sensitivity": (tp, n_pos),
        "fnr": (n_pos - tp, n_pos),
        "specificity": (n_neg - fp, n_neg),
        "fpr": (fp, n_neg),
        "ppv": (tp, tp + fp),
    }


def newcombe_interval(
    successes_a: int, n_a: int, successes_b: int, n_b: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Return Newcombe's hybrid score interval of the difference of two proportions, a - b.

    It combines the two Wilson intervals (:func:`pneumo_helpers.evaluation.wilson_interval`)
    (Newcombe 1998, method 10), so it keeps a width when either proportion is 0 or 1,
    where a bootstrap of two independent groups collapses.
    """
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = evaluation.wilson_interval(successes_a, n_a, confidence)
    low_b, high_b = evaluation.wilson_interval(successes_b, n_b, confidence)
    difference = p_a - p_b
    low = difference - np.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = difference + np.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return float(low), float(high)


def wilson_intervals(
    table: pd.DataFrame,
    metrics: Sequence[str] = ("sensitivity", "specificity", "fnr", "fpr", "ppv"),
    confidence: float | None = None,
) -> pd.DataFrame:
    """Return a copy of an :func:`audit` table whose rate intervals are Wilson intervals.

    A bootstrap interval has no width when a group's rate is 0 or 1 (every resample gives
    the same value), which is when a small group most needs an interval; the Wilson score
    interval (:func:`pneumo_helpers.evaluation.wilson_interval`) does not collapse. The
    counts come from the table (``n_positive``, ``n_negative`` and the rates).

    Args:
        table: an audit table.
        metrics: the rates to give Wilson intervals (``auc`` keeps its bootstrap one).
        confidence: the level; default the table's own (``attrs["confidence"]``).
    """
    unknown = [m for m in metrics if m not in RATE_METRICS or m == "auc"]
    if unknown:
        raise FairnessInputError(
            f"metrics {unknown} are not rates of an audit table; use some of {RATE_METRICS[1:]}."
        )
    confidence = table.attrs.get("confidence", 0.95) if confidence is None else confidence
    out = table.copy()
    for group, row in table.iterrows():
        counts = _rate_counts(row)
        for metric in metrics:
            successes, trials = counts[metric]
            low = high = float("nan")
            if trials:
                low, high = evaluation.wilson_interval(successes, trials, confidence)
            out.loc[group, f"{metric}_low"], out.loc[group, f"{metric}_high"] = low, high
    out.attrs = {**table.attrs, "confidence": confidence, "wilson": tuple(metrics)}
    return out


def calibration_by_group(y_true, y_score, groups, n_bins: int = 10) -> pd.DataFrame:
    """Return calibration summaries per group and overall.

    Columns: ``n``, ``mean_score`` (mean predicted probability), ``observed`` (share
    with pneumonia), ``calibration_in_the_large`` (their difference: positive means
    over-estimation), ``brier`` (Brier score) and ``ece`` (expected calibration error,
    ``n_bins`` equal-width bins).
    """
    categories = getattr(getattr(groups, "cat", None), "categories", None)
    name = getattr(groups, "name", None) or "group"
    y_true, y_score, groups = check_inputs(y_true, y_score, groups)
    if n_bins < 1:
        raise FairnessInputError(f"n_bins must be at least 1, got {n_bins!r}.")
    rows = {}
    for group in [*group_order(groups, categories), OVERALL]:
        members = np.ones(len(groups), bool) if group == OVERALL else groups == group
        t, s = y_true[members], y_score[members]
        rows[group] = {
            "n": int(members.sum()),
            "mean_score": float(s.mean()),
            "observed": float(t.mean()),
            "calibration_in_the_large": float(s.mean() - t.mean()),
            "brier": float(np.mean((s - t) ** 2)),
            "ece": evaluation.expected_calibration_error(t, s, n_bins),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = name
    return table
