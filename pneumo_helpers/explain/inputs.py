"""What every explanation method shares: its error type and the batch it explains.

:func:`as_batch` brings images into the model's input layout through the course's one
image converter, :func:`pneumo_helpers.data.as_float_images`, so that Grad-CAM and
occlusion see exactly the floats the model was trained on.
"""

from __future__ import annotations

import keras
import numpy as np

from .. import data


class ExplainError(ValueError):
    """An explainability helper received a model, layer or argument it cannot use."""


def as_batch(images, model: keras.Model) -> np.ndarray:
    """Return ``images`` as float32 ``(N, H, W, C)`` in the model's input layout."""
    return data.as_float_images(images, model.input_shape[1:], error=ExplainError)
