"""Groups: the checks every fairness helper shares on labels, scores and group labels."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .. import evaluation


class FairnessInputError(ValueError):
    """A fairness helper received labels, scores, groups or settings it cannot use."""


class UndefinedGroupMetricWarning(UserWarning):
    """A group lacks positives or negatives, so some of its metrics are undefined (NaN)."""


def as_group_array(groups) -> np.ndarray:
    """Return one group label per case as a flat object array.

    Raises:
        FairnessInputError: a DataFrame, more than one dimension, or missing labels.
    """
    if isinstance(groups, pd.DataFrame):
        raise FairnessInputError(
            "groups must be one column (e.g. metadata['site']), not a DataFrame; audit one "
            "attribute at a time, or combine two into one label first."
        )
    values = np.asarray(groups, dtype=object)
    if values.ndim != 1:
        raise FairnessInputError(f"groups must be one label per case, got shape {values.shape}.")
    if len(values) and pd.isna(values).any():
        raise FairnessInputError(
            f"groups holds {int(pd.isna(values).sum())} missing value(s); give every case a "
            "group (e.g. 'unknown')."
        )
    return values


def group_order(groups: np.ndarray, categories: Sequence | None = None) -> list:
    """Return the groups present, in category order if given, else sorted when possible."""
    present = list(pd.unique(groups))
    if categories is not None:
        return [c for c in categories if c in present]
    try:
        return sorted(present)
    except TypeError:
        return present


def check_inputs(y_true, y_score, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate labels, scores and groups with the engine's checks (one class is allowed).

    Returns:
        ``(y_true, y_score, groups)`` as flat arrays.

    Raises:
        FairnessInputError: what :func:`pneumo_helpers.evaluation.check_binary` refuses, or
            a group label per case is missing.
    """
    try:
        y_true, y_score = evaluation.check_binary(y_true, y_score, need_both=False)
    except ValueError as error:
        raise FairnessInputError(str(error)) from error
    groups_array = as_group_array(groups)
    if len(groups_array) != len(y_true):
        raise FairnessInputError(
            f"groups has {len(groups_array)} labels but y_true has {len(y_true)}: pass one "
            "group per case, in the same order."
        )
    return y_true, y_score, groups_array


def thresholds_per_case(threshold, groups: np.ndarray) -> np.ndarray:
    """Return one decision threshold per case from a number, a ``{group: threshold}`` dict
    or one threshold per case.

    Raises:
        FairnessInputError: a group without a threshold, a wrong length, or a non-finite value.
    """
    if isinstance(threshold, Mapping):
        missing = [g for g in pd.unique(groups) if g not in threshold]
        if missing:
            raise FairnessInputError(
                f"threshold is a dict without entries for the groups {missing}; give one "
                "threshold per group (see group_thresholds) or one number for all."
            )
        values = np.array([float(threshold[g]) for g in groups], dtype=float)
    elif np.ndim(threshold) == 1:  # one threshold per case (e.g. by site, audited by sex)
        values = np.asarray(threshold, dtype=float)
        if values.shape != (len(groups),):
            raise FairnessInputError(
                f"threshold has {values.size} values for {len(groups)} cases: give one per "
                "case, one per group (a dict) or one number for all."
            )
    else:
        try:
            values = np.full(len(groups), float(threshold))
        except (TypeError, ValueError) as error:
            raise FairnessInputError(
                f"threshold must be a number or a dict {{group: number}}, got {threshold!r}."
            ) from error
    if not np.all(np.isfinite(values)):
        raise FairnessInputError(f"threshold must be finite, got {threshold!r}.")
    return values
