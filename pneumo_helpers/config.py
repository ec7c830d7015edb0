"""Profiles, paths and seeds: the settings every chapter reads once.

Two profiles size every chapter (their training budgets, model by model, are the table in
:mod:`pneumo_helpers.budgets`):

* ``quick``: a 2-core laptop CPU or CI; 28 px images and few epochs, minutes per chapter.
* ``full``: a GPU (e.g. Colab T4); 128 px images and full training (its chapter times
  are not measured yet).

``PNEUMO_PROFILE=quick|full`` chooses one; unset, ``full`` is used when TensorFlow sees
a GPU and ``quick`` otherwise. ``PNEUMO_DATA_DIR`` sets where data sets are read and
downloaded.

``PNEUMO_REHEARSAL=1`` marks a *rehearsal*: the tests run a chapter's code path (on Colab's
runtime, or the full profile's on stand-in data) with budgets shrunk to a few steps. It
changes sizes and epochs only, never which code runs, and the chapters' quality floors are
not asserted (:func:`rehearsal`).
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from . import budgets

PROFILE_ENV = "PNEUMO_PROFILE"
DATA_DIR_ENV = "PNEUMO_DATA_DIR"
REHEARSAL_ENV = "PNEUMO_REHEARSAL"

#: What a rehearsal shrinks: images kept per split (stratified), epochs per training call,
#: federated rounds, and bootstrap resamples. Sizes only: the code that runs is the same.
REHEARSAL_SPLIT_SIZES = {"train": 192, "val": 64, "test": 64}
REHEARSAL_EPOCHS = 1
REHEARSAL_ROUNDS = 2
REHEARSAL_BOOTSTRAP = 20
#: Seeds a rehearsal keeps of a chapter's repeated runs: two, so that every loop over
#: seeds and every mean across them still runs.
REHEARSAL_SEEDS = 2

_PACKAGE_DIR = Path(__file__).resolve().parent
_REPO_ROOT = _PACKAGE_DIR.parent


class ConfigError(ValueError):
    """A course setting (an environment variable or argument) has an invalid value."""


@dataclass(frozen=True)
class Profile:
    """How large a chapter's run is: image size, chapter 2's budget and bootstrap size.

    ``epochs``, ``batch_size`` and ``patience`` are those of chapter 2's baseline, read
    from its row of the budget table (``budgets.budget(name, "baseline_cnn")``): they are
    the defaults of :func:`pneumo_helpers.training.fit` and of the chapters' own data
    pipelines. Every recipe reads its own row instead.

    Attributes:
        name: ``"quick"`` or ``"full"``.
        image_size: side in pixels of the MedMNIST file the chapters read (28, 64, 128, 224).
        epochs: maximum training epochs of chapter 2's baseline (early stopping may end
            sooner).
        batch_size: mini-batch size.
        patience: epochs without a better validation value before early stopping.
        n_bootstrap: bootstrap resamples for confidence intervals.
    """

    name: str
    image_size: int
    epochs: int
    batch_size: int
    patience: int
    n_bootstrap: int

    def as_dict(self) -> dict:
        """Return the profile as a plain dictionary (for tables and logs)."""
        return asdict(self)


def _profile_from_table(name: str, image_size: int, n_bootstrap: int) -> Profile:
    baseline = budgets.budget(name, "baseline_cnn")
    return Profile(
        name=name,
        image_size=image_size,
        epochs=baseline.epochs,
        batch_size=baseline.batch_size,
        patience=baseline.patience,
        n_bootstrap=n_bootstrap,
    )


PROFILES: dict[str, Profile] = {
    "quick": _profile_from_table("quick", image_size=28, n_bootstrap=500),
    "full": _profile_from_table("full", image_size=128, n_bootstrap=2000),
}


def gpu_available() -> bool:
    """Return True when TensorFlow can see at least one GPU."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def rehearsal() -> bool:
    """Return True when ``PNEUMO_REHEARSAL`` asks for a rehearsal (budgets shrunk, no floors)."""
    value = os.environ.get(REHEARSAL_ENV, "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ConfigError(
        f"environment variable {REHEARSAL_ENV} is {value!r}: use 1 for a rehearsal, "
        "or leave it unset."
    )


def budget(epochs: int, rehearsal_value: int = REHEARSAL_EPOCHS) -> int:
    """Return ``epochs`` (or rounds), shrunk to ``rehearsal_value`` in a rehearsal."""
    return min(int(epochs), rehearsal_value) if rehearsal() else int(epochs)


