"""Recipes: how each named model of the course is trained, in one place.

A recipe takes the data, the profile and a seed and returns a :class:`TrainingResult`
together with the datasets it used. Chapters walk the same steps in the open; the
benchmark (``benchmarks/run.py``) calls the recipes so that both measure the same thing.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import budgets, config, data, evaluation, models, training


@dataclass
class Trained:
    """A trained model with the validation and test datasets it is evaluated on.

    ``weights`` records which weights a transfer model started from (None for models
    without a pretrained part); ``budget`` is the budget row it trained with.
    """

    result: training.TrainingResult
    val_data: object
    test_data: object
    weights: models.WeightsInfo | None = field(default=None)
    budget: budgets.Budget | None = field(default=None)


class RecipeError(ValueError):
    """A recipe was called with a budget or profile it cannot train with."""


def budget_row(name: str, profile: config.Profile, budget: budgets.Budget | None) -> budgets.Budget:
    """Return the budget row a recipe trains with: ``budget``, or the benchmark's row of ``name``.

    Raises:
        RecipeError: the row belongs to another model, or ``profile.epochs`` was changed
            (recipes read epochs from their row, not from the profile).
    """
    if budget is None:
        budget = budgets.budget(profile, name)
    if budget.model != name:
        raise RecipeError(
            f"budget row {budget.use!r} is for {budget.model!r}, not {name!r}: pass a row of "
            f"{name!r} from pneumo_helpers.budgets."
        )
    table_epochs = config.PROFILES[profile.name].epochs
    if profile.epochs not in (table_epochs, config.REHEARSAL_EPOCHS):
        raise RecipeError(
            f"profile.epochs is {profile.epochs}, not the profile's {table_epochs}: recipes read "
            "their epochs from their budget row. Pass budget=budgets.budget(profile, row) "
            "(or a row changed with dataclasses.replace) instead of changing the profile."
        )
    return budget


def standard_datasets(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int,
    channels: int = 1,
    image_size: int | None = None,
    augment: bool | float = True,
    batch_size: int | None = None,
):
    """Return the course's train (shuffled, augmented), validation and test datasets.

    ``batch_size`` defaults to the profile's; a recipe passes its budget row's.
    """
    size = image_size or dataset.size
    batch = batch_size or profile.batch_size
    common = {"image_size": size, "channels": channels, "batch_size": batch}
    train = data.make_dataset(*dataset.train, shuffle=True, augment=augment, seed=seed, **common)
    val = data.make_dataset(*dataset.val, **common)
    test = data.make_dataset(*dataset.test, **common)
    return train, val, test


def fit_with_budget(
    model, train, val, budget: budgets.Budget, train_labels, verbose: int = 0, **options
) -> training.TrainingResult:
    """Train ``model`` for the row's epochs, with its patience, monitor and schedule."""
    return training.fit(
        model,
        train,
        val,
        epochs=budget.epochs,
        patience=budget.patience,
        monitor=budget.monitor,
        reduce_lr=budget.schedule == "plateau",
        train_labels=train_labels,
        verbose=verbose,
        **options,
    )


def train_baseline_cnn(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    *,
    budget: budgets.Budget | None = None,
) -> Trained:
    """Train the baseline CNN the way chapter 2 does, with its budget row.

    ``budget`` defaults to the ``"baseline_cnn"`` row of the profile (chapter 2 and the
    benchmark); a chapter that trains a shorter run names its own row.
    """
    budget = budget_row("baseline_cnn", profile, budget)
    config.set_seed(seed)
    train, val, test = standard_datasets(
        dataset, profile, seed, augment=budget.augment, batch_size=budget.batch_size
    )
    model = models.build_baseline_cnn(
        input_shape=(dataset.size, dataset.size, 1),
        learning_rate=budget.learning_rate,
        weight_decay=budget.weight_decay,
        batchnorm_momentum=budget.batchnorm_momentum,  # stated by the row, by name
    )
    result = fit_with_budget(model, train, val, budget, dataset.train.labels, verbose)
    return Trained(result, val, test, budget=budget)


# --------------------------------------------------------------------------------------
# Transfer learning: feature extraction then fine-tuning, or training from scratch
# --------------------------------------------------------------------------------------

_BUILDERS: dict[str, Callable[..., object]] = {
    "vgg16_transfer": models.build_vgg16_transfer,
    "resnet50_hybrid": models.build_resnet50_hybrid,
}


def chain_results(
    first: training.TrainingResult, second: training.TrainingResult
) -> training.TrainingResult:
    """Join two training phases (feature extraction, then fine-tuning) into one result."""
    keys = list(dict.fromkeys([*first.history, *second.history]))
    history = {
        key: first.history.get(key, [float("nan")] * first.epochs_run)
        + second.history.get(key, [float("nan")] * second.epochs_run)
        for key in keys
    }
    return training.TrainingResult(
        model=second.model,
        history=history,
        seconds=first.seconds + second.seconds,
        best_epoch=first.epochs_run + second.best_epoch,
        class_weight=second.class_weight,
    )


