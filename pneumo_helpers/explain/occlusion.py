"""Occlusion sensitivity (Zeiler & Fergus 2014): hide a patch, see how far the score falls.

A model-agnostic cross-check of Grad-CAM: it needs no gradients and no convolutions, so it
explains any model, at the cost of one forward pass per position of the hiding square.
"""

from __future__ import annotations

import keras
import numpy as np

from .inputs import ExplainError, as_batch


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
    batch = as_batch(images, model)
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
