"""Intervals: the vectorised bootstrap, the paired comparison, and Wilson intervals.

The course's one bootstrap. Drawing ``n`` cases with replacement is the same as giving
each case a *count* from a multinomial distribution, so the resamples are drawn once, as
a matrix of counts (:func:`stratified_resamples`, by class so that every resample keeps
the split's size and prevalence), and every metric of every resample follows from
matrix products (:func:`resampled_metrics`). A metric given as a function instead runs
once per resample on the same draws.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import config
from .metrics import METRICS, auc_from_counts, check_binary, point_metrics, rates_from_counts

Metric = str | Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class Resamples:
    """Bootstrap resamples of labelled cases, stored as counts per case.

    Attributes:
        positives: indices of the pneumonia cases.
        negatives: indices of the normal cases.
        positive_counts: ``(n_boot, len(positives))``: how often each pneumonia case is
            drawn in each resample (each row sums to ``len(positives)``).
        negative_counts: the same for the normal cases.
    """

    positives: np.ndarray
    negatives: np.ndarray
    positive_counts: np.ndarray
    negative_counts: np.ndarray

    @property
    def n_boot(self) -> int:
        """Return the number of resamples."""
        return int(self.positive_counts.shape[0])

    def indices(self) -> Iterator[np.ndarray]:
        """Yield each resample as case indices (with repeats), for metrics given as functions."""
        for pos, neg in zip(self.positive_counts, self.negative_counts, strict=True):
            yield np.concatenate([np.repeat(self.positives, pos), np.repeat(self.negatives, neg)])


def stratified_resamples(y_true, n_boot: int, rng: np.random.Generator) -> Resamples:
    """Draw ``n_boot`` bootstrap resamples, the pneumonia and the normal cases separately.

    Args:
        y_true: 0/1 labels of the cases.
        n_boot: number of resamples.
        rng: the random generator (draws the pneumonia cases first, then the normal ones).

    Returns:
        The :class:`Resamples` as multinomial counts.
    """
    y_true = np.asarray(y_true).reshape(-1)

    def draw(members: np.ndarray) -> np.ndarray:
        n = members.size
        if n == 0:
            return np.zeros((n_boot, 0), dtype=int)
        return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)

    positives, negatives = np.flatnonzero(y_true == 1), np.flatnonzero(y_true == 0)
    return Resamples(positives, negatives, draw(positives), draw(negatives))


def resampled_metrics(
    resamples: Resamples, y_true, y_score, threshold=0.5
) -> dict[str, np.ndarray]:
    """Return every metric of :data:`~pneumo_helpers.evaluation.METRICS` on every resample.

    Args:
        resamples: from :func:`stratified_resamples` on the same labels.
        y_true: 0/1 labels.
        y_score: pneumonia scores.
        threshold: one number, or one threshold per case.

    Returns:
        ``{metric: (n_boot,) values}``; NaN where a resample cannot define the metric.
    """
    y_score = np.asarray(y_score, dtype=float).reshape(-1)
    pos, neg = resamples.positives, resamples.negatives
    flagged = (y_score >= np.asarray(threshold, dtype=float)).astype(float)
    tp = resamples.positive_counts @ flagged[pos]  # pneumonia cases flagged, per resample
    fp = resamples.negative_counts @ flagged[neg]  # normal cases flagged, per resample
    values = rates_from_counts(tp, fp, neg.size - fp, pos.size - tp)
    values["auc"] = auc_from_counts(
        y_score[pos], y_score[neg], resamples.positive_counts, resamples.negative_counts
    )
    return values


def metric_replicates(
    resamples: Resamples, y_true, y_score, metric: Metric, threshold=0.5
) -> np.ndarray:
    """Return one metric on every resample: a name of the engine, or ``f(y_true, y_score)``.

    Raises:
        ValueError: ``metric`` is neither a name of :data:`METRICS` nor a function.
    """
    if callable(metric):
        y_true, y_score = np.asarray(y_true), np.asarray(y_score, dtype=float)
        return np.array([metric(y_true[i], y_score[i]) for i in resamples.indices()], float)
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS} or a function, got {metric!r}.")
    return resampled_metrics(resamples, y_true, y_score, threshold)[metric]


def percentile_interval(values, confidence: float = 0.95) -> tuple[float, float]:
    """Return the percentile interval of bootstrap values, ignoring NaN (NaN if none is finite)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if not values.size:
        return float("nan"), float("nan")
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _check_settings(n_boot: int, confidence: float) -> int:
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10, got {n_boot}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}.")
    return config.budget(n_boot, config.REHEARSAL_BOOTSTRAP)


