"""Self-supervision: learning from unlabelled X-rays with SimCLR, then from few labels.

SimCLR (Chen et al. 2020) shows a network two random *views* of each X-ray (crops, small
rotations, contrast and brightness changes, noise, blur) and trains it to tell which two
views in a batch come from the same film. No label is read: the training split's images
alone teach an encoder whose features a few labels can then use.

The parts, one function each:

* :func:`radiograph_views`: the augmentations, chosen for grey radiographs (no colour
  jitter, no flips);
* :func:`build_encoder` (the baseline CNN's convolutional trunk, the same layer names)
  and :func:`build_projection_head`;
* :func:`nt_xent_loss`, the normalised temperature-scaled cross-entropy;
* :func:`pretrain_simclr`, the pretraining loop;
* what few labels do with the features: :func:`nested_label_subsets` (the stratified
  subsets every method shares), :func:`fit_linear_probe`, :func:`init_from_encoder`
  and :func:`train_classifier` (fine-tuning, or the same network from scratch, at an
  equal number of weight updates), and :func:`few_shot_episodes` (prototypical
  classification, Snell et al. 2017).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from . import budgets, config, data, data_efficiency, evaluation, evidence, models, training


class SelfSupervisedError(ValueError):
    """A self-supervision helper received an argument it cannot use."""


# ------------------------------------------------------------------ views of one X-ray


@dataclass(frozen=True)
class ViewSettings:
    """How different the two views of an X-ray may be (each justified for radiographs).

    Attributes:
        crop_scale: the share of the film's area a crop keeps, (smallest, largest): the
            lungs stay in view, so a view still shows what the label is about.
        max_rotation: the largest rotation in degrees either way: patients are not
            always positioned straight, but a film is never on its side.
        contrast: the largest relative change of contrast (exposure and processing
            differ between machines).
        brightness: the largest shift of brightness, on the [0, 1] scale.
        noise: the largest standard deviation of added Gaussian noise (quantum noise of
            a low-dose film).
        blur_probability: the share of views blurred by a 3 x 3 Gaussian (focus and
            motion blur).
        aspect_ratio: the range of a crop's width over its height (small changes of the
            child's build and of the field of view).
    """

    crop_scale: tuple[float, float] = (0.5, 1.0)
    max_rotation: float = 10.0
    contrast: float = 0.3
    brightness: float = 0.15
    noise: float = 0.04
    blur_probability: float = 0.5
    aspect_ratio: tuple[float, float] = (3 / 4, 4 / 3)


def _check_views(settings: ViewSettings) -> None:
    low, high = settings.crop_scale
    if not 0.0 < low <= high <= 1.0:
        raise SelfSupervisedError(
            f"crop_scale must satisfy 0 < smallest <= largest <= 1, got {settings.crop_scale}."
        )
    if not 0.0 < settings.aspect_ratio[0] <= settings.aspect_ratio[1]:
        raise SelfSupervisedError(
            f"aspect_ratio must satisfy 0 < smallest <= largest, got {settings.aspect_ratio}."
        )
    if not 0.0 <= settings.max_rotation <= 45.0:
        raise SelfSupervisedError(
            f"max_rotation must be in [0, 45] degrees, got {settings.max_rotation}: a chest "
            "film is never on its side."
        )
    for name in ("contrast", "brightness", "noise", "blur_probability"):
        value = getattr(settings, name)
        if not 0.0 <= value <= 1.0:
            raise SelfSupervisedError(f"{name} must be in [0, 1], got {value}.")


def _crop_and_rotate(images, generator, settings: ViewSettings):
    """One random crop (resized back to full size) and one small rotation per image."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    height, width = images.shape[1], images.shape[2]
    area = generator.uniform([n], *settings.crop_scale)
    low, high = settings.aspect_ratio
    log_ratio = generator.uniform([n], math.log(low), math.log(high) + 1e-12)
    crop_w = tf.minimum(tf.sqrt(area * tf.exp(log_ratio)), 1.0)  # shares of the width
    crop_h = tf.minimum(tf.sqrt(area / tf.exp(log_ratio)), 1.0)
    shift_x = generator.uniform([n], -1.0, 1.0) * (1.0 - crop_w) * width / 2
    shift_y = generator.uniform([n], -1.0, 1.0) * (1.0 - crop_h) * height / 2
    angle = generator.uniform([n], -1.0, 1.0) * settings.max_rotation * math.pi / 180
    cos, sin = tf.cos(angle), tf.sin(angle)
    cx, cy = (width - 1) / 2, (height - 1) / 2
    # Output pixel (x, y) reads input (a0 x + a1 y + a2, b0 x + b1 y + b2): centred,
    # scaled to the crop, rotated, moved to the crop's centre.
    a0, a1 = cos * crop_w, -sin * crop_h
    b0, b1 = sin * crop_w, cos * crop_h
    a2 = cx + shift_x - a0 * cx - a1 * cy
    b2 = cy + shift_y - b0 * cx - b1 * cy
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.constant([height, width], tf.int32),
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="NEAREST",
    )


