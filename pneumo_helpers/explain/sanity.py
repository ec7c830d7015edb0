"""The model-randomisation sanity check of Adebayo et al. (2018).

An explanation that survives re-initialising the model's weights explains the image, not
the model. :func:`randomized_copy` re-initialises all weights or, cascading, those from one
layer on; :func:`rank_correlation` measures how much the maps of the trained and the
randomised model still agree (the chapters also use it to compare two methods' maps).
"""

from __future__ import annotations

import keras
import numpy as np

from .inputs import ExplainError


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
