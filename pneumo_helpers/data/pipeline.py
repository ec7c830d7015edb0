"""The tf.data pipeline: the course's one image converter, augmentation, ``make_dataset``."""

from __future__ import annotations

import numpy as np

from .layout import DataError


def augmentation_layers(seed: int = 0, strength: float = 1.0):
    """Return the course's radiograph augmentation as a Keras ``Sequential``.

    Light by design: rotations up to ±9° (``0.025`` of a turn), shifts up to 4 % of the
    image, zooms up to 5 % and a little contrast change, each scaled by ``strength``.
    No vertical flips (a chest X-ray is never upside down) and no horizontal flips
    (the heart sits on the left).
    """
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomRotation(0.025 * strength, fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(
                0.04 * strength, 0.04 * strength, fill_mode="constant", seed=seed + 1
            ),
            keras.layers.RandomZoom(0.05 * strength, fill_mode="constant", seed=seed + 2),
            keras.layers.RandomContrast(0.05 * strength, seed=seed + 3),
        ],
        name="radiograph_augmentation",
    )


def as_float_images(images, input_shape=None, *, error: type[Exception] = DataError) -> np.ndarray:
    """Return images as ``float32 (N, H, W, C)`` in [0, 1]: the course's one image converter.

    ``uint8`` input is divided by 255; float input is taken as already scaled. Grey
    ``(N, H, W)`` images get a channel axis, and a single image gets a batch axis when
    ``input_shape`` says what one image looks like.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, C)``, or one image of ``input_shape``.
        input_shape: the model's ``(H, W, C)``; when given, the result must match it.
        error: the exception class raised on a wrong shape (callers pass their own).

    Raises:
        error: the images cannot be read as a batch of ``input_shape`` images.
    """
    images = np.asarray(images)
    expected = None if input_shape is None else tuple(input_shape)
    if expected is not None and images.shape == expected:
        images = images[np.newaxis]  # one image
    elif expected is not None and images.ndim == len(expected) and expected[-1] == 1:
        images = images[..., np.newaxis]  # (N, H, W) grey for an (H, W, 1) model
    elif expected is None and images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or (expected is not None and tuple(images.shape[1:]) != expected):
        if expected is None:
            raise error(f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}.")
        grey = ", or (N, H, W) for one-channel images" if expected[-1] == 1 else ""
        raise error(
            f"images have shape {images.shape}, but the model expects a batch of {expected} "
            f"images: pass (N, {', '.join(str(v) for v in expected)}){grey}, resized to the "
            "model's input size."
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32, copy=False)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    image_size: int | None = None,
    channels: int = 1,
    batch_size: int = 64,
    shuffle: bool = False,
    augment: bool | float = False,
    seed: int = 0,
):
    """Build the course's ``tf.data`` pipeline from ``uint8`` images.

    Steps: add a channel axis, resize to ``image_size`` (bilinear) when it differs, repeat
    grey into RGB when ``channels=3``, scale to [0, 1], optionally shuffle and augment
    (training only), batch and prefetch.

    Args:
        images: ``uint8 (N, H, W)`` or ``(N, H, W, C)``.
        labels: ``(N,)`` 0/1 labels, or None for an image-only dataset (prediction).
        image_size: output side in pixels; default the input's.
        channels: 1 (grey) or 3 (RGB, for ImageNet backbones).
        batch_size: images per batch.
        shuffle: reshuffle every epoch (use for training).
        augment: apply :func:`augmentation_layers` (use for training only); a number
            scales its strength (True is 1.0).
        seed: seed for shuffling and augmentation.

    Returns:
        A ``tf.data.Dataset`` of ``(image, label)`` batches, or image batches when
        ``labels`` is None; images are ``float32`` in [0, 1].
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}.")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(
                f"images and labels differ in length ({len(images)} vs {len(labels)})."
            )
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}.")
    images = as_float_images(images, error=ValueError)
    size = image_size or images.shape[1]

    def prepare(image):
        if image.shape[-1] != channels:
            image = (
                tf.image.grayscale_to_rgb(image)
                if channels == 3
                else tf.image.rgb_to_grayscale(image)
            )
        if image.shape[1] != size or image.shape[2] != size:
            image = tf.image.resize(image, (size, size), method="bilinear")
        return image

    tensors = images if labels is None else (images, labels.astype(np.float32))
    dataset = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if labels is None:
        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda x, y: (prepare(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmenter = augmentation_layers(seed=seed, strength=float(augment))
        if labels is None:
            dataset = dataset.map(lambda x: augmenter(x, training=True))
        else:
            dataset = dataset.map(lambda x, y: (augmenter(x, training=True), y))
    return dataset.prefetch(tf.data.AUTOTUNE)
