"""Chapter 12's oversight helpers on tiny generated data: conformal sets, deferral, drift, log."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pneumo_helpers import evaluation, evidence, oversight


def _exchangeable(n: int, seed: int, prevalence: float = 0.6):
    """Labels drawn from calibrated scores: every case exchangeable with every other."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(np.log(prevalence / (1 - prevalence)), 2.0, n)
    scores = 1 / (1 + np.exp(-logits))
    labels = (rng.random(n) < scores).astype(int)
    return labels, scores


# ------------------------------------------------------------------ conformal prediction


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_marginal_coverage_holds_on_exchangeable_data_within_sampling_error(alpha):
    coverages = []
    for seed in range(20):
        y, s = _exchangeable(1000, seed)
        conformal = oversight.calibrate_conformal(y[:500], s[:500], alpha)
        coverages.append(oversight.set_coverage(conformal.predict_sets(s[500:]), y[500:]))
    mean = np.mean([c["coverage"] for c in coverages])
    # Over 20 x 500 test cases the mean coverage's standard error is below 0.005: the
    # guarantee (at least 1 - alpha, at most 1 - alpha + 1/(n+1)) within 3 of them.
    assert 1 - alpha - 0.015 <= mean <= 1 - alpha + 1 / 501 + 0.015
    assert all(c["coverage"] >= 1 - alpha - 0.06 for c in coverages)  # each run, ~4 SE


def test_mondrian_coverage_holds_for_each_class_where_the_marginal_need_not():
    per_class = {"marginal": [], "mondrian": []}
    for seed in range(20):
        # A rare class with poor scores: marginal sets under-cover it.
        rng = np.random.default_rng(seed)
        y = (rng.random(2000) < 0.2).astype(int)
        s = np.clip(np.where(y == 1, rng.beta(2, 3, y.size), rng.beta(1, 6, y.size)), 0, 1)
        for name, mondrian in (("marginal", False), ("mondrian", True)):
            conformal = oversight.calibrate_conformal(y[:1000], s[:1000], 0.1, mondrian=mondrian)
            per_class[name].append(
                oversight.set_coverage(conformal.predict_sets(s[1000:]), y[1000:])
            )
    for key in ("coverage_normal", "coverage_pneumonia"):
        assert np.mean([c[key] for c in per_class["mondrian"]]) >= 0.9 - 0.02, key
    assert np.mean([c["coverage_pneumonia"] for c in per_class["marginal"]]) < 0.85


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.2])
def test_sets_agree_with_mapie_marginal_and_per_class(alpha):
    y, s = _exchangeable(1200, seed=3)
    cal, new = slice(0, 600), slice(600, None)
    for mondrian in (False, True):  # Mondrian: split conformal on each class's cases
        ours = oversight.calibrate_conformal(y[cal], s[cal], alpha, mondrian=mondrian)
        theirs = oversight.mapie_sets(y[cal], s[cal], s[new], alpha, mondrian)
        assert theirs.shape == (600, 2)
        assert np.mean(ours.predict_sets(s[new]) == theirs) >= 0.995  # up to the tie at q


def test_the_mapie_cross_check_says_when_it_has_too_few_cases():
    y, s = _exchangeable(60, seed=5)
    with pytest.raises(oversight.OversightError, match="MAPIE needs more than 20"):
        oversight.mapie_sets(y[:15], s[:15], s[15:], 0.05)


def test_conformal_quantile_rank_and_too_few_cases():
    values = np.arange(1, 10) / 10  # 9 values
    assert oversight.conformal_quantile(values, 0.2) == pytest.approx(0.8)  # ceil(10*0.8)=8th
    assert np.isinf(oversight.conformal_quantile(values, 0.05))  # rank 10 > 9 cases


def test_conformal_refuses_bad_input_and_the_test_split():
    y, s = _exchangeable(100, seed=0)
    with pytest.raises(oversight.OversightError, match="alpha"):
        oversight.calibrate_conformal(y, s, 1.5)
    with pytest.raises(oversight.OversightError, match="probabilities"):
        oversight.calibrate_conformal(y, s * 3, 0.1)
    with pytest.raises(oversight.OversightError, match="both classes"):
        oversight.calibrate_conformal(np.zeros(100, int), s, 0.1, mondrian=True)
    evidence.register_test(y)
    with pytest.raises(evidence.EvidenceError):
        oversight.calibrate_conformal(y, s, 0.1)


