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
