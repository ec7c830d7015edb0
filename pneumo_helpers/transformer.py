"""Transformer parts, defined once: tokens from an image, position embeddings, the encoder block.

The Vision Transformer (:func:`pneumo_helpers.vit.build_vit`) and the CNN–transformer
hybrid (:func:`pneumo_helpers.hybrids.build_cnn_transformer_hybrid`) walk the same road
(Dosovitskiy et al. 2021)::

    image or feature map -> tokens (N, dim)      patch_embedding / feature_map_tokens
        -> [class token] + learned positions     ClassToken, PositionEmbedding
        -> depth x encoder block                 transformer_encoder_block
        -> LayerNorm -> class token or mean      TakeClassToken / GlobalAveragePooling1D

They differ only in where the tokens come from: a ViT cuts the image into patches, the
hybrid reads a convolutional feature map position by position. Every layer class here is
registered with Keras as ``pneumo_helpers>ClassName``, so saved models load again.
"""

from __future__ import annotations

import keras
from keras import layers, ops

#: Standard deviation of the learned class token and position vectors (as in ViT).
EMBEDDING_STDDEV = 0.02


# --------------------------------------------------------------------------------------
# Tokens: patches of an image, or positions of a feature map
# --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class PatchExtraction(layers.Layer):
    """Cut images into non-overlapping ``patch_size`` × ``patch_size`` patches, flattened.

    ``(batch, H, W, C)`` becomes ``(batch, (H / p) * (W / p), p * p * C)``: one row per patch,
    in reading order (left to right, then top to bottom).
    """

    def __init__(self, patch_size: int, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = int(patch_size)

    def call(self, images):
        p = self.patch_size
        height, width, channels = images.shape[1], images.shape[2], images.shape[3]
        rows, cols = height // p, width // p
        x = ops.reshape(images, (-1, rows, p, cols, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))  # (batch, rows, cols, p, p, C)
        return ops.reshape(x, (-1, rows * cols, p * p * channels))

    def compute_output_shape(self, input_shape):
        p = self.patch_size
        _, height, width, channels = input_shape
        return (input_shape[0], (height // p) * (width // p), p * p * channels)

    def get_config(self) -> dict:
        return {**super().get_config(), "patch_size": self.patch_size}


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class ShiftedCopies(layers.Layer):
    """Stack an image with four copies shifted diagonally by ``shift`` pixels, as channels.

    This is the first step of *shifted patch tokenization* (Lee et al. 2021, "Vision
    Transformer for Small-Size Datasets"): cut into patches afterwards, every patch also
    holds the pixels just beyond its borders, so each token sees a little of its
    neighbours. ``(batch, H, W, C)`` becomes ``(batch, H, W, 5 * C)``; pixels shifted in
    from outside the image are zero.
    """

    def __init__(self, shift: int, **kwargs):
        super().__init__(**kwargs)
        self.shift = int(shift)

    def call(self, images):
        s = self.shift
        height, width = images.shape[1], images.shape[2]
        padded = ops.pad(images, ((0, 0), (s, s), (s, s), (0, 0)))
        copies = [images]
        for top in (0, 2 * s):
            for left in (0, 2 * s):
                copies.append(padded[:, top : top + height, left : left + width, :])
        return ops.concatenate(copies, axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:3], input_shape[3] * 5)

    def get_config(self) -> dict:
        return {**super().get_config(), "shift": self.shift}


def patch_embedding(
    images: keras.KerasTensor, patch_size: int, dim: int, shifted_patches: bool = False
) -> keras.KerasTensor:
    """Return the tokens of a ViT: the image cut into patches, each projected to ``dim``.

    Args:
        images: ``(batch, H, W, C)``; ``H`` and ``W`` divisible by ``patch_size``.
        patch_size: side of the square patches in pixels.
        dim: width of every token.
        shifted_patches: stack four copies shifted by half a patch first
            (:class:`ShiftedCopies`), so that every token also sees its neighbours' edges.

    Returns:
        ``(batch, (H / patch_size) * (W / patch_size), dim)`` tokens, from the layers
        ``shifted_copies`` (with ``shifted_patches``), ``patches`` and ``patch_embedding``.
    """
    x = images
    if shifted_patches:
        x = ShiftedCopies(max(1, patch_size // 2), name="shifted_copies")(x)
    x = PatchExtraction(patch_size, name="patches")(x)
    return layers.Dense(dim, name="patch_embedding")(x)


def feature_map_tokens(features: keras.KerasTensor, dim: int) -> keras.KerasTensor:
    """Return a feature map read as tokens: every position projected to ``dim`` (a 1 × 1 conv).

    This is the ViT's patch embedding with patches of one position of a convolutional
    feature map (the "hybrid" of Dosovitskiy et al. 2021).

    Args:
        features: a ``(batch, h, w, channels)`` feature map.
        dim: width of every token.

    Returns:
        ``(batch, h * w, dim)`` tokens in reading order, from the layers ``embed`` and
        ``tokens``.
    """
    x = layers.Conv2D(dim, 1, name="embed")(features)
    grid_h, grid_w = int(x.shape[1]), int(x.shape[2])
    return layers.Reshape((grid_h * grid_w, dim), name="tokens")(x)


# --------------------------------------------------------------------------------------
# Class token and positions
# --------------------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class ClassToken(layers.Layer):
    """Prepend one learned token (the "class token") to every sequence of patch embeddings."""

    def build(self, input_shape):
        self.token = self.add_weight(
            name="token",
            shape=(1, 1, input_shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=EMBEDDING_STDDEV),
        )

    def call(self, tokens):
        batch = ops.shape(tokens)[0]
        token = ops.broadcast_to(ops.cast(self.token, tokens.dtype), (batch, 1, tokens.shape[-1]))
        return ops.concatenate([token, tokens], axis=1)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + 1
        return (input_shape[0], length, input_shape[2])


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class PositionEmbedding(layers.Layer):
    """Add a learned vector per position, so the model knows where each token came from.

    Args:
        initializer: how the position vectors start; default a truncated normal with
            standard deviation 0.02 (as in ViT). Any Keras initializer or its name.
    """

    def __init__(self, initializer=None, **kwargs):
        super().__init__(**kwargs)
        if initializer is None:
            initializer = keras.initializers.TruncatedNormal(stddev=EMBEDDING_STDDEV)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.positions = self.add_weight(
            name="positions",
            shape=(1, int(input_shape[1]), int(input_shape[2])),
            initializer=self.initializer,
        )

    def call(self, tokens):
        return tokens + ops.cast(self.positions, tokens.dtype)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "initializer": keras.initializers.serialize(self.initializer),
        }


@keras.saving.register_keras_serializable(package="pneumo_helpers")
class TakeClassToken(layers.Layer):
    """Return the first token of each sequence (the class token) as the image's summary."""

    def call(self, tokens):
        return tokens[:, 0, :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])


# --------------------------------------------------------------------------------------
# The encoder block
# --------------------------------------------------------------------------------------


def transformer_encoder_block(
    tokens: keras.KerasTensor,
    num_heads: int,
    mlp_dim: int,
    dropout: float = 0.1,
    name: str = "encoder",
    *,
    attention_dropout: float = 0.0,
    residual_dropout: float = 0.0,
) -> keras.KerasTensor:
    """Return tokens after one pre-norm transformer encoder block (Vaswani et al. 2017).

    Layer norm → multi-head self-attention → residual add, then layer norm → two-layer
    GELU MLP → residual add. Every token can attend to every other token, so the block
    relates distant regions of the X-ray in one step.

    Args:
        tokens: ``(batch, n_tokens, dim)``, ``dim`` divisible by ``num_heads``.
        num_heads: attention heads, each of ``dim // num_heads`` features.
        mlp_dim: hidden width of the MLP.
        dropout: dropout on the MLP's hidden layer.
        name: prefix of the layer names (``{name}_attention`` returns its scores too).
        attention_dropout: dropout on the attention weights.
        residual_dropout: dropout on each branch before its residual add (as in ViT);
            0 adds no layer.

    Returns:
        Tokens of the same shape as ``tokens``.
    """
    dim = int(tokens.shape[-1])
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")(tokens)
    x, _scores = layers.MultiHeadAttention(
        num_heads=num_heads,
        key_dim=dim // num_heads,
        dropout=attention_dropout,
        name=f"{name}_attention",
    )(x, x, return_attention_scores=True)
    x = _branch_dropout(x, residual_dropout, f"{name}_dropout1")
    tokens = layers.Add(name=f"{name}_add1")([tokens, x])
    x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(tokens)
    x = layers.Dense(mlp_dim, activation="gelu", name=f"{name}_mlp1")(x)
    x = layers.Dropout(dropout, name=f"{name}_dropout2")(x)
    x = layers.Dense(dim, name=f"{name}_mlp2")(x)
    x = _branch_dropout(x, residual_dropout, f"{name}_dropout3")
    return layers.Add(name=f"{name}_add2")([tokens, x])


def _branch_dropout(x: keras.KerasTensor, rate: float, name: str) -> keras.KerasTensor:
    """Return ``x`` through a Dropout layer named ``name`` when ``rate`` is above 0, else ``x``."""
    return layers.Dropout(rate, name=name)(x) if rate > 0 else x
