"""Unit tests of pneumo_helpers.fairness on small hand-made labels, scores and images."""

import re
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from pneumo_helpers import data, evaluation, fairness  # noqa: E402

# Group "a": 4 pneumonia, 4 normal; group "b": 4 pneumonia, 2 normal.
Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0])
S = np.array([0.9, 0.8, 0.7, 0.3, 0.6, 0.2, 0.1, 0.4, 0.9, 0.45, 0.4, 0.3, 0.2, 0.7])
G = np.array(["a"] * 8 + ["b"] * 6)


def test_audit_point_estimates_by_hand():
    table = fairness.audit(Y, S, G, threshold=0.5, n_boot=0)
    assert list(table.index) == ["a", "b", "overall"]
    a, b, overall = table.loc["a"], table.loc["b"], table.loc["overall"]
    # a: positives 0.9 0.8 0.7 found, 0.3 missed; normals: 0.6 flagged, three cleared.
    assert (a["n"], a["n_positive"], a["n_negative"]) == (8, 4, 4)
    assert a["sensitivity"] == pytest.approx(3 / 4) and a["fnr"] == pytest.approx(1 / 4)
    assert a["specificity"] == pytest.approx(3 / 4) and a["fpr"] == pytest.approx(1 / 4)
    assert a["ppv"] == pytest.approx(3 / 4) and a["prevalence"] == pytest.approx(0.5)
    # b: only 0.9 found of four; normals 0.2 cleared, 0.7 flagged.
    assert b["sensitivity"] == pytest.approx(1 / 4) and b["specificity"] == pytest.approx(1 / 2)
    assert b["ppv"] == pytest.approx(1 / 2) and b["prevalence"] == pytest.approx(4 / 6)
    assert a["auc"] == pytest.approx(roc_auc_score(Y[:8], S[:8]))
    assert b["auc"] == pytest.approx(roc_auc_score(Y[8:], S[8:]))
    expected = evaluation.binary_metrics(Y, S, 0.5)
    assert overall["sensitivity"] == pytest.approx(expected["sensitivity"])
    assert overall["specificity"] == pytest.approx(expected["specificity"])
    assert overall["auc"] == pytest.approx(expected["auc"])
    assert overall["n"] == len(Y) and overall["threshold"] == 0.5
    assert np.isnan(table["sensitivity_low"]).all()  # n_boot=0 skips the intervals


def test_audit_intervals_bracket_the_point_and_are_reproducible():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    s = np.clip(0.35 * y + 0.65 * rng.random(400), 0, 1)
    g = pd.Series(pd.Categorical(rng.choice(["z", "y"], 400), categories=["z", "y"]), name="site")
    table = fairness.audit(y, s, g, threshold=0.5, n_boot=300, seed=3)
    assert list(table.index) == ["z", "y", "overall"] and table.index.name == "site"
    for metric in fairness.RATE_METRICS:
        assert (table[f"{metric}_low"] <= table[metric] + 1e-12).all(), metric
        assert (table[metric] <= table[f"{metric}_high"] + 1e-12).all(), metric
    assert (table["sensitivity_high"] - table["sensitivity_low"] > 0).all()
    pd.testing.assert_frame_equal(table, fairness.audit(y, s, g, 0.5, n_boot=300, seed=3))


def test_audit_group_metrics_are_the_engines_on_the_same_cases():
    table = fairness.audit(Y, S, G, threshold={"a": 0.5, "b": 0.25}, n_boot=0)
    for group, threshold in (("a", 0.5), ("b", 0.25)):
        expected = evaluation.point_metrics(Y[G == group], S[G == group], threshold)
        for metric in fairness.RATE_METRICS:
            assert table.loc[group, metric] == pytest.approx(expected[metric]), (group, metric)


