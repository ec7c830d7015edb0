"""Evaluation: the course's one statistics engine, from scores to clinical metrics.

Clinical words first: *sensitivity* (recall, true-positive rate) is the share of pneumonia
cases the model finds; *specificity* (true-negative rate) the share of normal X-rays it
leaves alone. The threshold that turns a score into a decision is chosen on the
validation split only, never on the test split.

One engine, used by every chapter and by :mod:`pneumo_helpers.fairness`:

* point metrics (:mod:`.metrics`): :func:`point_metrics`, :func:`binary_metrics`, the
  AUC by :func:`auc_from_counts`, rates by :func:`rates_from_counts`, and
  :func:`choose_threshold`;
* intervals (:mod:`.bootstrap`): a vectorised, class-stratified bootstrap
  (:func:`stratified_resamples`, :func:`resampled_metrics`, :func:`bootstrap_intervals`,
  :func:`bootstrap_ci`, :func:`metrics_table`), the paired comparison of two scorers on
  the same cases (:func:`paired_bootstrap`, and :func:`paired_bootstrap_runs` for models
  trained with several seeds), and Wilson intervals for proportions
  (:func:`wilson_interval`);
* comparing models the one way (:mod:`.comparison`), calibration (:mod:`.calibration`)
  and plots (:mod:`.figures`).

Every name is importable from here: ``from pneumo_helpers import evaluation``.
"""

from .bootstrap import (
    PairedComparison,
    Resamples,
    bootstrap_ci,
    bootstrap_intervals,
    metric_replicates,
    metrics_table,
    paired_bootstrap,
    paired_bootstrap_runs,
    percentile_interval,
    resampled_metrics,
    stratified_resamples,
    wilson_interval,
)
from .calibration import apply_temperature, expected_calibration_error, fit_temperature
from .comparison import COMPARISON_METRICS, compare_models, evaluate_scores, format_intervals
from .figures import plot_calibration, plot_confusion_matrix, plot_precision_recall, plot_roc
from .metrics import (
    BINARY_METRIC_KEYS,
    METRICS,
    auc_from_counts,
    binary_metrics,
    check_binary,
    choose_threshold,
    evaluate_model,
    point_metrics,
    predict_scores,
    rates_from_counts,
    sensitivity_at_specificity,
)

__all__ = [
    "BINARY_METRIC_KEYS",
    "COMPARISON_METRICS",
    "METRICS",
    "PairedComparison",
    "Resamples",
    "apply_temperature",
    "auc_from_counts",
    "binary_metrics",
    "bootstrap_ci",
    "bootstrap_intervals",
    "check_binary",
    "choose_threshold",
    "compare_models",
    "evaluate_model",
    "evaluate_scores",
    "expected_calibration_error",
    "fit_temperature",
    "format_intervals",
    "metric_replicates",
    "metrics_table",
    "paired_bootstrap",
    "paired_bootstrap_runs",
    "percentile_interval",
    "plot_calibration",
    "plot_confusion_matrix",
    "plot_precision_recall",
    "plot_roc",
    "point_metrics",
    "predict_scores",
    "rates_from_counts",
    "resampled_metrics",
    "sensitivity_at_specificity",
    "stratified_resamples",
    "wilson_interval",
]
