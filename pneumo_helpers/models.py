"""Model builders. Each returns a compiled Keras 3 model with one sigmoid output (pneumonia)."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

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


# --------------------------------------------------------------------------------------
# Transfer learning: ImageNet backbones, their weights, and fine-tuning
# --------------------------------------------------------------------------------------

#: ``PNEUMO_WEIGHTS=imagenet|none`` forces the backbone weights every builder loads.
WEIGHTS_ENV = "PNEUMO_WEIGHTS"


class WeightsUnavailableWarning(UserWarning):
    """The ImageNet weights could not be loaded, so a backbone starts from random weights."""


@dataclass(frozen=True)
class Backbone:
    """An ImageNet backbone of ``keras.applications``: its constructor, minimum size, preprocessing.

    Attributes
    ----------
    name : the course's name of the backbone (``"vgg16"``, ``"resnet50"``).
    title : its name in prose (``"VGG16"``).
    constructor : attribute of ``keras.applications`` that builds it (looked up at call time).
    preprocess_module : module of ``keras.applications`` whose ``preprocess_input`` it needs.
    min_size : the smallest image side Keras accepts without the classifier top.
    """

    name: str
    title: str
    constructor: str
    preprocess_module: str
    min_size: int


#: The backbones the course uses. Both need images of at least 32 px (Keras' minimum).
BACKBONES: dict[str, Backbone] = {
    "vgg16": Backbone("vgg16", "VGG16", "VGG16", "vgg16", 32),
    "resnet50": Backbone("resnet50", "ResNet50", "ResNet50", "resnet50", 32),
}


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a model's backbone holds, and why.

    Attributes
    ----------
    backbone : the backbone's name, e.g. ``"vgg16"``; ``"none"`` for a model without one.
    requested : what was asked for after ``PNEUMO_WEIGHTS`` was applied: ``"imagenet"``,
        ``"none"`` or a weights file.
    loaded : what the model holds: ``"imagenet"``, ``"random"`` or the weights file.
    reason : one sentence on why, e.g. that the download failed.
    """

    backbone: str
    requested: str
    loaded: str
    reason: str

    @property
    def pretrained(self) -> bool:
        """Return True when the backbone holds pretrained (not random) weights."""
        return self.loaded != "random"

    def describe(self) -> str:
        """Return one sentence for a chapter's output, e.g. ``"VGG16: ImageNet weights."``."""
        if self.backbone not in BACKBONES:
            return "No pretrained part: every weight starts random and is trained from scratch."
        title = BACKBONES[self.backbone].title
        if self.loaded == "imagenet":
            return f"{title}: ImageNet weights (pretrained)."
        if self.pretrained:
            return f"{title}: pretrained weights from {self.loaded}."
        return f"{title}: RANDOM initial weights, trained from scratch ({self.reason})."


_WARNED: set[str] = set()


def _stacklevel_outside_package() -> int:
    """Return the ``stacklevel`` that points a warning at the first caller outside this package."""
    package = str(Path(__file__).resolve().parent)
    frame, level = sys._getframe(1), 1  # the function that will call warnings.warn
    while frame is not None and str(Path(frame.f_code.co_filename).resolve()).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def requested_weights(weights: str | os.PathLike | None = "imagenet") -> str | None:
    """Return the weights a builder should load: ``"imagenet"``, a file path, or None (random).

    ``PNEUMO_WEIGHTS`` (``imagenet`` or ``none``), when set, wins over the argument.

    Args:
        weights: ``"imagenet"``, ``None`` (or ``"none"``/``"random"``), or a weights file.

    Raises:
        ModelConfigError: the argument or ``PNEUMO_WEIGHTS`` has an unknown value.
    """
    forced = os.environ.get(WEIGHTS_ENV, "").strip().lower()
    if forced:
        if forced not in ("imagenet", "none"):
            raise ModelConfigError(
                f"{WEIGHTS_ENV}={os.environ[WEIGHTS_ENV]!r} is not a weights setting. "
                f"Use {WEIGHTS_ENV}=imagenet or {WEIGHTS_ENV}=none, or unset it."
            )
        return None if forced == "none" else "imagenet"
    if weights is None or str(weights).strip().lower() in ("none", "random"):
        return None
    if str(weights).strip().lower() == "imagenet":
        return "imagenet"
    path = Path(weights).expanduser()
    if path.is_file():
        return str(path)
    raise ModelConfigError(
        f"weights={weights!r} is neither 'imagenet', None nor an existing weights file. "
        "Pass weights='imagenet' (downloaded by Keras), weights=None for random initialisation, "
        "or the path of a weights file."
    )


