"""What every course model shares: its error, its compilation, and the baseline CNN.

Every builder of the course returns a Keras 3 model with one sigmoid output (pneumonia),
compiled by :func:`compile_binary`. The baseline CNN of chapter 2 lives here; the ImageNet
backbones and their weights in :mod:`pneumo_helpers.backbones`, the models built on a
backbone or a convolutional stem in :mod:`pneumo_helpers.hybrids`, and the transformer
parts in :mod:`pneumo_helpers.transformer`. Chapters import them all from
:mod:`pneumo_helpers.models`.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers


class ModelConfigError(ValueError):
    """A model builder received an argument it cannot use."""


def default_metrics() -> list:
    """Return the metrics every course model reports while training: AUC and accuracy."""
    return [keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")]


def compile_binary(
    model: keras.Model, learning_rate: float = 1e-3, weight_decay: float = 0.0
) -> keras.Model:
    """Compile ``model`` for pneumonia vs normal: Adam(W), binary cross-entropy, AUC, accuracy."""
    if weight_decay > 0:
        optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay)
    else:
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.BinaryCrossentropy(),
        metrics=default_metrics(),
    )
    return model


def build_baseline_cnn(
    input_shape: Sequence[int] = (28, 28, 1),
    filters: Sequence[int] = (32, 64, 128),
    dense_units: int = 64,
    dropout: float = 0.3,
    convs_per_block: int = 1,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
    batchnorm_momentum: float = 0.99,
) -> keras.Model:
    """Build the course's baseline CNN: small VGG-style blocks with BatchNorm.

    Each block is ``convs_per_block`` 3×3 convolutions (each followed by BatchNorm and
    ReLU) and a 2×2 max-pool; global average pooling, dropout and a small dense layer
    lead to one sigmoid unit that scores pneumonia.

    Args:
        input_shape: ``(height, width, channels)`` of the images, scaled to [0, 1].
        filters: number of filters per block; one block per entry.
        convs_per_block: convolutions per block.
        dense_units: width of the dense layer before the output.
        dropout: dropout rate before the dense layers.
        learning_rate: Adam's learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.
        batchnorm_momentum: momentum of BatchNorm's moving statistics; lower values
            follow the changing weights more closely, so validation scores are steadier.

    Returns:
        A compiled ``keras.Model`` named ``baseline_cnn``.
    """
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3:
        raise ModelConfigError(f"input_shape must be (height, width, channels), got {input_shape}.")
    if not filters:
        raise ModelConfigError("filters must list at least one block, e.g. (32, 64, 128).")
    smallest = 2 ** len(filters)
    if min(input_shape[:2]) < smallest:
        raise ModelConfigError(
            f"input_shape {input_shape} is too small for {len(filters)} pooling blocks: "
            f"images must be at least {smallest} px. Use fewer filters entries or larger images."
        )
    if convs_per_block < 1:
        raise ModelConfigError(f"convs_per_block must be at least 1, got {convs_per_block}.")
    if not 0.0 <= dropout < 1.0:
        raise ModelConfigError(f"dropout must be in [0, 1), got {dropout}.")

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for block, width in enumerate(filters, start=1):
        for conv in range(1, convs_per_block + 1):
            x = layers.Conv2D(
                width, 3, padding="same", use_bias=False, name=f"block{block}_conv{conv}"
            )(x)
            x = layers.BatchNormalization(
                momentum=batchnorm_momentum, name=f"block{block}_bn{conv}"
            )(x)
            x = layers.Activation("relu", name=f"block{block}_relu{conv}")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="global_pool")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="baseline_cnn")
    return compile_binary(model, learning_rate, weight_decay)


def check_image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    """Return ``input_shape`` as ``(height, width, channels)`` integers with 1 or 3 channels.

    Raises:
        ModelConfigError: not three positive sizes, or a channel count other than 1 or 3.
    """
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape) < 1:
        raise ModelConfigError(
            f"input_shape must be (height, width, channels) with 1 (grey) or 3 (RGB) "
            f"channels, got {tuple(input_shape)}."
        )
    return shape


def check_rate(name: str, value: float) -> None:
    """Check that the rate (a dropout or a momentum) passed as ``name`` lies in [0, 1).

    Raises:
        ModelConfigError: ``value`` is outside [0, 1); the message names the argument.
    """
    if not 0.0 <= value < 1.0:
        raise ModelConfigError(f"{name} must be in [0, 1), got {value}.")
