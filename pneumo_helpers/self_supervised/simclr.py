"""SimCLR: the encoder, the projection head, the NT-Xent loss and the pretraining loop."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import budgets, config, data, evidence, models
from .errors import SelfSupervisedError
from .views import ViewSettings, check_view_settings, radiograph_views


def build_encoder(
    input_shape: Sequence[int] = (28, 28, 1),
    filters: Sequence[int] = (16, 32, 64),
    batchnorm_momentum: float = 0.9,
    seed: int = 0,
):
    """Build the encoder: the baseline CNN's convolution blocks, then global average pooling.

    The layers carry the baseline CNN's names (``block1_conv1``, ``block1_bn1``, ...), so
    that :func:`init_from_encoder` can start a baseline CNN from a pretrained encoder.

    Returns:
        A ``keras.Model`` from images to ``filters[-1]`` features, named ``encoder``.
    """
    import keras
    from keras import layers

    shape = models.check_image_shape(input_shape)
    if not filters or min(shape[:2]) < 2 ** len(filters):
        raise SelfSupervisedError(
            f"filters {tuple(filters)} need images of at least {2 ** len(filters or (0,))} px "
            f"and one block at least; got input_shape {shape}."
        )
    models.check_rate("batchnorm_momentum", batchnorm_momentum)
    keras.utils.set_random_seed(int(seed))
    inputs = keras.Input(shape=shape, name="image")
    x = inputs
    for block, width in enumerate(filters, start=1):
        x = layers.Conv2D(width, 3, padding="same", use_bias=False, name=f"block{block}_conv1")(x)
        x = layers.BatchNormalization(momentum=batchnorm_momentum, name=f"block{block}_bn1")(x)
        x = layers.Activation("relu", name=f"block{block}_relu1")(x)
        x = layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    outputs = layers.GlobalAveragePooling2D(name="global_pool")(x)
    return keras.Model(inputs, outputs, name="encoder")


def build_projection_head(features: int, hidden: int = 128, projection: int = 64):
    """Build SimCLR's projection head: Dense(hidden, ReLU), then Dense(projection).

    The loss is computed on the head's output; the features *before* the head are what
    the probes and few-shot classifiers use (Chen et al. found them the better ones).
    """
    import keras
    from keras import layers

    if min(features, hidden, projection) < 1:
        raise SelfSupervisedError(
            f"features, hidden and projection must be positive, got {features}, {hidden}, "
            f"{projection}."
        )
    inputs = keras.Input(shape=(features,), name="features")
    x = layers.Dense(hidden, activation="relu", name="head_hidden")(inputs)
    outputs = layers.Dense(projection, name="head_projection")(x)
    return keras.Model(inputs, outputs, name="projection_head")


def nt_xent_loss(z_a, z_b, temperature: float = 0.5):
    """Return SimCLR's NT-Xent loss of two batches of projections (view A, view B).

    Row ``i`` of ``z_a`` and row ``i`` of ``z_b`` are two views of the same X-ray: each of
    the ``2N`` projections must pick its partner out of the other ``2N - 1`` by cosine
    similarity divided by the temperature (a softmax cross-entropy), averaged over all
    ``2N``.
    """
    import tensorflow as tf

    z = tf.math.l2_normalize(tf.concat([z_a, z_b], axis=0), axis=1)
    n = tf.shape(z_a)[0]
    logits = tf.matmul(z, z, transpose_b=True) / temperature
    logits = logits - 1e9 * tf.eye(2 * n)  # a view is not its own partner
    partners = tf.concat([tf.range(n, 2 * n), tf.range(0, n)], axis=0)
    losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=partners, logits=logits)
    return tf.reduce_mean(losses)


def nt_xent(z_a, z_b, temperature: float = 0.5) -> float:
    """Return :func:`nt_xent_loss` of two NumPy arrays of projections, as a float.

    Raises:
        SelfSupervisedError: the two batches differ in shape, hold fewer than two X-rays,
            or the temperature is not positive.
    """
    import tensorflow as tf

    z_a, z_b = np.asarray(z_a, dtype=np.float32), np.asarray(z_b, dtype=np.float32)
    if z_a.ndim != 2 or z_a.shape != z_b.shape or len(z_a) < 2:
        raise SelfSupervisedError(
            f"z_a and z_b must be (N, D) arrays of the same shape with N >= 2 (two views of "
            f"each X-ray), got {z_a.shape} and {z_b.shape}."
        )
    if not temperature > 0:
        raise SelfSupervisedError(f"temperature must be positive, got {temperature}.")
    return float(nt_xent_loss(tf.constant(z_a), tf.constant(z_b), temperature))


# ------------------------------------------------------------------ pretraining


@dataclass
class Pretraining:
    """What :func:`pretrain_simclr` returns.

    Attributes:
        encoder: the pretrained encoder (images to features).
        head: the projection head (only the loss reads it).
        losses: the mean NT-Xent loss of each epoch.
        seconds: wall-clock time of the loop.
        steps: weight updates made.
        images: how many unlabelled X-rays it read.
    """

    encoder: object
    head: object
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    steps: int = 0
    images: int = 0


def simclr_step(encoder, head, optimizer, batch, generator, temperature, settings):
    """One SimCLR update: two views of the batch, both through encoder and head, NT-Xent."""
    import tensorflow as tf

    view_a = radiograph_views(batch, generator, settings)
    view_b = radiograph_views(batch, generator, settings)
    with tf.GradientTape() as tape:
        z_a = head(encoder(view_a, training=True), training=True)
        z_b = head(encoder(view_b, training=True), training=True)
        loss = nt_xent_loss(z_a, z_b, temperature)
    weights = encoder.trainable_variables + head.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights, strict=True))
    return loss


def pretrain_simclr(
    images,
    row: budgets.Budget,
    *,
    temperature: float = 0.5,
    settings: ViewSettings | None = None,
    seed: int = 0,
    verbose: bool = False,
) -> Pretraining:
    """Pretrain an encoder with SimCLR on unlabelled images (the training split's only).

    Args:
        images: ``uint8 (N, H, W)`` X-rays, no labels.
        row: the budget row (``budgets.budget(profile, "simclr_pretraining")``): epochs,
            batch size, learning rate, BatchNorm momentum and the encoder's filters.
        temperature: NT-Xent's temperature.
        settings: the views' :class:`ViewSettings`.
        seed: seeds the weights, the batches and the views.
        verbose: print the loss after each epoch.

    Returns:
        The :class:`Pretraining`.

    Raises:
        SelfSupervisedError: the images are the test split, too few for one batch, or a
            setting is out of range.
    """
    import keras
    import tensorflow as tf

    if evidence.is_test(np.asarray(images)):
        raise SelfSupervisedError(
            "pretrain_simclr was given the test split's images: pretraining reads the "
            "training split's images only (never validation or test, even unlabelled)."
        )
    floats = data.as_float_images(images, error=SelfSupervisedError)
    if row.batch_size < 2 or len(floats) < 2:
        raise SelfSupervisedError(
            f"SimCLR needs batches of at least 2 X-rays, got batch size {row.batch_size} and "
            f"{len(floats)} images."
        )
    if not temperature > 0:
        raise SelfSupervisedError(f"temperature must be positive, got {temperature}.")
    settings = settings or ViewSettings()
    check_view_settings(settings)
    config.set_seed(seed)
    batch_size = min(row.batch_size, len(floats))
    encoder = build_encoder(
        floats.shape[1:], row.filters or (16, 32, 64), row.batchnorm_momentum or 0.9, seed
    )
    head = build_projection_head(encoder.output_shape[-1])
    optimizer = keras.optimizers.Adam(row.learning_rate)
    generator = tf.random.Generator.from_seed(seed)
    batches = (
        tf.data.Dataset.from_tensor_slices(floats)
        .shuffle(len(floats), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size, drop_remainder=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    step = tf.function(simclr_step)
    result = Pretraining(encoder, head, images=len(floats))
    start = time.perf_counter()
    for epoch in range(config.budget(row.epochs)):
        losses = [
            float(step(encoder, head, optimizer, batch, generator, temperature, settings))
            for batch in batches
        ]
        result.losses.append(float(np.mean(losses)))
        result.steps += len(losses)
        if verbose:
            print(f"epoch {epoch + 1}: NT-Xent {result.losses[-1]:.3f}", flush=True)
    result.seconds = time.perf_counter() - start
    return result