def load_backbone(
    name: str,
    input_shape: Sequence[int],
    weights: str | os.PathLike | None = "imagenet",
) -> tuple[keras.Model, WeightsInfo]:
    """Build a ``keras.applications`` backbone without its classifier, loading weights if possible.

    ``weights="imagenet"`` downloads the weights as Keras does (cached in ``~/.keras/models``).
    When that fails (offline, a firewall, a corrupt download), the backbone falls back to
    random initialisation and a :class:`WeightsUnavailableWarning` is issued once per
    backbone and session. ``PNEUMO_WEIGHTS`` forces either case.

    Args:
        name: a key of :data:`BACKBONES` (``"vgg16"`` or ``"resnet50"``).
        input_shape: ``(height, width, 3)``, each side at least the backbone's ``min_size``.
        weights: ``"imagenet"``, None (random) or a weights file.

    Returns:
        The backbone (a ``keras.Model`` named ``name``) and a :class:`WeightsInfo`.

    Raises:
        ModelConfigError: unknown backbone or weights, or an input shape Keras cannot use.
    """
    if name not in BACKBONES:
        raise ModelConfigError(f"backbone {name!r} is unknown; use one of {sorted(BACKBONES)}.")
    spec = BACKBONES[name]
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3 or input_shape[2] != 3 or min(input_shape[:2]) < spec.min_size:
        raise ModelConfigError(
            f"{spec.title} needs input_shape (height, width, 3) with sides of at least "
            f"{spec.min_size} px, got {input_shape}. Resize and repeat grey channels first "
            "(build_vgg16_transfer and build_resnet50_hybrid do this for you)."
        )
    constructor = getattr(keras.applications, spec.constructor)
    requested = requested_weights(weights)
    forced = os.environ.get(WEIGHTS_ENV, "").strip()

    def build(with_weights: str | None) -> keras.Model:
        return constructor(include_top=False, weights=with_weights, input_shape=input_shape)

    if requested is None:
        why = f"{WEIGHTS_ENV}={forced}" if forced else "weights=None was requested"
        return build(None), WeightsInfo(name, "none", "random", why)
    try:
        # Keras prints "Downloading data from <url>" before it tries: keep it out of the
        # chapters' outputs (the WeightsInfo, and a warning on failure, say what happened).
        with contextlib.redirect_stdout(io.StringIO()):
            backbone = build(requested)
    except Exception as exc:  # noqa: BLE001 - any download failure; see the re-raise below
        if requested != "imagenet":
            raise  # a file the user named must load, never fall back silently
        # Building without weights tells a weights problem from any other: if this also
        # fails, that error propagates and nothing is hidden.
        backbone = build(None)
        reason = f"the ImageNet weights could not be downloaded ({type(exc).__name__}: {exc})"
        if name not in _WARNED:
            _WARNED.add(name)
            warnings.warn(
                f"{spec.title}: {reason}. FALLING BACK TO RANDOM INITIALISATION: the model "
                "trains from scratch and is not transfer learning. Check the internet "
                f"connection, or set {WEIGHTS_ENV}=none to skip the download.",
                WeightsUnavailableWarning,
                stacklevel=_stacklevel_outside_package(),
            )
        return backbone, WeightsInfo(
            name, requested, "random", "ImageNet download failed: offline?"
        )
    return backbone, WeightsInfo(name, requested, requested, f"weights={requested!r} loaded")


