"""Uncertainty of a small deep ensemble, and whether it ranks the model's errors.

A deep ensemble (Lakshminarayanan et al. 2017) trains the same network several times
from different seeds; the mean of its members' scores is the prediction. Its uncertainty
splits in two: the entropy of the mean score (*total*), and the mutual information
between the prediction and the member (*epistemic*: how much the members disagree), the
entropy of the mean minus the mean of the members' entropies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import checks
from .errors import OversightError


def binary_entropy(scores) -> np.ndarray:
    """Return the entropy, in bits, of each sigmoid score (1 at 0.5, 0 at 0 or 1)."""
    p = np.clip(np.asarray(scores, dtype=float), 1e-12, 1 - 1e-12)
    return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))


@dataclass(frozen=True)
class EnsembleUncertainty:
    """A deep ensemble's prediction and its uncertainty, one value per X-ray.

    Attributes:
        mean: the mean of the members' scores (the ensemble's score).
        total: entropy of the mean score, in bits.
        epistemic: mutual information (members' disagreement), in bits.
        spread: standard deviation of the members' scores.
    """

    mean: np.ndarray
    total: np.ndarray
    epistemic: np.ndarray
    spread: np.ndarray


def ensemble_uncertainty(member_scores) -> EnsembleUncertainty:
    """Return the ensemble's mean score and its total and epistemic uncertainty.

    Args:
        member_scores: ``(members, n)`` scores, one row per trained member.

    Raises:
        OversightError: fewer than two members, or scores outside [0, 1].
    """
    members = np.asarray(member_scores, dtype=float)
    if members.ndim != 2 or members.shape[0] < 2:
        raise OversightError(
            f"member_scores must be (members, cases) with at least 2 members, got shape "
            f"{members.shape}."
        )
    checks.probabilities(members, "member_scores")
    mean = members.mean(axis=0)
    total = binary_entropy(mean)
    epistemic = np.maximum(total - binary_entropy(members).mean(axis=0), 0.0)
    return EnsembleUncertainty(mean, total, epistemic, members.std(axis=0))


def error_detection_auc(y_true, scores, threshold: float, uncertainty) -> float:
    """Return the AUC of an uncertainty for telling the model's wrong decisions from its right ones.

    0.5: the uncertainty says nothing about which decisions are wrong; 1: every wrong
    decision is more uncertain than every right one.

    Raises:
        OversightError: bad inputs, or no wrong (or no right) decision to rank.
    """
    from sklearn.metrics import roc_auc_score

    scores = checks.probabilities(scores)
    y = checks.labels(y_true, scores.size, "y_true")
    uncertainty = np.asarray(uncertainty, dtype=float).reshape(-1)
    wrong = (scores >= threshold).astype(int) != y
    if wrong.all() or not wrong.any():
        raise OversightError("every decision is right (or every one wrong): nothing to rank.")
    return float(roc_auc_score(wrong, uncertainty))
