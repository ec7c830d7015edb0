"""What a trained model leaks: the loss-threshold membership-inference attack (Yeom 2018).

A model fits its training images better than images it never saw, so its loss on an
image says something about whether the image was in training. The attack of Yeom et al.
(2018) needs nothing but the loss: it calls an image a *member* when the model's loss on
it is low. Its AUC over members (training images) and non-members (images the model
never saw, from the same population) measures the leak: 0.5 means the loss says nothing
about membership, 1.0 that it gives every member away. An over-fitted model leaks most.

:func:`build_privacy_mlp` is the small network the chapter attacks (and trains with
DP-SGD, :mod:`.dp_sgd`): 28 px inputs in every profile (784 weights per hidden unit),
no BatchNorm (whose batch statistics mix examples, which DP-SGD forbids).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import PrivacyError

#: The side the privacy models read: 28 px in every profile (many small models are trained).
PRIVACY_IMAGE_SIZE = 28


def build_privacy_mlp(
    input_shape: tuple[int, int, int],
    hidden: tuple[int, ...] = (128,),
    *,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    seed: int = 0,
    name: str = "privacy_mlp",
):
    """Build the chapter's small MLP: resize to 28 px, flatten, ReLU layers, one sigmoid.

    Args:
        input_shape: ``(H, W, 1)`` of the float images it receives.
        hidden: units of each hidden layer.
        dropout: dropout after each hidden layer (0: none).
        weight_decay: L2 penalty on the weights of every layer (0: none).
        seed: seeds the initial weights.
        name: the model's name.

    Returns:
        An uncompiled Keras model with one output, the pneumonia probability.
    """
    import keras
    from keras import layers

    if not hidden or min(hidden) < 1 or not 0 <= dropout < 1 or weight_decay < 0:
        raise PrivacyError("hidden needs >= 1 unit per layer, dropout in [0, 1), decay >= 0.")
    regulariser = keras.regularizers.L2(weight_decay) if weight_decay else None
    inputs = keras.Input(input_shape)
    x = inputs
    if input_shape[0] != PRIVACY_IMAGE_SIZE:
        x = layers.Resizing(PRIVACY_IMAGE_SIZE, PRIVACY_IMAGE_SIZE)(x)
    x = layers.Flatten()(x)
    for index, units in enumerate(hidden):
        initializer = keras.initializers.GlorotUniform(seed=seed + index)
        x = layers.Dense(
            units, "relu", kernel_initializer=initializer, kernel_regularizer=regulariser
        )(x)
        if dropout:
            x = layers.Dropout(dropout, seed=seed + index)(x)
    initializer = keras.initializers.GlorotUniform(seed=seed + len(hidden))
    outputs = layers.Dense(1, "sigmoid", kernel_initializer=initializer)(x)
    return keras.Model(inputs, outputs, name=name)


def predict_probabilities(model, images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Return a model's pneumonia probabilities, calling it eagerly batch by batch.

    Unlike ``model.predict`` it compiles nothing, so that scoring many small models on
    inputs of different sizes does not retrace (and warn) again and again.
    """
    images = np.asarray(images, dtype=np.float32)
    chunks = [
        np.asarray(model(images[start : start + batch_size], training=False)).reshape(-1)
        for start in range(0, len(images), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def per_example_loss(model, images: np.ndarray, labels: np.ndarray, batch_size: int = 1024):
    """Return the binary cross-entropy of ``model`` on each image (no averaging).

    Args:
        model: a Keras model with one sigmoid output.
        images: float images as the model expects them.
        labels: 0/1 labels, one per image.
        batch_size: prediction batch size.
    """
    labels = np.asarray(labels, dtype=float).reshape(-1)
    if len(labels) != len(images) or len(labels) == 0:
        raise PrivacyError(f"need one label per image, got {len(labels)} for {len(images)}.")
    scores = predict_probabilities(model, images, batch_size).astype(np.float64)
    scores = np.clip(scores, 1e-7, 1 - 1e-7)
    return -(labels * np.log(scores) + (1 - labels) * np.log(1 - scores))


@dataclass(frozen=True)
class AttackResult:
    """The loss-threshold attack on one model: AUC with its interval, and Yeom's advantage."""

    auc: float
    low: float
    high: float
    advantage: float
    members: int
    non_members: int

    def describe(self) -> str:
        """Return e.g. ``"0.612 (95 % CI 0.589 to 0.636)"``."""
        return f"{self.auc:.3f} (95 % CI {self.low:.3f} to {self.high:.3f})"


def attack_scores(member_losses, non_member_losses) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(is_member, score)``: the attack's labels and its score, minus the loss."""
    member_losses = np.asarray(member_losses, dtype=float).reshape(-1)
    non_member_losses = np.asarray(non_member_losses, dtype=float).reshape(-1)
    if not len(member_losses) or not len(non_member_losses):
        raise PrivacyError("the attack needs at least one member and one non-member loss.")
    is_member = np.r_[np.ones(len(member_losses), int), np.zeros(len(non_member_losses), int)]
    return is_member, -np.r_[member_losses, non_member_losses]  # low loss: "a member"


def loss_threshold_attack(
    member_losses, non_member_losses, *, n_boot: int = 1000, seed: int = 0
) -> AttackResult:
    """Attack one model by its losses: AUC (bootstrap interval) and Yeom's advantage.

    Yeom's attack calls an image a member when its loss is below the model's mean
    training loss; its *advantage* is the true-positive rate minus the false-positive
    rate of that rule (0: no better than a coin). The AUC sweeps every threshold.

    Args:
        member_losses: the model's loss on each of its training images.
        non_member_losses: its loss on each image it never saw.
        n_boot: bootstrap resamples of the interval.
        seed: seed of the resampling.
    """
    from ..evaluation import bootstrap_ci, point_metrics

    is_member, score = attack_scores(member_losses, non_member_losses)
    low, high = bootstrap_ci(is_member, score, "auc", n_boot=n_boot, seed=seed)
    auc = point_metrics(is_member, score)["auc"]
    called = -score < np.mean(member_losses)
    advantage = called[is_member == 1].mean() - called[is_member == 0].mean()
    return AttackResult(
        float(auc), low, high, float(advantage), int(is_member.sum()), int((1 - is_member).sum())
    )