def test_audit_bootstrap_is_the_engines_and_overall_matches_metrics_table():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    g = rng.choice(["a", "b"], 300)
    table = fairness.audit(y, s, g, threshold=0.5, n_boot=200, seed=4)
    # The groups draw one after another from one generator, as the engine's resamples.
    draws = np.random.default_rng(4)
    for group in ("a", "b"):
        members = g == group
        resamples = evaluation.stratified_resamples(y[members], 200, draws)
        reps = evaluation.resampled_metrics(resamples, y[members], s[members], 0.5)
        for metric in fairness.RATE_METRICS:
            low, high = evaluation.percentile_interval(reps[metric])
            assert table.loc[group, f"{metric}_low"] == pytest.approx(low), (group, metric)
            assert table.loc[group, f"{metric}_high"] == pytest.approx(high), (group, metric)
    # The overall row: the same interval as evaluation.metrics_table with the same seed.
    overall = evaluation.metrics_table(
        y, s, 0.5, metrics=("auc", "sensitivity", "specificity"), n_boot=200, seed=4
    )
    for metric in ("auc", "sensitivity", "specificity"):
        assert table.loc["overall", f"{metric}_low"] == pytest.approx(overall.loc[metric, "low"])
        assert table.loc["overall", f"{metric}_high"] == pytest.approx(overall.loc[metric, "high"])


def test_group_specific_thresholds_are_applied_per_group():
    table = fairness.audit(Y, S, G, threshold={"a": 0.5, "b": 0.25}, n_boot=0)
    assert table.loc["b", "sensitivity"] == pytest.approx(1.0)  # 0.9 0.45 0.4 0.3 >= 0.25
    assert table.loc["a", "sensitivity"] == pytest.approx(3 / 4)
    assert table.loc["b", "threshold"] == 0.25
    assert table.loc["overall", "threshold"] == pytest.approx((8 * 0.5 + 6 * 0.25) / 14)