# ------------------------------------------------------------------ temperature scaling


def test_temperature_scaling_never_changes_auc():
    # Temperatures from 0.25 (sharper) to 20 (flatter). Far below that, float64 itself
    # rounds distinct high scores to exactly 1.0 (sigmoid(92) == 1.0), a tie the ranking
    # did not have: fit_temperature's range starts at 0.05, but fitted CNN temperatures lie
    # near 1.
    rng = np.random.default_rng(0)
    for trial in range(30):
        y = rng.integers(0, 2, 200)
        s = np.round(rng.beta(0.5 + trial % 3, 1.5, 200), 2)  # rounded: ties, and 0 or 1
        s[:3] = [0.0, 1.0, 0.5]
        y[:2] = [0, 1]
        for t in (0.25, 0.6, 1.0, 2.7, 20.0):
            scaled = evaluation.apply_temperature(s, t)
            assert roc_auc_score(y, scaled) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    y, s = _exchangeable(500, seed=1)
    fitted = evaluation.apply_temperature(s, evaluation.fit_temperature(y, s**3))
    assert roc_auc_score(y, fitted) == pytest.approx(roc_auc_score(y, s**3), abs=1e-12)


# ------------------------------------------------------------------ uncertainty and deferral


def test_ensemble_uncertainty_splits_total_and_disagreement():
    agree = oversight.ensemble_uncertainty([[0.5, 0.9], [0.5, 0.9], [0.5, 0.9]])
    assert agree.total[0] == pytest.approx(1.0) and agree.epistemic[0] == pytest.approx(0.0)
    disagree = oversight.ensemble_uncertainty([[0.01, 0.9], [0.99, 0.9]])
    assert disagree.mean[0] == pytest.approx(0.5) and disagree.epistemic[0] > 0.9
    with pytest.raises(oversight.OversightError, match="at least 2 members"):
        oversight.ensemble_uncertainty([[0.2, 0.3]])


def test_error_detection_auc_is_high_when_uncertainty_marks_the_errors():
    y = np.array([1, 1, 0, 0, 1, 0])
    s = np.array([0.9, 0.45, 0.1, 0.55, 0.8, 0.2])  # two wrong decisions, near 0.5
    entropy = oversight.binary_entropy(s)
    assert oversight.error_detection_auc(y, s, 0.5, entropy) == 1.0
    assert oversight.error_detection_auc(y, s, 0.5, -entropy) == 0.0


def test_risk_coverage_falls_as_the_uncertain_are_deferred():
    y, s = _exchangeable(2000, seed=2)
    curve = oversight.risk_coverage(y, s, 0.5, oversight.binary_entropy(s))
    assert curve["coverage"].iloc[-1] == 1.0
    full_risk = np.mean((s >= 0.5) != y)
    assert curve["risk"].iloc[-1] == pytest.approx(full_risk)
    assert curve.loc[curve["coverage"] <= 0.5, "risk"].iloc[-1] < full_risk / 2


def test_simulated_reader_meets_its_rates_and_errs_on_hard_cases():
    y, s = _exchangeable(20000, seed=4)
    difficulty = oversight.case_difficulty(y, s)
    reader = oversight.SimulatedReader(0.76, 0.945, coupling=1.0)
    p_error = reader.error_probabilities(y, difficulty)
    assert p_error[y == 1].mean() == pytest.approx(0.24, abs=1e-6)
    assert p_error[y == 0].mean() == pytest.approx(0.055, abs=1e-6)
    calls = reader.read(y, difficulty, seed=0)
    assert calls[y == 1].mean() == pytest.approx(0.76, abs=0.02)
    hard = difficulty > np.median(difficulty)
    assert (calls != y)[hard].mean() > 2 * (calls != y)[~hard].mean()
    flat = oversight.SimulatedReader(0.76, 0.945, coupling=0.0).error_probabilities(y, difficulty)
    assert np.allclose(flat[y == 1], 0.24)
    with pytest.raises(oversight.OversightError, match="sensitivity"):
        oversight.SimulatedReader(1.2, 0.9)