def seeds(first: int, count: int) -> tuple[int, ...]:
    """Return ``count`` consecutive seeds from ``first``; a rehearsal keeps the first two.

    A chapter that repeats a training once per seed names its seeds with this, so that a
    rehearsal (:func:`rehearsal`) runs fewer trainings but still every per-seed step.

    Raises:
        ConfigError: ``count`` is below 1.
    """
    if int(count) < 1:
        raise ConfigError(f"count is {count!r}: ask for at least one seed.")
    kept = min(int(count), REHEARSAL_SEEDS) if rehearsal() else int(count)
    return tuple(int(first) + offset for offset in range(kept))


def _choose_profile(name: str | None) -> tuple[Profile, str]:
    source = "argument 'name'"
    if name is None:
        name = os.environ.get(PROFILE_ENV, "").strip() or None
        source = f"environment variable {PROFILE_ENV}"
    if name is None:
        gpu = gpu_available()
        reason = "TensorFlow sees a GPU" if gpu else f"no GPU seen and {PROFILE_ENV} unset"
        return PROFILES["full" if gpu else "quick"], reason
    key = name.strip().lower()
    if key not in PROFILES:
        raise ConfigError(
            f"{source} is {name!r}, which is not a profile. "
            f"Use one of {sorted(PROFILES)} (e.g. export {PROFILE_ENV}=quick), "
            "or leave it unset to choose by whether a GPU is present."
        )
    reason = f"{PROFILE_ENV}={key}" if source.startswith("environment") else "chosen in the code"
    return PROFILES[key], reason


def profile(name: str | None = None) -> Profile:
    """Return the active profile.

    Args:
        name: ``"quick"`` or ``"full"``. When None, ``PNEUMO_PROFILE`` decides; when that
            is unset too, ``full`` if TensorFlow sees a GPU, else ``quick``.

    Raises:
        ConfigError: the name (or the environment variable) is not a known profile.
    """
    chosen, _ = _choose_profile(name)
    if rehearsal():
        chosen = replace(
            chosen, epochs=REHEARSAL_EPOCHS, patience=1, n_bootstrap=REHEARSAL_BOOTSTRAP
        )
    return chosen


def profile_summary(name: str | None = None) -> str:
    """Return one line saying which profile runs and why (each chapter prints it first)."""
    chosen, reason = _choose_profile(name)
    line = f"Profile {chosen.name!r} ({reason}): {chosen.image_size} px images."
    if rehearsal():
        line += f" Rehearsal ({REHEARSAL_ENV}=1): budgets shrunk to a few steps, no floors."
    return line


def in_checkout() -> bool:
    """Return True when the package is imported from a clone of the course repository."""
    return (_REPO_ROOT / "_config.yml").is_file() and (_REPO_ROOT / "chapters").is_dir()


def repo_root() -> Path | None:
    """Return the course repository's root when running from a checkout, else None."""
    return _REPO_ROOT if in_checkout() else None


def data_dir() -> Path:
    """Return the data directory, creating nothing.

    ``PNEUMO_DATA_DIR`` wins (relative paths are taken from the current directory);
    otherwise the repository's ``data/`` in a checkout, or a per-user cache directory
    (e.g. ``~/.cache/pneumo-course`` on Linux and Colab).
    """
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        path = Path(configured).expanduser()
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"{DATA_DIR_ENV}={configured!r} is a file, not a directory. "
                "Point it at the folder that holds pneumoniamnist.npz."
            )
        return path.resolve()
    if in_checkout():
        return _REPO_ROOT / "data"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pneumo-course"))


def data_dir_description() -> str:
    """Say where :func:`data_dir` points, in words rather than a machine path."""
    if os.environ.get(DATA_DIR_ENV, "").strip():
        return f"the folder named by {DATA_DIR_ENV}"
    if in_checkout():
        return "data/ in this clone of the course"
    return "the per-user cache folder (~/.cache/pneumo-course on Linux and Colab)"


def set_seed(seed: int = 42) -> None:
    """Seed Python, NumPy and TensorFlow/Keras so that a chapter's run is reproducible.

    On a CPU the same seed gives the same numbers; GPU kernels may still differ slightly.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}.")
    seed = int(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - seeds the legacy global generator students use
    try:
        import keras
    except ImportError:  # pragma: no cover - TensorFlow is a course requirement
        return
    keras.utils.set_random_seed(int(seed))


RESULTS_DIR_ENV = "PNEUMO_RESULTS_DIR"


def results_dir() -> Path:
    """Return the folder where chapters keep trained models' scores for later chapters.

    ``PNEUMO_RESULTS_DIR`` wins; otherwise ``_build/results`` in a checkout (removed by
    ``make clean``), or ``results`` in the per-user cache directory. Nothing is created.
    """
    configured = os.environ.get(RESULTS_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser().resolve()
    if in_checkout():
        return _REPO_ROOT / "_build" / "results"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("pneumo-course")) / "results"