def radiograph_views(images, generator, settings: ViewSettings | None = None):
    """Return one random view of each image: crop, rotation, contrast, brightness, blur, noise.

    Every change applies equally to all channels, so a grey film stays grey (no colour
    jitter), and nothing flips it (the heart sits on the left). The result keeps the
    input's shape and lies in [0, 1].

    Args:
        images: ``float32 (N, H, W, C)`` tensor in [0, 1].
        generator: a ``tf.random.Generator`` (seeded: the same seed, the same views).
        settings: the :class:`ViewSettings` (default: the chapter's).

    Returns:
        A tensor of the input's shape, in [0, 1].
    """
    import tensorflow as tf

    settings = settings or ViewSettings()
    n = tf.shape(images)[0]
    views = _crop_and_rotate(images, generator, settings)
    mean = tf.reduce_mean(views, axis=[1, 2, 3], keepdims=True)
    contrast = 1.0 + generator.uniform([n, 1, 1, 1], -settings.contrast, settings.contrast)
    brightness = generator.uniform([n, 1, 1, 1], -settings.brightness, settings.brightness)
    views = (views - mean) * contrast + mean + brightness
    kernel = tf.constant([1.0, 2.0, 1.0]) / 4.0
    kernel = tf.tile(
        (kernel[:, None] * kernel[None, :])[:, :, None, None], [1, 1, views.shape[-1], 1]
    )
    blurred = tf.nn.depthwise_conv2d(views, kernel, [1, 1, 1, 1], padding="SAME")
    blur = generator.uniform([n, 1, 1, 1]) < settings.blur_probability
    views = tf.where(blur, blurred, views)
    sigma = generator.uniform([n, 1, 1, 1], 0.0, settings.noise)
    views = views + sigma * generator.normal(tf.shape(views)[:3])[..., None]
    return tf.clip_by_value(views, 0.0, 1.0)


def augment_for_pretraining(
    images, seed: int = 0, settings: ViewSettings | None = None
) -> np.ndarray:
    """Return one view of each image as a NumPy array (to look at the augmentations).

    Raises:
        SelfSupervisedError: the images are not ``(N, H, W)`` or ``(N, H, W, C)``, or a
            setting is out of range.
    """
    import tensorflow as tf

    settings = settings or ViewSettings()
    _check_views(settings)
    floats = data.as_float_images(images, error=SelfSupervisedError)
    generator = tf.random.Generator.from_seed(seed)
    return radiograph_views(tf.constant(floats), generator, settings).numpy()


# ------------------------------------------------------------------ encoder, head, loss


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
    _check_views(settings)
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


# ------------------------------------------------------------------ features


