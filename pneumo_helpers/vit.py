"""Vision Transformers: a ViT built from Keras 3 layers, its attention, and attention rollout.

The road a ViT walks (Dosovitskiy et al. 2021)::

    image (H, W, C) -> patches (N, p*p*C) -> linear embedding (N, dim)
        -> [class token] + learned position embeddings
        -> depth x pre-norm encoder block (LayerNorm, multi-head self-attention, residual;
           LayerNorm, MLP, residual)
        -> LayerNorm -> class token or mean of the tokens -> one sigmoid unit (pneumonia)

Every block's attention layer is named ``block{i}_attention`` (``i`` from 1) and is called
with ``return_attention_scores=True``, so :func:`attention_scores` can read the attention
weights of any block, and :func:`attention_rollout` (Abnar & Zuidema 2020) can combine them
into one map per image.

The layers and the encoder block come from :mod:`pneumo_helpers.transformer`, which the
CNN–transformer hybrid of chapter 4 shares; ``vit.PatchExtraction``, ``vit.ClassToken``,
``vit.PositionEmbedding``, ``vit.ShiftedCopies`` and ``vit.TakeClassToken`` are the same
classes, importable from here as chapter 5 does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import keras
import numpy as np
from keras import layers

from . import config, data
from .baseline import ModelConfigError, compile_binary
from .transformer import ClassToken as ClassToken
from .transformer import PatchExtraction as PatchExtraction
from .transformer import PositionEmbedding as PositionEmbedding
from .transformer import ShiftedCopies as ShiftedCopies
from .transformer import TakeClassToken as TakeClassToken
from .transformer import patch_embedding, transformer_encoder_block

POOLINGS = ("cls", "mean")
HEAD_FUSIONS = ("mean", "max", "min")
_ATTENTION_NAME = re.compile(r"^block(\d+)_attention$")


class ViTConfigError(ModelConfigError):
    """A Vision Transformer builder or helper received an argument it cannot use."""


# --------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------


def _check_vit_arguments(
    input_shape: tuple[int, ...],
    patch_size: int,
    dim: int,
    depth: int,
    heads: int,
    mlp_dim: int,
    dropout: float,
    attention_dropout: float,
    pooling: str,
) -> None:
    if len(input_shape) != 3 or min(input_shape) < 1:
        raise ViTConfigError(
            f"input_shape must be (height, width, channels) with positive sizes, got {input_shape}."
        )
    if not isinstance(patch_size, int | np.integer) or patch_size < 1:
        raise ViTConfigError(f"patch_size must be a positive integer, got {patch_size!r}.")
    height, width = input_shape[:2]
    if height % patch_size or width % patch_size:
        divisors = [d for d in range(1, min(height, width) + 1) if not height % d and not width % d]
        raise ViTConfigError(
            f"The image size {height}×{width} is not divisible by patch_size={patch_size}: "
            f"patches must tile the image exactly. Use one of {divisors} (or resize the images)."
        )
    for name, value in (("dim", dim), ("depth", depth), ("heads", heads), ("mlp_dim", mlp_dim)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise ViTConfigError(f"{name} must be a positive integer, got {value!r}.")
    if dim % heads:
        raise ViTConfigError(
            f"dim={dim} is not divisible by heads={heads}: each head gets dim / heads "
            "features. Choose heads among the divisors of dim (e.g. 4 for dim=64)."
        )
    for name, value in (("dropout", dropout), ("attention_dropout", attention_dropout)):
        if not 0.0 <= value < 1.0:
            raise ViTConfigError(f"{name} must be in [0, 1), got {value}.")
    if pooling not in POOLINGS:
        raise ViTConfigError(
            f"pooling must be 'cls' (a learned class token) or 'mean' (the average of the "
            f"patch tokens), got {pooling!r}."
        )


def build_vit(
    input_shape: Sequence[int] = (28, 28, 1),
    patch_size: int = 4,
    dim: int = 64,
    depth: int = 4,
    heads: int = 4,
    mlp_dim: int = 128,
    dropout: float = 0.1,
    pooling: str = "cls",
    attention_dropout: float = 0.0,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 1e-3,
    weight_decay: float = 0.05,
    shifted_patches: bool = False,
    name: str = "vit",
) -> keras.Model:
    """Build a Vision Transformer (ViT) for pneumonia vs normal, compiled like every course model.

    Args:
        input_shape: ``(height, width, channels)`` of the images, scaled to [0, 1]. Height
            and width must be divisible by ``patch_size``.
        patch_size: side of the square patches in pixels; the image becomes
            ``(height / patch_size) * (width / patch_size)`` tokens.
        dim: width of every token (the embedding size).
        depth: number of encoder blocks.
        heads: attention heads per block; ``dim`` must be divisible by ``heads``.
        mlp_dim: hidden width of each block's two-layer MLP.
        dropout: dropout after the embeddings, after attention and in the MLPs.
        pooling: ``"cls"``: a learned class token is prepended and its final state
            classifies; ``"mean"``: the final patch tokens are averaged.
        attention_dropout: dropout on the attention weights.
        learning_rate: the optimiser's learning rate, a number or a Keras schedule.
        weight_decay: decoupled weight decay (AdamW) when above 0.
        shifted_patches: stack four diagonally shifted copies of the image (by half a patch)
            before cutting it into patches (:class:`ShiftedCopies`), so every token also
            sees the edges of its neighbouring patches: a little of a CNN's locality, which
            helps on small data sets. The tokens, attention and rollout are unchanged.
        name: the model's name.

    Returns:
        A compiled model with one sigmoid output named ``pneumonia``. Its layers are named
        ``shifted_copies`` (with ``shifted_patches=True``), ``patches``,
        ``patch_embedding``, ``class_token`` (with ``pooling="cls"``),
        ``position_embedding``, ``block{i}_norm1``, ``block{i}_attention``,
        ``block{i}_norm2``, ``block{i}_mlp1``, ``block{i}_mlp2`` (``i`` = 1 .. depth),
        ``final_norm`` and ``pneumonia``.

    Raises:
        ViTConfigError: an argument is invalid, e.g. the image size is not divisible by
            ``patch_size``.
    """
    input_shape = tuple(int(v) for v in input_shape)
    _check_vit_arguments(
        input_shape, patch_size, dim, depth, heads, mlp_dim, dropout, attention_dropout, pooling
    )
    inputs = keras.Input(shape=input_shape, name="image")
    x = patch_embedding(inputs, patch_size, dim, shifted_patches)
    if pooling == "cls":
        x = ClassToken(name="class_token")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    x = layers.Dropout(dropout, name="embedding_dropout")(x)
    for i in range(1, depth + 1):
        x = transformer_encoder_block(
            x,
            heads,
            mlp_dim,
            dropout,
            f"block{i}",
            attention_dropout=attention_dropout,
            residual_dropout=dropout,
        )
    x = layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    if pooling == "cls":
        x = TakeClassToken(name="take_class_token")(x)
    else:
        x = layers.GlobalAveragePooling1D(name="mean_pool")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name=name)
    return compile_binary(model, learning_rate, weight_decay)


# --------------------------------------------------------------------------------------
# Reading the attention
# --------------------------------------------------------------------------------------


def attention_layer_names(model: keras.Model) -> list[str]:
    """Return the names of a ViT's attention layers, block 1 first.

    Raises:
        ViTConfigError: the model has no layer named ``block{i}_attention`` (it is not built
            by :func:`build_vit`).
    """
    found = []
    for layer in model.layers:
        match = _ATTENTION_NAME.match(layer.name)
        if match:
            found.append((int(match.group(1)), layer.name))
    if not found:
        raise ViTConfigError(
            f"Model {model.name!r} has no attention layers named 'block<i>_attention': "
            "pass a model built by pneumo_helpers.vit.build_vit."
        )
    return [name for _, name in sorted(found)]


def _as_model_input(model: keras.Model, images) -> np.ndarray:
    """Return ``images`` as float32 in the model's input shape (uint8 is scaled by 1/255)."""
    return data.as_float_images(images, model.input_shape[1:], error=ViTConfigError)