def weights_info(model: keras.Model) -> WeightsInfo:
    """Return the :class:`WeightsInfo` a course builder recorded on ``model``.

    Raises:
        ModelConfigError: the model was not built by a course builder (or was reloaded
            from a file, which does not keep this record).
    """
    info = getattr(model, "pneumo_weights", None)
    if not isinstance(info, WeightsInfo):
        raise ModelConfigError(
            f"model {model.name!r} carries no weights record: build it with "
            "build_vgg16_transfer, build_resnet50_hybrid or build_cnn_transformer_hybrid."
        )
    return info


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class GreyToRGB(layers.Layer):
    """Repeat a one-channel (grey) image into three identical channels (RGB backbones)."""

    def call(self, inputs):
        if inputs.shape[-1] == 3:
            return inputs
        return keras.ops.repeat(inputs, 3, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class BackbonePreprocess(layers.Layer):
    """Scale [0, 1] RGB images to [0, 255] and apply the backbone's own ``preprocess_input``.

    VGG16 and ResNet50 both expect "caffe" preprocessing: RGB → BGR and the ImageNet mean
    pixel subtracted, without scaling. Other backbones expect other steps, so the layer
    calls ``keras.applications.<backbone>.preprocess_input`` rather than a copy.
    """

    def __init__(self, backbone: str, scale: float = 255.0, **kwargs):
        super().__init__(**kwargs)
        if backbone not in BACKBONES:
            raise ModelConfigError(
                f"backbone {backbone!r} is unknown; use one of {sorted(BACKBONES)}."
            )
        self.backbone = backbone
        self.scale = float(scale)

    def call(self, inputs):
        module = getattr(keras.applications, BACKBONES[self.backbone].preprocess_module)
        return module.preprocess_input(inputs * self.scale)

    def get_config(self) -> dict:
        return {**super().get_config(), "backbone": self.backbone, "scale": self.scale}


def _check_image_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3 or shape[2] not in (1, 3) or min(shape) < 1:
        raise ModelConfigError(
            f"input_shape must be (height, width, channels) with 1 (grey) or 3 (RGB) "
            f"channels, got {tuple(input_shape)}."
        )
    return shape


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ModelConfigError(f"{name} must be in [0, 1), got {value}.")


def backbone_inputs(
    input_shape: Sequence[int], backbone: str, resize_to: int | None = None
) -> tuple[keras.KerasTensor, keras.KerasTensor, tuple[int, int, int]]:
    """Return the input, the backbone-ready tensor and its shape: resize, grey → RGB, preprocess.

    Images smaller than the backbone's minimum (32 px for VGG16 and ResNet50) are resized
    up to it (bilinear); ``resize_to`` resizes to that side instead.

    Raises:
        ModelConfigError: bad ``input_shape``, unknown backbone, or ``resize_to`` below the
            backbone's minimum.
    """
    height, width, channels = _check_image_shape(input_shape)
    if backbone not in BACKBONES:
        raise ModelConfigError(f"backbone {backbone!r} is unknown; use one of {sorted(BACKBONES)}.")
    minimum = BACKBONES[backbone].min_size
    if resize_to is not None:
        if resize_to < minimum:
            raise ModelConfigError(
                f"resize_to={resize_to} is below {BACKBONES[backbone].title}'s minimum of "
                f"{minimum} px; use at least {minimum} or None."
            )
        target = (int(resize_to), int(resize_to))
    else:
        target = (max(height, minimum), max(width, minimum))
    inputs = keras.Input(shape=(height, width, channels), name="image")
    x = inputs
    if target != (height, width):
        x = layers.Resizing(*target, interpolation="bilinear", name="resize")(x)
    if channels == 1:
        x = GreyToRGB(name="grey_to_rgb")(x)
    x = BackbonePreprocess(backbone, name="preprocess")(x)
    return inputs, x, (*target, 3)


def classification_head(
    features: keras.KerasTensor,
    pooling: str = "avg",
    dense_units: int | None = 256,
    dropout: float = 0.5,
) -> keras.KerasTensor:
    """Return the pneumonia score computed from a feature map by a configurable head.

    Args:
        features: a ``(batch, h, w, channels)`` feature map.
        pooling: ``"avg"`` or ``"max"`` (global pooling: one number per channel) or
            ``"flatten"`` (every position of every channel: h × w × channels numbers).
        dense_units: width of a hidden ReLU layer; None or 0 for none.
        dropout: dropout rate before the output layer.

    Raises:
        ModelConfigError: unknown pooling, negative units or a dropout outside [0, 1).
    """
    poolers = {
        "avg": lambda: layers.GlobalAveragePooling2D(name="global_pool"),
        "max": lambda: layers.GlobalMaxPooling2D(name="global_pool"),
        "flatten": lambda: layers.Flatten(name="flatten"),
    }
    if pooling not in poolers:
        raise ModelConfigError(f"pooling must be one of {sorted(poolers)}, got {pooling!r}.")
    if dense_units is not None and dense_units < 0:
        raise ModelConfigError(f"dense_units must be positive, 0 or None, got {dense_units}.")
    _check_rate("dropout", dropout)
    x = poolers[pooling]()(features)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="head_dense")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(1, activation="sigmoid", name="pneumonia")(x)