def train_transfer(
    name: str,
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    *,
    weights: str | None = "imagenet",
    budget: budgets.Budget | None = None,
    **build_options,
) -> Trained:
    """Train ``vgg16_transfer`` or ``resnet50_hybrid`` following its budget row.

    Pretrained weights: feature extraction for ``head_epochs``, then fine-tuning of the
    top of the backbone (:func:`pneumo_helpers.models.unfreeze`) for ``fine_tune_epochs``.
    Random weights: the whole network trains from scratch for ``epochs``.

    Args:
        name: ``"vgg16_transfer"`` or ``"resnet50_hybrid"``.
        dataset: the data set.
        profile: the active profile.
        seed: the run's seed.
        verbose: Keras verbosity.
        weights: ``"imagenet"`` (random with a warning when it cannot be downloaded) or None.
        budget: the budget row; default the benchmark's row of ``name``.
        **build_options: passed to the builder (e.g. ``pooling="flatten"``).

    Returns:
        The trained model, its datasets, its starting weights and its row.
    """
    budget = budget_row(name, profile, budget)
    config.set_seed(seed)
    train, val, test = standard_datasets(
        dataset, profile, seed, augment=budget.augment, batch_size=budget.batch_size
    )
    shape = (dataset.size, dataset.size, 1)
    build_options.setdefault("resize_to", budget.resize_to)
    model = _BUILDERS[name](
        shape, weights, learning_rate=budget.head_learning_rate, **build_options
    )
    info = models.weights_info(model)
    labels = dataset.train.labels
    if info.pretrained:
        fit = functools.partial(
            training.fit,
            model,
            train,
            val,
            patience=budget.patience,
            monitor=budget.monitor,
            train_labels=labels,
            verbose=verbose,
        )
        head = fit(epochs=budget.head_epochs)  # the new head only, backbone frozen
        models.unfreeze(model, budget.fine_tune_from, learning_rate=budget.fine_tune_learning_rate)
        tuned = fit(epochs=budget.fine_tune_epochs)  # then the top of the backbone too
        result = chain_results(head, tuned)
    else:
        # The builder left a random backbone trainable, BatchNorm included: from scratch,
        # BatchNorm must learn its statistics, as fast as the row's momentum says.
        models.set_batchnorm_momentum(model, budget.batchnorm_momentum)
        models.compile_binary(model, budget.learning_rate, budget.weight_decay)
        result = fit_with_budget(model, train, val, budget, labels, verbose)
    return Trained(result, val, test, weights=info, budget=budget)


def train_vgg16_transfer(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    **options,
) -> Trained:
    """Train VGG16 the way chapter 3 does (see :func:`train_transfer`)."""
    return train_transfer("vgg16_transfer", dataset, profile, seed, verbose, **options)


def train_resnet50_hybrid(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    **options,
) -> Trained:
    """Train the ResNet50 hybrid (global average pooling head) the way chapter 4 does."""
    return train_transfer("resnet50_hybrid", dataset, profile, seed, verbose, **options)


def hybrid_stem_filters(image_size: int) -> tuple[int, ...]:
    """Return the hybrid's stem filters for an image size: pool until the grid is about 8 × 8.

    Attention compares every pair of tokens, so its cost grows with the square of their
    number: 28 px → 2 blocks, 7 × 7 = 49 tokens; 64 → 3 blocks, 8 × 8; 128 → 4 blocks,
    8 × 8; 224 → 5 blocks, 7 × 7.
    """
    blocks = max(1, math.ceil(math.log2(image_size / 8)))
    return (32, 64, 128, 128, 128, 128)[:blocks]


def train_cnn_transformer_hybrid(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    *,
    budget: budgets.Budget | None = None,
    **build_options,
) -> Trained:
    """Train the CNN-transformer hybrid (convolutional stem, transformer encoder) of chapter 4.

    ``budget`` defaults to the benchmark's ``"cnn_transformer_hybrid"`` row;
    ``build_options`` go to :func:`pneumo_helpers.models.build_cnn_transformer_hybrid`.
    """
    budget = budget_row("cnn_transformer_hybrid", profile, budget)
    config.set_seed(seed)
    train, val, test = standard_datasets(
        dataset, profile, seed, augment=budget.augment, batch_size=budget.batch_size
    )
    build_options.setdefault("stem_filters", hybrid_stem_filters(dataset.size))
    model = models.build_cnn_transformer_hybrid((dataset.size, dataset.size, 1), **build_options)
    if budget.batchnorm_momentum is not None:
        models.set_batchnorm_momentum(model, budget.batchnorm_momentum)
    models.compile_binary(model, budget.learning_rate, budget.weight_decay)
    result = fit_with_budget(model, train, val, budget, dataset.train.labels, verbose)
    return Trained(result, val, test, weights=models.weights_info(model), budget=budget)


