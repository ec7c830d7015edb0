"""Models built on a pretrained backbone or a convolutional stem, and their classification head.

Three builders: VGG16 transfer learning (chapter 3), the ResNet50 hybrid (a ResNet50
backbone and a dense head), both the one road of :func:`build_transfer_model`, and the
CNN–transformer hybrid (a convolutional or ResNet50 stem whose feature map becomes tokens
for self-attention; chapter 4). The backbones and their weights come from
:mod:`pneumo_helpers.backbones`, the transformer parts from
:mod:`pneumo_helpers.transformer`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import keras
from keras import layers

from .backbones import WeightsInfo, backbone_inputs, load_backbone
from .baseline import ModelConfigError, check_image_shape, check_rate, compile_binary
from .transformer import PositionEmbedding, feature_map_tokens, transformer_encoder_block


def classification_head(
    features: keras.KerasTensor,
    pooling: str = "avg",
    dense_units: int | None = 256,
    dropout: float = 0.5,
) -> keras.KerasTensor:
    """Return the pneumonia score computed from a feature map by a configurable head.

    Args:
        features: a ``(batch, h, w, channels)`` feature map.
        pooling: ``"avg"`` or ``"max"`` (global pooling: one number per channel) or
            ``"flatten"`` (every position of every channel: h × w × channels numbers).
        dense_units: width of a hidden ReLU layer; None or 0 for none.
        dropout: dropout rate before the output layer.

    Raises:
        ModelConfigError: unknown pooling, negative units or a dropout outside [0, 1).
    """
    poolers = {
        "avg": lambda: layers.GlobalAveragePooling2D(name="global_pool"),
        "max": lambda: layers.GlobalMaxPooling2D(name="global_pool"),
        "flatten": lambda: layers.Flatten(name="flatten"),
    }
    if pooling not in poolers:
        raise ModelConfigError(f"pooling must be one of {sorted(poolers)}, got {pooling!r}.")
    if dense_units is not None and dense_units < 0:
        raise ModelConfigError(f"dense_units must be positive, 0 or None, got {dense_units}.")
    check_rate("dropout", dropout)
    x = poolers[pooling]()(features)
    if dense_units:
        x = layers.Dense(dense_units, activation="relu", name="head_dense")(x)
    if dropout > 0:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    return layers.Dense(1, activation="sigmoid", name="pneumonia")(x)


def build_transfer_model(
    backbone: str,
    input_shape: Sequence[int] = (28, 28, 1),
    weights: str | os.PathLike | None = "imagenet",
    *,
    name: str | None = None,
    pooling: str = "avg",
    dense_units: int | None = 256,
    dropout: float = 0.5,
    train_backbone: bool | None = None,
    resize_to: int | None = None,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.0,
) -> keras.Model:
    """Build an ImageNet backbone with a small pneumonia head: the road of transfer learning.

    The model takes the course's images (grey or RGB, scaled to [0, 1]), resizes images
    below 32 px up to 32 px, repeats grey into three channels, applies the backbone's own
    ``preprocess_input`` (:func:`backbone_inputs`), runs the backbone
    (:func:`load_backbone`) and then :func:`classification_head`.
    :func:`build_vgg16_transfer` and :func:`build_resnet50_hybrid` are this road with
    their backbone.

    Args:
        backbone: a backbone of :data:`pneumo_helpers.backbones.BACKBONES`, e.g.
            ``"vgg16"`` or ``"resnet50"``.
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        weights: ``"imagenet"`` (downloaded; random initialisation with a warning when the
            download fails), None for random, or a weights file. ``PNEUMO_WEIGHTS`` wins.
        name: the model's name; default ``"<backbone>_transfer"``.
        pooling: ``"avg"``, ``"max"`` or ``"flatten"`` (see :func:`classification_head`).
        dense_units: hidden units of the head; None or 0 for none.
        dropout: dropout before the output.
        train_backbone: whether the backbone trains. None (default) freezes it when it
            holds pretrained weights (feature extraction) and trains it when it is random
            (training from scratch). Use :func:`unfreeze` to fine-tune later.
        resize_to: resize images to this side (at least 32) instead of the minimum.
        learning_rate: Adam's learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.

    Returns:
        A compiled ``keras.Model``; :func:`weights_info` tells which weights it holds.
    """
    inputs, x, backbone_shape = backbone_inputs(input_shape, backbone, resize_to)
    base, info = load_backbone(backbone, backbone_shape, weights)
    base.trainable = (not info.pretrained) if train_backbone is None else bool(train_backbone)
    outputs = classification_head(base(x), pooling, dense_units, dropout)
    model = keras.Model(inputs, outputs, name=name or f"{backbone}_transfer")
    model.pneumo_weights = info
    return compile_binary(model, learning_rate, weight_decay)


def build_vgg16_transfer(
    input_shape: Sequence[int] = (28, 28, 1),
    weights: str | os.PathLike | None = "imagenet",
    **options,
) -> keras.Model:
    """Build VGG16 (Simonyan & Zisserman 2015) with a small pneumonia head.

    The road of :func:`build_transfer_model`: images below 32 px resized up to 32 px,
    grey repeated into three channels, VGG16's own ``preprocess_input``, then the
    convolutional base (13 convolutions in 5 blocks, ``block1_conv1`` … ``block5_pool``)
    before the head.

    Args:
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        weights: ``"imagenet"`` (downloaded; random initialisation with a warning when the
            download fails), None for random, or a weights file. ``PNEUMO_WEIGHTS`` wins.
        **options: the head and training options of :func:`build_transfer_model`:
            ``pooling``, ``dense_units``, ``dropout``, ``train_backbone`` (None freezes a
            pretrained base and trains a random one), ``resize_to``, ``learning_rate``
            and ``weight_decay``.

    Returns:
        A compiled ``keras.Model`` named ``vgg16_transfer``; :func:`weights_info` tells
        which weights it holds.
    """
    return build_transfer_model("vgg16", input_shape, weights, name="vgg16_transfer", **options)


def build_resnet50_hybrid(
    input_shape: Sequence[int] = (28, 28, 1),
    weights: str | os.PathLike | None = "imagenet",
    **options,
) -> keras.Model:
    """Build the ResNet50 hybrid (He et al. 2016): a ResNet50 backbone and a small dense head.

    Same road as :func:`build_vgg16_transfer` (:func:`build_transfer_model`): resize below
    32 px, grey → RGB, ResNet50's own ``preprocess_input``, the backbone (``conv1`` …
    ``conv5_block3_out``, 2048 channels), then the head. ``pooling="flatten"`` reproduces
    the original hybrid, whose head sees h × w × 2048 numbers; global average pooling (the
    default) sees 2048.

    Args:
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        weights: ``"imagenet"``, None or a weights file (see :func:`load_backbone`).
        **options: the head and training options of :func:`build_transfer_model`:
            ``pooling``, ``dense_units``, ``dropout``, ``train_backbone``, ``resize_to``,
            ``learning_rate`` and ``weight_decay``.

    Returns:
        A compiled ``keras.Model`` named ``resnet50_hybrid``.
    """
    return build_transfer_model("resnet50", input_shape, weights, name="resnet50_hybrid", **options)


def build_cnn_transformer_hybrid(
    input_shape: Sequence[int] = (28, 28, 1),
    *,
    stem: str = "conv",
    stem_filters: Sequence[int] = (32, 64),
    convs_per_block: int = 1,
    stem_batchnorm_momentum: float = 0.9,
    resnet_stage: str = "conv3_block4_out",
    weights: str | os.PathLike | None = "imagenet",
    embed_dim: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    mlp_dim: int = 128,
    dropout: float = 0.1,
    head_dropout: float = 0.3,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-4,
) -> keras.Model:
    """Build a CNN–transformer hybrid: a convolutional stem whose feature map becomes tokens.

    The stem turns the image into an ``h × w`` grid of feature vectors; a 1 × 1 convolution
    projects each to ``embed_dim``; the grid is read as ``h · w`` tokens, a learned
    position embedding is added, and ``num_layers`` transformer encoder blocks let every
    region attend to every other. The tokens are averaged and a sigmoid unit scores
    pneumonia. A Vision Transformer (Dosovitskiy et al. 2021) is the same with the stem
    replaced by cutting the image into patches.

    Args:
        input_shape: ``(height, width, channels)`` with 1 or 3 channels.
        stem: ``"conv"``, blocks of ``convs_per_block`` 3 × 3 convolutions (BatchNorm,
            ReLU) and a 2 × 2 max-pool, one block per ``stem_filters`` entry (28 px →
            7 × 7 = 49 tokens with two blocks); or ``"resnet50"``, ResNet50 up to
            ``resnet_stage`` (stride 8 at ``conv3_block4_out``), with ``weights`` as in
            :func:`load_backbone`.
        stem_filters: filters per block of the ``"conv"`` stem.
        convs_per_block: 3 × 3 convolutions per block of the ``"conv"`` stem.
        stem_batchnorm_momentum: momentum of the ``"conv"`` stem's BatchNorm moving
            statistics. The default 0.9 lets the statistics used at validation catch up
            within an epoch; Keras' own default (0.99) lags a short training from scratch
            by hundreds of steps and makes early validation scores meaningless.
        resnet_stage: the ResNet50 layer whose output becomes the tokens.
        weights: ImageNet weights for the ``"resnet50"`` stem (unused by ``"conv"``).
        embed_dim: token width; must be divisible by ``num_heads``.
        num_layers: transformer encoder blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each block's MLP.
        dropout: dropout inside the encoder blocks, on the attention weights and on the
            MLP's hidden layer (see :func:`transformer_encoder_block`).
        head_dropout: dropout before the output.
        learning_rate: the optimiser's learning rate.
        weight_decay: decoupled weight decay (AdamW) when above 0.

    Returns:
        A compiled ``keras.Model`` named ``cnn_transformer_hybrid``; its layer ``tokens``
        outputs ``(batch, n_tokens, embed_dim)``.
    """
    height, width, channels = check_image_shape(input_shape)
    for name, value in (("embed_dim", embed_dim), ("num_heads", num_heads), ("mlp_dim", mlp_dim)):
        if value < 1:
            raise ModelConfigError(f"{name} must be at least 1, got {value}.")
    if num_layers < 0:
        raise ModelConfigError(f"num_layers must be 0 or more, got {num_layers}.")
    if embed_dim % num_heads:
        raise ModelConfigError(
            f"embed_dim={embed_dim} must be divisible by num_heads={num_heads} "
            "(each head gets embed_dim // num_heads dimensions)."
        )
    check_rate("dropout", dropout)
    check_rate("head_dropout", head_dropout)
    check_rate("stem_batchnorm_momentum", stem_batchnorm_momentum)

    if stem == "conv":
        if not stem_filters:
            raise ModelConfigError("stem_filters must list at least one block, e.g. (32, 64).")
        if convs_per_block < 1:
            raise ModelConfigError(f"convs_per_block must be at least 1, got {convs_per_block}.")
        smallest = 2 ** len(stem_filters)
        if min(height, width) < smallest:
            raise ModelConfigError(
                f"input_shape {tuple(input_shape)} is too small for a stem of "
                f"{len(stem_filters)} pooling blocks: use images of at least {smallest} px."
            )
        inputs = keras.Input(shape=(height, width, channels), name="image")
        x = inputs
        for block, filters in enumerate(stem_filters, start=1):
            for conv in range(1, convs_per_block + 1):
                x = layers.Conv2D(
                    filters, 3, padding="same", use_bias=False, name=f"stem{block}_conv{conv}"
                )(x)
                x = layers.BatchNormalization(
                    momentum=stem_batchnorm_momentum, name=f"stem{block}_bn{conv}"
                )(x)
                x = layers.Activation("relu", name=f"stem{block}_relu{conv}")(x)
            x = layers.MaxPooling2D(2, name=f"stem{block}_pool")(x)
        info = WeightsInfo(
            "none", "none", "random", "the convolutional stem has no pretrained part"
        )
    elif stem == "resnet50":
        inputs, x, backbone_shape = backbone_inputs((height, width, channels), "resnet50")
        base, info = load_backbone("resnet50", backbone_shape, weights)
        if resnet_stage not in [layer.name for layer in base.layers]:
            raise ModelConfigError(
                f"resnet_stage={resnet_stage!r} is not a ResNet50 layer; use a stage output "
                "such as 'conv2_block3_out', 'conv3_block4_out' or 'conv4_block6_out'."
            )
        stage = keras.Model(base.input, base.get_layer(resnet_stage).output, name="resnet50_stem")
        stage.trainable = not info.pretrained
        x = stage(x)
    else:
        raise ModelConfigError(f"stem must be 'conv' or 'resnet50', got {stem!r}.")

    tokens = feature_map_tokens(x, embed_dim)
    # The hybrid's position vectors have always started from a normal distribution (the
    # ViT's from a truncated one); kept so that chapter 4's results do not move.
    start = keras.initializers.RandomNormal(stddev=0.02)
    tokens = PositionEmbedding(start, name="position_embedding")(tokens)
    for index in range(1, num_layers + 1):
        tokens = transformer_encoder_block(
            tokens, num_heads, mlp_dim, dropout, f"encoder{index}", attention_dropout=dropout
        )
    x = layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(tokens)
    x = layers.GlobalAveragePooling1D(name="token_pool")(x)
    if head_dropout > 0:
        x = layers.Dropout(head_dropout, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="cnn_transformer_hybrid")
    model.pneumo_weights = info
    return compile_binary(model, learning_rate, weight_decay)
