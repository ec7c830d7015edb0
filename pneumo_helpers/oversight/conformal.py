"""Split conformal prediction sets for the two classes, marginal or per class (Mondrian).

A prediction set is {normal}, {pneumonia} or both (the model cannot tell: defer), or
empty. With the *least ambiguous set-valued* score (LAC, Sadinle et al. 2019), a case's
non-conformity is one minus the probability the model gives its true class. On ``n``
calibration cases the threshold is the ``ceil((n + 1)(1 - alpha))``-th smallest
non-conformity; a class enters a new case's set when its non-conformity is at most that
threshold. If calibration and new cases are exchangeable, the set holds the true class with
probability at least ``1 - alpha`` (Vovk et al. 2005). The *Mondrian* version computes one
threshold per class from that class's calibration cases, so that the guarantee holds for
the children with pneumonia and for the others separately (Vovk 2012).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import evidence
from . import checks
from .errors import OversightError

#: Column order of the prediction sets: column 0 is "normal", column 1 "pneumonia".
SET_CLASSES = ("normal", "pneumonia")


def class_probabilities(scores) -> np.ndarray:
    """Return ``(n, 2)`` probabilities of normal and pneumonia from sigmoid scores."""
    scores = checks.probabilities(scores)
    return np.column_stack([1.0 - scores, scores])


def conformal_quantile(nonconformity, alpha: float) -> float:
    """Return the split-conformal threshold: the ceil((n + 1)(1 - alpha))-th smallest score.

    Infinite (every class enters every set) when there are too few calibration cases for
    the level asked, i.e. when that rank exceeds ``n``.
    """
    values = np.sort(np.asarray(nonconformity, dtype=float).reshape(-1))
    rank = math.ceil((values.size + 1) * (1.0 - alpha))
    return float(values[rank - 1]) if rank <= values.size else float("inf")


@dataclass(frozen=True)
class ConformalClassifier:
    """Calibrated thresholds of split conformal prediction for the two classes.

    Attributes:
        alpha: the miscoverage level asked for (0.1: sets that hold the true class for at
            least 90 % of exchangeable cases).
        thresholds: the non-conformity threshold of each class (normal, pneumonia); both
            equal in the marginal version.
        mondrian: whether each class has its own threshold (class-conditional coverage).
        n_calibration: calibration cases per class (normal, pneumonia).
    """

    alpha: float
    thresholds: tuple[float, float]
    mondrian: bool
    n_calibration: tuple[int, int]

    def predict_sets(self, scores) -> np.ndarray:
        """Return ``(n, 2)`` booleans: is normal (column 0), is pneumonia (1) in each set."""
        return 1.0 - class_probabilities(scores) <= np.asarray(self.thresholds)


def calibrate_conformal(
    y_calibration, calibration_scores, alpha: float = 0.1, *, mondrian: bool = False
) -> ConformalClassifier:
    """Calibrate split conformal prediction sets on held-out labelled cases (never the test split).

    Args:
        y_calibration: 0/1 labels of the calibration cases (e.g. one half of validation).
        calibration_scores: the (calibrated) pneumonia scores of the same cases.
        alpha: the miscoverage level, in (0, 1).
        mondrian: one threshold per class (class-conditional coverage) instead of one.

    Returns:
        The :class:`ConformalClassifier`; its ``predict_sets`` gives the sets of new cases.

    Raises:
        EvidenceError: the labels are the test split's.
        OversightError: bad scores, labels or level, or a class without calibration cases.
    """
    evidence.refuse_test("calibrate_conformal", y_calibration)
    scores = checks.probabilities(calibration_scores, "calibration_scores")
    y = checks.labels(y_calibration, scores.size, "y_calibration")
    alpha = checks.share(alpha, "alpha")
    counts = (int(np.sum(y == 0)), int(np.sum(y == 1)))
    if mondrian and min(counts) == 0:
        raise OversightError(
            f"the Mondrian version needs calibration cases of both classes, got {counts} "
            "(normal, pneumonia): calibrate on more cases."
        )
    thresholds = conformal_thresholds(y, scores, alpha, mondrian=mondrian)
    return ConformalClassifier(alpha, thresholds, mondrian, counts)


def conformal_thresholds(y, scores, alpha: float, *, mondrian: bool) -> tuple[float, float]:
    """Return the threshold of each class: one quantile of the true class's non-conformity.

    The marginal version takes one quantile over every calibration case; the Mondrian
    version one per class, over that class's cases.
    """
    y, scores = np.asarray(y, dtype=int), np.asarray(scores, dtype=float)
    nonconformity = 1.0 - class_probabilities(scores)[np.arange(y.size), y]
    if not mondrian:
        q = conformal_quantile(nonconformity, alpha)
        return q, q
    return tuple(conformal_quantile(nonconformity[y == k], alpha) for k in (0, 1))


def set_coverage(sets, labels) -> dict[str, float]:
    """Return the share of sets holding the true class, overall and per class, and set sizes.

    Keys: ``coverage``, ``coverage_normal``, ``coverage_pneumonia``, ``mean_size``,
    ``share_both`` (sets with both classes: "defer"), ``share_empty``, ``share_single``.
    """
    sets = np.asarray(sets, dtype=bool)
    if sets.ndim != 2 or sets.shape[1] != 2:
        raise OversightError(f"sets must have shape (n, 2), got {sets.shape}.")
    y = checks.labels(labels, sets.shape[0])
    covered = sets[np.arange(y.size), y]
    size = sets.sum(axis=1)

    def mean(mask):
        return float(covered[mask].mean()) if mask.any() else float("nan")

    return {
        "coverage": float(covered.mean()),
        "coverage_normal": mean(y == 0),
        "coverage_pneumonia": mean(y == 1),
        "mean_size": float(size.mean()),
        "share_both": float(np.mean(size == 2)),
        "share_empty": float(np.mean(size == 0)),
        "share_single": float(np.mean(size == 1)),
    }


def mapie_sets(y_calibration, calibration_scores, scores, alpha: float, mondrian: bool = False):
    """Return MAPIE's split conformal sets (LAC score) for the same cases, as a cross-check.

    MAPIE (Taquet et al. 2022) has no Mondrian classifier; the class-conditional sets are
    its split conformal classifier calibrated on each class's cases alone, one column each.

    Raises:
        OversightError: a calibration set (all cases, or one class's) has no more than
            ``max(1 / alpha, 1 / (1 - alpha))`` cases, which MAPIE refuses.
    """
    from mapie.classification import SplitConformalClassifier
    from sklearn.base import BaseEstimator, ClassifierMixin

    class ScoreClassifier(ClassifierMixin, BaseEstimator):
        """A fitted scikit-learn classifier whose one feature is its pneumonia score."""

        def fit(self, X, y):
            self.classes_ = np.array([0, 1])
            return self

        def predict_proba(self, X):
            return class_probabilities(np.asarray(X, dtype=float)[:, 0])

        def predict(self, X):
            return (np.asarray(X, dtype=float)[:, 0] >= 0.5).astype(int)

    y = checks.labels(y_calibration)
    calibration = checks.probabilities(calibration_scores, "calibration_scores")[:, None]
    new = checks.probabilities(scores)[:, None]

    def split_sets(members):
        needed = max(1 / alpha, 1 / (1 - alpha))
        if members.sum() <= needed:
            raise OversightError(
                f"MAPIE needs more than {needed:g} calibration cases per calibration set at "
                f"alpha {alpha:g}, got {int(members.sum())}: calibrate on more cases."
            )
        model = ScoreClassifier().fit(calibration, y)
        mapie = SplitConformalClassifier(
            model, confidence_level=1 - alpha, conformity_score="lac", prefit=True
        )
        mapie.conformalize(calibration[members], y[members])
        return mapie.predict_set(new)[1][:, :, 0]

    if not mondrian:
        return split_sets(np.ones(y.size, dtype=bool))
    import warnings

    with warnings.catch_warnings():  # one class per calibration: MAPIE warns, as expected
        warnings.simplefilter("ignore", UserWarning)
        return np.column_stack([split_sets(y == k)[:, k] for k in (0, 1)])