def embed(encoder, images, batch_size: int = 512) -> np.ndarray:
    """Return the encoder's features of ``images`` (uint8 or [0, 1] floats), one row each."""
    floats = data.as_float_images(images, encoder.input_shape[1:], error=SelfSupervisedError)
    chunks = [
        np.asarray(encoder(floats[start : start + batch_size], training=False))
        for start in range(0, len(floats), batch_size)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, encoder.output_shape[-1]))


def raw_pixel_features(images, side: int | None = None) -> np.ndarray:
    """Return the images' pixels in [0, 1], flattened: the control without any encoder.

    Args:
        images: ``(N, H, W)`` or ``(N, H, W, C)`` images.
        side: shrink larger images to ``side`` px first (area averaging), e.g. 28 so that
            a logistic regression on 128 px films does not need 16,384 inputs.
    """
    floats = data.as_float_images(images, error=SelfSupervisedError)
    if side is not None and floats.shape[1] > side:
        import tensorflow as tf

        floats = tf.image.resize(floats, (side, side), method="area").numpy()
    return floats.reshape(len(floats), -1)


# ------------------------------------------------------------------ few labels


def nested_label_subsets(
    labels, fractions: Sequence[float], seed: int = 0
) -> dict[float, np.ndarray]:
    """Return stratified, nested subsets of the training X-rays: ``{fraction: indices}``.

    Each class is shuffled once with ``seed``; a share keeps the first ``fraction`` of
    each class's X-rays (at least one), so every smaller subset lies inside every larger
    one and every method trained on a share sees the same X-rays.

    Raises:
        SelfSupervisedError: a fraction is not in (0, 1], or the labels are not 0/1 with
            both classes present.
    """
    labels = np.asarray(labels).reshape(-1)
    if labels.size == 0 or set(np.unique(labels).tolist()) != {0, 1}:
        raise SelfSupervisedError(
            "labels must be 0/1 with both classes present (the training split's labels)."
        )
    if not fractions or any(not 0.0 < float(f) <= 1.0 for f in fractions):
        raise SelfSupervisedError(
            f"fractions must be in (0, 1], got {list(fractions)} (e.g. 0.01 for 1 %)."
        )
    rng = np.random.default_rng(seed)
    orders = {c: rng.permutation(np.flatnonzero(labels == c)) for c in (0, 1)}
    subsets = {}
    for fraction in fractions:
        keep = [
            order[: max(1, int(round(float(fraction) * len(order))))] for order in orders.values()
        ]
        subsets[float(fraction)] = np.sort(np.concatenate(keep))
    return subsets


@dataclass
class LinearProbe:
    """A logistic regression on frozen features, its strength chosen on validation.

    Attributes:
        model: the fitted scikit-learn pipeline (standardise, then logistic regression).
        C: the inverse regularisation strength chosen.
        validation_auc: ``{C: validation AUC}`` of every strength tried.
    """

    model: object
    C: float
    validation_auc: dict[float, float]

    def scores(self, features) -> np.ndarray:
        """Return pneumonia probabilities for rows of features."""
        return self.model.predict_proba(np.asarray(features))[:, 1]


#: The probe's regularisation strengths tried on validation (inverse, scikit-learn's C).
PROBE_STRENGTHS = (0.001, 0.01, 0.1, 1.0, 10.0)