def _build_transfer(
    backbone: str,
    model_name: str,
    input_shape: Sequence[int],
    weights: str | os.PathLike | None,
    pooling: str,
    dense_units: int | None,
    dropout: float,
    train_backbone: bool | None,
    resize_to: int | None,
    learning_rate: float,
    weight_decay: float,
) -> keras.Model:
    inputs, x, backbone_shape = backbone_inputs(input_shape, backbone, resize_to)
    base, info = load_backbone(backbone, backbone_shape, weights)
    base.trainable = (not info.pretrained) if train_backbone is None else bool(train_backbone)
    outputs = classification_head(base(x), pooling, dense_units, dropout)
    model = keras.Model(inputs, outputs, name=model_name)
    model.pneumo_weights = info
    return compile_binary(model, learning_rate, weight_decay)


def build_vgg16_transfer(
    input_shape: Sequence[int] = (28, 28, 1),
    weights: str | os.PathLike | None = "imagenet",
    *,
    pooling: str = "avg",
    dense_units: int | None = 256,
    dropout: float = 0.5,
    train_backbone: bool | None = None,
    resize_to: int | None = None,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
) -> keras.Model:
    """Build VGG16 (Simonyan & Zisserman 2015) with a small pneumonia head.

    The model takes the course's images (grey or RGB, scaled to [0, 1]), resizes images
    below 32 px up to 32 px, repeats grey into three channels, applies VGG16's own
    ``preprocess_input`` and runs the convolutional base (13 convolutions in 5 blocks,
    ``block1_conv1`` … ``block5_pool``) before the head.

    Args:
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        weights: ``"imagenet"`` (downloaded; random initialisation with a warning when the
            download fails), None for random, or a weights file. ``PNEUMO_WEIGHTS`` wins.
        pooling: ``"avg"``, ``"max"`` or ``"flatten"`` (see :func:`classification_head`).
        dense_units: hidden units of the head; None or 0 for none.
        dropout: dropout before the output.
        train_backbone: whether the convolutional base trains. None (default) freezes it
            when it holds pretrained weights (feature extraction) and trains it when it is
            random (training from scratch). Use :func:`unfreeze` to fine-tune later.
        resize_to: resize images to this side (at least 32) instead of the minimum.
        learning_rate: Adam's learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.

    Returns:
        A compiled ``keras.Model`` named ``vgg16_transfer``; :func:`weights_info` tells
        which weights it holds.
    """
    return _build_transfer(
        "vgg16",
        "vgg16_transfer",
        input_shape,
        weights,
        pooling,
        dense_units,
        dropout,
        train_backbone,
        resize_to,
        learning_rate,
        weight_decay,
    )


