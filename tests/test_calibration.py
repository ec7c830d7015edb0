"""Temperature scaling and the expected calibration error, on tiny generated data."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from pneumo_helpers import evaluation


def _overconfident(n: int = 4000, temperature: float = 3.0, seed: int = 0):
    """Labels drawn from calibrated logits, and scores made over-confident by a factor."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(int)
    scores = 1 / (1 + np.exp(-logits * temperature))
    return labels, scores


def test_fit_temperature_recovers_the_overconfidence_factor():
    labels, scores = _overconfident(temperature=3.0)
    assert evaluation.fit_temperature(labels, scores) == pytest.approx(3.0, rel=0.15)


def test_temperature_scaling_lowers_ece_and_keeps_auc():
    labels, scores = _overconfident()
    t = evaluation.fit_temperature(labels, scores)
    scaled = evaluation.apply_temperature(scores, t)
    before = evaluation.expected_calibration_error(labels, scores)
    after = evaluation.expected_calibration_error(labels, scaled)
    assert after < before / 2
    assert roc_auc_score(labels, scaled) == pytest.approx(roc_auc_score(labels, scores))


def test_apply_temperature_one_is_identity_and_checks_input():
    scores = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(evaluation.apply_temperature(scores, 1.0), scores)
    assert evaluation.apply_temperature(scores, 2.0)[2] < 0.9
    with pytest.raises(ValueError, match="temperature"):
        evaluation.apply_temperature(scores, 0.0)


def test_expected_calibration_error_known_values():
    labels = np.array([0, 0, 1, 1])
    assert evaluation.expected_calibration_error(labels, np.array([0.0, 0.0, 1.0, 1.0])) == 0
    # every score 0.9, half are pneumonia: gap 0.4
    assert evaluation.expected_calibration_error(labels, np.full(4, 0.9)) == pytest.approx(0.4)
    with pytest.raises(ValueError, match="n_bins"):
        evaluation.expected_calibration_error(labels, np.full(4, 0.9), n_bins=0)


def test_the_ranking_survives_every_temperature_down_to_the_float64_limit():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(rng.beta(0.5, 0.5, 500) * 0.999 + 0.0005 * labels, 1e-6, 1 - 1e-6)
    before = roc_auc_score(labels, scores)
    for t in (0.45, 0.5, 1.0, 3.0, 20.0):  # logits within ±16, so logit / t stays below 36
        assert roc_auc_score(labels, evaluation.apply_temperature(scores, t)) == before
    # Below the limit the most confident scores round to exactly 1.0 and tie (docstring).
    assert (evaluation.apply_temperature(np.array([1 - 1e-6, 1 - 2e-6]), 0.05) == 1.0).all()
