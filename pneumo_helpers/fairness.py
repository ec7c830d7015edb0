"""Fairness: simulated metadata, subgroup audits with bootstrap intervals, gaps, model cards.

PneumoniaMNIST carries no demographics and no acquisition details. To teach the audit,
:func:`simulate_cohort` attaches *simulated* metadata (sex, age band, acquisition site)
to every X-ray with a documented, seeded generator. One site, a portable unit, is rare in
the training split, and its X-rays are transformed the way a different acquisition changes
an image (lower contrast, blur, noise; :func:`apply_acquisition_shift`), so any disparity
the audit finds arises from the images themselves, as it does in practice.

The road of the bias-audit chapter::

    cohort = simulate_cohort(dataset, seed=0)            # images + metadata per split
    table = audit(y_test, scores, cohort.metadata["test"]["site"], threshold=t)
    gaps = gap_summary(y_test, scores, cohort.metadata["test"]["site"], threshold=t)
    plot_underdiagnosis({"site": table})
    print(model_card({"site": table}, model_name="baseline CNN", ...))

Clinical words: *sensitivity* is the share of pneumonia found; its complement, the
false-negative rate (``fnr``), is the *underdiagnosis* rate of Seyyed-Kalantari et al.
(2021): children with pneumonia whom the model calls normal.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import config, data, evaluation, evidence, plots

#: Simulated attributes and their values, in display order.
SEXES = ("female", "male")
AGE_BANDS = ("under 2 years", "2-3 years", "4-5 years")
SITES = ("Hospital A", "Hospital B", "Portable unit")
#: The under-represented site whose images are transformed.
SHIFTED_SITE = "Portable unit"
#: Probability of each age band given the label (0 normal, 1 pneumonia): younger children
#: carry more of the pneumonia cases, so prevalence differs by age band (not the images).
AGE_BAND_PROBABILITIES = {0: (0.25, 0.35, 0.40), 1: (0.45, 0.35, 0.20)}
#: Probability that a child is male, the same for both labels.
MALE_PROBABILITY = 0.52
#: Share of the X-rays taken by the portable unit in each split: rare in training, a larger
#: share of the population the model is validated and deployed on.
DEFAULT_SHIFTED_SHARES = {"train": 0.04, "val": 0.25, "test": 0.33}
#: Share of pneumonia among the shifted site's X-rays per split (None: the split's own).
#: In the training hospitals the portable unit mostly imaged children on follow-up, so
#: few of its training X-rays show pneumonia; where the model is deployed it images
#: everyone. This sampling bias is what lets a model learn the device as a shortcut
#: (Zech et al. 2018).
DEFAULT_SHIFTED_PREVALENCE = {"train": 0.3, "val": None, "test": None}
#: How the two fixed sites split the remaining X-rays.
HOSPITAL_A_SHARE = 0.55

#: Metrics of :func:`audit` that have bootstrap intervals.
RATE_METRICS = ("auc", "sensitivity", "specificity", "fnr", "fpr", "ppv")
#: Metrics where a higher value is better (the others, ``fnr`` and ``fpr``, lower is better).
HIGHER_IS_BETTER = {"auc": True, "sensitivity": True, "specificity": True, "ppv": True}
HIGHER_IS_BETTER.update({"fnr": False, "fpr": False})
#: Plain-language names for tables, plots and model cards.
METRIC_LABELS = {
    "auc": "AUC",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
    "fnr": "Underdiagnosis (false-negative rate)",
    "fpr": "False-positive rate",
    "ppv": "Positive predictive value",
}
OVERALL = "overall"


class FairnessInputError(ValueError):
    """A fairness helper received labels, scores, groups or settings it cannot use."""


class UndefinedGroupMetricWarning(UserWarning):
    """A group lacks positives or negatives, so some of its metrics are undefined (NaN)."""


# --------------------------------------------------------------------------------------
# Simulated metadata and acquisition shift
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AcquisitionShift:
    """How a different acquisition (e.g. a portable unit) changes an X-ray.

    Applied in this order to each image (grey levels 0-255):

    1. **contrast**: pixel values are pulled towards the image's mean by this factor
       (1 leaves the image unchanged, 0.5 halves its contrast), as with a lower tube
       voltage, scatter without a grid, or a different detector's processing;
    2. **brightness**: added, in grey levels (negative darkens: under-exposure);
    3. **blur_sigma**: a Gaussian blur of this width in pixels (patient motion, a
       detector with a coarser point-spread function);
    4. **noise_std**: Gaussian noise with this standard deviation in grey levels
       (quantum noise of a low-dose exposure).

    Attributes
    ----------
    contrast : factor in (0, 1].
    brightness : grey levels added.
    blur_sigma : Gaussian blur in pixels (0 for none).
    noise_std : noise standard deviation in grey levels (0 for none).
    """

    contrast: float = 0.8
    brightness: float = -10.0
    blur_sigma: float = 0.5
    noise_std: float = 16.0

    def __post_init__(self) -> None:
        if not 0.0 < self.contrast <= 1.0:
            raise FairnessInputError(
                f"contrast must be in (0, 1] (1 = unchanged), got {self.contrast!r}."
            )
        if self.blur_sigma < 0 or self.noise_std < 0:
            raise FairnessInputError(
                f"blur_sigma and noise_std must be >= 0, got {self.blur_sigma!r} and "
                f"{self.noise_std!r}."
            )


def _check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 3:
        raise FairnessInputError(
            f"{name} must be grey X-rays of shape (N, H, W), got shape {images.shape}."
        )
    return images


def apply_acquisition_shift(
    images: np.ndarray, shift: AcquisitionShift | None = None, seed: int = 0
) -> np.ndarray:
    """Return ``images`` as a different acquisition would have produced them.

    Args:
        images: ``uint8 (N, H, W)`` grey X-rays.
        shift: the change to apply; default :class:`AcquisitionShift()`.
        seed: seed of the noise.

    Returns:
        New ``uint8 (N, H, W)`` images (the input is not modified).
    """
    from scipy.ndimage import gaussian_filter

    images = _check_images(images)
    shift = shift or AcquisitionShift()
    x = images.astype(np.float32)
    mean = x.mean(axis=(1, 2), keepdims=True)
    x = mean + shift.contrast * (x - mean) + shift.brightness
    if shift.blur_sigma > 0:
        x = gaussian_filter(x, sigma=(0, shift.blur_sigma, shift.blur_sigma), mode="nearest")
    if shift.noise_std > 0:
        rng = np.random.default_rng(seed)
        x = x + rng.normal(0.0, shift.noise_std, size=x.shape).astype(np.float32)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def simulate_metadata(
    labels: np.ndarray,
    shifted_share: float = 0.04,
    seed: int = 0,
    shifted_prevalence: float | None = None,
) -> pd.DataFrame:
    """Draw simulated sex, age band and acquisition site for each X-ray.

    The generator, documented so that a reader can predict what an audit should find:

    * **sex**: male with probability :data:`MALE_PROBABILITY`, independent of the label
      and the image, so a sound model shows no real gap by sex;
    * **age band**: drawn from :data:`AGE_BAND_PROBABILITIES` given the label, so
      prevalence differs by age band while the images do not;
    * **site**: :data:`SHIFTED_SITE` with probability ``shifted_share``, otherwise
      Hospital A (share :data:`HOSPITAL_A_SHARE`) or Hospital B. With
      ``shifted_prevalence=None`` the site is independent of the label; otherwise the
      shifted site's X-rays show pneumonia in that share (on average), by drawing the
      site with a probability that depends on the label. Only :func:`simulate_cohort`
      changes the images of the shifted site.

    Args:
        labels: ``(N,)`` 0/1 labels.
        shifted_share: probability that an X-ray comes from the shifted site, in [0, 1].
        seed: the generator's seed.
        shifted_prevalence: share of pneumonia among the shifted site's X-rays, in
            [0, 1]; None keeps the split's own prevalence (site independent of label).

    Returns:
        A DataFrame with categorical columns ``sex``, ``age_band`` and ``site``.
    """
    labels = np.asarray(labels).reshape(-1)
    if not set(np.unique(labels).tolist()) <= {0, 1}:
        raise FairnessInputError("labels must hold 0 (normal) and 1 (pneumonia) only.")
    if not 0.0 <= shifted_share <= 1.0:
        raise FairnessInputError(f"shifted_share must be in [0, 1], got {shifted_share!r}.")
    rng = np.random.default_rng(seed)
    n = len(labels)
    sex = np.where(rng.random(n) < MALE_PROBABILITY, SEXES[1], SEXES[0])
    age = np.empty(n, dtype=object)
    for label, probabilities in AGE_BAND_PROBABILITIES.items():
        members = labels == label
        age[members] = rng.choice(AGE_BANDS, size=int(members.sum()), p=probabilities)
    prevalence = float(labels.mean()) if n else 0.0
    p_shifted = np.full(n, shifted_share)
    if shifted_prevalence is not None:
        if not 0.0 <= shifted_prevalence <= 1.0:
            raise FairnessInputError(
                f"shifted_prevalence must be in [0, 1] or None, got {shifted_prevalence!r}."
            )
        # Bayes: P(site | label) = P(label | site) P(site) / P(label).
        p_sick = shifted_share * shifted_prevalence / max(prevalence, 1e-12)
        p_well = shifted_share * (1 - shifted_prevalence) / max(1 - prevalence, 1e-12)
        if max(p_sick, p_well) > 1:
            raise FairnessInputError(
                f"shifted_share={shifted_share} with shifted_prevalence={shifted_prevalence} "
                "needs more cases of one class than the labels hold; lower one of them."
            )
        p_shifted = np.where(labels == 1, p_sick, p_well)
    shifted = rng.random(n) < p_shifted
    hospital_a = rng.random(n) < HOSPITAL_A_SHARE
    site = np.where(shifted, SITES[2], np.where(hospital_a, SITES[0], SITES[1]))
    return pd.DataFrame(
        {
            "sex": pd.Categorical(sex, categories=SEXES),
            "age_band": pd.Categorical(age, categories=AGE_BANDS),
            "site": pd.Categorical(site, categories=SITES),
        }
    )


@dataclass
class SimulatedCohort:
    """PneumoniaMNIST with simulated metadata and the shifted site's images transformed.

    Attributes
    ----------
    dataset : the splits as the model sees them (shifted site's images transformed).
    metadata : ``{"train": DataFrame, "val": ..., "test": ...}`` from
        :func:`simulate_metadata`, row ``i`` describing image ``i`` of that split.
    original : the untouched data set.
    shift : the acquisition shift applied to the shifted site.
    shifted_shares : the shifted site's share per split.
    shifted_prevalence : the share of pneumonia among the shifted site's X-rays per split
        (None: the split's own).
    """

    dataset: data.PneumoniaMNIST
    metadata: dict[str, pd.DataFrame]
    original: data.PneumoniaMNIST
    shift: AcquisitionShift
    shifted_shares: dict[str, float]
    shifted_prevalence: dict[str, float | None]

    def shifted(self, split: str) -> np.ndarray:
        """Return a boolean mask of the shifted site's X-rays in ``split``."""
        return (self.metadata[split]["site"] == SHIFTED_SITE).to_numpy()


def simulate_cohort(
    dataset: data.PneumoniaMNIST,
    *,
    shifted_shares: Mapping[str, float] | None = None,
    shifted_prevalence: Mapping[str, float | None] | None = None,
    shift: AcquisitionShift | None = None,
    seed: int = 0,
) -> SimulatedCohort:
    """Attach simulated metadata to every split and transform the shifted site's images.

    Args:
        dataset: PneumoniaMNIST as :func:`pneumo_helpers.data.load_pneumoniamnist` returns.
        shifted_shares: the shifted site's share per split; default
            :data:`DEFAULT_SHIFTED_SHARES` (rare in training, a third of the test split).
        shifted_prevalence: share of pneumonia among the shifted site's X-rays per split;
            default :data:`DEFAULT_SHIFTED_PREVALENCE` (low in training only). A split
            missing from the dict keeps its own prevalence.
        shift: how the shifted site changes its images; default :class:`AcquisitionShift()`.
        seed: seeds the metadata and the noise (each split gets its own stream).

    Returns:
        A :class:`SimulatedCohort`; ``cohort.dataset`` walks the course's usual road.
    """
    shares = dict(DEFAULT_SHIFTED_SHARES if shifted_shares is None else shifted_shares)
    missing = [split for split in data.SPLITS if split not in shares]
    if missing:
        raise FairnessInputError(
            f"shifted_shares lacks the splits {missing}; give a share for each of {data.SPLITS}."
        )
    prevalences = dict(
        DEFAULT_SHIFTED_PREVALENCE if shifted_prevalence is None else shifted_prevalence
    )
    shift = shift or AcquisitionShift()
    splits, metadata = {}, {}
    for offset, (name, split) in enumerate(dataset.splits().items()):
        meta = simulate_metadata(
            split.labels,
            shares[name],
            seed=seed + 1000 * offset,
            shifted_prevalence=prevalences.get(name),
        )
        images = split.images.copy()
        mask = (meta["site"] == SHIFTED_SITE).to_numpy()
        if mask.any():
            images[mask] = apply_acquisition_shift(
                split.images[mask], shift, seed=seed + 1000 * offset + 1
            )
        splits[name] = data.Split(images, split.labels)
        metadata[name] = meta
    return SimulatedCohort(
        dataset=dataclasses.replace(dataset, **splits),
        metadata=metadata,
        original=dataset,
        shift=shift,
        shifted_shares=shares,
        shifted_prevalence={name: prevalences.get(name) for name in data.SPLITS},
    )


def acquisition_statistics(images: np.ndarray) -> pd.DataFrame:
    """Return simple per-image acquisition statistics a hospital can monitor without labels.

    Columns: ``brightness`` (mean grey level), ``contrast`` (standard deviation of the grey
    levels), ``sharpness`` (mean absolute Laplacian: edges and fine detail) and
    ``noise`` (median absolute difference between neighbouring pixels, robust to edges).
    """
    from scipy.ndimage import laplace

    images = _check_images(images).astype(np.float32)
    lap = np.stack([laplace(image) for image in images]) if len(images) else images
    horizontal = np.abs(np.diff(images, axis=2)).reshape(len(images), -1)
    return pd.DataFrame(
        {
            "brightness": images.mean(axis=(1, 2)),
            "contrast": images.std(axis=(1, 2)),
            "sharpness": np.abs(lap).mean(axis=(1, 2)),
            "noise": np.median(horizontal, axis=1),
        }
    )


# --------------------------------------------------------------------------------------
# Mitigations
# --------------------------------------------------------------------------------------


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
    groups = _as_group_array(groups)
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
    images = _check_images(images)
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
    y_true, y_score, groups = _check_inputs(y_true, y_score, groups)
    thresholds = {}
    for group in _group_order(groups):
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


# --------------------------------------------------------------------------------------
# The audit
# --------------------------------------------------------------------------------------


def _as_group_array(groups) -> np.ndarray:
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


def _group_order(groups: np.ndarray, categories: Sequence | None = None) -> list:
    present = list(pd.unique(groups))
    if categories is not None:
        return [c for c in categories if c in present]
    try:
        return sorted(present)
    except TypeError:
        return present


def _check_inputs(y_true, y_score, groups) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        y_true, y_score = evaluation._check_binary(y_true, y_score, need_both=False)
    except ValueError as error:
        raise FairnessInputError(str(error)) from error
    groups_array = _as_group_array(groups)
    if len(groups_array) != len(y_true):
        raise FairnessInputError(
            f"groups has {len(groups_array)} labels but y_true has {len(y_true)}: pass one "
            "group per case, in the same order."
        )
    return y_true, y_score, groups_array


def _thresholds_per_case(threshold, groups: np.ndarray) -> np.ndarray:
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


def _safe_ratio(numerator: float, denominator: float) -> float:
    return float(numerator) / float(denominator) if denominator else float("nan")


def _auc_from_counts(
    pos_scores: np.ndarray, neg_scores: np.ndarray, pos_counts: np.ndarray, neg_counts: np.ndarray
) -> np.ndarray:
    """AUC of weighted resamples (Mann-Whitney), one value per row of the count matrices."""
    order = np.argsort(pos_scores, kind="stable")
    sorted_pos = pos_scores[order]
    cumulative = np.concatenate(
        [np.zeros((pos_counts.shape[0], 1)), np.cumsum(pos_counts[:, order], axis=1)], axis=1
    )
    left = np.searchsorted(sorted_pos, neg_scores, side="left")
    right = np.searchsorted(sorted_pos, neg_scores, side="right")
    total = cumulative[:, -1:]
    above = total - cumulative[:, right]  # positives scoring above each negative
    ties = cumulative[:, right] - cumulative[:, left]
    wins = ((above + 0.5 * ties) * neg_counts).sum(axis=1)
    return wins / (total[:, 0] * neg_counts.sum(axis=1))


def _point_metrics(y_true: np.ndarray, y_score: np.ndarray, y_pred: np.ndarray) -> dict:
    positives, negatives = y_true == 1, y_true == 0
    n_pos, n_neg = int(positives.sum()), int(negatives.sum())
    tp = int((y_pred[positives] == 1).sum())
    fp = int((y_pred[negatives] == 1).sum())
    sensitivity = _safe_ratio(tp, n_pos)
    specificity = _safe_ratio(n_neg - fp, n_neg)
    auc = float("nan")
    if n_pos and n_neg:
        auc = float(
            _auc_from_counts(
                y_score[positives],
                y_score[negatives],
                np.ones((1, n_pos)),
                np.ones((1, n_neg)),
            )[0]
        )
    return {
        "auc": auc,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "fnr": 1.0 - sensitivity,
        "fpr": 1.0 - specificity,
        "ppv": _safe_ratio(tp, tp + fp),
    }


def bootstrap_rate(
    hits: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Return bootstrap replicates of a rate, e.g. sensitivity (hits: pneumonia cases flagged).

    Drawing n cases with replacement is the same as giving each case a count from a
    multinomial distribution, so ``n_boot`` resamples become one matrix product.

    Returns:
        The ``(n_boot,)`` replicates of the rate and the ``(n_boot, n)`` counts (one row
        per resample), so that other statistics can use the same resamples.
    """
    hits = np.asarray(hits, dtype=float)
    n = hits.size
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    return counts @ hits / n, counts


def _bootstrap_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    y_pred: np.ndarray,
    n_boot: int,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Replicates of the rate metrics under a class-stratified bootstrap (vectorised)."""
    positives, negatives = y_true == 1, y_true == 0
    n_pos, n_neg = int(positives.sum()), int(negatives.sum())
    nan = np.full(n_boot, np.nan)
    sensitivity, tp, pos_counts = nan, np.zeros(n_boot), None
    specificity, fp, neg_counts = nan, np.zeros(n_boot), None
    if n_pos:
        sensitivity, pos_counts = bootstrap_rate(y_pred[positives], n_boot, rng)
        tp = pos_counts @ y_pred[positives]
    if n_neg:
        specificity, neg_counts = bootstrap_rate(1.0 - y_pred[negatives], n_boot, rng)
        fp = neg_counts @ y_pred[negatives]
    with np.errstate(invalid="ignore", divide="ignore"):
        ppv = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1), np.nan)
    auc = nan
    if n_pos and n_neg:
        auc = _auc_from_counts(y_score[positives], y_score[negatives], pos_counts, neg_counts)
    return {
        "auc": auc,
        "sensitivity": sensitivity,
        "specificity": specificity,
        "fnr": 1.0 - sensitivity,
        "fpr": 1.0 - specificity,
        "ppv": ppv,
    }


@dataclass
class _AuditData:
    table: pd.DataFrame
    replicates: dict[Hashable, dict[str, np.ndarray]]


def _run_audit(
    y_true, y_score, groups, threshold, n_boot: int, seed: int, confidence: float
) -> _AuditData:
    categories = getattr(getattr(groups, "cat", None), "categories", None)
    name = getattr(groups, "name", None) or "group"
    y_true, y_score, groups = _check_inputs(y_true, y_score, groups)
    if not isinstance(n_boot, int | np.integer) or isinstance(n_boot, bool) or n_boot < 0:
        raise FairnessInputError(
            f"n_boot must be a non-negative integer (0 skips the intervals), got {n_boot!r}."
        )
    n_boot = config.budget(n_boot, config.REHEARSAL_BOOTSTRAP)
    if not 0.0 < confidence < 1.0:
        raise FairnessInputError(f"confidence must be in (0, 1), e.g. 0.95, got {confidence!r}.")
    if str(OVERALL) in {str(g) for g in pd.unique(groups)}:
        raise FairnessInputError(
            f"groups holds the label {OVERALL!r}, which audit reserves for the overall row; "
            "rename that group."
        )
    thresholds = _thresholds_per_case(threshold, groups)
    y_pred = (y_score >= thresholds).astype(float)
    order = _group_order(groups, categories)

    table = _metric_frame_table(y_true, y_score, y_pred, groups, order)
    undefined = table.index[(table["n_positive"] == 0) | (table["n_negative"] == 0)]
    if len(undefined):
        warnings.warn(
            f"groups {list(undefined)} lack pneumonia or normal cases, so their AUC and the "
            "rates that need the missing class are NaN. Collect more cases or merge groups.",
            UndefinedGroupMetricWarning,
            stacklevel=3,
        )

    rng = np.random.default_rng(seed)
    replicates: dict[Hashable, dict[str, np.ndarray]] = {}
    alpha = (1.0 - confidence) / 2.0
    for group in [*order, OVERALL]:
        members = np.ones(len(groups), bool) if group == OVERALL else groups == group
        if n_boot:
            reps = _bootstrap_metrics(
                y_true[members], y_score[members], y_pred[members], n_boot, rng
            )
        else:
            reps = {m: np.full(1, np.nan) for m in RATE_METRICS}
        replicates[group] = reps
        table.loc[group, "threshold"] = float(np.mean(thresholds[members]))
        for metric in RATE_METRICS:
            values = reps[metric]
            low = high = float("nan")
            if np.isfinite(values).any():
                low, high = np.nanquantile(values, [alpha, 1.0 - alpha])
            table.loc[group, f"{metric}_low"] = low
            table.loc[group, f"{metric}_high"] = high
    columns = ["n", "n_positive", "n_negative", "prevalence", "threshold"]
    for metric in RATE_METRICS:
        columns += [metric, f"{metric}_low", f"{metric}_high"]
    table = table[columns]
    table.index.name = name
    table.attrs.update({"confidence": confidence, "n_boot": n_boot, "seed": seed})
    return _AuditData(table, replicates)


def _metric_frame_table(y_true, y_score, y_pred, groups, order) -> pd.DataFrame:
    """Point estimates per group and overall, computed by fairlearn's MetricFrame."""
    from fairlearn.metrics import MetricFrame

    def metric(name: str) -> Callable:
        def compute(t, p, scores):
            return _point_metrics(np.asarray(t), np.asarray(scores), np.asarray(p))[name]

        return compute

    metrics = {
        "n": lambda t, p: len(t),
        "n_positive": lambda t, p: int(np.sum(t == 1)),
        "n_negative": lambda t, p: int(np.sum(t == 0)),
        "prevalence": lambda t, p: float(np.mean(t)),
        **{name: metric(name) for name in RATE_METRICS},
    }
    params = {name: {"scores": y_score} for name in RATE_METRICS}
    frame = MetricFrame(
        metrics=metrics,
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=pd.Series(groups, name="group"),
        sample_params=params,
    )
    by_group = frame.by_group.reindex(order)
    by_group.index = pd.Index(order, dtype=object)
    overall = frame.overall.to_frame(OVERALL).T
    table = pd.concat([by_group, overall]).astype(float)
    for column in ("n", "n_positive", "n_negative"):
        table[column] = table[column].astype(int)
    return table


def audit(
    y_true,
    y_score,
    groups,
    threshold: float | Mapping[Hashable, float] = 0.5,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Audit a model's decisions by group, with bootstrap confidence intervals.

    Point estimates come from fairlearn's ``MetricFrame``; intervals from a percentile
    bootstrap that resamples each group's pneumonia and normal cases separately (so every
    resample keeps the group's size and prevalence), vectorised over resamples.

    Args:
        y_true: ``(N,)`` 0/1 labels (1 pneumonia).
        y_score: ``(N,)`` pneumonia scores.
        groups: one group label per case (e.g. ``metadata["site"]``); a pandas
            categorical keeps its category order, and a Series its name as the index name.
        threshold: a score at or above it counts as pneumonia; a number, a dict
            ``{group: threshold}`` for group-specific thresholds, or one threshold per
            case (thresholds set by another attribute, e.g. by site when auditing by sex).
        n_boot: bootstrap resamples; 0 skips the intervals (NaN bounds).
        seed: seed of the bootstrap.
        confidence: e.g. 0.95 for 95 % intervals.

    Returns:
        A DataFrame indexed by group with a last row ``"overall"``. Columns: ``n``,
        ``n_positive``, ``n_negative``, ``prevalence``, ``threshold`` (mean threshold
        applied), and for each of ``auc``, ``sensitivity``, ``specificity``, ``fnr``
        (underdiagnosis), ``fpr`` and ``ppv`` the value with ``_low`` and ``_high``
        bounds. Metrics a group cannot define (no positives or no negatives) are NaN,
        with an :class:`UndefinedGroupMetricWarning`.

    Raises:
        FairnessInputError: lengths differ, labels are not 0/1, scores are NaN, groups are
            missing, or a threshold is missing or not finite.
    """
    return _run_audit(y_true, y_score, groups, threshold, n_boot, seed, confidence).table


def gap_summary(
    y_true,
    y_score,
    groups,
    threshold: float | Mapping[Hashable, float] = 0.5,
    metrics: Sequence[str] = ("sensitivity", "specificity", "auc"),
    reference: Hashable | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Return each group's gap to the best (or a named) group, with bootstrap intervals.

    The reference is the group with the best point estimate of each metric (highest, or
    lowest for ``fnr`` and ``fpr``) unless ``reference`` names one. Groups are resampled
    independently, with the same resamples as :func:`audit` for the same ``seed``, and
    the difference and ratio are computed within each resample.

    Returns:
        One row per (metric, group), indexed by both, with columns ``value``,
        ``reference``, ``reference_value``, ``difference`` (group minus reference) with
        ``difference_low``/``_high``, ``ratio`` (group / reference) with
        ``ratio_low``/``_high``, and ``excludes_zero``: True when the interval of the
        difference excludes 0 (a gap the data support at that confidence).
    """
    unknown = [m for m in metrics if m not in RATE_METRICS]
    if unknown:
        raise FairnessInputError(f"metrics {unknown} are not audit metrics; use {RATE_METRICS}.")
    result = _run_audit(y_true, y_score, groups, threshold, n_boot, seed, confidence)
    table, reps = result.table, result.replicates
    group_rows = table.drop(index=OVERALL)
    if reference is not None and reference not in group_rows.index:
        raise FairnessInputError(
            f"reference {reference!r} is not a group; the groups are {list(group_rows.index)}."
        )
    alpha = (1.0 - confidence) / 2.0
    rows = []
    for metric in metrics:
        values = group_rows[metric]
        if reference is not None:
            ref = reference
        elif values.notna().any():
            ref = values.idxmax() if HIGHER_IS_BETTER[metric] else values.idxmin()
        else:
            ref = group_rows.index[0]
        for group in group_rows.index:
            difference = reps[group][metric] - reps[ref][metric]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = reps[group][metric] / reps[ref][metric]
            bounds = {}
            for key, sample in (("difference", difference), ("ratio", ratio)):
                finite = sample[np.isfinite(sample)]
                low = high = float("nan")
                if finite.size:
                    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
                bounds[f"{key}_low"], bounds[f"{key}_high"] = low, high
            value, ref_value = values[group], values[ref]
            rows.append(
                {
                    "metric": metric,
                    "group": group,
                    "value": value,
                    "reference": ref,
                    "reference_value": ref_value,
                    "difference": value - ref_value,
                    "difference_low": bounds["difference_low"],
                    "difference_high": bounds["difference_high"],
                    "ratio": _safe_ratio(value, ref_value) if np.isfinite(ref_value) else np.nan,
                    "ratio_low": bounds["ratio_low"],
                    "ratio_high": bounds["ratio_high"],
                    "excludes_zero": bool(
                        group != ref
                        and (bounds["difference_low"] > 0 or bounds["difference_high"] < 0)
                    ),
                }
            )
    summary = pd.DataFrame(rows).set_index(["metric", "group"])
    summary.attrs.update({"confidence": confidence})
    return summary


def wilson_intervals(
    table: pd.DataFrame,
    metrics: Sequence[str] = ("sensitivity", "specificity", "fnr", "fpr", "ppv"),
    confidence: float | None = None,
) -> pd.DataFrame:
    """Return a copy of an :func:`audit` table whose rate intervals are Wilson intervals.

    A bootstrap interval has no width when a group's rate is 0 or 1 (every resample gives
    the same value), which is when a small group most needs an interval; the Wilson score
    interval (:func:`pneumo_helpers.evaluation.wilson_interval`) does not collapse. The
    counts come from the table (``n_positive``, ``n_negative`` and the rates).

    Args:
        table: an audit table.
        metrics: the rates to give Wilson intervals (``auc`` keeps its bootstrap one).
        confidence: the level; default the table's own (``attrs["confidence"]``).
    """
    unknown = [m for m in metrics if m not in RATE_METRICS or m == "auc"]
    if unknown:
        raise FairnessInputError(
            f"metrics {unknown} are not rates of an audit table; use some of {RATE_METRICS[1:]}."
        )
    confidence = table.attrs.get("confidence", 0.95) if confidence is None else confidence
    out = table.copy()
    for group, row in table.iterrows():
        n_pos, n_neg = int(row["n_positive"]), int(row["n_negative"])
        tp = int(round(row["sensitivity"] * n_pos)) if n_pos else 0
        fp = int(round(row["fpr"] * n_neg)) if n_neg else 0
        counts = {
            "sensitivity": (tp, n_pos),
            "fnr": (n_pos - tp, n_pos),
            "specificity": (n_neg - fp, n_neg),
            "fpr": (fp, n_neg),
            "ppv": (tp, tp + fp),
        }
        for metric in metrics:
            successes, trials = counts[metric]
            low = high = float("nan")
            if trials:
                low, high = evaluation.wilson_interval(successes, trials, confidence)
            out.loc[group, f"{metric}_low"], out.loc[group, f"{metric}_high"] = low, high
    out.attrs = {**table.attrs, "confidence": confidence, "wilson": tuple(metrics)}
    return out


def calibration_by_group(y_true, y_score, groups, n_bins: int = 10) -> pd.DataFrame:
    """Return calibration summaries per group and overall.

    Columns: ``n``, ``mean_score`` (mean predicted probability), ``observed`` (share
    with pneumonia), ``calibration_in_the_large`` (their difference: positive means
    over-estimation), ``brier`` (Brier score) and ``ece`` (expected calibration error,
    ``n_bins`` equal-width bins).
    """
    categories = getattr(getattr(groups, "cat", None), "categories", None)
    name = getattr(groups, "name", None) or "group"
    y_true, y_score, groups = _check_inputs(y_true, y_score, groups)
    if n_bins < 1:
        raise FairnessInputError(f"n_bins must be at least 1, got {n_bins!r}.")
    rows = {}
    for group in [*_group_order(groups, categories), OVERALL]:
        members = np.ones(len(groups), bool) if group == OVERALL else groups == group
        t, s = y_true[members], y_score[members]
        bins = np.clip((s * n_bins).astype(int), 0, n_bins - 1)
        ece = 0.0
        for b in np.unique(bins):
            in_bin = bins == b
            ece += in_bin.mean() * abs(s[in_bin].mean() - t[in_bin].mean())
        rows[group] = {
            "n": int(members.sum()),
            "mean_score": float(s.mean()),
            "observed": float(t.mean()),
            "calibration_in_the_large": float(s.mean() - t.mean()),
            "brier": float(np.mean((s - t) ** 2)),
            "ece": float(ece),
        }
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = name
    return table


# --------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------


def plot_underdiagnosis(
    audits: Mapping[str, pd.DataFrame] | pd.DataFrame,
    metric: str = "fnr",
    *,
    ax=None,
    label: str | None = None,
    offset: float = 0.0,
    color: str | None = None,
    show_overall: bool = True,
):
    """Plot a metric by group with its intervals, in the style of Seyyed-Kalantari et al.

    One point per subgroup with its confidence interval, subgroups grouped by attribute
    (sex, age band, site, ...), and a dashed line at the overall rate. The default metric
    is the underdiagnosis rate (false-negative rate). Call again on the same ``ax`` with
    another ``label`` and a small ``offset`` to compare models (before and after a
    mitigation).

    Args:
        audits: ``{attribute: audit table}``, or one audit table.
        metric: an audit metric, e.g. ``"fnr"`` or ``"sensitivity"``.
        ax: axes to draw on; default a new figure.
        label: legend label of this series.
        offset: horizontal shift of the points (e.g. ±0.15 for two series).
        color: the points' colour.
        show_overall: draw the overall rate as a dashed line.

    Returns:
        The axes.
    """
    if isinstance(audits, pd.DataFrame):
        audits = {audits.index.name or "group": audits}
    if metric not in RATE_METRICS:
        raise FairnessInputError(f"metric must be one of {RATE_METRICS}, got {metric!r}.")
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(max(6.0, 0.8 * sum(len(t) for t in audits.values())), 4.2))
    ax = plots.new_axes(ax)
    positions, names, boundaries = [], [], []
    x = 0.0
    overall_value = None
    for attribute, table in audits.items():
        rows = table.drop(index=OVERALL, errors="ignore")
        if OVERALL in table.index and overall_value is None:
            overall_value = table.loc[OVERALL, metric]
        start = x
        for group in rows.index:
            positions.append(x)
            names.append(str(group))
            x += 1.0
        boundaries.append((start, x - 1.0, attribute))
        x += 0.6
    values = np.concatenate(
        [t.drop(index=OVERALL, errors="ignore")[metric].to_numpy() for t in audits.values()]
    )
    lows = np.concatenate(
        [
            t.drop(index=OVERALL, errors="ignore")[f"{metric}_low"].to_numpy()
            for t in audits.values()
        ]
    )
    highs = np.concatenate(
        [
            t.drop(index=OVERALL, errors="ignore")[f"{metric}_high"].to_numpy()
            for t in audits.values()
        ]
    )
    errors = np.vstack([values - lows, highs - values])
    errors = np.where(np.isfinite(errors), np.maximum(errors, 0), 0)
    container = ax.errorbar(
        np.asarray(positions) + offset,
        values,
        yerr=errors,
        fmt="o",
        capsize=4,
        color=color,
        label=label,
    )
    if show_overall and overall_value is not None and np.isfinite(overall_value):
        ax.axhline(
            overall_value,
            linestyle="--",
            color=container[0].get_color(),
            linewidth=1,
            alpha=0.7,
            label=f"overall{f' ({label})' if label else ''}",
        )
    ax.set_xticks(positions, names, rotation=30, ha="right")
    for start, end, attribute in boundaries:
        ax.text(
            (start + end) / 2,
            1.02,
            attribute,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=9,
            fontweight="bold",
        )
        if start > 0:
            ax.axvline(start - 0.8, color="lightgrey", linewidth=1)
    confidence = next(iter(audits.values())).attrs.get("confidence", 0.95)
    ax.set(
        ylabel=f"{METRIC_LABELS[metric]}\n(point and {confidence:.0%} interval)",
        xlim=(-0.7, positions[-1] + 0.7),
    )
    ax.grid(False, axis="x")  # the vertical lines separate attributes, not groups
    ax.legend(loc="best")
    return ax


def plot_calibration_by_group(y_true, y_score, groups, *, n_bins: int = 8, ax=None):
    """Plot one reliability curve per group (quantile bins) against the diagonal."""
    from sklearn.calibration import calibration_curve

    categories = getattr(getattr(groups, "cat", None), "categories", None)
    y_true, y_score, group_array = _check_inputs(y_true, y_score, groups)
    ax = plots.new_axes(ax)
    for group in _group_order(group_array, categories):
        members = group_array == group
        if np.unique(y_true[members]).size < 2:
            continue
        bins = max(2, min(n_bins, int(members.sum()) // 20))
        observed, predicted = calibration_curve(
            y_true[members], y_score[members], n_bins=bins, strategy="quantile"
        )
        ax.plot(predicted, observed, marker="o", label=f"{group} (n={int(members.sum())})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    ax.set(
        xlabel="Mean predicted probability of pneumonia",
        ylabel="Observed share with pneumonia",
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.legend(loc="upper left")
    return ax


# --------------------------------------------------------------------------------------
# Model card
# --------------------------------------------------------------------------------------


def _interval_text(row: pd.Series, metric: str) -> str:
    value, low, high = row[metric], row[f"{metric}_low"], row[f"{metric}_high"]
    if not np.isfinite(value):
        return "n/a"
    if np.isfinite(low) and np.isfinite(high):
        return f"{value:.3f} ({low:.3f}–{high:.3f})"
    return f"{value:.3f}"


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _bullets(items: str | Sequence[str]) -> str:
    if isinstance(items, str):
        return items
    return "\n".join(f"- {item}" for item in items)


def model_card(
    audits: Mapping[str, pd.DataFrame],
    *,
    model_name: str,
    intended_use: str | Sequence[str],
    data: str | Sequence[str],
    limitations: str | Sequence[str],
    out_of_scope: str | Sequence[str] = (),
    details: str | Sequence[str] = (),
    metrics: Sequence[str] = ("auc", "sensitivity", "specificity", "fnr", "ppv"),
    gaps: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
) -> str:
    """Write a model card (Mitchell et al. 2019) in Markdown from audit tables.

    Args:
        audits: ``{attribute: audit table}`` from :func:`audit`; the overall metrics come
            from the first table's ``overall`` row.
        model_name: the model's name, used as the card's title.
        intended_use, data, limitations, out_of_scope, details: text or bullet lists.
        metrics: audit metrics to report, each as "value (interval)".
        gaps: optional :func:`gap_summary` tables, ``{attribute: table}`` (or one table);
            the card names the metrics and attributes compared and lists the gaps whose
            interval excludes zero, so its statement covers exactly what was examined.

    Returns:
        The card as a Markdown string (display it with ``IPython.display.Markdown``).
    """
    if not audits:
        raise FairnessInputError("audits is empty; pass {attribute: audit(...) table}.")
    unknown = [m for m in metrics if m not in RATE_METRICS]
    if unknown:
        raise FairnessInputError(f"metrics {unknown} are not audit metrics; use {RATE_METRICS}.")
    first = next(iter(audits.values()))
    confidence = first.attrs.get("confidence", 0.95)
    header_metrics = [METRIC_LABELS[m] for m in metrics]
    overall = first.loc[OVERALL]
    group_thresholds_used = first.drop(index=OVERALL, errors="ignore")["threshold"]
    if np.allclose(group_thresholds_used, overall["threshold"]):
        threshold_text = f"threshold {overall['threshold']:.3f}"
    else:
        threshold_text = (
            "group-specific thresholds ("
            + ", ".join(f"{group} {value:.3f}" for group, value in group_thresholds_used.items())
            + ")"
        )
    wilson = [_lower_label(m) for m in metrics if m in first.attrs.get("wilson", ())]
    interval_text = f"values with {confidence:.0%} bootstrap intervals"
    if wilson:
        interval_text = (
            f"{', '.join(wilson)} with {confidence:.0%} Wilson intervals, the rest with "
            f"{confidence:.0%} bootstrap intervals"
        )
    sections = [f"# Model card: {model_name}"]
    if details:
        sections += ["## Model details", _bullets(details)]
    sections += ["## Intended use", _bullets(intended_use)]
    if out_of_scope:
        sections += ["## Out of scope", _bullets(out_of_scope)]
    sections += ["## Data", _bullets(data)]
    sections += [
        "## Overall performance",
        f"Test split, n = {int(overall['n'])}, prevalence {overall['prevalence']:.1%}, "
        f"{threshold_text}; {interval_text}.",
        _markdown_table(header_metrics, [[_interval_text(overall, m) for m in metrics]]),
        "## Performance by group",
    ]
    for attribute, table in audits.items():
        rows = []
        for group, row in table.drop(index=OVERALL, errors="ignore").iterrows():
            rows.append(
                [str(group), int(row["n"]), f"{row['prevalence']:.1%}"]
                + [_interval_text(row, m) for m in metrics]
            )
        sections += [
            f"### By {attribute}",
            _markdown_table(["group", "n", "prevalence", *header_metrics], rows),
        ]
    if gaps is not None:
        sections += ["## Gaps supported by the data", _gap_section(gaps, metrics)]
    sections += ["## Limitations and ethical considerations", _bullets(limitations)]
    return "\n\n".join(sections) + "\n"


def _lower_label(metric: str) -> str:
    label = METRIC_LABELS[metric]
    return label if label.isupper() else label.lower()


def _gap_section(gaps: pd.DataFrame | Mapping[str, pd.DataFrame], reported: Sequence[str]) -> str:
    """The model card's gap statement: what was compared, and which gaps the data support."""
    tables = {"group": gaps} if isinstance(gaps, pd.DataFrame) else dict(gaps)
    if not tables:
        raise FairnessInputError("gaps is empty; pass {attribute: gap_summary(...) table}.")
    examined = list(dict.fromkeys(m for t in tables.values() for m in t.index.unique("metric")))
    confidence = next(iter(tables.values())).attrs.get("confidence", 0.95)
    n_compared = sum(
        int((t["reference"] != t.index.get_level_values("group")).sum()) for t in tables.values()
    )
    paragraphs = [
        f"Compared: {', '.join(_lower_label(m) for m in examined)} of every group "
        f"against the best-served group of its attribute ({', '.join(tables)}); "
        f"{n_compared} comparisons, each with a {confidence:.0%} bootstrap interval of the "
        "difference."
    ]
    supported = [
        f"- {attribute}, {_lower_label(metric)}: {group} {row['value']:.3f} vs "
        f"{row['reference']} {row['reference_value']:.3f} (difference "
        f"{row['difference']:+.3f}, {confidence:.0%} interval {row['difference_low']:+.3f} to "
        f"{row['difference_high']:+.3f})"
        for attribute, table in tables.items()
        for (metric, group), row in table[table["excludes_zero"]].iterrows()
    ]
    if supported:
        header = f"Intervals that exclude zero ({len(supported)} of {n_compared}):"
        paragraphs.append("\n".join([header, "", *supported]))
    else:
        paragraphs.append(f"None of the {n_compared} intervals excludes zero.")
    unexamined = [_lower_label(m) for m in reported if m not in examined]
    if unexamined:
        paragraphs.append(f"Not compared between groups: {', '.join(unexamined)}.")
    return "\n\n".join(paragraphs)