def attention_scores(
    model: keras.Model, images, blocks: Sequence[int] | None = None, batch_size: int = 256
) -> list[np.ndarray]:
    """Return the attention weights of a ViT's blocks for some images.

    Args:
        model: a model built by :func:`build_vit`.
        images: ``(N, H, W, C)`` floats in [0, 1] as the model takes them; ``uint8`` images
            (``(N, H, W)`` for grey) are scaled by 1/255 first, as the course pipeline does.
        blocks: 1-based block numbers; default every block.
        batch_size: images per forward pass.

    Returns:
        one ``(N, heads, tokens, tokens)`` array per block: entry ``[n, h, i, j]`` is how
        much token ``i`` attends to token ``j`` in head ``h``; every row sums to 1.
    """
    names = attention_layer_names(model)
    if blocks is None:
        blocks = list(range(1, len(names) + 1))
    bad = [b for b in blocks if not 1 <= int(b) <= len(names)]
    if bad:
        raise ViTConfigError(f"blocks {bad} do not exist: the model has blocks 1 to {len(names)}.")
    outputs = [model.get_layer(names[int(b) - 1]).output[1] for b in blocks]
    reader = keras.Model(model.inputs, outputs, name=f"{model.name}_attention")
    result = reader.predict(_as_model_input(model, images), batch_size=batch_size, verbose=0)
    if not isinstance(result, list | tuple):
        result = [result]
    return [np.asarray(r, dtype=np.float64) for r in result]