def test_a_group_without_negatives_gives_nan_and_a_warning_not_a_crash():
    y = np.r_[Y, [1, 1, 1]]
    s = np.r_[S, [0.9, 0.2, 0.8]]
    g = np.r_[G, ["c"] * 3]
    with pytest.warns(fairness.UndefinedGroupMetricWarning, match="c"):
        table = fairness.audit(y, s, g, threshold=0.5, n_boot=50)
    c = table.loc["c"]
    assert c["sensitivity"] == pytest.approx(2 / 3)
    assert np.isnan(c["auc"]) and np.isnan(c["specificity"]) and np.isnan(c["fpr"])
    assert np.isnan(c["specificity_low"]) and np.isfinite(c["sensitivity_low"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"y_score": S[:-1]}, "differ in length"),
        ({"groups": G[:-1]}, "groups has 13 labels"),
        ({"y_true": np.where(Y == 1, 2, 0)}, "0 (normal) and 1"),
        ({"y_score": np.where(Y == 1, np.nan, 0.1)}, "NaN"),
        ({"groups": np.where(G == "a", None, "b")}, "missing value"),
        ({"groups": pd.DataFrame({"x": G, "y": G})}, "not a DataFrame"),
        ({"groups": np.where(G == "a", "overall", "b")}, "reserves"),
        ({"threshold": {"a": 0.5}}, "without entries for the groups ['b']"),
        ({"threshold": float("inf")}, "finite"),
        ({"n_boot": -1}, "n_boot"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_audit_rejects_bad_input_with_a_clear_value_error(kwargs, message):
    arguments = {"y_true": Y, "y_score": S, "groups": G, "threshold": 0.5, "n_boot": 0}
    arguments.update(kwargs)
    with pytest.raises(fairness.FairnessInputError, match=re.escape(message)) as caught:
        fairness.audit(**arguments)
    assert isinstance(caught.value, ValueError)


def test_gap_summary_difference_and_ratio_to_the_best_group():
    # 200 cases per group, all separable; group b misses half of its pneumonia at 0.5.
    y = np.tile([1, 0], 200)
    g = np.repeat(["a", "b"], 200)
    s = np.where(y == 1, 0.9, 0.1)
    s[(g == "b") & (y == 1) & (np.arange(400) % 4 == 0)] = 0.3
    gaps = fairness.gap_summary(y, s, g, threshold=0.5, metrics=("sensitivity", "fnr"), n_boot=400)
    row = gaps.loc[("sensitivity", "b")]
    assert row["reference"] == "a" and row["reference_value"] == pytest.approx(1.0)
    assert row["value"] == pytest.approx(0.5) and row["difference"] == pytest.approx(-0.5)
    assert row["ratio"] == pytest.approx(0.5)
    assert row["difference_low"] <= -0.5 <= row["difference_high"] < 0
    assert row["excludes_zero"] and ("sensitivity", "a") not in gaps.index  # no self-row
    assert row["interval"] == "Newcombe"  # the reference's sensitivity is 1: no bootstrap
    fnr = gaps.loc[("fnr", "b")]  # lower is better: the reference is again group a
    assert fnr["reference"] == "a" and fnr["difference"] == pytest.approx(0.5)
    named = fairness.gap_summary(y, s, g, 0.5, metrics=("sensitivity",), reference="b", n_boot=0)
    assert named.loc[("sensitivity", "a"), "difference"] == pytest.approx(0.5)
    with pytest.raises(fairness.FairnessInputError, match="reference"):
        fairness.gap_summary(y, s, g, 0.5, reference="z", n_boot=0)
    with pytest.raises(fairness.FairnessInputError, match="metrics"):
        fairness.gap_summary(y, s, g, 0.5, metrics=("accuracy",), n_boot=0)


def test_newcombe_interval_matches_newcombes_worked_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10: 56/70 - 48/80.
    low, high = fairness.newcombe_interval(56, 70, 48, 80)
    assert low == pytest.approx(0.0524, abs=1e-4) and high == pytest.approx(0.3339, abs=1e-4)


def test_gap_summary_keeps_a_width_when_both_rates_are_one():
    # Both groups find every pneumonia case: the bootstrap difference is always 0.
    y = np.tile([1, 0], 60)
    g = np.repeat(["a", "b"], 60)
    s = np.where(y == 1, 0.9, 0.1)
    gaps = fairness.gap_summary(y, s, g, 0.5, metrics=("sensitivity", "auc"), n_boot=200)
    row = gaps.loc[("sensitivity", "b")]
    assert row["interval"] == "Newcombe" and row["difference"] == 0.0
    low, high = fairness.newcombe_interval(30, 30, 30, 30)
    assert low < 0 < high
    assert row["difference_low"] == pytest.approx(low)
    assert row["difference_high"] == pytest.approx(high)
    assert not row["excludes_zero"]
    assert gaps.loc[("auc", "b"), "interval"] == "bootstrap"  # the AUC is not a proportion
    assert len(gaps) == 2  # one comparison per metric: the reference has no row


def test_gap_summary_sees_no_gap_between_identical_groups():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.3 * y + 0.7 * rng.random(300), 0, 1)
    gaps = fairness.gap_summary(
        np.r_[y, y], np.r_[s, s], np.repeat(["a", "b"], 300), 0.5, n_boot=300
    )
    assert (gaps["difference"].abs() < 1e-12).all()
    assert not gaps["excludes_zero"].any()


def test_simulate_metadata_follows_its_documented_generator():
    labels = np.r_[np.zeros(20000, int), np.ones(20000, int)]
    meta = fairness.simulate_metadata(labels, shifted_share=0.1, seed=0)
    assert list(meta.columns) == ["sex", "age_band", "site"]
    assert list(meta["site"].cat.categories) == list(fairness.SITES)
    pd.testing.assert_frame_equal(meta, fairness.simulate_metadata(labels, 0.1, seed=0))
    assert (meta["site"] == fairness.SHIFTED_SITE).mean() == pytest.approx(0.1, abs=0.01)
    hospital_a = (meta["site"] == "Hospital A").mean()
    assert hospital_a == pytest.approx(0.9 * fairness.HOSPITAL_A_SHARE, abs=0.01)
    male = meta["sex"] == "male"
    for label in (0, 1):  # sex is independent of the label
        assert male[labels == label].mean() == pytest.approx(fairness.MALE_PROBABILITY, abs=0.02)
    youngest = meta["age_band"] == fairness.AGE_BANDS[0]
    assert youngest[labels == 1].mean() == pytest.approx(0.45, abs=0.02)
    assert youngest[labels == 0].mean() == pytest.approx(0.25, abs=0.02)
    with pytest.raises(fairness.FairnessInputError, match="shifted_share"):
        fairness.simulate_metadata(labels, shifted_share=1.5)