def test_team_designs_route_the_right_cases():
    s = np.array([0.05, 0.4, 0.6, 0.95])
    calls = np.array([1, 1, 0, 0])
    unc = oversight.binary_entropy(s)
    alone, read = oversight.team_decisions(s, calls, threshold=0.5)
    assert alone.tolist() == [0, 0, 1, 1] and not read.any()
    deferred, read = oversight.team_decisions(
        s, calls, threshold=0.5, uncertainty=unc, defer_above=0.9
    )
    assert read.tolist() == [False, True, True, False] and deferred.tolist() == [0, 1, 0, 1]
    rule_out, read = oversight.team_decisions(s, calls, threshold=0.5, rule_out_below=0.1)
    assert read.tolist() == [False, True, True, True] and rule_out.tolist() == [0, 1, 0, 0]
    assert oversight.missed_pneumonia([1, 1, 0], [0, 1, 1]) == 1
    assert oversight.false_alarms([1, 1, 0], [0, 1, 1]) == 1
    with pytest.raises(oversight.OversightError, match="not both"):
        oversight.team_decisions(s, calls, threshold=0.5, defer_above=1, rule_out_below=0.1)
    cutoff = oversight.deferral_cutoff(np.arange(100.0), 0.2)
    assert np.mean(np.arange(100.0) > cutoff) == pytest.approx(0.2, abs=0.01)


# ------------------------------------------------------------------ drift


def test_mmd_statistic_is_the_difference_of_mean_kernels():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(12, 3))
    kernel = np.exp(-np.sum((points[:, None] - points[None]) ** 2, axis=-1) / 2)
    first = np.arange(12) < 5
    second = ~first
    expected = (
        kernel[np.ix_(first, first)].mean()
        + kernel[np.ix_(second, second)].mean()
        - 2 * kernel[np.ix_(first, second)].mean()
    )
    assert oversight.mmd_statistic(kernel, first) == pytest.approx(expected)


def test_drift_tests_find_a_shift_and_stay_quiet_without_one():
    rng = np.random.default_rng(0)
    reference = rng.normal(0, 1, (300, 4))
    same, shifted = rng.normal(0, 1, (60, 4)), rng.normal(0.8, 1, (60, 4))
    assert oversight.ks_test(reference, shifted)["p_bonferroni"].min() < 0.01
    assert oversight.ks_test(reference, same)["p_bonferroni"].min() > 0.01
    assert oversight.mmd_test(reference, shifted, n_permutations=100)[1] < 0.02
    assert oversight.mmd_test(reference, same, n_permutations=100)[1] > 0.05
    table = oversight.monitor_windows(
        {"scores": reference[:, 0], "embedding": reference},
        {
            "scores": np.r_[same[:, 0], shifted[:, 0]],
            "embedding": np.vstack([same, shifted]),
        },
        window=60,
        n_permutations=50,
    )
    assert list(table["start"]) == [0, 60]
    assert table["p_embedding"].iloc[1] < table["p_embedding"].iloc[0]
    with pytest.raises(oversight.OversightError, match="same keys"):
        oversight.monitor_windows({"scores": reference[:, 0]}, {"inputs": same}, window=10)


# ------------------------------------------------------------------ the audit log


def _log(tmp_path, n=5):
    log = oversight.AuditLog(tmp_path / "audit.jsonl")
    image = np.zeros((28, 28), np.uint8)
    for i in range(n):
        image[0, 0] = i
        log.record(
            model_fingerprint="ab12" * 4,
            input_sha256=oversight.input_hash(image),
            score=i / 10,
            threshold=0.5,
            deferred=i % 2 == 1,
            human_decision=1 if i % 2 == 1 else None,
            time=f"2026-12-02T10:00:0{i}+00:00",
        )
    return log


def _lines(log):
    return log.path.read_text().splitlines()


def _write(log, lines):
    log.path.write_text("\n".join(lines) + "\n")


def test_an_intact_log_verifies_and_reopens_where_it_ended(tmp_path):
    log = _log(tmp_path)
    result = oversight.verify_log(log.path, expected_head=log.head)
    assert result.ok and result.entries == 5 and result.first_bad is None
    again = oversight.AuditLog(log.path)
    assert again.head == log.head and again.count == 5
    entries = oversight.read_entries(log.path)
    assert entries[1]["final_decision"] == 1 and entries[2]["final_decision"] == 0
    assert entries[1]["previous_hash"] == entries[0]["entry_hash"]


