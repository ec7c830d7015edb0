"""Evaluation: scores into clinical metrics, thresholds, confidence intervals and plots.

Clinical words first: *sensitivity* (recall, true-positive rate) is the share of pneumonia
cases the model finds; *specificity* (true-negative rate) the share of normal X-rays it
leaves alone. The threshold that turns a score into a decision is chosen on the
validation split only, never on the test split.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from . import config, evidence, plots

_METRIC_NAMES = ("auc", "accuracy", "sensitivity", "specificity", "precision", "npv", "f1")


def _check_binary(y_true, y_score, *, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and scores; return them as flat numpy arrays."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    if y_true.ndim > 1:
        y_true = y_true.reshape(len(y_true), -1)
        if y_true.shape[1] != 1:
            raise ValueError(f"y_true must be one label per image, got shape {y_true.shape}.")
        y_true = y_true[:, 0]
    if y_score.ndim > 1:
        y_score = y_score.reshape(len(y_score), -1)
        if y_score.shape[1] != 1:
            raise ValueError(
                f"y_score must be one pneumonia score per image, got shape {y_score.shape}."
            )
        y_score = y_score[:, 0]
    if len(y_true) != len(y_score):
        raise ValueError(
            f"y_true and y_score differ in length ({len(y_true)} vs {len(y_score)}): "
            "pass one score per label, in the same order."
        )
    if len(y_true) == 0:
        raise ValueError("y_true and y_score are empty.")
    if np.isnan(y_score).any():
        raise ValueError(
            f"y_score holds {int(np.isnan(y_score).sum())} NaN value(s): the model produced "
            "invalid scores (check for a diverged training run or NaN inputs)."
        )
    values = np.unique(y_true)
    if not set(values.tolist()) <= {0, 1}:
        raise ValueError(
            f"y_true must hold 0 (normal) and 1 (pneumonia) only, got values {values.tolist()}."
        )
    if need_both and len(values) < 2:
        raise ValueError(
            f"y_true holds a single class ({int(values[0])}): AUC, sensitivity and specificity "
            "need both normal and pneumonia cases."
        )
    return y_true.astype(int), y_score


def _safe_div(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict[str, float]:
    """Return the clinical metrics of scores at a decision threshold.

    A score at or above ``threshold`` counts as pneumonia.

    Returns:
        ``auc``, ``accuracy``, ``sensitivity``, ``specificity``, ``precision`` (PPV),
        ``npv``, ``f1``, the confusion counts ``tp``, ``fp``, ``tn``, ``fn``, ``n`` and
        ``threshold``.

    Raises:
        ValueError: lengths differ, labels are not 0/1, a single class, or NaN scores.
    """
    y_true, y_score = _check_binary(y_true, y_score)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}.")
    y_pred = (y_score >= threshold).astype(int)
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    fp = int(np.sum((y_pred == 1) & (y_true == 0)))
    tn = int(np.sum((y_pred == 0) & (y_true == 0)))
    fn = int(np.sum((y_pred == 0) & (y_true == 1)))
    sensitivity = _safe_div(tp, tp + fn)
    precision = _safe_div(tp, tp + fp)
    f1 = _safe_div(2 * tp, 2 * tp + fp + fn)
    return {
        "auc": float(skm.roc_auc_score(y_true, y_score)),
        "accuracy": _safe_div(tp + tn, len(y_true)),
        "sensitivity": sensitivity,
        "specificity": _safe_div(tn, tn + fp),
        "precision": precision,
        "npv": _safe_div(tn, tn + fn),
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "n": int(len(y_true)),
        "threshold": float(threshold),
    }


def choose_threshold(
    y_true,
    y_score,
    method: str = "youden",
    target: float | None = None,
    tolerance: float = 0.01,
) -> float:
    """Choose a decision threshold on the validation split.

    Args:
        y_true, y_score: validation labels and scores (never the test split).
        method: ``"youden"`` maximises Youden's J = sensitivity + specificity − 1. A
            small validation split makes the single best threshold noisy, so every
            threshold whose J is within ``tolerance`` of the best counts as optimal and
            the median of those (on the logit scale) is returned;
            ``"sensitivity"`` picks the highest threshold whose sensitivity reaches
            ``target``; ``"specificity"`` the lowest threshold whose specificity reaches it.
        target: the required sensitivity or specificity, in (0, 1].
        tolerance: for ``"youden"``, how far below the best J a threshold may be and
            still count as optimal (0 keeps only the best).

    Returns:
        The threshold (a score at or above it counts as pneumonia).

    Raises:
        EvidenceError: ``y_true`` is the test split's labels.
    """
    evidence.refuse_test("choose_threshold", y_true)
    y_true, y_score = _check_binary(y_true, y_score)
    fpr, tpr, thresholds = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    # roc_curve's first threshold is +inf (nothing positive); keep it out.
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if method == "youden":
        if not 0.0 <= tolerance < 1.0:
            raise ValueError(f"tolerance must be in [0, 1), got {tolerance}.")
        youden = tpr - fpr
        optimal = thresholds[youden >= youden.max() - tolerance - 1e-12]
        if np.all((optimal > 0) & (optimal < 1)):  # probabilities: take the median logit
            logits = np.log(optimal) - np.log1p(-optimal)
            return float(1.0 / (1.0 + np.exp(-np.median(logits))))
        return float(np.median(optimal))
    if method in ("sensitivity", "specificity"):
        if target is None or not 0.0 < target <= 1.0:
            raise ValueError(f"method={method!r} needs a target in (0, 1], got {target!r}.")
        if method == "sensitivity":
            ok = np.flatnonzero(tpr >= target)
            return float(thresholds[ok[0]])  # thresholds decrease: first is the highest
        ok = np.flatnonzero(1.0 - fpr >= target)
        return float(thresholds[ok[-1]])
    raise ValueError(f"method must be 'youden', 'sensitivity' or 'specificity', got {method!r}.")


def bootstrap_ci(
    y_true,
    y_score,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "auc",
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval for a metric.

    Cases are resampled with replacement, stratified by class so that every resample
    holds both classes.

    Args:
        metric: a key of :func:`binary_metrics` or a function ``f(y_true, y_score)``.
        threshold: decision threshold for threshold-dependent metrics.
        n_boot: number of resamples.
        confidence: e.g. 0.95 for a 95 % interval.
        seed: random seed.
    """
    y_true, y_score = _check_binary(y_true, y_score)
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    n_boot = config.budget(n_boot, config.REHEARSAL_BOOTSTRAP)
    if callable(metric):
        func = metric
    elif metric in _METRIC_NAMES:

        def func(t, s):
            return binary_metrics(t, s, threshold)[metric]

    else:
        raise ValueError(f"metric must be one of {_METRIC_NAMES} or a function, got {metric!r}.")
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y_true == 1), np.flatnonzero(y_true == 0)
    values = np.empty(n_boot)
    for b in range(n_boot):
        index = np.concatenate(
            [
                rng.choice(positives, size=positives.size, replace=True),
                rng.choice(negatives, size=negatives.size, replace=True),
            ]
        )
        values[b] = func(y_true[index], y_score[index])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


