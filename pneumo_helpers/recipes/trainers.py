"""Recipes: how each named model of the course is trained, in one place.

A recipe takes the data, the profile and a seed and returns a :class:`Trained` (the
:class:`~pneumo_helpers.training.TrainingResult` together with the datasets it used). Chapters
walk the same steps in the open; the benchmark (``benchmarks/run.py``) calls the recipes so
that both measure the same thing.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from .. import budgets, config, data, models, training


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
    from .. import vit

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
