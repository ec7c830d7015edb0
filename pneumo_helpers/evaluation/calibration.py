"""Calibration: temperature scaling, fitted on validation, and the expected calibration error."""

from __future__ import annotations

import numpy as np

from .. import evidence
from .metrics import check_binary


def _logits(scores: np.ndarray) -> np.ndarray:
    """Return the logits of sigmoid scores, clipped away from 0 and 1."""
    clipped = np.clip(np.asarray(scores, dtype=float), 1e-7, 1.0 - 1e-7)
    return np.log(clipped) - np.log1p(-clipped)


def apply_temperature(scores, temperature: float) -> np.ndarray:
    """Return sigmoid scores rescaled by a temperature: ``sigmoid(logit(score) / t)``.

    A temperature above 1 pulls scores towards 0.5 (less confident), below 1 pushes
    them towards 0 and 1. The ranking, and hence the AUC, does not change, as long as the
    rescaled scores stay within float64's reach of 1: beyond ``logit / t`` of about 36,
    distinct scores round to exactly 1.0 and tie. The logits are clipped at about ±16
    (scores within 1e-7 of 0 or 1 already tie), so that takes a temperature below about
    0.44, and only for the most confident X-rays.
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
    y_val, val_scores = check_binary(y_val, val_scores)
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
    y_true, y_score = check_binary(y_true, y_score, need_both=False)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}.")
    bins = np.minimum((y_score * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in np.unique(bins):
        inside = bins == b
        error += inside.mean() * abs(y_score[inside].mean() - y_true[inside].mean())
    return float(error)
