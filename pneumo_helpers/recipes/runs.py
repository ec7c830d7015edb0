"""Saved runs: what a later chapter needs of a trained model, kept so it is trained once.

A :class:`ModelRun` holds a trained model's validation and test scores and its costs,
without the model. :func:`save_run` writes it atomically; :func:`load_run` reads it back
only while its fingerprint (:func:`run_fingerprint`: the package's code, the data, the
profile, the seed, the options and the starting weights) still matches; and
:func:`load_or_train` trains (and saves) only when no current run exists.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import config, data, evaluation
from .trainers import RECIPES, Trained
from .weights import expected_weights, started_from


@dataclass
class ModelRun:
    """A trained model's validation and test scores and its costs, without the model.

    Chapter 4 compares every model of the course; it reads the runs that earlier chapters
    saved (:func:`save_run`) instead of training them again.

    Attributes:
        name: the recipe's name, e.g. ``"vgg16_transfer"``.
        val_scores, test_scores: pneumonia scores on the validation and test splits.
        params: number of parameters.
        train_seconds: wall-clock training time.
        epochs_run: epochs trained.
        predict_ms: milliseconds per X-ray to score the test split (batch inference).
        weights: which weights the model started from, in words.
        pretrained: whether those were pretrained weights.
        profile, seed, image_size: how it was trained.
        fingerprint: identifies the code, data and settings; a run whose fingerprint differs
            from the current one is stale and trained again.
    """

    name: str
    val_scores: np.ndarray
    test_scores: np.ndarray
    params: int
    train_seconds: float
    epochs_run: int
    predict_ms: float
    weights: str
    pretrained: bool
    profile: str
    seed: int
    image_size: int
    fingerprint: str


#: The folder of the whole ``pneumo_helpers`` package (this module sits in its ``recipes``
#: sub-package), whose every module a run's fingerprint covers.
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def fingerprinted_modules() -> list[Path]:
    """Return every ``.py`` file of the ``pneumo_helpers`` package, sub-packages included, sorted.

    These are the code :func:`run_fingerprint` hashes, each under its name relative to
    :data:`PACKAGE_ROOT` (e.g. ``recipes/runs.py``).
    """
    return sorted(PACKAGE_ROOT.rglob("*.py"))


def run_fingerprint(
    name: str,
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int,
    options: dict | None = None,
    weights: str | None = None,
) -> str:
    """Return a short hash of what a run depends on: code, data, profile, seed, options, weights.

    The code is every module of the package and the installed TensorFlow and Keras
    versions, so that a change to any of them retrains instead of reusing a stale run.

    Args:
        name, dataset, profile, seed, options: the recipe and how it is trained.
        weights: what the run's backbone actually started from (``"imagenet"``,
            ``"random"`` or ``"none"``); default
            :func:`~pneumo_helpers.recipes.weights.expected_weights`. A run saved
            offline, with random weights, is therefore stale once ImageNet's are reachable.
    """
    import keras
    import tensorflow as tf

    digest = hashlib.sha256()
    for module in fingerprinted_modules():
        digest.update(str(module.relative_to(PACKAGE_ROOT)).encode())
        digest.update(module.read_bytes())
    digest.update(f"tensorflow {tf.__version__}, keras {keras.__version__}".encode())
    for split in (dataset.train, dataset.val, dataset.test):
        digest.update(np.ascontiguousarray(split.labels).tobytes())
        digest.update(np.ascontiguousarray(split.images[:64]).tobytes())
    settings = [
        name,
        profile.as_dict(),
        seed,
        dataset.size,
        weights or expected_weights(name),
        sorted((key, repr(value)) for key, value in (options or {}).items()),
    ]
    digest.update(json.dumps(settings, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def is_current(
    name: str,
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int,
    fingerprint: str | None,
    options: dict | None = None,
) -> bool:
    """Return True when a recorded run's ``fingerprint`` matches what training now would be.

    Used for the benchmark's rows: a row measured before a change to the code, the data,
    the profile, the installed TensorFlow/Keras or the reachable weights is stale.
    """
    return fingerprint is not None and fingerprint == run_fingerprint(
        name, dataset, profile, seed, options, expected_weights(name)
    )


def run_from_trained(
    name: str,
    trained: Trained,
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int,
    options: dict | None = None,
) -> ModelRun:
    """Score a freshly trained model on validation and test and record it as a :class:`ModelRun`.

    ``options`` are the recipe arguments it was trained with (e.g. from
    :func:`~pneumo_helpers.recipes.trainers.chapter_options`); they are part of the run's
    fingerprint.
    """
    model = trained.result.model
    val_scores = evaluation.predict_scores(model, trained.val_data)
    start = time.perf_counter()
    test_scores = evaluation.predict_scores(model, trained.test_data)
    predict_ms = 1000.0 * (time.perf_counter() - start) / len(test_scores)
    weights = trained.weights
    return ModelRun(
        name=name,
        val_scores=val_scores,
        test_scores=test_scores,
        params=int(model.count_params()),
        train_seconds=float(trained.result.seconds),
        epochs_run=int(trained.result.epochs_run),
        predict_ms=float(predict_ms),
        weights=weights.describe() if weights else "No pretrained part (trained from scratch).",
        pretrained=bool(weights and weights.pretrained),
        profile=profile.name,
        seed=int(seed),
        image_size=int(dataset.size),
        fingerprint=run_fingerprint(
            name, dataset, profile, seed, options, started_from(name, weights)
        ),
    )


def _run_path(name: str, profile: config.Profile, seed: int, directory: Path | None) -> Path:
    folder = Path(directory) if directory is not None else config.results_dir()
    return folder / f"{name}-{profile.name}-seed{seed}.json"


def save_run(run: ModelRun, directory: str | Path | None = None) -> Path:
    """Write a run to ``<results dir>/<name>-<profile>-seed<seed>.json``; return the path."""
    path = _run_path(run.name, config.profile(run.profile), run.seed, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = asdict(run)
    record["val_scores"] = run.val_scores.tolist()
    record["test_scores"] = run.test_scores.tolist()
    # A unique temporary name in the same folder, then an atomic rename: two chapters saving
    # at once cannot write into each other's file.
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        stream.write(json.dumps(record))
    os.replace(tmp, path)
    return path


def load_run(
    name: str,
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    directory: str | Path | None = None,
    options: dict | None = None,
) -> ModelRun | None:
    """Return the saved run of a recipe trained with ``options``, or None (none, or stale)."""
    path = _run_path(name, profile, seed, directory)
    try:
        record = json.loads(path.read_text())
        run = ModelRun(**record)
    except (OSError, ValueError, TypeError):
        return None
    # A run that started from random weights because ImageNet's were unreachable is
    # reused only while they still are.
    now = expected_weights(name, probe=not run.pretrained)
    if run.fingerprint != run_fingerprint(name, dataset, profile, seed, options, now):
        return None
    run.val_scores = np.asarray(run.val_scores, dtype=float)
    run.test_scores = np.asarray(run.test_scores, dtype=float)
    return run


def load_or_train(
    name: str,
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    directory: str | Path | None = None,
    **options,
) -> ModelRun:
    """Return the saved run of recipe ``name``, training (and saving) it only when needed.

    ``options`` are passed to the recipe (e.g. ``**chapter_options(name, profile)``); a
    run saved with other options does not count.

    Raises:
        ValueError: ``name`` is not a recipe.
    """
    if name not in RECIPES:
        raise ValueError(f"{name!r} is not a recipe; choose from {sorted(RECIPES)}.")
    run = load_run(name, dataset, profile, seed, directory, options)
    if run is None:
        trained = RECIPES[name](dataset, profile, seed=seed, verbose=verbose, **options)
        run = run_from_trained(name, trained, dataset, profile, seed, options)
        save_run(run, directory)
    return run
