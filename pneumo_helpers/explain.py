"""Explainability: Grad-CAM, occlusion sensitivity, and the checks that keep them honest.

Grad-CAM (Selvaraju et al. 2017) answers "which regions of this image raised the score of
this class?" for a convolutional network::

    A = feature maps of a convolution layer          (h, w, K)
    g = d score / d A                                (h, w, K)   one backward pass
    alpha_k = mean of g over the h x w positions     (K,)        one weight per channel
    map = ReLU(sum_k alpha_k * A_k)                  (h, w)      evidence *for* the class
    -> upsampled to the input's H x W, divided by its maximum    (H, W) in [0, 1]

The score is the *logit* of the explained class (the value before the sigmoid or
softmax), as in the paper: a probability saturates near 0 or 1 and its gradient vanishes.

:func:`grad_cam` finds the layer itself (the last convolution) or takes its name, also
when it sits inside a nested model such as a pretrained backbone. :func:`occlusion_sensitivity`
(Zeiler & Fergus 2014) is a model-agnostic cross-check: hide a patch, see how far the score
falls. :func:`randomized_copy` and :func:`rank_correlation` run the model-randomisation
sanity check of Adebayo et al. (2018); :func:`stamp_marker` builds the "Clever Hans" data
set of the shortcut-learning experiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager

import keras
import numpy as np

from . import data

#: The layer types :func:`grad_cam` looks for when no layer name is given.
CONVOLUTION_TYPES = (
    keras.layers.Conv2D,
    keras.layers.DepthwiseConv2D,
    keras.layers.SeparableConv2D,
)

#: A 7 x 5 letter "R", the side marker radiographers put on X-rays (1 = ink).
LETTER_R = np.array(
    [
        [1, 1, 1, 1, 0],
        [1, 0, 0, 0, 1],
        [1, 0, 0, 0, 1],
        [1, 1, 1, 1, 0],
        [1, 0, 1, 0, 0],
        [1, 0, 0, 1, 0],
        [1, 0, 0, 0, 1],
    ],
    dtype=bool,
)


class ExplainError(ValueError):
    """An explainability helper received a model, layer or argument it cannot use."""


# --------------------------------------------------------------------------------------
# Finding the layer
# --------------------------------------------------------------------------------------


def _is_model(layer) -> bool:
    return isinstance(layer, keras.Model)


def _walk(model: keras.Model, prefix: tuple = ()):
    """Yield ``(path, layer)`` for every layer, nested models expanded in place (depth first)."""
    for layer in model.layers:
        path = (*prefix, layer)
        yield path, layer
        if _is_model(layer):
            yield from _walk(layer, path)


def convolution_layers(model: keras.Model) -> list[str]:
    """Return the names of the model's 2D convolution layers, nested models included, in order.

    A layer inside a nested model is named ``"outer/inner"`` (e.g. ``"vgg16/block5_conv3"``);
    :func:`grad_cam` accepts either that path or the bare layer name.
    """
    return [
        "/".join(item.name for item in path)
        for path, layer in _walk(model)
        if isinstance(layer, CONVOLUTION_TYPES)
    ]


def _output_rank(layer) -> int | None:
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError):  # a layer that was never called symbolically
        return None


def find_layer_path(model: keras.Model, layer_name: str | None = None) -> list:
    """Return the chain of layers from ``model`` down to the target layer of Grad-CAM.

    Args:
        model: a Functional or Sequential Keras model (nested models allowed).
        layer_name: the target layer's name, or a path such as ``"vgg16/block5_conv3"``;
            None takes the last convolution layer, searching nested models too.

    Returns:
        list: ``[nested model, ..., target layer]``: the models to pass through, outermost
            first, then the layer whose feature maps Grad-CAM weighs.

    Raises:
        ExplainError: no such layer, the layer has no spatial output, or the model has no
            convolution.
    """
    available = convolution_layers(model)
    if layer_name is None:
        if not available:
            raise ExplainError(
                f"model {model.name!r} has no 2D convolution layer, so Grad-CAM has no feature "
                "maps to weigh. Pass layer_name= of a layer with a (batch, height, width, "
                "channels) output, or use occlusion_sensitivity, which needs no convolution."
            )
        layer_name = available[-1]
    wanted = tuple(layer_name.split("/"))
    matches = [
        list(path)
        for path, _ in _walk(model)
        if tuple(item.name for item in path)[-len(wanted) :] == wanted
    ]
    if not matches:
        raise ExplainError(
            f"layer_name={layer_name!r} is not a layer of model {model.name!r}. "
            f"Use one of its convolution layers: {available}."
        )
    path = matches[0]
    rank = _output_rank(path[-1])
    if rank is not None and rank != 4:
        raise ExplainError(
            f"layer_name={layer_name!r} has an output of shape {path[-1].output.shape}, not "
            "(batch, height, width, channels) feature maps, so Grad-CAM cannot map it onto "
            f"the image. Use one of the convolution layers: {available}."
        )
    return path


# --------------------------------------------------------------------------------------
# A model that returns the feature maps and the score
# --------------------------------------------------------------------------------------


def _call_with_tap(model: keras.Model, path: list, inputs):
    """Call ``model`` on symbolic ``inputs``, returning ``(feature maps of path[-1], output)``.

    Nested models on the path are not called as one block (which would hide their inner
    layers) but rebuilt through their own graph, so the target's output is a tensor of
    the new graph, connected to both the input and the score.
    """
    step, rest = path[0], path[1:]
    tapped = []

    def call(layer, *args, **kwargs):
        if layer is not step:
            return layer(*args, **kwargs)
        if rest:
            features, output = _call_with_tap(layer, rest, args[0])
        else:
            output = layer(*args, **kwargs)
            features = output
        tapped.append(features)
        return output

    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = call(layer, x)
    else:
        # A Functional model: replay its graph on ``inputs``, sharing every layer (and its
        # weights) with the original; only the call of the next step on the path is
        # intercepted. Subclassed models have no graph to replay.
        structured = [inputs] if isinstance(model.input, list | tuple) else inputs
        try:
            rebuilt = keras.models.clone_model(
                model,
                input_tensors=structured,
                clone_function=lambda layer: layer,
                call_function=call,
            )
        except ValueError as error:
            raise ExplainError(
                f"cannot reach layer {path[-1].name!r} inside model {model.name!r} "
                f"({type(model).__name__}): only Functional and Sequential models can be "
                f"opened up ({error})."
            ) from error
        outputs = rebuilt.outputs
        x = outputs[0] if len(outputs) == 1 else outputs
    if not tapped:  # pragma: no cover - find_layer_path only returns layers on the graph
        raise ExplainError(f"layer {step.name!r} is not called in model {model.name!r}.")
    return tapped[0], x


def gradient_model(model: keras.Model, layer_name: str | None = None) -> keras.Model:
    """Return a model mapping the input to ``[feature maps of the target layer, model output]``.

    This is the first step of Grad-CAM. For a flat model it is simply
    ``keras.Model(model.inputs, [model.get_layer(name).output, model.output])``; when the
    layer sits inside a nested model (e.g. ``block5_conv3`` of a VGG16 backbone), the
    nested model is rebuilt through its own graph so that the layer's output is connected to
    the outer model's input and output. The layers (and weights) are shared, not copied.
    """
    if not isinstance(model, keras.Model):
        raise ExplainError(f"model must be a keras.Model, got {type(model).__name__}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExplainError(
            f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} "
            "outputs; Grad-CAM here explains models with one image input and one output."
        )
    path = find_layer_path(model, layer_name)
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    features, output = _call_with_tap(model, path, inputs)
    return keras.Model(inputs, [features, output], name=f"{model.name}_grad_cam")


@contextmanager
def _logits_of(model: keras.Model):
    """Within the block, the model's last layer outputs logits instead of sigmoid/softmax."""
    last = model.layers[-1] if model.layers else None
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", "")
    if name not in ("sigmoid", "softmax"):
        yield
        return
    last.activation = keras.activations.linear
    try:
        yield
    finally:
        last.activation = activation


