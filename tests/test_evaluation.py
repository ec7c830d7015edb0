"""Unit tests of pneumo_helpers.evaluation on small hand-made scores."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from pneumo_helpers import evaluation  # noqa: E402

Y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
S = np.array([0.1, 0.2, 0.3, 0.7, 0.4, 0.6, 0.8, 0.9, 0.95, 0.85])


def test_binary_metrics_counts_and_rates_by_hand():
    m = evaluation.binary_metrics(Y, S, threshold=0.5)
    # predicted positive: 0.7 (normal), 0.6 0.8 0.9 0.95 0.85 (pneumonia); 0.4 is missed
    assert (m["tp"], m["fp"], m["tn"], m["fn"]) == (5, 1, 3, 1)
    assert m["sensitivity"] == pytest.approx(5 / 6)
    assert m["specificity"] == pytest.approx(3 / 4)
    assert m["accuracy"] == pytest.approx(8 / 10)
    assert m["precision"] == pytest.approx(5 / 6)
    assert m["npv"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 5 / (2 * 5 + 1 + 1))
    assert m["auc"] == pytest.approx(roc_auc_score(Y, S))
    assert m["n"] == 10 and m["threshold"] == 0.5


def test_binary_metrics_threshold_is_inclusive_and_accepts_column_vectors():
    m = evaluation.binary_metrics(Y.reshape(-1, 1), S.reshape(-1, 1), threshold=0.4)
    assert m["fn"] == 0  # 0.4 >= 0.4 counts as pneumonia


@pytest.mark.parametrize(
    ("y_true", "y_score", "message"),
    [
        (Y, S[:-1], "differ in length"),
        (np.ones(4, int), np.linspace(0, 1, 4), "single class"),
        (np.array([0, 1, 2, 1]), np.linspace(0, 1, 4), "0 (normal) and 1"),
        (Y, np.where(Y == 1, np.nan, 0.2), "NaN"),
        (np.array([]), np.array([]), "empty"),
        (np.zeros((4, 2)), np.zeros(4), "one label per image"),
    ],
)
def test_binary_metrics_rejects_bad_input_with_a_clear_message(y_true, y_score, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        evaluation.binary_metrics(y_true, y_score)


def test_binary_metrics_rejects_a_non_finite_threshold():
    with pytest.raises(ValueError, match="threshold"):
        evaluation.binary_metrics(Y, S, threshold=float("nan"))


def youden_j(y, s, threshold):
    m = evaluation.binary_metrics(y, s, threshold)
    return m["sensitivity"] + m["specificity"] - 1


@pytest.mark.parametrize("tolerance", [0.0, 0.01])
def test_youden_threshold_maximises_sensitivity_plus_specificity(tolerance):
    threshold = evaluation.choose_threshold(Y, S, "youden", tolerance=tolerance)
    best = max(youden_j(Y, S, t) for t in np.unique(S))
    assert youden_j(Y, S, threshold) == pytest.approx(best)


def test_youden_takes_the_median_logit_of_near_optimal_thresholds():
    # Perfectly separated scores: every threshold from 0.3 up to 0.7 gives J = 1.
    y = np.array([0, 0, 0, 1, 1, 1])
    s = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    threshold = evaluation.choose_threshold(y, s, "youden")
    assert 0.3 < threshold <= 0.7
    assert youden_j(y, s, threshold) == 1.0
    with pytest.raises(ValueError, match="tolerance"):
        evaluation.choose_threshold(y, s, "youden", tolerance=1.5)


def test_threshold_for_target_sensitivity_is_the_highest_that_reaches_it():
    threshold = evaluation.choose_threshold(Y, S, "sensitivity", target=1.0)
    assert threshold == pytest.approx(0.4)
    assert evaluation.binary_metrics(Y, S, threshold)["sensitivity"] == 1.0
    threshold = evaluation.choose_threshold(Y, S, "specificity", target=1.0)
    assert evaluation.binary_metrics(Y, S, threshold)["specificity"] == 1.0
    assert threshold == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("method", "target"), [("sensitivity", None), ("sensitivity", 1.5), ("magic", None)]
)
def test_choose_threshold_rejects_bad_arguments(method, target):
    with pytest.raises(ValueError):
        evaluation.choose_threshold(Y, S, method, target=target)


def test_bootstrap_interval_contains_the_point_estimate_and_is_reproducible():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(y * 0.3 + rng.normal(0.35, 0.2, 300), 0, 1)
    auc = roc_auc_score(y, s)
    low, high = evaluation.bootstrap_ci(y, s, "auc", n_boot=300, seed=1)
    assert low < auc < high
    assert 0.02 < high - low < 0.2
    assert (low, high) == evaluation.bootstrap_ci(y, s, "auc", n_boot=300, seed=1)
    wide = evaluation.bootstrap_ci(y, s, "auc", n_boot=300, seed=1, confidence=0.99)
    assert wide[0] <= low and wide[1] >= high


def test_bootstrap_accepts_a_function_and_rejects_unknown_metrics():
    low, high = evaluation.bootstrap_ci(Y, S, lambda t, s: float(np.mean(s)), n_boot=50)
    assert 0 < low <= high < 1
    with pytest.raises(ValueError, match="metric"):
        evaluation.bootstrap_ci(Y, S, "magic")
    with pytest.raises(ValueError, match="n_boot"):
        evaluation.bootstrap_ci(Y, S, "auc", n_boot=1)


def test_metrics_table_has_value_and_interval_per_metric():
    table = evaluation.metrics_table(Y, S, 0.5, n_boot=100)
    assert list(table.columns) == ["value", "low", "high"]
    assert list(table.index) == ["auc", "accuracy", "sensitivity", "specificity"]
    assert (table["low"] <= table["high"]).all()


def test_plots_draw_labelled_axes():
    fig, axes = plt.subplots(2, 2)
    evaluation.plot_roc(Y, S, ax=axes[0, 0], threshold=0.5)
    evaluation.plot_precision_recall(Y, S, ax=axes[0, 1])
    evaluation.plot_confusion_matrix(Y, S, 0.5, ax=axes[1, 0])
    evaluation.plot_calibration(Y, S, n_bins=3, ax=axes[1, 1])
    assert "Sensitivity" in axes[0, 0].get_ylabel()
    assert "specificity" in axes[0, 0].get_xlabel()
    assert "Precision" in axes[0, 1].get_ylabel()
    assert [t.get_text() for t in axes[1, 0].texts][0].startswith("3")  # true negatives
    assert "Observed" in axes[1, 1].get_ylabel()
    plt.close(fig)


def test_paired_bootstrap_sees_a_clear_difference_and_no_difference():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    good = y + rng.normal(0, 0.5, y.size)
    poor = y + rng.normal(0, 2.0, y.size)
    clear = evaluation.paired_bootstrap(y, good, poor, n_boot=200, seed=1)
    assert clear.excludes_zero and clear.low > 0
    assert clear.verdict("A", "B") == "A scores higher than B"
    same = evaluation.paired_bootstrap(y, good, good + 1e-9 * rng.normal(size=y.size), n_boot=50)
    assert not same.excludes_zero
    assert same.verdict("A", "B").startswith("the data show no difference")
    flipped = evaluation.paired_bootstrap(y, poor, good, n_boot=200, seed=1)
    assert flipped.high < 0 and flipped.verdict("A", "B") == "B scores higher than A"
    assert "95 % CI" in clear.describe()


def test_paired_bootstrap_threshold_metric_uses_each_models_threshold():
    y = np.array([0, 0, 1, 1])
    a, b = np.array([0.1, 0.2, 0.6, 0.7]), np.array([0.1, 0.2, 0.3, 0.4])
    result = evaluation.paired_bootstrap(
        y, a, b, "sensitivity", threshold_a=0.5, threshold_b=0.25, n_boot=20
    )
    assert result.difference == 0.0  # both find every pneumonia at their own threshold


def test_paired_bootstrap_runs_averages_training_runs_on_the_same_resamples():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 150)
    good = [y + rng.normal(0, 0.6, y.size) for _ in range(3)]
    poor = [y + rng.normal(0, 2.0, y.size) for _ in range(2)]
    runs = evaluation.paired_bootstrap_runs(y, good, poor, n_boot=200, seed=1)
    means = [np.mean([roc_auc_score(y, s) for s in model]) for model in (good, poor)]
    assert runs.difference == pytest.approx(means[0] - means[1])
    assert runs.low <= runs.difference <= runs.high and runs.excludes_zero
    # One run each is the ordinary paired bootstrap: the same resamples, the same interval.
    single = evaluation.paired_bootstrap(y, good[0], poor[0], n_boot=200, seed=1)
    one = evaluation.paired_bootstrap_runs(y, good[:1], poor[:1], n_boot=200, seed=1)
    assert (one.difference, one.low, one.high) == pytest.approx(
        (single.difference, single.low, single.high)
    )
    # Averaging runs narrows the interval against one noisy run.
    assert runs.high - runs.low < single.high - single.low + 0.02
    with pytest.raises(ValueError, match="at least one run"):
        evaluation.paired_bootstrap_runs(y, [], poor)
    with pytest.raises(ValueError):
        evaluation.paired_bootstrap_runs(y, [good[0][:10]], poor)


def test_wilson_interval_matches_the_textbook_and_keeps_width_at_the_edges():
    low, high = evaluation.wilson_interval(8, 10)
    assert low == pytest.approx(0.4902, abs=1e-3) and high == pytest.approx(0.9433, abs=1e-3)
    low, high = evaluation.wilson_interval(10, 10)
    assert high == pytest.approx(1.0) and low == pytest.approx(0.7225, abs=1e-3)
    with pytest.raises(ValueError, match="successes"):
        evaluation.wilson_interval(11, 10)


# --------------------------------------------------------------------------------------
# The engine: counts, resamples and intervals
# --------------------------------------------------------------------------------------


def test_rates_from_counts_by_hand_and_nan_where_undefined():
    rates = evaluation.rates_from_counts(5, 1, 3, 1)
    assert rates["sensitivity"] == pytest.approx(5 / 6) and rates["fnr"] == pytest.approx(1 / 6)
    assert rates["specificity"] == pytest.approx(3 / 4) and rates["fpr"] == pytest.approx(1 / 4)
    assert rates["ppv"] == rates["precision"] == pytest.approx(5 / 6)
    assert rates["npv"] == pytest.approx(3 / 4) and rates["accuracy"] == pytest.approx(8 / 10)
    vector = evaluation.rates_from_counts(np.array([2, 0]), np.array([0, 0]), 3, np.array([1, 0]))
    assert vector["sensitivity"][0] == pytest.approx(2 / 3) and np.isnan(vector["sensitivity"][1])
    assert np.isnan(vector["ppv"][1])  # nothing flagged: the PPV is undefined, not 0


def test_auc_from_counts_matches_sklearn_on_an_explicit_resample():
    rng = np.random.default_rng(1)
    pos, neg = rng.random(7).round(1), rng.random(5).round(1)  # rounded: ties included
    pos_index, neg_index = rng.integers(0, 7, 7), rng.integers(0, 5, 5)
    pos_counts = np.bincount(pos_index, minlength=7)[None]
    neg_counts = np.bincount(neg_index, minlength=5)[None]
    auc = evaluation.auc_from_counts(pos, neg, pos_counts, neg_counts)[0]
    labels = np.r_[np.ones(7), np.zeros(5)]
    assert auc == pytest.approx(roc_auc_score(labels, np.r_[pos[pos_index], neg[neg_index]]))
    assert np.isnan(evaluation.auc_from_counts(pos, neg[:0], pos_counts, np.ones((1, 0))))[0]


def test_point_metrics_are_binary_metrics_and_accept_one_class_and_thresholds_per_case():
    point, binary = evaluation.point_metrics(Y, S, 0.5), evaluation.binary_metrics(Y, S, 0.5)
    assert set(binary) == {*evaluation.BINARY_METRIC_KEYS, "threshold"}
    for key in evaluation.BINARY_METRIC_KEYS:
        assert point[key] == pytest.approx(binary[key]), key
    assert point["fnr"] == pytest.approx(1 / 6) and point["ppv"] == point["precision"]
    alone = evaluation.point_metrics(np.ones(3, int), np.array([0.2, 0.6, 0.9]), 0.5)
    assert alone["sensitivity"] == pytest.approx(2 / 3) and np.isnan(alone["auc"])
    assert np.isnan(alone["specificity"])
    per_case = evaluation.point_metrics(Y, S, np.where(S == 0.4, 0.3, 0.5))
    assert per_case["tp"] == 6  # the one missed case now has its own, lower threshold


def test_stratified_resamples_keep_each_class_and_give_indices():
    y = np.array([1, 0, 1, 1, 0])
    resamples = evaluation.stratified_resamples(y, 40, np.random.default_rng(0))
    assert resamples.n_boot == 40
    assert resamples.positive_counts.shape == (40, 3) and resamples.negative_counts.shape == (40, 2)
    assert (resamples.positive_counts.sum(axis=1) == 3).all()
    assert (resamples.negative_counts.sum(axis=1) == 2).all()
    for index, pos in zip(resamples.indices(), resamples.positive_counts, strict=True):
        assert (y[index] == 1).sum() == 3 and (y[index] == 0).sum() == 2
        np.testing.assert_array_equal(np.bincount(index, minlength=5)[[0, 2, 3]], pos)


def test_resampled_metrics_equal_the_point_metrics_of_each_resample():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 40)
    s = rng.random(40).round(1)
    resamples = evaluation.stratified_resamples(y, 25, np.random.default_rng(3))
    values = evaluation.resampled_metrics(resamples, y, s, 0.5)
    assert set(values) == set(evaluation.METRICS)
    for b, index in enumerate(resamples.indices()):
        expected = evaluation.point_metrics(y[index], s[index], 0.5)
        for metric in evaluation.METRICS:
            assert values[metric][b] == pytest.approx(expected[metric], nan_ok=True), metric


def test_bootstrap_interval_of_a_small_case_by_hand():
    # Two pneumonia cases, one found: a resample holds the found one 0, 1 or 2 times
    # (probabilities 1/4, 1/2, 1/4), so the sensitivity is 0, 0.5 or 1 and the 95 %
    # interval runs from 0 to 1. Perfectly separated scores: every resample's AUC is 1.
    y = np.array([1, 1, 0, 0, 0])
    s = np.array([0.9, 0.4, 0.3, 0.2, 0.1])
    assert evaluation.bootstrap_ci(y, s, "sensitivity", n_boot=2000) == (0.0, 1.0)
    assert evaluation.bootstrap_ci(y, s, "auc", n_boot=200) == (1.0, 1.0)
    narrow = evaluation.bootstrap_ci(y, s, "sensitivity", n_boot=2000, confidence=0.4)
    assert narrow == (0.5, 0.5)  # the middle 40 % of {0: 1/4, 0.5: 1/2, 1: 1/4}


def test_named_metrics_and_functions_share_the_same_resamples():
    def auc(t, s):
        return evaluation.binary_metrics(t, s)["auc"]

    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 120)
    s = np.clip(0.3 * y + 0.7 * rng.random(120), 0, 1)
    intervals = evaluation.bootstrap_intervals(y, s, ("auc", auc), n_boot=100, seed=7)
    assert intervals["auc"] == pytest.approx(intervals[auc])
    assert intervals["auc"] == evaluation.bootstrap_ci(y, s, "auc", n_boot=100, seed=7)
    other = s**2
    named = evaluation.paired_bootstrap(y, s, other, "auc", n_boot=100, seed=7)
    function = evaluation.paired_bootstrap(y, s, other, auc, n_boot=100, seed=7)
    assert (named.low, named.high) == pytest.approx((function.low, function.high))
    assert named.difference == pytest.approx(function.difference)


def test_percentile_interval_ignores_nan_and_says_nan_when_nothing_is_finite():
    assert evaluation.percentile_interval([np.nan, 0.0, 1.0], 0.5) == (0.25, 0.75)
    low, high = evaluation.percentile_interval([np.nan, np.nan])
    assert np.isnan(low) and np.isnan(high)


def test_federated_score_summary_reads_the_engines_auc_and_accuracy():
    from pneumo_helpers import federated

    summary = federated.score_summary(Y, S)
    point = evaluation.point_metrics(Y, S, 0.5)
    assert summary["auc"] == point["auc"] and summary["accuracy"] == point["accuracy"]
    assert np.isnan(federated.score_summary(np.ones(3), np.array([0.2, 0.6, 0.9]))["auc"])
    assert np.isnan(federated.score_summary(Y, np.full(len(Y), np.nan))["loss"])