def test_simulate_metadata_can_give_the_shifted_site_its_own_prevalence():
    labels = np.r_[np.zeros(10000, int), np.ones(30000, int)]  # prevalence 0.75
    meta = fairness.simulate_metadata(labels, 0.1, seed=1, shifted_prevalence=0.3)
    shifted = (meta["site"] == fairness.SHIFTED_SITE).to_numpy()
    assert shifted.mean() == pytest.approx(0.1, abs=0.01)
    assert labels[shifted].mean() == pytest.approx(0.3, abs=0.03)
    assert labels[~shifted].mean() == pytest.approx((0.75 - 0.1 * 0.3) / 0.9, abs=0.01)
    with pytest.raises(fairness.FairnessInputError, match="lower one of them"):
        fairness.simulate_metadata(labels, 0.5, shifted_prevalence=0.0)  # needs 20000 normals
    with pytest.raises(fairness.FairnessInputError, match="shifted_prevalence"):
        fairness.simulate_metadata(labels, 0.1, shifted_prevalence=2.0)


def test_acquisition_shift_lowers_contrast_darkens_and_adds_noise_as_documented():
    rng = np.random.default_rng(0)
    images = rng.integers(60, 200, size=(5, 16, 16)).astype(np.uint8)
    original = images.copy()
    low = fairness.apply_acquisition_shift(images, fairness.AcquisitionShift(0.5, 0.0, 0.0, 0.0))
    np.testing.assert_array_equal(images, original)  # the input is untouched
    assert low.dtype == np.uint8 and low.shape == images.shape
    ratio = low.astype(float).std(axis=(1, 2)) / images.astype(float).std(axis=(1, 2))
    np.testing.assert_allclose(ratio, 0.5, atol=0.02)
    dark = fairness.apply_acquisition_shift(images, fairness.AcquisitionShift(1.0, -20, 0, 0))
    np.testing.assert_array_equal(dark.astype(int), images.astype(int) - 20)
    flat = np.full((200, 16, 16), 128, np.uint8)
    noisy = fairness.apply_acquisition_shift(flat, fairness.AcquisitionShift(1.0, 0, 0, 10.0))
    assert noisy.astype(float).std() == pytest.approx(10.0, rel=0.05)
    blurred = fairness.apply_acquisition_shift(images, fairness.AcquisitionShift(1.0, 0, 1.0, 0))
    stats_before = fairness.acquisition_statistics(images)
    stats_after = fairness.acquisition_statistics(blurred)
    assert (stats_after["sharpness"] < stats_before["sharpness"]).all()
    with pytest.raises(fairness.FairnessInputError, match="contrast"):
        fairness.AcquisitionShift(contrast=0.0)
    with pytest.raises(fairness.FairnessInputError, match=r"\(N, H, W\)"):
        fairness.apply_acquisition_shift(images[0])


def test_acquisition_statistics_of_known_images():
    flat = np.full((1, 8, 8), 100, np.uint8)
    stripes = np.tile(np.array([0, 200], np.uint8), (1, 8, 4))
    stats = fairness.acquisition_statistics(np.concatenate([flat, stripes]))
    assert stats.loc[0].tolist() == [100.0, 0.0, 0.0, 0.0]
    assert stats.loc[1, "brightness"] == 100.0 and stats.loc[1, "contrast"] == 100.0
    assert stats.loc[1, "noise"] == 200.0 and stats.loc[1, "sharpness"] > 0