# --------------------------------------------------------------------------------------
# Grad-CAM
# --------------------------------------------------------------------------------------


def _as_batch(images, model: keras.Model) -> np.ndarray:
    """Return ``images`` as float32 ``(N, H, W, C)`` in the model's input layout."""
    return data.as_float_images(images, model.input_shape[1:], error=ExplainError)


def _upsample(maps: np.ndarray, height: int, width: int) -> np.ndarray:
    import tensorflow as tf

    resized = tf.image.resize(maps[..., np.newaxis], (height, width), method="bilinear")
    return resized.numpy()[..., 0]


def _scale_to_unit(maps: np.ndarray) -> np.ndarray:
    """Divide each map by its maximum (an all-zero map stays zero) and clip to [0, 1]."""
    peak = maps.max(axis=(1, 2), keepdims=True)
    maps = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
    return np.clip(maps, 0.0, 1.0)


def grad_cam(
    model: keras.Model,
    images,
    layer_name: str | None = None,
    class_index: int | None = None,
    batch_size: int = 128,
) -> np.ndarray:
    """Return Grad-CAM maps (Selvaraju et al. 2017) for a batch, at the input's resolution.

    Args:
        model: a Keras model with one image input and one output: one sigmoid unit (the map
            explains the positive class, pneumonia) or a softmax over classes.
        images: ``(N, H, W, C)`` or ``(N, H, W)`` images: floats as the model expects them,
            or ``uint8`` (scaled by 1/255, as the course's pipeline does).
        layer_name: the convolution whose feature maps are weighed, bare
            (``"block5_conv3"``) or as a path (``"vgg16/block5_conv3"``); it may sit inside
            a nested model. None takes the last convolution layer.
        class_index: for a softmax output, the class to explain; None explains each image's
            predicted (highest-scoring) class. Must be None or 0 for a single sigmoid unit.
        batch_size: images per forward and backward pass.

    Returns:
        numpy.ndarray: ``(N, H, W)`` float32 maps in [0, 1], each divided by its maximum.
            Bright regions raised the class's score; regions that lowered it are 0 (the
            ReLU). A map that is 0 everywhere means no region raised the score.

    Raises:
        ExplainError: unknown ``layer_name`` (the message lists the convolution layers),
            images of the wrong shape, or a ``class_index`` the output does not have.
    """
    import tensorflow as tf

    grad_model = gradient_model(model, layer_name)
    batch = _as_batch(images, model)
    height, width = batch.shape[1:3]
    units = int(model.output_shape[-1])
    if class_index is not None and not 0 <= class_index < units:
        raise ExplainError(
            f"class_index={class_index} does not exist: the model has {units} output unit(s). "
            f"Use 0..{units - 1}, or None for the predicted class."
        )
    if batch_size < 1:
        raise ExplainError(f"batch_size must be at least 1, got {batch_size}.")
    maps = []
    with _logits_of(model):
        for start in range(0, len(batch), batch_size):
            x = tf.convert_to_tensor(batch[start : start + batch_size])
            with tf.GradientTape() as tape:
                features, logits = grad_model(x, training=False)
                if units == 1:
                    score = logits[:, 0]
                else:
                    chosen = (
                        tf.argmax(logits, axis=-1)
                        if class_index is None
                        else tf.fill([tf.shape(logits)[0]], class_index)
                    )
                    score = tf.gather(logits, chosen, axis=1, batch_dims=1)
            # Each image's score depends only on its own features, so the gradient of the
            # sum holds every image's own gradient.
            grads = tape.gradient(score, features)
            weights = tf.reduce_mean(grads, axis=(1, 2))  # (batch, channels)
            cam = tf.nn.relu(tf.einsum("bhwk,bk->bhw", features, weights))
            maps.append(cam.numpy())
    cams = np.concatenate(maps, axis=0) if maps else np.zeros((0, 1, 1), "float32")
    return _scale_to_unit(_upsample(cams, height, width)).astype("float32")


