"""What a device model costs and changes: speed on this CPU, flipped decisions, its table row."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import brier_score_loss

from .. import evaluation
from .errors import EdgeError


@dataclass(frozen=True)
class Speed:
    """How fast a predictor scores X-rays on this CPU.

    Attributes:
        p50_ms: median time to score one image, in milliseconds.
        p95_ms: 95th percentile of that time (the slow calls a user waits for).
        throughput: images per second when scoring a batch.
    """

    p50_ms: float
    p95_ms: float
    throughput: float


def measure_speed(
    predict: Callable[[np.ndarray], object],
    images: np.ndarray,
    repeats: int = 200,
    warmup: int = 10,
    batch_repeats: int = 3,
) -> Speed:
    """Time ``predict`` on one image at a time, then on the whole batch of ``images``.

    Args:
        predict: e.g. ``LiteRTPredictor(path, num_threads=1).predict``.
        images: a batch; its first image is timed alone ``repeats`` times after ``warmup``
            calls, then the batch ``batch_repeats`` times for the throughput.
        repeats: timed single-image calls.
        warmup: untimed calls first (loading, caches, resizing the interpreter).
        batch_repeats: timed calls on the batch.
    """
    one = np.asarray(images)[:1]
    for _ in range(warmup):
        predict(one)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(one)
        times.append(time.perf_counter() - start)
    predict(images)  # warm up the batch size
    start = time.perf_counter()
    for _ in range(batch_repeats):
        predict(images)
    throughput = batch_repeats * len(images) / (time.perf_counter() - start)
    milliseconds = 1000.0 * np.asarray(times)
    return Speed(
        float(np.percentile(milliseconds, 50)), float(np.percentile(milliseconds, 95)), throughput
    )


def decision_flips(reference_scores, reference_threshold: float, scores, threshold: float):
    """Return a boolean array: True where a model's decision differs from the reference's.

    Each model decides at its own threshold (a score at or above it is pneumonia), so the
    flips are the children whose call changes when the device model replaces the reference.
    """
    reference = np.asarray(reference_scores, dtype=float).reshape(-1) >= reference_threshold
    decisions = np.asarray(scores, dtype=float).reshape(-1) >= threshold
    if reference.shape != decisions.shape:
        raise EdgeError(
            f"scores of {decisions.size} images cannot be compared with {reference.size} "
            "reference scores: score the same images in the same order."
        )
    return reference != decisions


def deployment_metrics(y_val, val_scores, y_test, test_scores, reference_decisions) -> dict:
    """Return a model's row of the deployment table, at its own validation threshold.

    The threshold is re-chosen on this model's validation scores (Youden's J), then the
    test split reports AUC, sensitivity, specificity, Brier score, ECE and the share of
    decisions that differ from ``reference_decisions`` (the float model's, on test).
    """
    threshold = evaluation.choose_threshold(y_val, val_scores, "youden")
    point = evaluation.binary_metrics(y_test, test_scores, threshold)
    decisions = np.asarray(test_scores).reshape(-1) >= threshold
    return {
        "threshold": threshold,
        "test AUC": point["auc"],
        "sensitivity": point["sensitivity"],
        "specificity": point["specificity"],
        "Brier": float(brier_score_loss(y_test, test_scores)),
        "ECE": evaluation.expected_calibration_error(y_test, test_scores),
        "flipped": float(np.mean(decisions != np.asarray(reference_decisions))),
    }
