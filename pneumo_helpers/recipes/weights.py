"""What a recipe's backbone starts from: ImageNet weights in Keras' cache, or random ones.

A run's fingerprint (:mod:`pneumo_helpers.recipes.runs`) covers the weights a run started
from, so that a run trained offline, with random weights, is trained again once ImageNet's
are reachable.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

from .. import models

#: The ImageNet backbone each recipe starts from; the other recipes have no pretrained part.
RECIPE_BACKBONES = {"vgg16_transfer": "vgg16", "resnet50_hybrid": "resnet50"}

#: Where ``keras.applications`` fetches each backbone's ImageNet weights (without the top)
#: and the file name it caches them under in ``~/.keras/models``.
IMAGENET_WEIGHTS = {
    "vgg16": "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
    "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "resnet50": "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
}


def _cached_imagenet_file(backbone: str) -> Path | None:
    name = IMAGENET_WEIGHTS[backbone].rsplit("/", 1)[1]
    # Keras caches under $KERAS_HOME, else ~/.keras, else (not writable) /tmp/.keras.
    home = os.environ.get("KERAS_HOME")
    homes = [Path(home)] if home else [Path.home() / ".keras", Path("/tmp/.keras")]
    return next(
        (home / "models" / name for home in homes if (home / "models" / name).is_file()), None
    )


def expected_weights(name: str, *, probe: bool = False) -> str:
    """Return what a run of recipe ``name`` would start from if it were trained now.

    ``"none"`` for a recipe without a pretrained part; ``"random"`` when the backbone's
    ImageNet weights are not in Keras' cache (or ``PNEUMO_WEIGHTS=none``); otherwise
    ``"imagenet"``. With ``probe=True`` an uncached file is fetched first (checksummed by
    Keras, as a training would), so that weights that have become reachable count.
    """
    backbone = RECIPE_BACKBONES.get(name)
    if backbone is None:
        return "none"
    if models.requested_weights("imagenet") is None:
        return "random"
    if _cached_imagenet_file(backbone) is None and probe:
        import keras

        try:
            with contextlib.redirect_stdout(io.StringIO()):
                keras.utils.get_file(origin=IMAGENET_WEIGHTS[backbone], cache_subdir="models")
        except Exception:  # noqa: BLE001 - unreachable is the answer, not an error
            return "random"
    return "imagenet" if _cached_imagenet_file(backbone) is not None else "random"


def started_from(name: str, weights: models.WeightsInfo | None) -> str:
    """Return ``"imagenet"``, ``"random"`` or ``"none"``: what recipe ``name``'s run started from.

    Args:
        name: the recipe.
        weights: the :class:`~pneumo_helpers.models.WeightsInfo` its training recorded.
    """
    if name not in RECIPE_BACKBONES or weights is None or weights.backbone not in models.BACKBONES:
        return "none"
    return "imagenet" if weights.pretrained else "random"