def small_dataset(n: int = 60) -> data.PneumoniaMNIST:
    rng = np.random.default_rng(0)

    def split(count):
        images = rng.integers(0, 256, size=(count, 8, 8)).astype(np.uint8)
        return data.Split(images, np.tile([0, 1], count // 2).astype(np.int64))

    return data.PneumoniaMNIST(split(n), split(n // 2), split(n // 2), size=8, path=None)


def test_simulate_cohort_changes_only_the_shifted_sites_images():
    dataset = small_dataset()
    cohort = fairness.simulate_cohort(
        dataset, shifted_shares={"train": 0.2, "val": 0.5, "test": 0.5}, seed=1
    )
    for name, split in dataset.splits().items():
        shifted = cohort.shifted(name)
        assert shifted.any() and (~shifted).any()
        new = cohort.dataset.splits()[name]
        np.testing.assert_array_equal(new.images[~shifted], split.images[~shifted])
        assert (new.images[shifted] != split.images[shifted]).any()
        np.testing.assert_array_equal(new.labels, split.labels)
        assert len(cohort.metadata[name]) == len(split.labels)
    assert cohort.shifted_prevalence == fairness.DEFAULT_SHIFTED_PREVALENCE
    with pytest.raises(fairness.FairnessInputError, match="lacks the splits"):
        fairness.simulate_cohort(dataset, shifted_shares={"train": 0.1})


def test_resample_indices_reaches_the_target_share_and_keeps_everyone():
    groups = np.array(["big"] * 90 + ["small"] * 10)
    index = fairness.resample_indices(groups, {"small": 0.25}, seed=0)
    chosen = groups[index]
    assert (chosen == "small").mean() == pytest.approx(0.25, abs=0.01)
    assert set(range(100)) <= set(index.tolist())  # every original example kept
    assert (chosen == "big").sum() == 90
    down = fairness.resample_indices(groups, {"big": 0.5}, seed=0)
    assert (groups[down] == "big").sum() == 10 and len(set(down.tolist())) == 20
    with pytest.raises(fairness.FairnessInputError, match="no member"):
        fairness.resample_indices(groups, {"tiny": 0.2})
    with pytest.raises(fairness.FairnessInputError, match="sum below 1"):
        fairness.resample_indices(groups, {"small": 1.2})


def test_acquisition_augment_changes_the_chosen_share_only():
    images = np.random.default_rng(0).integers(50, 200, size=(400, 8, 8)).astype(np.uint8)
    np.testing.assert_array_equal(fairness.acquisition_augment(images, 0.0), images)
    half = fairness.acquisition_augment(images, 0.5, seed=1)
    changed = (half != images).any(axis=(1, 2))
    assert changed.mean() == pytest.approx(0.5, abs=0.08)
    np.testing.assert_array_equal(half, fairness.acquisition_augment(images, 0.5, seed=1))
    with pytest.raises(fairness.FairnessInputError, match="noise_std range"):
        fairness.acquisition_augment(images, 0.5, noise_std=(5.0, 1.0))
    with pytest.raises(fairness.FairnessInputError, match="fraction"):
        fairness.acquisition_augment(images, 2.0)


def test_group_thresholds_reach_the_target_sensitivity_in_every_group():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 600)
    g = rng.choice(["a", "b"], 600)
    s = np.clip(0.4 * y + 0.6 * rng.random(600) - 0.2 * (g == "b"), 0, 1)
    thresholds = fairness.group_thresholds(y, s, g, target_sensitivity=0.9)
    assert thresholds["b"] < thresholds["a"]  # b's scores are lower, so is its threshold
    table = fairness.audit(y, s, g, threshold=thresholds, n_boot=0)
    assert (table.loc[["a", "b"], "sensitivity"] >= 0.9).all()
    with pytest.raises(fairness.FairnessInputError, match="single class"):
        fairness.group_thresholds(
            np.append(y, 1), np.append(s, 0.5), np.append(g, "c"), target_sensitivity=0.9
        )


def test_calibration_by_group_by_hand():
    y = np.array([1, 0, 1, 1, 0, 0])
    s = np.array([0.8, 0.4, 0.6, 0.9, 0.1, 0.3])
    g = np.array(["a", "a", "a", "b", "b", "b"])
    table = fairness.calibration_by_group(y, s, g, n_bins=2)
    a = table.loc["a"]
    assert a["mean_score"] == pytest.approx(0.6) and a["observed"] == pytest.approx(2 / 3)
    assert a["calibration_in_the_large"] == pytest.approx(0.6 - 2 / 3)
    assert a["brier"] == pytest.approx((0.04 + 0.16 + 0.16) / 3)
    # bins [0, 0.5): score 0.4, label 0; [0.5, 1]: scores 0.8 0.6, labels 1 1.
    assert a["ece"] == pytest.approx(1 / 3 * 0.4 + 2 / 3 * 0.3)
    assert table.loc["overall", "n"] == 6


def test_plot_underdiagnosis_draws_one_point_per_group_with_attribute_labels():
    tables = {
        "site": fairness.audit(Y, S, G, 0.5, n_boot=50),
        "sex": fairness.audit(Y, S, np.where(np.arange(14) % 2, "male", "female"), 0.5, n_boot=50),
    }
    ax = fairness.plot_underdiagnosis(tables, label="baseline")
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert labels == ["a", "b", "female", "male"]
    texts = [text.get_text() for text in ax.texts]
    assert "site" in texts and "sex" in texts
    points = ax.lines[0].get_ydata()
    np.testing.assert_allclose(points, [0.25, 0.75, *tables["sex"]["fnr"].iloc[:2]])
    assert "Underdiagnosis" in ax.get_ylabel()
    plt.close("all")
    with pytest.raises(fairness.FairnessInputError, match="metric"):
        fairness.plot_underdiagnosis(tables, metric="accuracy")


def test_plot_calibration_by_group_draws_one_curve_per_group():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 300)
    s = np.clip(0.5 * y + 0.5 * rng.random(300), 0, 1)
    ax = fairness.plot_calibration_by_group(y, s, rng.choice(["a", "b"], 300))
    assert len(ax.lines) == 3  # two groups and the diagonal
    plt.close("all")


def test_model_card_reports_metrics_with_intervals_and_supported_gaps():
    y = np.tile([1, 0], 200)
    g = np.repeat(["a", "b"], 200)
    s = np.where(y == 1, 0.9, 0.1)
    s[(g == "b") & (y == 1) & (np.arange(400) % 4 == 0)] = 0.3
    table = fairness.audit(y, s, g, 0.5, n_boot=200)
    gaps = fairness.gap_summary(y, s, g, 0.5, metrics=("sensitivity",), n_boot=200)
    card = fairness.model_card(
        {"site": table},
        model_name="Test CNN",
        intended_use=["Teaching only."],
        data="Simulated.",
        limitations=["Small data."],
        gaps=gaps,
    )
    assert card.startswith("# Model card: Test CNN")
    for heading in ("## Intended use", "## Data", "## Performance by group", "### By site"):
        assert heading in card
    assert "- Teaching only." in card and "Simulated." in card
    low, high = table.loc["b", "sensitivity_low"], table.loc["b", "sensitivity_high"]
    assert "| b | 200 | 50.0% | " in card and f"0.500 ({low:.3f}–{high:.3f})" in card
    assert "group, sensitivity: b 0.500 vs a 1.000 (difference -0.500" in card
    assert "Compared: sensitivity of every group" in card and "(1 of 1)" in card
    assert "Not compared between groups: AUC, specificity" in card
    with pytest.raises(fairness.FairnessInputError, match="audits is empty"):
        fairness.model_card({}, model_name="x", intended_use="x", data="x", limitations="x")


def test_audit_emits_no_warning_for_well_formed_groups():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fairness.audit(Y, S, G, 0.5, n_boot=20)


def test_audit_takes_one_threshold_per_case():
    y = np.array([1, 1, 0, 0, 1, 0])
    scores = np.array([0.6, 0.4, 0.5, 0.2, 0.7, 0.65])
    groups = np.array(["a", "a", "a", "b", "b", "b"])
    per_case = np.array([0.5, 0.5, 0.5, 0.3, 0.3, 0.7])  # e.g. set by another attribute
    table = fairness.audit(y, scores, groups, per_case, n_boot=0)
    assert table.loc["a", "sensitivity"] == 0.5 and table.loc["b", "specificity"] == 1.0
    with pytest.raises(fairness.FairnessInputError, match="one per case"):
        fairness.audit(y, scores, groups, per_case[:3], n_boot=0)


def test_calibration_by_group_uses_the_engines_calibration_error():
    table = fairness.calibration_by_group(Y, S, G, n_bins=4)
    for group in ("a", "b"):
        members = G == group
        expected = evaluation.expected_calibration_error(Y[members], S[members], n_bins=4)
        assert table.loc[group, "ece"] == pytest.approx(expected)


def test_wilson_intervals_do_not_collapse_at_a_rate_of_one():
    y = np.array([1] * 10 + [0] * 10 + [1] * 10 + [0] * 10)
    s = np.r_[np.full(10, 0.9), np.full(10, 0.1), np.tile([0.9, 0.1], 5), np.full(10, 0.1)]
    g = np.repeat(["a", "b"], 20)
    table = fairness.audit(y, s, g, 0.5, n_boot=200)
    assert table.loc["a", "sensitivity_low"] == table.loc["a", "sensitivity_high"] == 1.0
    wilson = fairness.wilson_intervals(table)
    low, high = evaluation.wilson_interval(10, 10)
    assert wilson.loc["a", "sensitivity_low"] == pytest.approx(low) and low < 1.0
    assert wilson.loc["a", "sensitivity_high"] == pytest.approx(high)
    assert wilson.loc["b", "fnr_low"] == pytest.approx(evaluation.wilson_interval(5, 10)[0])
    assert wilson.loc["overall", "ppv_low"] == pytest.approx(evaluation.wilson_interval(15, 15)[0])
    assert wilson["auc_low"].equals(table["auc_low"])  # the AUC keeps its bootstrap interval
    card = fairness.model_card(
        {"site": wilson}, model_name="x", intended_use="x", data="x", limitations="x"
    )
    assert "; sensitivity, specificity, underdiagnosis" in card
    assert "value with 95% Wilson intervals, the rest with 95% bootstrap intervals." in card
    with pytest.raises(fairness.FairnessInputError, match="not rates"):
        fairness.wilson_intervals(table, metrics=("auc",))


def test_model_card_gap_statement_names_every_attribute_and_metric_compared():
    rng = np.random.default_rng(0)
    y = np.tile([1, 0], 300)
    s = np.clip(0.6 * y + 0.4 * rng.random(600), 0, 1)
    sex, site = rng.choice(["f", "m"], 600), rng.choice(["A", "B", "C"], 600)
    gaps = {
        name: fairness.gap_summary(y, s, groups, 0.5, metrics=("sensitivity", "ppv"), n_boot=200)
        for name, groups in (("sex", sex), ("site", site))
    }
    table = fairness.audit(y, s, site, 0.5, n_boot=200)
    card = fairness.model_card(
        {"site": table},
        model_name="x",
        intended_use="x",
        data="x",
        limitations="x",
        metrics=("sensitivity", "ppv", "auc"),
        gaps=gaps,
    )
    n_compared = 2 * (1 + 2)  # two metrics; sex has one non-reference group, site two
    supported = sum(int(g["excludes_zero"].sum()) for g in gaps.values())
    assert "sensitivity, positive predictive value of every group" in card
    assert f"(sex, site); {n_compared} comparisons" in card
    if supported:
        assert f"({supported} of {n_compared})" in card
    else:
        assert f"None of the {n_compared} intervals excludes zero." in card
    assert "Not compared between groups: AUC." in card