@dataclass(frozen=True)
class PairedComparison:
    """Model A minus model B on the same cases, with a paired bootstrap interval."""

    metric: str
    difference: float
    low: float
    high: float
    confidence: float

    @property
    def excludes_zero(self) -> bool:
        """True when the interval lies wholly above or wholly below zero."""
        return self.low > 0 or self.high < 0

    def verdict(self, name_a: str, name_b: str, better: str = "scores higher") -> str:
        """Say what the data show: A better, B better, or no evidence of a difference."""
        if self.low > 0:
            return f"{name_a} {better} than {name_b}"
        if self.high < 0:
            return f"{name_b} {better} than {name_a}"
        return f"the data show no difference between {name_a} and {name_b}"

    def describe(self, digits: int = 3) -> str:
        """Return e.g. ``+0.012 (95 % CI -0.004 to +0.028)``."""
        level = f"{self.confidence:.0%}".replace("%", " %")
        return (
            f"{self.difference:+.{digits}f} ({level} CI {self.low:+.{digits}f} "
            f"to {self.high:+.{digits}f})"
        )


def paired_bootstrap(
    y_true,
    score_a,
    score_b,
    metric: str | Callable[[np.ndarray, np.ndarray], float] = "auc",
    *,
    threshold_a: float = 0.5,
    threshold_b: float | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Compare two scorers on the same cases: the difference A − B with a paired interval.

    Every resample draws the same cases for both models (stratified by class), so the
    interval reflects only how the two differ on those cases. Say "A beats B" only when
    the interval excludes zero (:attr:`PairedComparison.excludes_zero`).

    Args:
        y_true: 0/1 labels of the cases both models scored.
        score_a, score_b: the two models' scores for the same cases, in the same order.
        metric: a key of :func:`binary_metrics` or a function ``f(y_true, y_score)``.
        threshold_a, threshold_b: decision thresholds (``threshold_b`` defaults to A's).
        n_boot, confidence, seed: the bootstrap's resamples, level and seed.
    """
    y_true, score_a = _check_binary(y_true, score_a)
    _, score_b = _check_binary(y_true, score_b)
    threshold_b = threshold_a if threshold_b is None else threshold_b
    if callable(metric):
        name, func_a, func_b = getattr(metric, "__name__", "metric"), metric, metric
    elif metric in _METRIC_NAMES:
        name = metric

        def func_a(t, s):
            return binary_metrics(t, s, threshold_a)[metric]

        def func_b(t, s):
            return binary_metrics(t, s, threshold_b)[metric]

    else:
        raise ValueError(f"metric must be one of {_METRIC_NAMES} or a function, got {metric!r}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    n_boot = config.budget(n_boot, config.REHEARSAL_BOOTSTRAP)
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y_true == 1), np.flatnonzero(y_true == 0)
    differences = np.empty(n_boot)
    for b in range(n_boot):
        index = np.concatenate(
            [rng.choice(positives, positives.size), rng.choice(negatives, negatives.size)]
        )
        t = y_true[index]
        differences[b] = func_a(t, score_a[index]) - func_b(t, score_b[index])
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(differences, [alpha, 1.0 - alpha])
    point = func_a(y_true, score_a) - func_b(y_true, score_b)
    return PairedComparison(name, float(point), float(low), float(high), confidence)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``successes / n``.

    Unlike a bootstrap, it does not collapse to zero width when the proportion is 0 or 1
    (e.g. a sensitivity of 1.0 on a small group), which is when an interval matters most.

    Raises:
        ValueError: ``n`` is not positive, or ``successes`` is outside ``[0, n]``.
    """
    from scipy.stats import norm

    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0, got {successes} of {n}.")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def metrics_table(
    y_true,
    y_score,
    threshold: float = 0.5,
    *,
    metrics: tuple[str, ...] = ("auc", "accuracy", "sensitivity", "specificity"),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Return a table of metrics with 95 % bootstrap intervals: columns value, low, high."""
    point = binary_metrics(y_true, y_score, threshold)
    rows = {}
    for name in metrics:
        low, high = bootstrap_ci(
            y_true, y_score, name, threshold=threshold, n_boot=n_boot, seed=seed
        )
        rows[name] = {"value": point[name], "low": low, "high": high}
    return pd.DataFrame.from_dict(rows, orient="index")


def predict_scores(model, dataset) -> np.ndarray:
    """Return the model's pneumonia scores for a dataset as a flat ``float`` array."""
    scores = model.predict(dataset, verbose=0)
    return np.asarray(scores, dtype=float).reshape(-1)


def evaluate_model(model, val_data, test_data, val_labels, test_labels) -> dict[str, float]:
    """Score a trained model the course's one way.

    The threshold is chosen on validation (Youden's J), then applied to the test split.

    Returns:
        The test split's :func:`binary_metrics` at that threshold.
    """
    val_scores = predict_scores(model, val_data)
    threshold = choose_threshold(val_labels, val_scores, "youden")
    return binary_metrics(test_labels, predict_scores(model, test_data), threshold)


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------


def plot_roc(y_true, y_score, *, ax=None, label: str | None = None, threshold: float | None = None):
    """Plot the ROC curve as sensitivity against 1 − specificity, marking a threshold."""
    y_true, y_score = _check_binary(y_true, y_score)
    ax = plots.new_axes(ax)
    fpr, tpr, _ = skm.roc_curve(y_true, y_score)
    auc = skm.roc_auc_score(y_true, y_score)
    ax.plot(fpr, tpr, label=f"{label or 'model'} (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    if threshold is not None:
        m = binary_metrics(y_true, y_score, threshold)
        ax.scatter(
            [1 - m["specificity"]],
            [m["sensitivity"]],
            color="black",
            zorder=3,
            label=f"threshold {threshold:.2f}",
        )
    ax.set(
        xlabel="1 − specificity (share of normal X-rays flagged)",
        ylabel="Sensitivity (share of pneumonia found)",
        title="ROC curve",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="lower right")
    return ax


def plot_precision_recall(y_true, y_score, *, ax=None, label: str | None = None):
    """Plot precision (PPV) against sensitivity (recall), with the prevalence baseline."""
    y_true, y_score = _check_binary(y_true, y_score)
    ax = plots.new_axes(ax)
    precision, recall, _ = skm.precision_recall_curve(y_true, y_score)
    ap = skm.average_precision_score(y_true, y_score)
    ax.plot(recall, precision, label=f"{label or 'model'} (AP {ap:.3f})")
    ax.axhline(y_true.mean(), linestyle="--", color="grey", label="prevalence (chance)")
    ax.set(
        xlabel="Sensitivity (recall)",
        ylabel="Precision (positive predictive value)",
        title="Precision–recall curve",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="lower left")
    return ax


def plot_confusion_matrix(y_true, y_score, threshold: float = 0.5, *, ax=None):
    """Plot the confusion matrix at a threshold, with counts and row percentages."""
    m = binary_metrics(y_true, y_score, threshold)
    ax = plots.new_axes(ax)
    counts = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
    shares = counts / counts.sum(axis=1, keepdims=True)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(
                j,
                i,
                f"{counts[i, j]}\n({shares[i, j]:.0%})",
                ha="center",
                va="center",
                color="white" if shares[i, j] > 0.5 else "black",
            )
    ax.set_xticks([0, 1], ["normal", "pneumonia"])
    ax.set_yticks([0, 1], ["normal", "pneumonia"])
    ax.set(
        xlabel="Model says",
        ylabel="Truth",
        title=f"Confusion matrix at threshold {threshold:.2f}",
    )
    ax.grid(False)
    return ax


def plot_calibration(y_true, y_score, *, n_bins: int = 10, ax=None, label: str | None = None):
    """Plot a reliability curve: observed pneumonia rate against the mean predicted score."""
    from sklearn.calibration import calibration_curve

    y_true, y_score = _check_binary(y_true, y_score)
    ax = plots.new_axes(ax)
    observed, predicted = calibration_curve(y_true, y_score, n_bins=n_bins, strategy="quantile")
    brier = skm.brier_score_loss(y_true, y_score)
    ax.plot(predicted, observed, marker="o", label=f"{label or 'model'} (Brier {brier:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set(
        xlabel="Mean predicted probability of pneumonia",
        ylabel="Observed share with pneumonia",
        title="Calibration (reliability) curve",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="upper left")
    return ax


# --------------------------------------------------------------------------------------
# Comparing models: one function reads every model the same way
# --------------------------------------------------------------------------------------

#: The metrics a comparison reports with intervals, in the order chapters show them.
COMPARISON_METRICS = ("auc", "accuracy", "sensitivity", "specificity")


def sensitivity_at_specificity(y_true, y_score, target: float = 0.9) -> float:
    """Return the highest sensitivity the scores reach at a specificity of at least ``target``.

    A point read off the ROC curve, threshold-free like the AUC: it answers "if we accept
    (1 − target) false alarms among normal X-rays, what share of pneumonia is found?"
    """
    y_true, y_score = _check_binary(y_true, y_score)
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target!r}.")
    fpr, tpr, _ = skm.roc_curve(y_true, y_score)
    return float(tpr[1.0 - fpr >= target - 1e-12].max())


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


# --------------------------------------------------------------------------------------
# Calibration: temperature scaling, fitted on validation
# --------------------------------------------------------------------------------------


def _logits(scores: np.ndarray) -> np.ndarray:
    """Return the logits of sigmoid scores, clipped away from 0 and 1."""
    clipped = np.clip(np.asarray(scores, dtype=float), 1e-7, 1.0 - 1e-7)
    return np.log(clipped) - np.log1p(-clipped)


def apply_temperature(scores, temperature: float) -> np.ndarray:
    """Return sigmoid scores rescaled by a temperature: ``sigmoid(logit(score) / t)``.

    A temperature above 1 pulls scores towards 0.5 (less confident), below 1 pushes
    them towards 0 and 1. The ranking, and hence the AUC, does not change.
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}.")
    return 1.0 / (1.0 + np.exp(-_logits(scores) / temperature))


def fit_temperature(y_val, val_scores) -> float:
    """Return the temperature that minimises the log-loss of validation scores.

    Fit it on the validation split (never the test split), then apply it to any split
    with :func:`apply_temperature`.

    Args:
        y_val: 0/1 validation labels.
        val_scores: the model's sigmoid scores for the same X-rays.
    """
    from scipy.optimize import minimize_scalar

    evidence.refuse_test("fit_temperature", y_val)
    y_val, val_scores = _check_binary(y_val, val_scores)
    logits = _logits(val_scores)

    def log_loss(log_t: float) -> float:
        z = logits / np.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, z) - y_val * z))  # −log-likelihood

    best = minimize_scalar(log_loss, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(best.x))


def expected_calibration_error(y_true, y_score, n_bins: int = 10) -> float:
    """Return the expected calibration error over equal-width score bins.

    The mean, weighted by each bin's share of cases, of the gap between the bin's mean
    score and its observed share of pneumonia (0 is perfectly calibrated).
    """
    y_true, y_score = _check_binary(y_true, y_score, need_both=False)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}.")
    bins = np.minimum((y_score * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.mean() * abs(y_score[inside].mean() - y_true[inside].mean())
    return float(error)