def build_resnet50_hybrid(
    input_shape: Sequence[int] = (28, 28, 1),
    weights: str | os.PathLike | None = "imagenet",
    *,
    pooling: str = "avg",
    dense_units: int | None = 256,
    dropout: float = 0.5,
    train_backbone: bool | None = None,
    resize_to: int | None = None,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
) -> keras.Model:
    """Build the ResNet50 hybrid (He et al. 2016): a ResNet50 backbone and a small dense head.

    Same road as :func:`build_vgg16_transfer`: resize below 32 px, grey → RGB, ResNet50's
    own ``preprocess_input``, the backbone (``conv1`` … ``conv5_block3_out``, 2048 channels),
    then the head. ``pooling="flatten"`` reproduces the original hybrid, whose head sees
    h × w × 2048 numbers; global average pooling (the default) sees 2048.

    Args:
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        weights: ``"imagenet"``, None or a weights file (see :func:`load_backbone`).
        pooling: ``"avg"``, ``"max"`` or ``"flatten"``.
        dense_units: hidden units of the head; None or 0 for none.
        dropout: dropout before the output.
        train_backbone: None freezes a pretrained backbone and trains a random one.
        resize_to: resize images to this side (at least 32) instead of the minimum.
        learning_rate: Adam's learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.

    Returns:
        A compiled ``keras.Model`` named ``resnet50_hybrid``.
    """
    return _build_transfer(
        "resnet50",
        "resnet50_hybrid",
        input_shape,
        weights,
        pooling,
        dense_units,
        dropout,
        train_backbone,
        resize_to,
        learning_rate,
        weight_decay,
    )


def set_batchnorm_momentum(model: keras.Model, momentum: float) -> int:
    """Set the momentum of every BatchNormalization layer of ``model``, nested ones included.

    Keras' default momentum (0.99) averages the batch statistics over the last few hundred
    steps, which lags behind a network trained from scratch for only a few epochs: its
    validation and test scores then use statistics of weights it no longer has. A lower
    momentum (e.g. 0.9) follows the weights closely. Recompile the model afterwards.

    Returns:
        The number of layers changed.

    Raises:
        ModelConfigError: momentum outside [0, 1).
    """
    _check_rate("momentum", momentum)
    changed = 0
    for layer in _all_layers(model):
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = float(momentum)
            changed += 1
    return changed


