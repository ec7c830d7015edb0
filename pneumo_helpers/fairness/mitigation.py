"""Mitigations: resampling a group, acquisition-style augmentation, thresholds by group.

Each is re-audited with :func:`pneumo_helpers.fairness.audit`. Resampling and augmentation
change what the model learns; group thresholds change only the decision, and are chosen
on the validation split.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd

from .. import evaluation, evidence
from .cohort import AcquisitionShift, apply_acquisition_shift, check_images
from .groups import FairnessInputError, as_group_array, check_inputs, group_order


def resample_indices(
    groups: Sequence[Hashable] | np.ndarray | pd.Series,
    target_shares: Mapping[Hashable, float],
    seed: int = 0,
) -> np.ndarray:
    """Return training indices that give chosen groups a target share (resampling).

    Groups in ``target_shares`` are over-sampled with replacement (every original member
    kept at least once) or under-sampled without replacement to reach their share of the
    new training set; every other example is kept exactly once.

    Args:
        groups: one group label per training example.
        target_shares: e.g. ``{"Portable unit": 0.2}``; shares must sum below 1.
        seed: seed of the draw.

    Returns:
        Sorted ``int`` indices into the training split (with repeats when over-sampling).
    """
    groups = as_group_array(groups)
    if not target_shares:
        raise FairnessInputError("target_shares is empty; e.g. {'Portable unit': 0.2}.")
    total = float(sum(target_shares.values()))
    if any(not 0.0 < s < 1.0 for s in target_shares.values()) or total >= 1.0:
        raise FairnessInputError(
            f"target_shares must each be in (0, 1) and sum below 1, got {dict(target_shares)}."
        )
    unknown = [g for g in target_shares if not np.any(groups == g)]
    if unknown:
        raise FairnessInputError(
            f"target_shares names groups {unknown} that have no member in groups; "
            f"the groups are {sorted(map(str, pd.unique(groups)))}."
        )
    rng = np.random.default_rng(seed)
    targeted = np.isin(groups, list(target_shares))
    kept = [np.flatnonzero(~targeted)]
    n_new = kept[0].size / (1.0 - total)
    for group, share in target_shares.items():
        members = np.flatnonzero(groups == group)
        count = max(1, int(round(share * n_new)))
        if count >= members.size:
            extra = rng.choice(members, size=count - members.size, replace=True)
            kept.append(np.concatenate([members, extra]))
        else:
            kept.append(rng.choice(members, size=count, replace=False))
    return np.sort(np.concatenate(kept))


def acquisition_augment(
    images: np.ndarray,
    fraction: float = 0.5,
    *,
    contrast: tuple[float, float] = (0.6, 1.0),
    brightness: tuple[float, float] = (-20.0, 10.0),
    blur_sigma: tuple[float, float] = (0.0, 1.0),
    noise_std: tuple[float, float] = (0.0, 20.0),
    seed: int = 0,
) -> np.ndarray:
    """Return a copy of ``images`` in which a random ``fraction`` looks like other acquisitions.

    Each chosen image gets its own :class:`AcquisitionShift`, with every setting drawn
    uniformly from its range: the model sees many devices, not one. The ranges are wide
    on purpose: in practice the new device's exact settings are unknown.

    Args:
        images: ``uint8 (N, H, W)`` training X-rays.
        fraction: share of the images to transform, in [0, 1].
        contrast, brightness, blur_sigma, noise_std: ``(low, high)`` ranges.
        seed: seed of the choice and the settings.
    """
    images = check_images(images)
    if not 0.0 <= fraction <= 1.0:
        raise FairnessInputError(f"fraction must be in [0, 1], got {fraction!r}.")
    for name, (low, high) in {
        "contrast": contrast,
        "brightness": brightness,
        "blur_sigma": blur_sigma,
        "noise_std": noise_std,
    }.items():
        if low > high:
            raise FairnessInputError(f"{name} range must be (low, high), got {(low, high)}.")
    rng = np.random.default_rng(seed)
    out = images.copy()
    chosen = np.flatnonzero(rng.random(len(images)) < fraction)
    for index in chosen:
        shift = AcquisitionShift(
            contrast=float(rng.uniform(*contrast)),
            brightness=float(rng.uniform(*brightness)),
            blur_sigma=float(rng.uniform(*blur_sigma)),
            noise_std=float(rng.uniform(*noise_std)),
        )
        out[index] = apply_acquisition_shift(
            images[index : index + 1], shift, seed=int(rng.integers(2**31))
        )[0]
    return out


def group_thresholds(
    y_true,
    y_score,
    groups,
    *,
    target_sensitivity: float | None = None,
    method: str = "youden",
) -> dict[Hashable, float]:
    """Choose one decision threshold per group on the validation split.

    Args:
        y_true, y_score, groups: validation labels, scores and group labels.
        target_sensitivity: when given, each group's threshold is the highest one that
            reaches this sensitivity in that group (equal sensitivity by design);
            otherwise ``method`` of :func:`pneumo_helpers.evaluation.choose_threshold`.
        method: ``"youden"`` (default) when no target is given.

    Returns:
        ``{group: threshold}``, usable as ``audit(..., threshold=...)``.
    """
    evidence.refuse_test("group_thresholds", y_true)
    y_true, y_score, groups = check_inputs(y_true, y_score, groups)
    thresholds = {}
    for group in group_order(groups):
        members = groups == group
        if np.unique(y_true[members]).size < 2:
            raise FairnessInputError(
                f"group {group!r} has a single class in the validation data, so its threshold "
                "cannot be chosen: merge it with another group or collect more cases."
            )
        if target_sensitivity is not None:
            thresholds[group] = evaluation.choose_threshold(
                y_true[members], y_score[members], "sensitivity", target=target_sensitivity
            )
        else:
            thresholds[group] = evaluation.choose_threshold(
                y_true[members], y_score[members], method
            )
    return thresholds
