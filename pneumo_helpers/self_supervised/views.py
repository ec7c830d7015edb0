"""Views of one X-ray for SimCLR: crops, small rotations, contrast, noise, blur; no colour."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import data
from .errors import SelfSupervisedError


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


def check_view_settings(settings: ViewSettings) -> None:
    """Raise :class:`SelfSupervisedError` naming a setting of ``settings`` out of range."""
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
    check_view_settings(settings)
    floats = data.as_float_images(images, error=SelfSupervisedError)
    generator = tf.random.Generator.from_seed(seed)
    return radiograph_views(tf.constant(floats), generator, settings).numpy()