def _all_layers(model: keras.Model) -> list[layers.Layer]:
    """Return every layer of ``model`` in order, descending into nested models."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(_all_layers(layer))
    return found


def unfreeze(
    model: keras.Model,
    from_layer: str | None = None,
    *,
    learning_rate: float = 1e-5,
    weight_decay: float = 0.0,
    keep_batchnorm_frozen: bool = True,
) -> keras.Model:
    """Make a model trainable from ``from_layer`` on for fine-tuning, and recompile it.

    Layers before ``from_layer`` (in order, looking inside the nested backbone) stay
    frozen; ``from_layer`` and everything after it, the head included, train. Batch
    normalisation layers stay frozen, which in Keras 3 also runs them in inference mode:
    they keep the statistics learned on ImageNet instead of re-estimating them from small,
    differently distributed batches of X-rays, which would disturb the pretrained features.
    The model is recompiled (needed for the change to take effect) with a low learning rate.

    Args:
        model: a model from :func:`build_vgg16_transfer` or :func:`build_resnet50_hybrid`
            (or any Keras model).
        from_layer: the first layer to train, e.g. ``"block5_conv1"`` (VGG16's top block)
            or ``"conv5_block1_1_conv"`` (ResNet50's last stage); None trains every layer.
        learning_rate: the new (low) learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.
        keep_batchnorm_frozen: keep BatchNormalization layers frozen (inference mode).

    Returns:
        The same model, recompiled.

    Raises:
        ModelConfigError: ``from_layer`` is not a layer of the model.
    """
    every_layer = _all_layers(model)
    names = [layer.name for layer in every_layer]
    if from_layer is not None and from_layer not in names:
        convs = [n for n in names if "conv" in n]
        raise ModelConfigError(
            f"from_layer={from_layer!r} is not a layer of {model.name!r}. Its layers include "
            f"{convs[-6:] or names[-6:]}; list them all with "
            "[layer.name for layer in model.get_layer(<backbone>).layers]."
        )
    model.trainable = True  # also makes every nested layer trainable
    start = 0 if from_layer is None else names.index(from_layer)
    for index, layer in enumerate(every_layer):
        if isinstance(layer, keras.Model):
            continue  # a container: its own layers decide
        trainable = index >= start
        if keep_batchnorm_frozen and isinstance(layer, layers.BatchNormalization):
            trainable = False
        layer.trainable = trainable
    return compile_binary(model, learning_rate, weight_decay)


# --------------------------------------------------------------------------------------
# A CNN-transformer hybrid: convolutional features become tokens for self-attention
# --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class PositionEmbedding(layers.Layer):
    """Add a learned position vector to every token of a ``(batch, tokens, dim)`` sequence."""

    def build(self, input_shape):
        self.positions = self.add_weight(
            name="positions",
            shape=(1, int(input_shape[1]), int(input_shape[2])),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        return inputs + self.positions


def transformer_encoder_block(
    tokens: keras.KerasTensor,
    num_heads: int,
    mlp_dim: int,
    dropout: float = 0.1,
    name: str = "encoder",
) -> keras.KerasTensor:
    """Return tokens after one pre-norm transformer encoder block (Vaswani et al. 2017).

    Layer norm → multi-head self-attention → residual add, then layer norm → two-layer
    GELU MLP → residual add. Every token can attend to every other token, so the block
    relates distant regions of the X-ray in one step.
    """
    dim = int(tokens.shape[-1])
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")(tokens)
    x = layers.MultiHeadAttention(
        num_heads=num_heads, key_dim=dim // num_heads, dropout=dropout, name=f"{name}_attention"
    )(x, x)
    tokens = layers.Add(name=f"{name}_add1")([tokens, x])
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(tokens)
    x = layers.Dense(mlp_dim, activation="gelu", name=f"{name}_mlp1")(x)
    x = layers.Dropout(dropout, name=f"{name}_mlp_dropout")(x)
    x = layers.Dense(dim, name=f"{name}_mlp2")(x)
    return layers.Add(name=f"{name}_add2")([tokens, x])


def build_cnn_transformer_hybrid(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    stem: str = "conv",
    stem_filters: Sequence[int] = (32, 64),
    convs_per_block: int = 1,
    resnet_stage: str = "conv3_block4_out",
    weights: str | os.PathLike | None = "imagenet",
    embed_dim: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    mlp_dim: int = 128,
    dropout: float = 0.1,
    head_dropout: float = 0.3,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
) -> keras.Model:
    """Build a CNN–transformer hybrid: a convolutional stem whose feature map becomes tokens.

    The stem turns the image into an ``h × w`` grid of feature vectors; a 1 × 1 convolution
    projects each to ``embed_dim``; the grid is read as ``h · w`` tokens, a learned
    position embedding is added, and ``num_layers`` transformer encoder blocks let every
    region attend to every other. The tokens are averaged and a sigmoid unit scores
    pneumonia. A Vision Transformer (Dosovitskiy et al. 2021) is the same with the stem
    replaced by cutting the image into patches.

    Args:
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        stem: ``"conv"``, blocks of ``convs_per_block`` 3 × 3 convolutions (BatchNorm,
            ReLU) and a 2 × 2 max-pool, one block per ``stem_filters`` entry (28 px →
            7 × 7 = 49 tokens with two blocks); or ``"resnet50"``, ResNet50 up to
            ``resnet_stage`` (stride 8 at ``conv3_block4_out``), with ``weights`` as in
            :func:`load_backbone`.
        stem_filters: filters per block of the ``"conv"`` stem.
        convs_per_block: 3 × 3 convolutions per block of the ``"conv"`` stem.
        resnet_stage: the ResNet50 layer whose output becomes the tokens.
        weights: ImageNet weights for the ``"resnet50"`` stem (unused by ``"conv"``).
        embed_dim: token width; must be divisible by ``num_heads``.
        num_layers: transformer encoder blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP.
        dropout: dropout inside the encoder blocks.
        head_dropout: dropout before the output.
        learning_rate: the optimiser's learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.

    Returns:
        A compiled ``keras.Model`` named ``cnn_transformer_hybrid``; its layer ``tokens``
        outputs ``(batch, n_tokens, embed_dim)``.
    """
    height, width, channels = _check_image_shape(input_shape)
    for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads), ("mlp_dim", mlp_dim)):
        if value < 1:
            raise ModelConfigError(f"{name} must be at least 1, got {value}.")
    if num_layers < 0:
        raise ModelConfigError(f"num_layers must be 0 or more, got {num_layers}.")
    if embed_dim % num_heads:
        raise ModelConfigError(
            f"embed_dim={embed_dim} must be divisible by num_heads={num_heads} "
            "(each head gets embed_dim // num_heads dimensions)."
        )
    _check_rate("dropout", dropout)
    _check_rate("head_dropout", head_dropout)

    if stem == "conv":
        if not stem_filters:
            raise ModelConfigError("stem_filters must list at least one block, e.g. (32, 64).")
        if convs_per_block < 1:
            raise ModelConfigError(f"convs_per_block must be at least 1, got {convs_per_block}.")
        smallest = 2 ** len(stem_filters)
        if min(height, width) < smallest:
            raise ModelConfigError(
                f"input_shape {tuple(input_shape)} is too small for a stem of "
                f"{len(stem_filters)} pooling blocks: use images of at least {smallest} px."
            )
        inputs = keras.Input(shape=(height, width, channels), name="image")
        x = inputs
        for block, filters in enumerate(stem_filters, start=1):
            for conv in range(1, convs_per_block + 1):
                x = layers.Conv2D(
                    filters, 3, padding="same", use_bias=False, name=f"stem{block}_conv{conv}"
                )(x)
                # momentum 0.9: the running statistics used for validation catch up within
                # an epoch; Keras' default (0.99) lags a short training behind by hundreds
                # of steps and makes early validation scores meaningless.
                x = layers.BatchNormalization(momentum=0.9, name=f"stem{block}_bn{conv}")(x)
                x = layers.Activation("relu", name=f"stem{block}_relu{conv}")(x)
            x = layers.MaxPooling2D(2, name=f"stem{block}_pool")(x)
        info = WeightsInfo(
            "none", "none", "random", "the convolutional stem has no pretrained part"
        )
    elif stem == "resnet50":
        inputs, x, backbone_shape = backbone_inputs((height, width, channels), "resnet50")
        base, info = load_backbone("resnet50", backbone_shape, weights)
        if resnet_stage not in [layer.name for layer in base.layers]:
            raise ModelConfigError(
                f"resnet_stage={resnet_stage!r} is not a ResNet50 layer; use a stage output "
                "such as 'conv2_block3_out', 'conv3_block4_out' or 'conv4_block6_out'."
            )
        stage = keras.Model(base.input, base.get_layer(resnet_stage).output, name="resnet50_stem")
        stage.trainable = not info.pretrained
        x = stage(x)
    else:
        raise ModelConfigError(f"stem must be 'conv' or 'resnet50', got {stem!r}.")

    x = layers.Conv2D(embed_dim, 1, name="embed")(x)
    grid_h, grid_w = int(x.shape[1]), int(x.shape[2])
    tokens = layers.Reshape((grid_h * grid_w, embed_dim), name="tokens")(x)
    tokens = PositionEmbedding(name="position_embedding")(tokens)
    for index in range(1, num_layers + 1):
        tokens = transformer_encoder_block(
            tokens, num_heads, mlp_dim, dropout, name=f"encoder{index}"
        )
    x = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(tokens)
    x = layers.GlobalAveragePooling1D(name="token_pool")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="cnn_transformer_hybrid")
    model.pneumo_weights = info
    return compile_binary(model, learning_rate, weight_decay)
