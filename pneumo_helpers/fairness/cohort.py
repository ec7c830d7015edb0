"""The simulated cohort: metadata for PneumoniaMNIST and the shifted site's acquisition.

PneumoniaMNIST carries no demographics and no acquisition details. To teach the audit,
:func:`simulate_cohort` attaches *simulated* metadata (sex, age band, acquisition site)
to every X-ray with a documented, seeded generator. One site, a portable unit, is rare in
the training split, and its X-rays are transformed the way a different acquisition changes
an image (lower contrast, blur, noise; :func:`apply_acquisition_shift`), so any disparity
the audit finds arises from the images themselves, as it does in practice.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import data
from .groups import FairnessInputError

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

    Attributes:
        contrast: factor in (0, 1].
        brightness: grey levels added.
        blur_sigma: Gaussian blur in pixels (0 for none).
        noise_std: noise standard deviation in grey levels (0 for none).
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


def check_images(images: np.ndarray, name: str = "images") -> np.ndarray:
    """Return ``images`` as an array, checking they are grey X-rays of shape (N, H, W).

    Raises:
        FairnessInputError: the array is not three-dimensional.
    """
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

    images = check_images(images)
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

    Attributes:
        dataset: the splits as the model sees them (shifted site's images transformed).
        metadata: ``{"train": DataFrame, "val": ..., "test": ...}`` from
            :func:`simulate_metadata`, row ``i`` describing image ``i`` of that split.
        original: the untouched data set.
        shift: the acquisition shift applied to the shifted site.
        shifted_shares: the shifted site's share per split.
        shifted_prevalence: the share of pneumonia among the shifted site's X-rays per
            split (None: the split's own).
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

    images = check_images(images).astype(np.float32)
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
