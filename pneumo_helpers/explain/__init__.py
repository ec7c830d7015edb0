"""Explainability: Grad-CAM, occlusion sensitivity, and the checks that keep them honest.

Grad-CAM (Selvaraju et al. 2017) answers "which regions of this image raised the score of
this class?" for a convolutional network; occlusion sensitivity (Zeiler & Fergus 2014) is
a model-agnostic cross-check: hide a patch, see how far the score falls. The package holds
one idea per module:

* :mod:`.gradcam`: :func:`grad_cam`, the maps themselves (logit of the class, gradient
  weights per channel, ReLU, upsampled and scaled to [0, 1]);
* :mod:`.layers`: reaching Grad-CAM's target layer, also inside a nested model such as a
  pretrained backbone: :func:`convolution_layers`, :func:`find_layer_path`,
  :func:`gradient_model` and :data:`CONVOLUTION_TYPES`;
* :mod:`.occlusion`: :func:`occlusion_sensitivity`;
* :mod:`.sanity`: the model-randomisation sanity check of Adebayo et al. (2018),
  :func:`randomized_copy` and :func:`rank_correlation`;
* :mod:`.shortcut`: the "Clever Hans" data set of the shortcut-learning experiment,
  :func:`stamp_marker`, :func:`marker_region`, :data:`LETTER_R`, and :func:`mass_inside`,
  the share of a map that falls on the marker;
* :mod:`.display`: :func:`overlay`, a heat map blended over its X-ray;
* :mod:`.inputs`: what the methods share: :class:`ExplainError` and :func:`as_batch`.

Every public name is importable from here: ``from pneumo_helpers import explain``.
"""

from .display import overlay
from .gradcam import grad_cam
from .inputs import ExplainError, as_batch
from .layers import CONVOLUTION_TYPES, convolution_layers, find_layer_path, gradient_model
from .occlusion import occlusion_sensitivity
from .sanity import randomized_copy, rank_correlation
from .shortcut import LETTER_R, marker_region, mass_inside, stamp_marker

__all__ = [
    "CONVOLUTION_TYPES",
    "LETTER_R",
    "ExplainError",
    "as_batch",
    "convolution_layers",
    "find_layer_path",
    "grad_cam",
    "gradient_model",
    "marker_region",
    "mass_inside",
    "occlusion_sensitivity",
    "overlay",
    "randomized_copy",
    "rank_correlation",
    "stamp_marker",
]
