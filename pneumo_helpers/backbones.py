"""ImageNet backbones and their weights: which weights a model holds, and fine-tuning them.

The weights policy lives here once: :func:`requested_weights` reads the argument and
``PNEUMO_WEIGHTS``, :func:`load_backbone` builds a ``keras.applications`` backbone and
falls back to random weights (with a warning) when the download fails, and a
:class:`WeightsInfo` records what was loaded. :func:`backbone_inputs` turns the course's
grey images into what a backbone expects; :func:`unfreeze` and
:func:`set_batchnorm_momentum` prepare a built model for fine-tuning or for training from
scratch.
"""

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

from .baseline import ModelConfigError, check_image_shape, check_rate, compile_binary

#: ``PNEUMO_WEIGHTS=imagenet|none`` forces the backbone weights every builder loads.
WEIGHTS_ENV = "PNEUMO_WEIGHTS"


class WeightsUnavailableWarning(UserWarning):
    """The ImageNet weights could not be loaded, so a backbone starts from random weights."""


@dataclass(frozen=True)
class Backbone:
    """An ImageNet backbone of ``keras.applications``: its constructor, minimum size, preprocessing.

    Attributes:
        name: the course's name of the backbone (``"vgg16"``, ``"resnet50"``).
        title: its name in prose (``"VGG16"``).
        constructor: attribute of ``keras.applications`` that builds it (looked up at call time).
        preprocess_module: module of ``keras.applications`` whose ``preprocess_input`` it needs.
        min_size: the smallest image side Keras accepts without the classifier top.
    """

    name: str
    title: str
    constructor: str
    preprocess_module: str
    min_size: int


#: The backbones the course uses. All need images of at least 32 px (Keras' minimum).
#: MobileNetV3-Small (chapter 10) rescales its inputs itself: its ``preprocess_input`` is
#: the identity, so :class:`BackbonePreprocess` hands it [0, 255] pixels.
BACKBONES: dict[str, Backbone] = {
    "vgg16": Backbone("vgg16", "VGG16", "VGG16", "vgg16", 32),
    "resnet50": Backbone("resnet50", "ResNet50", "ResNet50", "resnet50", 32),
    "mobilenet_v3_small": Backbone(
        "mobilenet_v3_small", "MobileNetV3-Small", "MobileNetV3Small", "mobilenet_v3", 32
    ),
}


@dataclass(frozen=True)
class WeightsInfo:
    """Which weights a model's backbone holds, and why.

    Attributes:
        backbone: the backbone's name, e.g. ``"vgg16"``; ``"none"`` for a model without one.
        requested: what was asked for after ``PNEUMO_WEIGHTS`` was applied: ``"imagenet"``,
            ``"none"`` or a weights file.
        loaded: what the model holds: ``"imagenet"``, ``"random"`` or the weights file.
        reason: one sentence on why, e.g. that the download failed.
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
        name: a key of :data:`BACKBONES` (``"vgg16"``, ``"resnet50"``, ``"mobilenet_v3_small"``).
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
        with warnings.catch_warnings():
            # MobileNetV3 warns that its 224 px ImageNet weights load at another input size:
            # intended here (the weights are convolutional), and said by the WeightsInfo.
            warnings.filterwarnings("ignore", message="`input_shape` is undefined or non-square")
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
    height, width, channels = check_image_shape(input_shape)
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
    check_rate("momentum", momentum)
    changed = 0
    for layer in all_layers(model):
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = float(momentum)
            changed += 1
    return changed


def all_layers(model: keras.Model) -> list[layers.Layer]:
    """Return every layer of ``model`` in order, descending into nested models."""
    found = []
    for layer in model.layers:
        found.append(layer)
        if isinstance(layer, keras.Model):
            found.extend(all_layers(layer))
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
    every_layer = all_layers(model)
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
