"""Argument checks the oversight modules share: scores, labels and shares."""

from __future__ import annotations

import numpy as np

from .errors import OversightError


def probabilities(values, name: str = "scores") -> np.ndarray:
    """Return ``values`` as a flat float array of probabilities in [0, 1], or raise."""
    array = np.asarray(values, dtype=float).reshape(-1)
    if array.size == 0:
        raise OversightError(f"{name} is empty: pass one pneumonia score per X-ray.")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
        raise OversightError(
            f"{name} must be probabilities in [0, 1] (the model's sigmoid scores), got values "
            f"from {np.nanmin(array):g} to {np.nanmax(array):g}."
        )
    return array


def labels(values, n: int | None = None, name: str = "labels") -> np.ndarray:
    """Return ``values`` as a flat int array of 0/1 labels (of length ``n``), or raise."""
    array = np.asarray(values).reshape(-1)
    if not set(np.unique(array).tolist()) <= {0, 1}:
        raise OversightError(f"{name} must hold 0 (normal) and 1 (pneumonia) only.")
    if n is not None and array.size != n:
        raise OversightError(f"{name} has {array.size} entries but the scores have {n}.")
    return array.astype(int)


def share(value: float, name: str, *, open_low: bool = True) -> float:
    """Return ``value`` if it lies in (0, 1) (or [0, 1) with ``open_low=False``), else raise."""
    low_ok = value > 0 if open_low else value >= 0
    if not (np.isfinite(value) and low_ok and value < 1):
        interval = "(0, 1)" if open_low else "[0, 1)"
        raise OversightError(f"{name} must be in {interval}, got {value!r}.")
    return float(value)
