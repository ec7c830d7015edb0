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
    augment: bool = True,
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
    model = models.build_baseline_cnn(input_shape=(dataset.size, dataset.size, 1))
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
