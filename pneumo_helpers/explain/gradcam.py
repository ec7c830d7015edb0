"""Grad-CAM (Selvaraju et al. 2017): which regions raised the score of this class?

For a convolutional network::

    A = feature maps of a convolution layer          (h, w, K)
    g = d score / d A                                (h, w, K)   one backward pass
    alpha_k = mean of g over the h x w positions     (K,)        one weight per channel
    map = ReLU(sum_k alpha_k * A_k)                  (h, w)      evidence *for* the class
    -> upsampled to the input's H x W, divided by its maximum    (H, W) in [0, 1]

The score is the *logit* of the explained class (the value before the sigmoid or
softmax), as in the paper: a probability saturates near 0 or 1 and its gradient vanishes.
The target layer and the model that returns its feature maps come from :mod:`.layers`.
"""

from __future__ import annotations

from contextlib import contextmanager

import keras
import numpy as np

from .inputs import ExplainError, as_batch
from .layers import gradient_model


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
    batch = as_batch(images, model)
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