def train_vit(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int = 42,
    verbose: int = 0,
    *,
    budget: budgets.Budget | None = None,
) -> Trained:
    """Train the Vision Transformer the way chapter 5 does: from scratch, warm-up + cosine.

    ``budget`` defaults to the benchmark's ``"vit"`` row; the learning-rate schedule ends
    with the row's last epoch.
    """
    from . import vit

    budget = budget_row("vit", profile, budget)
    config.set_seed(seed)
    train, val, test = standard_datasets(
        dataset, profile, seed, augment=budget.augment, batch_size=budget.batch_size
    )
    patch_size = 4 if dataset.size <= 32 else 8 if dataset.size <= 128 else 16
    epochs = config.budget(budget.epochs)  # the schedule ends where training ends
    steps_per_epoch = -(-len(dataset.train.labels) // budget.batch_size)
    total_steps = steps_per_epoch * epochs
    schedule = vit.warmup_cosine_schedule(
        budget.learning_rate,
        total_steps=total_steps,
        warmup_steps=min(steps_per_epoch, total_steps // 4),
    )
    model = vit.build_vit(
        input_shape=(dataset.size, dataset.size, 1),
        patch_size=patch_size,
        shifted_patches=True,  # each token also sees its neighbours' edges: better on small data
        learning_rate=schedule,
        weight_decay=budget.weight_decay,
    )
    result = fit_with_budget(model, train, val, budget, dataset.train.labels, verbose)
    return Trained(result, val, test, budget=budget)


RECIPES: dict[str, Callable[..., Trained]] = {
    "baseline_cnn": train_baseline_cnn,
    "vgg16_transfer": train_vgg16_transfer,
    "resnet50_hybrid": train_resnet50_hybrid,
    "cnn_transformer_hybrid": train_cnn_transformer_hybrid,
    "vit": train_vit,
}


def chapter_options(name: str, profile: config.Profile) -> dict:
    """Return the recipe arguments chapters 3 and 4 use for ``name``: its chapter row, if shorter.

    Empty (the benchmark's row, the recipe's default) unless the profile's table holds a
    ``<name>_chapter`` row that trains differently (:func:`pneumo_helpers.budgets.differences`).
    """
    rows = budgets.BUDGETS[profile.name]
    chapter = rows.get(f"{name}_chapter")
    if chapter is None or not budgets.differences(chapter, rows[name]):
        return {}
    return {"budget": chapter}


# --------------------------------------------------------------------------------------
# Runs: what a later chapter needs of a trained model, kept so it is trained once
# --------------------------------------------------------------------------------------


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


#: The ImageNet backbone each recipe starts from; the other recipes have no pretrained part.
RECIPE_BACKBONES = {"vgg16_transfer": "vgg16", "resnet50_hybrid": "resnet50"}

#: Where ``keras.applications`` fetches each backbone's ImageNet weights (without the top)
#: and the file name it caches them under in ``~/.keras/models``.
IMAGENET_WEIGHTS = {
    "vgg16": "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def _cached_imagenet_file(backbone: str) -> Path | None:
    name = IMAGENET_WEIGHTS[backbone].rsplit("/", 1)[1]
    # Keras caches under $KERAS_HOME, else ~/.keras, else (not writable) /tmp/.keras.
    home = os.environ.get("KERAS_HOME")
    homes = [Path(home)] if home else [Path.home() / ".keras", Path("/tmp/.keras")]
    return next(
        (home / "models" / name for home in homes if (home / "models" / name).is_file()), None
    )


def expected_weights(name: str, *, probe: bool = False) -> str:
    """Return what a run of recipe ``name`` would start from if it were trained now.

    ``"none"`` for a recipe without a pretrained part; ``"random"`` when the backbone's
    ImageNet weights are not in Keras' cache (or ``PNEUMO_WEIGHTS=none``); otherwise
    ``"imagenet"``. With ``probe=True`` an uncached file is fetched first (checksummed by
    Keras, as a training would), so that weights that have become reachable count.
    """
    backbone = RECIPE_BACKBONES.get(name)
    if backbone is None:
        return "none"
    if models.requested_weights("imagenet") is None:
        return "random"
    if _cached_imagenet_file(backbone) is None and probe:
        import keras

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                keras.utils.get_file(origin=IMAGENET_WEIGHTS[backbone], cache_subdir="models")
        except Exception:  # noqa: BLE001 - unreachable is the answer, not an error
            return "random"
    return "imagenet" if _cached_imagenet_file(backbone) is not None else "random"


def started_from(name: str, weights: models.WeightsInfo | None) -> str:
    """Return ``"imagenet"``, ``"random"`` or ``"none"``: what recipe ``name``'s run started from.

    Args:
        name: the recipe.
        weights: the :class:`~pneumo_helpers.models.WeightsInfo` its training recorded.
    """
    if name not in RECIPE_BACKBONES or weights is None or weights.backbone not in models.BACKBONES:
        return "none"
    return "imagenet" if weights.pretrained else "random"


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
            ``"random"`` or ``"none"``); default :func:`expected_weights`. A run saved
            offline, with random weights, is therefore stale once ImageNet's are reachable.
    """
    import keras
    import tensorflow as tf

    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for module in sorted(package.rglob("*.py")):
        digest.update(str(module.relative_to(package)).encode())
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
    :func:`chapter_options`); they are part of the run's fingerprint.
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
