"""Recipes: how each named model of the course is trained, in one place.

A recipe takes the data, the profile and a seed and returns a :class:`TrainingResult`
together with the datasets it used. Chapters walk the same steps in the open; the
benchmark (``benchmarks/run.py``) calls the recipes so that both measure the same thing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import config, data, models, training


@dataclass
class Trained:
    """A trained model with the validation and test datasets it is evaluated on."""

    result: training.TrainingResult
    val_data: object
    test_data: object


def standard_datasets(
    dataset: data.PneumoniaMNIST,
    profile: config.Profile,
    seed: int,
    channels: int = 1,
    image_size: int | None = None,
    augment: bool | float = True,
):
    """Return the course's train (shuffled, augmented), validation and test datasets."""
    size = image_size or dataset.size
    common = {"image_size": size, "channels": channels, "batch_size": profile.batch_size}
    train = data.make_dataset(*dataset.train, shuffle=True, augment=augment, seed=seed, **common)
    val = data.make_dataset(*dataset.val, **common)
    test = data.make_dataset(*dataset.test, **common)
    return train, val, test


def train_baseline_cnn(
    dataset: data.PneumoniaMNIST, profile: config.Profile, seed: int = 42, verbose: int = 0
) -> Trained:
    """Train the baseline CNN the way chapter 2 does.

    Early stopping watches the validation *loss*: the validation AUC of this model
    saturates near 0.99 within a few epochs, so its maximum is picked among noise, while
    the loss keeps ranking epochs by how confident and right the model is.
    """
    config.set_seed(seed)
    train, val, test = standard_datasets(dataset, profile, seed)
    # BatchNorm's moving statistics average over ~1/(1 - momentum) steps. A run of a few
    # epochs (the data-efficiency sweep) needs them to catch up faster than a full run.
    momentum = 0.9 if profile.epochs < 10 else 0.99
    model = models.build_baseline_cnn(
        input_shape=(dataset.size, dataset.size, 1), batchnorm_momentum=momentum
    )
    result = training.fit(
        model,
        train,
        val,
        epochs=profile.epochs,
        patience=profile.patience,
        train_labels=dataset.train.labels,
        monitor="val_loss",
        verbose=verbose,
    )
    return Trained(result, val, test)


RECIPES: dict[str, Callable[..., Trained]] = {
    "baseline_cnn": train_baseline_cnn,
}


#: The ViT's epochs are capped in the quick profile, so that it trains in about two minutes
#: on a 2-core CPU; its learning-rate schedule is set to end with the last epoch.
VIT_EPOCH_CAP = {"quick": 10}


def train_vit(
    dataset: data.PneumoniaMNIST, profile: config.Profile, seed: int = 42, verbose: int = 0
) -> Trained:
    """Train the Vision Transformer the way chapter 5 does: from scratch, warm-up + cosine."""
    from . import vit

    config.set_seed(seed)
    # Twice the baseline's light augmentation: a ViT has no built-in locality or
    # translation equivariance, so it needs more varied data to learn them.
    train, val, test = standard_datasets(dataset, profile, seed, augment=2.0)
    patch_size = 4 if dataset.size <= 32 else 8 if dataset.size <= 128 else 16
    epochs = min(profile.epochs, VIT_EPOCH_CAP.get(profile.name, profile.epochs))
    steps_per_epoch = -(-len(dataset.train.labels) // profile.batch_size)
    total_steps = steps_per_epoch * epochs
    schedule = vit.warmup_cosine_schedule(
        1e-3, total_steps=total_steps, warmup_steps=min(steps_per_epoch, total_steps // 4)
    )
    model = vit.build_vit(
        input_shape=(dataset.size, dataset.size, 1),
        patch_size=patch_size,
        shifted_patches=True,  # each token also sees its neighbours' edges: better on small data
        learning_rate=schedule,
    )
    result = training.fit(
        model,
        train,
        val,
        epochs=epochs,
        patience=epochs,  # the schedule decides the length; fit keeps the best epoch
        train_labels=dataset.train.labels,
        reduce_lr=False,  # the schedule sets the learning rate
        verbose=verbose,
    )
    return Trained(result, val, test)


RECIPES["vit"] = train_vit
