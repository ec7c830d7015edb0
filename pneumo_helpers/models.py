"""Model builders. Each returns a compiled Keras 3 model with one sigmoid output (pneumonia).

This module is where chapters, recipes and tests import every model from; each idea lives
in its own module:

- :mod:`pneumo_helpers.baseline`: the error, compilation, and the baseline CNN;
- :mod:`pneumo_helpers.backbones`: ImageNet backbones, the weights policy, fine-tuning;
- :mod:`pneumo_helpers.hybrids`: VGG16 transfer and the ResNet50 hybrid (one road,
  :func:`build_transfer_model`), the CNN–transformer hybrid and their classification head;
- :mod:`pneumo_helpers.transformer`: tokens, position embeddings and the encoder block,
  shared with the Vision Transformer (:mod:`pneumo_helpers.vit`).
"""

from __future__ import annotations

from .backbones import (
    BACKBONES,
    WEIGHTS_ENV,
    Backbone,
    BackbonePreprocess,
    GreyToRGB,
    WeightsInfo,
    WeightsUnavailableWarning,
    all_layers,
    backbone_inputs,
    load_backbone,
    requested_weights,
    set_batchnorm_momentum,
    unfreeze,
    weights_info,
)
from .baseline import (
    ModelConfigError,
    build_baseline_cnn,
    check_image_shape,
    check_rate,
    compile_binary,
    default_metrics,
)
from .hybrids import (
    build_cnn_transformer_hybrid,
    build_resnet50_hybrid,
    build_transfer_model,
    build_vgg16_transfer,
    classification_head,
)
from .transformer import PositionEmbedding, transformer_encoder_block

__all__ = [
    "BACKBONES",
    "WEIGHTS_ENV",
    "Backbone",
    "BackbonePreprocess",
    "GreyToRGB",
    "ModelConfigError",
    "PositionEmbedding",
    "WeightsInfo",
    "WeightsUnavailableWarning",
    "all_layers",
    "backbone_inputs",
    "build_baseline_cnn",
    "build_cnn_transformer_hybrid",
    "build_resnet50_hybrid",
    "build_transfer_model",
    "build_vgg16_transfer",
    "check_image_shape",
    "check_rate",
    "classification_head",
    "compile_binary",
    "default_metrics",
    "load_backbone",
    "requested_weights",
    "set_batchnorm_momentum",
    "transformer_encoder_block",
    "unfreeze",
    "weights_info",
]
