"""Point metrics: scores into clinical rates at a threshold, the AUC, and threshold choice.

Every rate of the course is computed here from confusion counts
(:func:`rates_from_counts`), and every AUC by the Mann-Whitney statistic
(:func:`auc_from_counts`), whether the counts come from one data set or from a thousand
bootstrap resamples (:mod:`pneumo_helpers.evaluation.bootstrap`).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

from .. import evidence

#: Every metric the engine computes, point and bootstrap alike. ``ppv`` is ``precision``
#: under its clinical name; ``fnr`` (underdiagnosis) is 1 − sensitivity and ``fpr`` is
#: 1 − specificity.
METRICS = (
    "auc",
    "accuracy",
    "sensitivity",
    "specificity",
    "precision",
    "npv",
    "f1",
    "fnr",
    "fpr",
    "ppv",
)
#: The keys of :func:`binary_metrics`, in order (without ``threshold``).
BINARY_METRIC_KEYS = (
    *("auc", "accuracy", "sensitivity", "specificity", "precision", "npv", "f1"),
    *("tp", "fp", "tn", "fn", "n"),
)


def check_binary(y_true, y_score, *, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels and scores and return them as flat numpy arrays.

    Args:
        y_true: 0/1 labels, one per image (a column vector is accepted).
        y_score: one pneumonia score per image, in the same order.
        need_both: require both classes (AUC, sensitivity and specificity need them).

    Returns:
        ``(y_true, y_score)`` as flat ``int`` and ``float`` arrays.

    Raises:
        ValueError: lengths differ, the arrays are empty, labels are not 0/1, scores are
            NaN, or (with ``need_both``) only one class is present.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=float)
    if y_true.ndim > 1:
        y_true = y_true.reshape(len(y_true), -1)
        if y_true.shape[1] != 1:
            raise ValueError(f"y_true must be one label per image, got shape {y_true.shape}.")
        y_true = y_true[:, 0]
    if y_score.ndim > 1:
        y_score = y_score.reshape(len(y_score), -1)
        if y_score.shape[1] != 1:
            raise ValueError(
                f"y_score must be one pneumonia score per image, got shape {y_score.shape}."
            )
        y_score = y_score[:, 0]
    if len(y_true) != len(y_score):
        raise ValueError(
            f"y_true and y_score differ in length ({len(y_true)} vs {len(y_score)}): "
            "pass one score per label, in the same order."
        )
    if len(y_true) == 0:
        raise ValueError("y_true and y_score are empty.")
    if np.isnan(y_score).any():
        raise ValueError(
            f"y_score holds {int(np.isnan(y_score).sum())} NaN value(s): the model produced "
            "invalid scores (check for a diverged training run or NaN inputs)."
        )
    values = np.unique(y_true)
    if not set(values.tolist()) <= {0, 1}:
        raise ValueError(
            f"y_true must hold 0 (normal) and 1 (pneumonia) only, got values {values.tolist()}."
        )
    if need_both and len(values) < 2:
        raise ValueError(
            f"y_true holds a single class ({int(values[0])}): AUC, sensitivity and specificity "
            "need both normal and pneumonia cases."
        )
    return y_true.astype(int), y_score


def rates_from_counts(tp, fp, tn, fn) -> dict[str, np.ndarray]:
    """Return the threshold metrics of confusion counts (NaN where a rate is undefined).

    Args:
        tp, fp, tn, fn: true/false positives and negatives, numbers or arrays of equal
            shape (e.g. one value per bootstrap resample).

    Returns:
        ``accuracy``, ``sensitivity``, ``specificity``, ``precision``, ``npv``, ``f1``,
        ``fnr``, ``fpr`` and ``ppv`` (= ``precision``), each of the counts' shape.
    """
    tp, fp, tn, fn = (np.asarray(c, dtype=float) for c in (tp, fp, tn, fn))

    def ratio(numerator, denominator):
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(denominator > 0, numerator / np.maximum(denominator, 1), np.nan)

    sensitivity, specificity = ratio(tp, tp + fn), ratio(tn, tn + fp)
    precision = ratio(tp, tp + fp)
    return {
        "accuracy": ratio(tp + tn, tp + fp + tn + fn),
        "sensitivity": sensitivity,
        "specificity": specificity,
        "precision": precision,
        "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "fnr": 1.0 - sensitivity,
        "fpr": 1.0 - specificity,
        "ppv": precision,
    }


def auc_from_counts(
    pos_scores: np.ndarray, neg_scores: np.ndarray, pos_counts: np.ndarray, neg_counts: np.ndarray
) -> np.ndarray:
    """Return the AUC of weighted cases (Mann-Whitney), one value per row of the counts.

    The AUC is the share of (pneumonia, normal) pairs in which the pneumonia case scores
    higher, ties counting one half. With every count 1 it equals
    ``sklearn.metrics.roc_auc_score``; with bootstrap counts (how often each case was
    drawn) it is the AUC of every resample at once.

    Args:
        pos_scores, neg_scores: the scores of the pneumonia and the normal cases.
        pos_counts, neg_counts: ``(n_rows, n_pos)`` and ``(n_rows, n_neg)`` weights.

    Returns:
        ``(n_rows,)`` AUCs; NaN where a row has no pneumonia or no normal case.
    """
    pos_counts = np.asarray(pos_counts, dtype=float)
    neg_counts = np.asarray(neg_counts, dtype=float)
    order = np.argsort(pos_scores, kind="stable")
    sorted_pos = np.asarray(pos_scores, dtype=float)[order]
    cumulative = np.concatenate(
        [np.zeros((pos_counts.shape[0], 1)), np.cumsum(pos_counts[:, order], axis=1)], axis=1
    )
    left = np.searchsorted(sorted_pos, neg_scores, side="left")
    right = np.searchsorted(sorted_pos, neg_scores, side="right")
    total = cumulative[:, -1:]
    above = total - cumulative[:, right]  # positives scoring above each negative
    ties = cumulative[:, right] - cumulative[:, left]
    wins = ((above + 0.5 * ties) * neg_counts).sum(axis=1)
    pairs = total[:, 0] * neg_counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(pairs > 0, wins / np.maximum(pairs, 1), np.nan)


def point_metrics(y_true, y_score, threshold=0.5) -> dict[str, float]:
    """Return every metric of :data:`METRICS` and the confusion counts of scores.

    Unlike :func:`binary_metrics` it accepts a single class (the metrics that need the
    missing class are NaN) and one threshold per case, as a subgroup audit needs.

    Args:
        y_true: 0/1 labels (1 pneumonia).
        y_score: pneumonia scores; a score at or above the threshold counts as pneumonia.
        threshold: one number, or one threshold per case.

    Returns:
        The metrics of :data:`METRICS` and the counts ``tp``, ``fp``, ``tn``, ``fn``, ``n``.
    """
    y_true, y_score = check_binary(y_true, y_score, need_both=False)
    flagged = y_score >= np.asarray(threshold, dtype=float)
    positives, negatives = y_true == 1, y_true == 0
    tp, fp = int(flagged[positives].sum()), int(flagged[negatives].sum())
    fn, tn = int(positives.sum()) - tp, int(negatives.sum()) - fp
    result = {name: float(value) for name, value in rates_from_counts(tp, fp, tn, fn).items()}
    result["auc"] = float(
        auc_from_counts(
            y_score[positives],
            y_score[negatives],
            np.ones((1, int(positives.sum()))),
            np.ones((1, int(negatives.sum()))),
        )[0]
    )
    return {
        **{name: result[name] for name in METRICS},
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "n": int(len(y_true)),
    }


def binary_metrics(y_true, y_score, threshold: float = 0.5) -> dict[str, float]:
    """Return the clinical metrics of scores at a decision threshold.

    A score at or above ``threshold`` counts as pneumonia.

    Returns:
        ``auc``, ``accuracy``, ``sensitivity``, ``specificity``, ``precision`` (PPV),
        ``npv``, ``f1``, the confusion counts ``tp``, ``fp``, ``tn``, ``fn``, ``n`` and
        ``threshold`` (:func:`point_metrics` adds ``fnr``, ``fpr`` and ``ppv``).

    Raises:
        ValueError: lengths differ, labels are not 0/1, a single class, or NaN scores.
    """
    y_true, y_score = check_binary(y_true, y_score)
    if not np.isfinite(threshold):
        raise ValueError(f"threshold must be a finite number, got {threshold}.")
    point = point_metrics(y_true, y_score, threshold)
    return {key: point[key] for key in BINARY_METRIC_KEYS} | {"threshold": float(threshold)}


def choose_threshold(
    y_true,
    y_score,
    method: str = "youden",
    target: float | None = None,
    tolerance: float = 0.01,
) -> float:
    """Choose a decision threshold on the validation split.

    Args:
        y_true: validation labels (never the test split).
        y_score: validation scores, in the same order.
        method: ``"youden"`` maximises Youden's J = sensitivity + specificity − 1. A
            small validation split makes the single best threshold noisy, so every
            threshold whose J is within ``tolerance`` of the best counts as optimal and
            the median of those (on the logit scale) is returned;
            ``"sensitivity"`` picks the highest threshold whose sensitivity reaches
            ``target``; ``"specificity"`` the lowest threshold whose specificity reaches it.
        target: the required sensitivity or specificity, in (0, 1].
        tolerance: for ``"youden"``, how far below the best J a threshold may be and
            still count as optimal (0 keeps only the best).

    Returns:
        The threshold (a score at or above it counts as pneumonia).

    Raises:
        EvidenceError: ``y_true`` is the test split's labels.
        ValueError: an unknown method, or a target or tolerance out of range.
    """
    evidence.refuse_test("choose_threshold", y_true)
    y_true, y_score = check_binary(y_true, y_score)
    fpr, tpr, thresholds = skm.roc_curve(y_true, y_score, drop_intermediate=False)
    # roc_curve's first threshold is +inf (nothing positive); keep it out.
    finite = np.isfinite(thresholds)
    fpr, tpr, thresholds = fpr[finite], tpr[finite], thresholds[finite]
    if method == "youden":
        if not 0.0 <= tolerance < 1.0:
            raise ValueError(f"tolerance must be in [0, 1), got {tolerance}.")
        youden = tpr - fpr
        optimal = thresholds[youden >= youden.max() - tolerance - 1e-12]
        if np.all((optimal > 0) & (optimal < 1)):  # probabilities: take the median logit
            logits = np.log(optimal) - np.log1p(-optimal)
            return float(1.0 / (1.0 + np.exp(-np.median(logits))))
        return float(np.median(optimal))
    if method in ("sensitivity", "specificity"):
        if target is None or not 0.0 < target <= 1.0:
            raise ValueError(f"method={method!r} needs a target in (0, 1], got {target!r}.")
        if method == "sensitivity":
            ok = np.flatnonzero(tpr >= target)
            return float(thresholds[ok[0]])  # thresholds decrease: first is the highest
        ok = np.flatnonzero(1.0 - fpr >= target)
        return float(thresholds[ok[-1]])
    raise ValueError(f"method must be 'youden', 'sensitivity' or 'specificity', got {method!r}.")


def sensitivity_at_specificity(y_true, y_score, target: float = 0.9) -> float:
    """Return the highest sensitivity the scores reach at a specificity of at least ``target``.

    A point read off the ROC curve, threshold-free like the AUC: it answers "if we accept
    (1 − target) false alarms among normal X-rays, what share of pneumonia is found?"

    Raises:
        ValueError: bad labels or scores, or ``target`` outside (0, 1].
    """
    y_true, y_score = check_binary(y_true, y_score)
    if not 0.0 < target <= 1.0:
        raise ValueError(f"target must be in (0, 1], got {target!r}.")
    fpr, tpr, _ = skm.roc_curve(y_true, y_score)
    return float(tpr[1.0 - fpr >= target - 1e-12].max())


def predict_scores(model, dataset) -> np.ndarray:
    """Return the model's pneumonia scores for a dataset as a flat ``float`` array."""
    scores = model.predict(dataset, verbose=0)
    return np.asarray(scores, dtype=float).reshape(-1)


def evaluate_model(model, val_data, test_data, val_labels, test_labels) -> dict[str, float]:
    """Score a trained model the course's one way.

    The threshold is chosen on validation (Youden's J), then applied to the test split.

    Returns:
        The test split's :func:`binary_metrics` at that threshold.
    """
    val_scores = predict_scores(model, val_data)
    threshold = choose_threshold(val_labels, val_scores, "youden")
    return binary_metrics(test_labels, predict_scores(model, test_data), threshold)