def rollout_from_attention(
    attentions: Sequence[np.ndarray], residual: float = 0.5, head_fusion: str = "mean"
) -> np.ndarray:
    """Combine the attention of successive blocks into one token-to-token matrix (rollout).

    Following Abnar & Zuidema (2020), each block's heads are fused (averaged by default),
    the residual connection is accounted for as ``(1 - residual) * A + residual * I``, the
    rows are renormalised to sum to 1, and the blocks are multiplied, first block on the
    right: ``R = Â_L ··· Â_2 Â_1``.

    Args:
        attentions: one array per block, ``(N, heads, T, T)`` (or ``(N, T, T)`` with the
            heads fused), block 1 first; rows are attention distributions.
        residual: weight of the identity (the skip connection), in [0, 1].
        head_fusion: ``"mean"``, ``"max"`` or ``"min"`` over the heads.

    Returns:
        ``(N, T, T)``: entry ``[n, i, j]`` is how much of token ``i``'s final state flows
        from input token ``j``. Every row sums to 1.
    """
    if not attentions:
        raise ViTConfigError("attentions is empty: pass one attention array per block.")
    if not 0.0 <= residual <= 1.0:
        raise ViTConfigError(f"residual must be in [0, 1], got {residual}.")
    if head_fusion not in HEAD_FUSIONS:
        raise ViTConfigError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}.")
    rollout = None
    for index, attention in enumerate(attentions, start=1):
        attention = np.asarray(attention, dtype=np.float64)
        if attention.ndim == 4:
            attention = getattr(np, head_fusion)(attention, axis=1)
        if attention.ndim != 3 or attention.shape[1] != attention.shape[2]:
            raise ViTConfigError(
                f"block {index}'s attention has shape {attention.shape}; expected "
                "(N, heads, T, T) or (N, T, T)."
            )
        tokens = attention.shape[-1]
        mixed = (1.0 - residual) * attention + residual * np.eye(tokens)
        mixed = mixed / mixed.sum(axis=-1, keepdims=True)
        if rollout is not None and rollout.shape != mixed.shape:
            raise ViTConfigError(
                f"block {index}'s attention has shape {attention.shape}, which does not match "
                f"the blocks before it ({rollout.shape})."
            )
        rollout = mixed if rollout is None else mixed @ rollout
    return rollout