# --------------------------------------------------------------------------------------
# Occlusion sensitivity
# --------------------------------------------------------------------------------------


def _predict(model: keras.Model, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """Return the model's outputs ``(N, units)`` for a float batch, in inference mode."""
    outputs = [
        keras.ops.convert_to_numpy(model(batch[start : start + batch_size], training=False))
        for start in range(0, len(batch), batch_size)
    ]
    return np.concatenate(outputs, axis=0).reshape(len(batch), -1)


def occlusion_sensitivity(
    model: keras.Model,
    images,
    patch: int = 4,
    stride: int = 2,
    fill: float | None = None,
    class_index: int | None = None,
    batch_size: int = 512,
) -> np.ndarray:
    """Return how far the class's score falls when each region is hidden (Zeiler & Fergus 2014).

    A ``patch`` × ``patch`` square, filled with ``fill``, slides over each image in steps of
    ``stride``; for every position the model scores the occluded image. A pixel's value is
    the mean fall of the score (original minus occluded) over the squares that covered it.
    It needs no gradients and no convolutions, so it works for any model, at the cost of
    one forward pass per position.

    Args:
        model: a model with one sigmoid unit (the score is the pneumonia probability) or a
            softmax.
        images: ``(N, H, W, C)`` or ``(N, H, W)``, floats or ``uint8`` as for
            :func:`grad_cam`.
        patch, stride: side of the hiding square and its step, in pixels; the last row and
            column of squares are moved in so that they end at the image's edge.
        fill: the value of hidden pixels; None uses each image's mean intensity (a grey
            square that adds no edge of its own as a black one would).
        class_index: for a softmax, the class to explain; None uses each image's predicted
            class.
        batch_size: occluded images per forward pass.

    Returns:
        numpy.ndarray: ``(N, H, W)`` float32 falls in score: positive where hiding the
            region lowered the class's score (evidence for the class), negative where it
            raised it.
    """
    batch = _as_batch(images, model)
    n, height, width = batch.shape[:3]
    if not 1 <= patch <= min(height, width):
        raise ExplainError(f"patch must be in 1..{min(height, width)} pixels, got {patch}.")
    if stride < 1:
        raise ExplainError(f"stride must be at least 1 pixel, got {stride}.")

    def starts(size: int) -> list[int]:
        positions = list(range(0, size - patch + 1, stride))
        if positions[-1] != size - patch:
            positions.append(size - patch)
        return positions

    corners = [(top, left) for top in starts(height) for left in starts(width)]
    outputs = _predict(model, batch, batch_size)
    units = outputs.shape[1]
    if class_index is not None and not 0 <= class_index < units:
        raise ExplainError(
            f"class_index={class_index} does not exist: the model has {units} output unit(s)."
        )
    if units == 1:
        chosen = np.zeros(n, dtype=int)
    elif class_index is None:
        chosen = outputs.argmax(axis=1)
    else:
        chosen = np.full(n, class_index)
    # How often each pixel is hidden: the same for every image.
    count = np.zeros((height, width))
    for top, left in corners:
        count[top : top + patch, left : left + patch] += 1
    result = np.zeros((n, height, width), dtype="float64")
    for i in range(n):
        value = batch[i].mean() if fill is None else fill
        occluded = np.repeat(batch[i][np.newaxis], len(corners), axis=0)
        for j, (top, left) in enumerate(corners):
            occluded[j, top : top + patch, left : left + patch, :] = value
        falls = outputs[i, chosen[i]] - _predict(model, occluded, batch_size)[:, chosen[i]]
        for (top, left), fall in zip(corners, falls, strict=True):
            result[i, top : top + patch, left : left + patch] += fall
    result /= count
    return result.astype("float32")


# --------------------------------------------------------------------------------------
# Display
# --------------------------------------------------------------------------------------


def overlay(image, heatmap, alpha: float = 0.45, cmap: str = "jet") -> np.ndarray:
    """Blend a heat map over a grey image for display; return an RGB ``(H, W, 3)`` in [0, 1].

    Args:
        image: ``(H, W)`` or ``(H, W, 1)`` grey image, ``uint8`` or floats (scaled to [0, 1]
            by its own range).
        heatmap: ``(H, W)`` map in [0, 1], e.g. one of :func:`grad_cam`'s.
        alpha: weight of the heat map's colours (0 shows only the X-ray, 1 only the map).
        cmap: a matplotlib colour map name.
    """
    import matplotlib

    image = np.asarray(image, dtype="float64")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    heatmap = np.asarray(heatmap, dtype="float64")
    if image.ndim != 2:
        raise ExplainError(f"image must be one grey (H, W) image, got shape {image.shape}.")
    if heatmap.shape != image.shape:
        raise ExplainError(
            f"heatmap has shape {heatmap.shape} but the image {image.shape}: compute the map "
            "at the image's resolution (grad_cam does) or resize it first."
        )
    if not 0.0 <= alpha <= 1.0:
        raise ExplainError(f"alpha must be in [0, 1], got {alpha}.")
    low, high = image.min(), image.max()
    grey = (image - low) / (high - low) if high > low else np.zeros_like(image)
    colours = matplotlib.colormaps[cmap](np.clip(heatmap, 0.0, 1.0))[..., :3]
    return (1.0 - alpha) * grey[..., np.newaxis] + alpha * colours


# --------------------------------------------------------------------------------------
# Sanity checks and the shortcut experiment
# --------------------------------------------------------------------------------------


def randomized_copy(
    model: keras.Model, from_layer: str | None = None, seed: int = 0
) -> keras.Model:
    """Return a copy of ``model`` whose weights are re-initialised (Adebayo et al. 2018).

    With ``from_layer=None`` every layer gets fresh random weights: the same architecture,
    nothing learned. With a layer name, only that layer and the layers after it (towards
    the output) are re-initialised and the earlier ones keep their trained weights: the
    *cascading* randomisation, one step of which is ``from_layer``. The original model is
    not changed.
    """
    keras.utils.set_random_seed(seed)
    copy = keras.models.clone_model(model)  # same architecture, freshly initialised weights
    if from_layer is None:
        return copy
    names = [layer.name for layer in model.layers]
    if from_layer not in names:
        raise ExplainError(
            f"from_layer={from_layer!r} is not a top-level layer of {model.name!r}; "
            f"use one of {names}."
        )
    stop = names.index(from_layer)
    for original, fresh in zip(model.layers[:stop], copy.layers[:stop], strict=True):
        fresh.set_weights(original.get_weights())
    return copy


def rank_correlation(maps_a, maps_b) -> np.ndarray:
    """Return the Spearman rank correlation of each pair of maps, ``(N,)``.

    1 means the two maps order the pixels the same way, 0 that their orders are unrelated.
    A map with a single value everywhere has no order: its correlation is 0.
    """
    from scipy.stats import rankdata

    a = np.asarray(maps_a, dtype="float64")
    b = np.asarray(maps_b, dtype="float64")
    if a.shape != b.shape or a.ndim < 2:
        raise ExplainError(
            f"maps_a and maps_b must be batches of maps of the same shape, got {a.shape} and "
            f"{b.shape}."
        )
    a = rankdata(a.reshape(len(a), -1), axis=1)
    b = rankdata(b.reshape(len(b), -1), axis=1)
    a -= a.mean(axis=1, keepdims=True)
    b -= b.mean(axis=1, keepdims=True)
    denominator = np.sqrt((a**2).sum(axis=1) * (b**2).sum(axis=1))
    numerator = (a * b).sum(axis=1)
    return np.divide(numerator, denominator, out=np.zeros(len(a)), where=denominator > 0)


def marker_region(
    image_shape: Sequence[int], corner: tuple[int, int] = (2, 2), marker: np.ndarray = LETTER_R
) -> np.ndarray:
    """Return the boolean ``(H, W)`` mask of the box :func:`stamp_marker` draws in."""
    height, width = int(image_shape[0]), int(image_shape[1])
    top, left = corner
    rows, cols = marker.shape
    if top < 0 or left < 0 or top + rows > height or left + cols > width:
        raise ExplainError(
            f"a {rows}×{cols} marker at corner={corner} does not fit a {height}×{width} image."
        )
    mask = np.zeros((height, width), dtype=bool)
    mask[top : top + rows, left : left + cols] = True
    return mask


def stamp_marker(
    images,
    corner: tuple[int, int] = (2, 2),
    marker: np.ndarray = LETTER_R,
    value: int | float = 255,
) -> np.ndarray:
    """Return a copy of ``images`` ``(N, H, W[, C])`` with ``marker`` drawn in at ``corner``.

    The default draws a bright 7 × 5 letter "R" near the top-left corner, like the side
    marker a radiographer places on a film. Only the marker's ink pixels change.
    """
    images = np.array(images, copy=True)
    if images.ndim not in (3, 4):
        raise ExplainError(f"images must be (N, H, W) or (N, H, W, C), got {images.shape}.")
    box = marker_region(images.shape[1:3], corner, marker)
    ink = np.zeros_like(box)
    ink[box] = np.asarray(marker, dtype=bool).ravel()
    images[:, ink] = value
    return images


def mass_inside(maps, region) -> np.ndarray:
    """Return the share of each map's total that lies inside ``region``, ``(N,)``.

    Compare it with ``region.mean()``, the region's share of the image's area: a map that
    ignored the region would put about that share inside it. Negative values (e.g. of
    :func:`occlusion_sensitivity`) count as 0; an all-zero map gives 0.
    """
    maps = np.clip(np.asarray(maps, dtype="float64"), 0.0, None)
    region = np.asarray(region, dtype=bool)
    if maps.ndim != 3 or maps.shape[1:] != region.shape:
        raise ExplainError(
            f"maps must be (N, H, W) with (H, W) = region's shape {region.shape}, got {maps.shape}."
        )
    total = maps.sum(axis=(1, 2))
    inside = maps[:, region].sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)