def bootstrap_intervals(
    y_true,
    y_score,
    metrics: Sequence[Metric] = ("auc", "accuracy", "sensitivity", "specificity"),
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[Metric, tuple[float, float]]:
    """Return percentile bootstrap intervals of several metrics, all from the same resamples.

    Cases are resampled with replacement, stratified by class so that every resample
    holds both classes; the resamples are drawn once for all metrics.

    Args:
        y_true: 0/1 labels.
        y_score: pneumonia scores, in the same order.
        metrics: names of :data:`METRICS` or functions ``f(y_true, y_score)``.
        threshold: decision threshold for threshold-dependent metrics.
        n_boot: number of resamples (at least 10).
        confidence: e.g. 0.95 for 95 % intervals.
        seed: random seed.

    Returns:
        ``{metric: (low, high)}``.

    Raises:
        ValueError: bad labels or scores, an unknown metric, or bad settings.
    """
    y_true, y_score = check_binary(y_true, y_score)
    n_boot = _check_settings(n_boot, confidence)
    resamples = stratified_resamples(y_true, n_boot, np.random.default_rng(seed))
    unknown = [m for m in metrics if not callable(m) and m not in METRICS]
    if unknown:
        raise ValueError(f"metric must be one of {METRICS} or a function, got {unknown[0]!r}.")
    named = resampled_metrics(resamples, y_true, y_score, threshold)
    return {
        metric: percentile_interval(
            metric_replicates(resamples, y_true, y_score, metric)
            if callable(metric)
            else named[metric],
            confidence,
        )
        for metric in metrics
    }


def bootstrap_ci(
    y_true,
    y_score,
    metric: Metric = "auc",
    *,
    threshold: float = 0.5,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Return a percentile bootstrap confidence interval for a metric.

    Cases are resampled with replacement, stratified by class so that every resample
    holds both classes (:func:`bootstrap_intervals` for several metrics at once).

    Args:
        y_true: 0/1 labels.
        y_score: pneumonia scores, in the same order.
        metric: a name of :data:`METRICS` or a function ``f(y_true, y_score)``.
        threshold: decision threshold for threshold-dependent metrics.
        n_boot: number of resamples (at least 10).
        confidence: e.g. 0.95 for a 95 % interval.
        seed: random seed.

    Returns:
        ``(low, high)``.

    Raises:
        ValueError: bad labels or scores, an unknown metric, or bad settings.
    """
    return bootstrap_intervals(
        y_true,
        y_score,
        (metric,),
        threshold=threshold,
        n_boot=n_boot,
        confidence=confidence,
        seed=seed,
    )[metric]


def metrics_table(
    y_true,
    y_score,
    threshold: float = 0.5,
    *,
    metrics: tuple[str, ...] = ("auc", "accuracy", "sensitivity", "specificity"),
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Return a table of metrics with 95 % bootstrap intervals: columns value, low, high.

    Args:
        y_true: 0/1 labels.
        y_score: pneumonia scores, in the same order.
        threshold: decision threshold for threshold-dependent metrics.
        metrics: names of :data:`METRICS`, one row each.
        n_boot: number of resamples (the same resamples for every metric).
        seed: random seed.

    Returns:
        A DataFrame indexed by metric with columns ``value``, ``low`` and ``high``.
    """
    point = point_metrics(*check_binary(y_true, y_score), threshold)
    intervals = bootstrap_intervals(
        y_true, y_score, metrics, threshold=threshold, n_boot=n_boot, seed=seed
    )
    rows = {
        name: {"value": point[name], "low": intervals[name][0], "high": intervals[name][1]}
        for name in metrics
    }
    return pd.DataFrame.from_dict(rows, orient="index")


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
    metric: Metric = "auc",
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
        score_a: model A's scores for those cases.
        score_b: model B's scores for the same cases, in the same order.
        metric: a name of :data:`METRICS` or a function ``f(y_true, y_score)``.
        threshold_a: model A's decision threshold.
        threshold_b: model B's decision threshold (default: A's).
        n_boot: number of resamples (at least 10).
        confidence: e.g. 0.95 for a 95 % interval.
        seed: random seed.

    Returns:
        The :class:`PairedComparison`.

    Raises:
        ValueError: bad labels or scores, an unknown metric, or bad settings.
    """
    y_true, score_a = check_binary(y_true, score_a)
    _, score_b = check_binary(y_true, score_b)
    threshold_b = threshold_a if threshold_b is None else threshold_b
    if not callable(metric) and metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS} or a function, got {metric!r}.")
    n_boot = _check_settings(n_boot, confidence)
    resamples = stratified_resamples(y_true, n_boot, np.random.default_rng(seed))
    differences = metric_replicates(
        resamples, y_true, score_a, metric, threshold_a
    ) - metric_replicates(resamples, y_true, score_b, metric, threshold_b)
    low, high = percentile_interval(differences, confidence)
    if callable(metric):
        name, point = (
            getattr(metric, "__name__", "metric"),
            metric(y_true, score_a) - metric(y_true, score_b),
        )
    else:
        name = metric
        point = (
            point_metrics(y_true, score_a, threshold_a)[metric]
            - point_metrics(y_true, score_b, threshold_b)[metric]
        )
    return PairedComparison(name, float(point), low, high, confidence)


def paired_bootstrap_runs(
    y_true,
    runs_a,
    runs_b,
    metric: Metric = "auc",
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedComparison:
    """Compare two models trained several times: the mean over runs of A − B, paired.

    Each model was trained once per training seed, and every run scored the same cases.
    Every resample draws the same cases for every run of both models; on it, the metric
    of each run is computed and averaged over A's runs and over B's runs. The point value
    is the mean over runs, and the interval reflects which cases were drawn for that mean
    (the spread between training seeds is what averaging the runs reduces; report it
    beside, e.g. the per-seed differences).

    Args:
        y_true: 0/1 labels of the cases every run scored.
        runs_a: model A's scores, one array per training run.
        runs_b: model B's scores, one array per training run (any number of runs).
        metric: a name of :data:`METRICS` (at threshold 0.5) or a function
            ``f(y_true, y_score)``.
        n_boot: number of resamples (at least 10).
        confidence: e.g. 0.95 for a 95 % interval.
        seed: random seed.

    Returns:
        The :class:`PairedComparison` of the run means.

    Raises:
        ValueError: no runs, bad labels or scores, an unknown metric, or bad settings.
    """
    if not len(runs_a) or not len(runs_b):
        raise ValueError("need at least one run of each model, got none.")
    y_true = check_binary(y_true, runs_a[0])[0]
    runs_a = [check_binary(y_true, run)[1] for run in runs_a]
    runs_b = [check_binary(y_true, run)[1] for run in runs_b]
    if not callable(metric) and metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS} or a function, got {metric!r}.")
    n_boot = _check_settings(n_boot, confidence)
    resamples = stratified_resamples(y_true, n_boot, np.random.default_rng(seed))

    def run_mean(runs) -> np.ndarray:
        return np.mean([metric_replicates(resamples, y_true, run, metric) for run in runs], 0)

    low, high = percentile_interval(run_mean(runs_a) - run_mean(runs_b), confidence)
    if callable(metric):
        name = getattr(metric, "__name__", "metric")
        points = [[metric(y_true, run) for run in runs] for runs in (runs_a, runs_b)]
    else:
        name = metric
        points = [[point_metrics(y_true, run)[metric] for run in runs] for runs in (runs_a, runs_b)]
    point = float(np.mean(points[0]) - np.mean(points[1]))
    return PairedComparison(name, point, low, high, confidence)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Return the Wilson score interval of a proportion ``successes / n``.

    Unlike a bootstrap, it does not collapse to zero width when the proportion is 0 or 1
    (e.g. a sensitivity of 1.0 on a small group), which is when an interval matters most.

    Args:
        successes: e.g. the pneumonia cases found.
        n: e.g. the pneumonia cases.
        confidence: e.g. 0.95 for a 95 % interval.

    Returns:
        ``(low, high)``, within [0, 1].

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