def rollout_to_maps(
    rollout: np.ndarray, grid: tuple[int, int], class_token: bool, patch_size: int = 1
) -> np.ndarray:
    """Turn rollout matrices into one relevance map per image, scaled to [0, 1].

    With a class token, the map is the class token's row (its attention to each patch);
    with mean pooling, the average of all rows (the pooled vector attends to every token
    equally). Each map is divided by its maximum (an all-zero map stays zero) and every
    patch's value is repeated over its ``patch_size`` × ``patch_size`` pixels.

    Returns:
        ``(N, grid[0] * patch_size, grid[1] * patch_size)`` in [0, 1].
    """
    rollout = np.asarray(rollout, dtype=np.float64)
    rows, cols = grid
    offset = 1 if class_token else 0
    if rollout.ndim != 3 or rollout.shape[-1] != rows * cols + offset:
        raise ViTConfigError(
            f"rollout has shape {rollout.shape}, which does not fit a {rows}×{cols} patch grid "
            f"{'with' if class_token else 'without'} a class token."
        )
    relevance = rollout[:, 0, 1:] if class_token else rollout.mean(axis=1)
    maps = relevance.reshape(-1, rows, cols)
    peak = maps.max(axis=(1, 2), keepdims=True)
    maps = np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)
    maps = np.repeat(np.repeat(maps, patch_size, axis=1), patch_size, axis=2)
    return np.clip(maps, 0.0, 1.0)


def attention_rollout(
    model: keras.Model,
    images,
    residual: float = 0.5,
    head_fusion: str = "mean",
    batch_size: int = 256,
) -> np.ndarray:
    """Return attention-rollout maps (Abnar & Zuidema 2020) of a ViT at input resolution.

    The attention of every block is read (:func:`attention_scores`), combined across blocks
    (:func:`rollout_from_attention`), and the class token's row (or, with mean pooling, the
    mean row) becomes a map over the patches (:func:`rollout_to_maps`).

    Args:
        model: a model built by :func:`build_vit`.
        images: ``(N, H, W, C)`` floats in [0, 1], or ``uint8`` images (scaled by 1/255).
        residual, head_fusion: see :func:`rollout_from_attention`.
        batch_size: images per forward pass.

    Returns:
        ``(N, H, W)`` maps in [0, 1] (each divided by its maximum); every patch's pixels
        share one value, since the model sees patches, not pixels.
    """
    attention_layer_names(model)  # a clear error for a model that is not a ViT
    patch_size = model.get_layer("patches").patch_size
    height, width = model.input_shape[1:3]
    class_token = any(layer.name == "class_token" for layer in model.layers)
    attentions = attention_scores(model, images, batch_size=batch_size)
    rollout = rollout_from_attention(attentions, residual=residual, head_fusion=head_fusion)
    grid = (height // patch_size, width // patch_size)
    return rollout_to_maps(rollout, grid, class_token, patch_size).astype(np.float32)


# --------------------------------------------------------------------------------------
# Training schedule and a pretrained ViT (full profile, with internet access)
# --------------------------------------------------------------------------------------


def warmup_cosine_schedule(
    peak_learning_rate: float, total_steps: int, warmup_steps: int, final_fraction: float = 0.01
) -> keras.optimizers.schedules.LearningRateSchedule:
    """Return a learning rate that rises linearly for ``warmup_steps``, then follows a cosine.

    Transformers train poorly with a large learning rate from the first step: the warm-up
    lets the attention layers settle first. The rate then decays along a half cosine to
    ``final_fraction`` of its peak at ``total_steps``.
    """
    if peak_learning_rate <= 0:
        raise ViTConfigError(f"peak_learning_rate must be positive, got {peak_learning_rate}.")
    if not 0 <= warmup_steps < total_steps:
        raise ViTConfigError(
            f"warmup_steps must be in [0, total_steps), got {warmup_steps} of {total_steps}."
        )
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup_steps else peak_learning_rate,
        decay_steps=total_steps - warmup_steps,
        alpha=final_fraction,
        warmup_target=peak_learning_rate if warmup_steps else None,
        warmup_steps=warmup_steps,
    )