def fit_linear_probe(
    train_features,
    train_labels,
    val_features,
    val_labels,
    strengths: Sequence[float] = PROBE_STRENGTHS,
) -> LinearProbe:
    """Fit a balanced logistic regression per strength; keep the best on validation AUC.

    Raises:
        SelfSupervisedError: features and labels differ in length, a split lacks a class,
            or no strength is given.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_features, val_features = np.asarray(train_features), np.asarray(val_features)
    train_labels, val_labels = np.asarray(train_labels).ravel(), np.asarray(val_labels).ravel()
    for name, x, y in (("train", train_features, train_labels), ("val", val_features, val_labels)):
        if x.ndim != 2 or len(x) != len(y):
            raise SelfSupervisedError(
                f"{name}_features must be (N, D) with one label per row, got {x.shape} and "
                f"{y.shape} labels."
            )
        if set(np.unique(y).tolist()) != {0, 1}:
            raise SelfSupervisedError(f"{name}_labels must hold both classes (0 and 1).")
    if not strengths:
        raise SelfSupervisedError("strengths must list at least one C, e.g. (0.01, 0.1, 1).")
    evidence.refuse_test("fit_linear_probe", val_labels)
    scaler = StandardScaler().fit(train_features)
    x_train, x_val = scaler.transform(train_features), scaler.transform(val_features)
    # From the strongest regularisation to the weakest, each fit starting from the last.
    regression = LogisticRegression(class_weight="balanced", max_iter=2000, warm_start=True)
    fitted, aucs = {}, {}
    for strength in sorted(float(c) for c in strengths):
        regression.set_params(C=strength).fit(x_train, train_labels)
        fitted[strength] = make_pipeline(scaler, copy.deepcopy(regression))
        val_scores = regression.predict_proba(x_val)[:, 1]
        aucs[strength] = evaluation.point_metrics(val_labels, val_scores)["auc"]
    chosen = evidence.choose(
        "linear probe strength C", {str(c): a for c, a in aucs.items()}, split="validation"
    )
    return LinearProbe(fitted[float(chosen)], float(chosen), aucs)


def init_from_encoder(model, encoder) -> list[str]:
    """Copy the encoder's weights into the layers of ``model`` with the same names.

    Returns:
        The names of the layers copied.

    Raises:
        SelfSupervisedError: no layer matches, or a matching layer's weights differ in shape
            (the encoder was built with other filters).
    """
    targets = {layer.name: layer for layer in model.layers}
    copied = []
    for layer in encoder.layers:
        weights = layer.get_weights()
        if not weights or layer.name not in targets:
            continue
        target = targets[layer.name]
        shapes = [w.shape for w in target.get_weights()]
        if shapes != [w.shape for w in weights]:
            raise SelfSupervisedError(
                f"layer {layer.name!r} has weights of shapes {shapes} in the model but "
                f"{[w.shape for w in weights]} in the encoder: build both with the same filters."
            )
        target.set_weights(weights)
        copied.append(layer.name)
    if not copied:
        raise SelfSupervisedError(
            "no layer of the model matches the encoder by name: start a baseline CNN "
            "(models.build_baseline_cnn) from an encoder of build_encoder."
        )
    return copied


@dataclass
class ClassifierRun:
    """One training of the baseline CNN on a share of the labels, scored at once.

    Attributes:
        val_scores: pneumonia scores of the validation split (its best epoch's weights).
        test_scores: pneumonia scores of the test split, reported only.
        history: the training history per epoch.
        best_epoch: the epoch whose weights were kept (best validation AUC).
        updates: weight updates made.
        seconds: wall-clock training time.
    """

    val_scores: np.ndarray
    test_scores: np.ndarray
    history: dict[str, list[float]]
    best_epoch: int
    updates: int
    seconds: float


class FewLabelTrainer:
    """Train the baseline CNN on shares of the labels, from an encoder or from scratch.

    Every run makes the same number of weight updates whatever the share: the labelled
    subset is repeated to :attr:`EPOCH_SHARE` of the training split's size
    (:func:`pneumo_helpers.data_efficiency.repeat_to_size`), one epoch, and trained for
    the row's epochs; the epoch with the best validation AUC is kept (every method reads the
    validation labels the same way). One compiled network is re-initialised for every
    run, so that TensorFlow traces its training step once; each run's scores are taken
    before the next run starts.

    Args:
        dataset: the full data set (validation chooses the epoch; test is scored).
        row: the budget row (``budgets.budget(profile, "baseline_cnn_few_labels")``).
    """

    #: One epoch's rows, as a share of the training split (two validation checkpoints
    #: within one pass's worth of updates in the quick profile).
    EPOCH_SHARE = 0.5

    def __init__(self, dataset: data.PneumoniaMNIST, row: budgets.Budget):
        self.dataset, self.row = dataset, row
        self.filters = tuple(row.filters or (16, 32, 64))
        self.model = self._fresh(seed=0)
        self.val_data = data.make_dataset(*dataset.val, batch_size=512)
        self.test_data = data.make_dataset(*dataset.test, batch_size=512)

    def _fresh(self, seed: int):
        config.set_seed(seed)
        return models.build_baseline_cnn(
            (self.dataset.size, self.dataset.size, 1),
            filters=self.filters,
            learning_rate=self.row.learning_rate,
            batchnorm_momentum=self.row.batchnorm_momentum or 0.9,
        )

    def _reset(self, seed: int, encoder) -> None:
        """Seeded random weights (then the encoder's, if any) and a fresh optimiser state."""
        self.model.set_weights(self._fresh(seed).get_weights())
        if encoder is not None:
            init_from_encoder(self.model, encoder)
        for variable in self.model.optimizer.variables:
            variable.assign(np.zeros(variable.shape, variable.dtype))
        self.model.optimizer.learning_rate.assign(self.row.learning_rate)

    def train(self, subset, *, encoder=None, seed: int = 0) -> ClassifierRun:
        """Train on the training X-rays ``subset`` (indices), from ``encoder`` or scratch.

        Raises:
            SelfSupervisedError: ``subset`` is empty or holds indices outside the split.
        """
        import dataclasses

        subset = np.asarray(subset, dtype=int)
        n_train = len(self.dataset.train.labels)
        if subset.size == 0 or subset.min() < 0 or subset.max() >= n_train:
            raise SelfSupervisedError(
                f"subset must hold indices of the training split (0 to {n_train - 1}), got "
                f"{subset.size} indices."
            )
        self._reset(seed, encoder)
        train = self.dataset.train
        labelled = dataclasses.replace(
            self.dataset, train=data.Split(train.images[subset], train.labels[subset])
        )
        epoch_rows = max(1, int(self.EPOCH_SHARE * n_train))
        steps = -(-epoch_rows // self.row.batch_size)
        repeated = data_efficiency.repeat_to_size(labelled, max(len(subset), epoch_rows), seed)
        batches = data.make_dataset(
            *repeated.train,
            batch_size=self.row.batch_size,
            shuffle=True,
            augment=self.row.augment,
            seed=seed,
        ).take(steps)  # a larger subset: each epoch, the first rows of a new shuffle
        result = training.fit(
            self.model,
            batches,
            self.val_data,
            epochs=self.row.epochs,
            patience=self.row.patience,
            monitor=self.row.monitor,
            train_labels=labelled.train.labels,
            reduce_lr=self.row.schedule == "plateau",
        )
        return ClassifierRun(
            val_scores=evaluation.predict_scores(self.model, self.val_data),
            test_scores=evaluation.predict_scores(self.model, self.test_data),
            history=result.history,
            best_epoch=result.best_epoch,
            updates=result.epochs_run * steps,
            seconds=result.seconds,
        )


# ------------------------------------------------------------------ few-shot episodes


def prototype_scores(support_features, support_labels, query_features) -> np.ndarray:
    """Score queries by the nearest class mean: squared distance to normal minus to pneumonia.

    Features are scaled to unit length first, so the distance compares directions.
    Higher scores mean closer to the pneumonia prototype.
    """
    support = _unit(np.asarray(support_features, dtype=float))
    queries = _unit(np.asarray(query_features, dtype=float))
    labels = np.asarray(support_labels).ravel()
    normal, pneumonia = support[labels == 0].mean(0), support[labels == 1].mean(0)
    to_normal = ((queries - normal) ** 2).sum(1)
    to_pneumonia = ((queries - pneumonia) ** 2).sum(1)
    return to_normal - to_pneumonia


def _unit(features: np.ndarray) -> np.ndarray:
    return features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)


@dataclass
class FewShotResult:
    """Episodes of prototypical classification with ``shots`` labelled X-rays per class.

    Attributes:
        shots: labelled X-rays per class in each episode's support set.
        support: ``(episodes, 2 * shots)`` training indices of each support set.
        scores: ``(episodes, queries)`` each episode's scores of the query X-rays.
        aucs: ``(episodes,)`` each episode's AUC on the queries.
    """

    shots: int
    support: np.ndarray
    scores: np.ndarray
    aucs: np.ndarray

    def mean_interval(self, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
        """Return the mean AUC over episodes and a bootstrap interval of it (over episodes)."""
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, len(self.aucs), size=(config.budget(n_boot, 20), len(self.aucs)))
        low, high = evaluation.percentile_interval(self.aucs[draws].mean(axis=1))
        return float(self.aucs.mean()), low, high


def episode_supports(train_labels, shots: int, episodes: int, seed: int = 0) -> np.ndarray:
    """Draw ``episodes`` support sets of ``shots`` X-rays per class: ``(episodes, 2 * shots)``.

    The draws depend only on the labels, ``shots`` and ``seed``: every encoder is scored
    on the same episodes.
    """
    labels = np.asarray(train_labels).ravel()
    members = [np.flatnonzero(labels == c) for c in (0, 1)]
    if shots < 1 or episodes < 1 or min(len(m) for m in members) < shots:
        raise SelfSupervisedError(
            f"need shots >= 1, episodes >= 1 and at least {shots} X-rays of each class; got "
            f"shots={shots}, episodes={episodes}, class counts {[len(m) for m in members]}."
        )
    rng = np.random.default_rng([seed, shots])
    return np.array(
        [
            np.concatenate([rng.choice(m, size=shots, replace=False) for m in members])
            for _ in range(episodes)
        ]
    )


def few_shot_episodes(
    train_features,
    train_labels,
    query_features,
    query_labels,
    shots: int,
    episodes: int = 200,
    seed: int = 0,
) -> FewShotResult:
    """Run prototypical classification on many sampled episodes; score the same queries.

    Each episode draws ``shots`` labelled training X-rays per class
    (:func:`episode_supports`), takes each class's mean feature as its prototype, and
    scores every query by :func:`prototype_scores`.

    Raises:
        SelfSupervisedError: features and labels differ in length, or too few X-rays of a
            class for ``shots``.
    """
    train_features, query_features = np.asarray(train_features), np.asarray(query_features)
    train_labels = np.asarray(train_labels).ravel()
    query_labels = np.asarray(query_labels).ravel()
    if len(train_features) != len(train_labels) or len(query_features) != len(query_labels):
        raise SelfSupervisedError(
            f"features and labels differ in length: train {len(train_features)} vs "
            f"{len(train_labels)}, queries {len(query_features)} vs {len(query_labels)}."
        )
    support = episode_supports(train_labels, shots, config.budget(episodes, 10), seed)
    scores = np.array(
        [prototype_scores(train_features[s], train_labels[s], query_features) for s in support]
    )
    counts = np.ones((1, 1))
    pos, neg = query_labels == 1, query_labels == 0
    aucs = np.array(
        [
            evaluation.auc_from_counts(
                row[pos], row[neg], counts.repeat(pos.sum(), 1), counts.repeat(neg.sum(), 1)
            )[0]
            for row in scores
        ]
    )
    return FewShotResult(shots, support, scores, aucs)


def nearest_neighbours(query_features, bank_features, k: int = 5) -> np.ndarray:
    """Return, for each query, the indices of its ``k`` nearest bank rows by cosine similarity."""
    queries = _unit(np.asarray(query_features, dtype=float))
    bank = _unit(np.asarray(bank_features, dtype=float))
    if not 1 <= k <= len(bank):
        raise SelfSupervisedError(f"k must be between 1 and {len(bank)}, got {k}.")
    similarity = queries @ bank.T
    return np.argsort(-similarity, axis=1)[:, :k]