def test_an_altered_entry_is_found(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["human_decision"] = 0
    lines[2] = json.dumps(entry, sort_keys=True)
    _write(log, lines)
    result = oversight.verify_log(log.path)
    assert (result.ok, result.first_bad) == (False, 2) and "altered" in result.reason


def test_an_altered_entry_with_its_hash_recomputed_breaks_the_next_link(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["score"] = 0.99
    entry["entry_hash"] = oversight.entry_hash(entry)
    lines[2] = json.dumps(entry, sort_keys=True)
    _write(log, lines)
    assert oversight.verify_log(log.path).first_bad == 3


def test_a_deleted_entry_is_found(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    _write(log, lines[:2] + lines[3:])
    result = oversight.verify_log(log.path)
    assert (result.ok, result.first_bad) == (False, 2) and "deleted" in result.reason


def test_reordered_entries_are_found(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    lines[1], lines[3] = lines[3], lines[1]
    _write(log, lines)
    assert oversight.verify_log(log.path).first_bad == 1


def test_an_inserted_entry_is_found(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    forged = json.loads(lines[2])
    forged["previous_hash"] = json.loads(lines[1])["entry_hash"]  # a copy linked after line 1
    forged["input_sha256"] = "f" * 64
    forged["entry_hash"] = oversight.entry_hash(forged)
    _write(log, lines[:2] + [json.dumps(forged, sort_keys=True)] + lines[2:])
    result = oversight.verify_log(log.path)
    assert not result.ok and result.first_bad in (2, 3)


def test_entries_cut_off_the_end_are_found_with_the_kept_head(tmp_path):
    log = _log(tmp_path)
    head = log.head
    _write(log, _lines(log)[:-1])
    assert oversight.verify_log(log.path).ok  # a chain alone cannot see a cut tail
    result = oversight.verify_log(log.path, expected_head=head)
    assert not result.ok and result.first_bad == 4


def test_a_broken_line_is_named_and_a_broken_log_is_not_appended_to(tmp_path):
    log = _log(tmp_path)
    lines = _lines(log)
    lines[3] = lines[3][:-10]
    _write(log, lines)
    result = oversight.verify_log(log.path)
    assert (result.ok, result.first_bad) == (False, 3) and "not JSON" in result.reason
    with pytest.raises(oversight.AuditLogError, match="do not append"):
        oversight.AuditLog(log.path)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("score", 1.5, "score"),
        ("score", "high", "score"),
        ("threshold", float("nan"), "threshold"),
        ("deferred", "yes", "deferred"),
        ("human_decision", 2, "human_decision"),
        ("model_fingerprint", "", "model_fingerprint"),
        ("input_sha256", "not hex!", "input_sha256"),
    ],
)
def test_bad_entries_raise_a_clear_error(tmp_path, field, value, message):
    log = oversight.AuditLog(tmp_path / "audit.jsonl")
    entry = {
        "model_fingerprint": "ab" * 8,
        "input_sha256": "cd" * 32,
        "score": 0.3,
        "threshold": 0.5,
        "deferred": False,
        "human_decision": None,
    }
    entry[field] = value
    with pytest.raises(oversight.AuditLogError, match=message):
        log.record(**entry)
    assert not log.path.exists()  # nothing was written


def test_a_deferred_case_needs_the_humans_decision(tmp_path):
    log = oversight.AuditLog(tmp_path / "audit.jsonl")
    with pytest.raises(oversight.AuditLogError, match="human"):
        log.record(
            model_fingerprint="ab" * 8,
            input_sha256="cd" * 32,
            score=0.5,
            threshold=0.5,
            deferred=True,
            human_decision=None,
        )
    with pytest.raises(oversight.AuditLogError, match="not a file"):
        oversight.read_entries(tmp_path / "missing.jsonl")


def test_fingerprints_and_input_hashes_change_with_what_they_cover():
    import keras

    a = np.zeros((4, 4), np.uint8)
    b = a.copy()
    b[0, 0] = 1
    assert oversight.input_hash(a) != oversight.input_hash(b)
    assert oversight.input_hash(a) != oversight.input_hash(a.astype(np.float32))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    before = oversight.model_fingerprint(model)
    assert before == oversight.model_fingerprint(model) and len(before) == 16
    model.set_weights([w + 1 for w in model.get_weights()])
    assert oversight.model_fingerprint(model) != before