class PretrainedUnavailableError(ViTConfigError):
    """A pretrained ViT cannot be had here: KerasHub is missing or its weights cannot be fetched."""


#: The KerasHub preset the full profile fine-tunes: ViT-B/16 pre-trained on ImageNet-21k.
PRETRAINED_PRESET = "vit_base_patch16_224_imagenet21k"


def rehearsal_backbone(keras_hub) -> keras.Model:
    """Return a tiny random KerasHub ViTBackbone: a rehearsal's stand-in for the preset."""
    return keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=16,
        num_layers=1,
        num_heads=2,
        hidden_dim=16,
        mlp_dim=32,
    )


def build_pretrained_vit(
    input_shape: Sequence[int] = (128, 128, 1),
    preset: str = PRETRAINED_PRESET,
    dropout: float = 0.1,
    learning_rate: float | keras.optimizers.schedules.LearningRateSchedule = 3e-5,
    weight_decay: float = 0.05,
    backbone: keras.Model | None = None,
) -> keras.Model:
    """Build a ViT pre-trained on ImageNet (a KerasHub preset) with a pneumonia head.

    Grey X-rays in [0, 1] are repeated into three channels, resized to the backbone's input
    size and rescaled to [-1, 1] as the presets expect; the class token's final state feeds
    one sigmoid unit. Every layer is trainable (fine-tuning), so use a small learning rate.

    Args:
        input_shape: ``(height, width, channels)`` of the course's images.
        preset: a KerasHub ViT preset name, downloaded on first use (about 350 MB for
            ViT-B/16).
        dropout: dropout before the head.
        learning_rate, weight_decay: AdamW settings for fine-tuning.
        backbone: a ready ``keras_hub.models.ViTBackbone`` to use instead of loading
            ``preset`` (tests pass a tiny one).

    Raises:
        PretrainedUnavailableError: KerasHub is not installed, or the preset cannot be
            downloaded (for example offline). The message says what to do; the chapters then
            keep the ViT trained from scratch.
    """
    input_shape = tuple(int(v) for v in input_shape)
    if len(input_shape) != 3:
        raise ViTConfigError(f"input_shape must be (height, width, channels), got {input_shape}.")
    if backbone is None:
        try:
            import keras_hub
        except ImportError as exc:
            raise PretrainedUnavailableError(
                "KerasHub is not installed, so no pretrained ViT can be loaded. Install it with "
                "`pip install keras-hub` (on Colab: !pip install keras-hub) and run again."
            ) from exc
        try:
            backbone = keras_hub.models.ViTBackbone.from_preset(preset)
        except Exception as exc:  # offline, hub unreachable, unknown preset, ...
            if config.rehearsal():
                backbone = rehearsal_backbone(keras_hub)
                print(
                    f"Rehearsal: the preset {preset!r} cannot be downloaded here, so a tiny "
                    "randomly initialised ViTBackbone stands in for it (code path only)."
                )
            else:
                raise PretrainedUnavailableError(
                    f"Could not load the KerasHub preset {preset!r} ({type(exc).__name__}: {exc}). "
                    "Its weights are downloaded on first use: this needs internet access (Colab "
                    "has it). Without it, keep the ViT trained from scratch."
                ) from exc
    height, width, channels = (int(v) for v in backbone.input_shape[1:4])
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if input_shape[-1] != channels:
        x = layers.Concatenate(name="grey_to_rgb")([x] * channels)
    x = layers.Resizing(height, width, name="resize")(x)
    x = layers.Rescaling(2.0, offset=-1.0, name="to_minus1_1")(x)
    x = backbone(x)
    x = TakeClassToken(name="take_class_token")(x)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(1, activation="sigmoid", name="pneumonia")(x)
    model = keras.Model(inputs, outputs, name="pretrained_vit")
    return compile_binary(model, learning_rate, weight_decay)
