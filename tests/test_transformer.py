"""Unit tests of the transformer parts, and checks that each of them is defined only once.

The Vision Transformer and the CNN–transformer hybrid share :mod:`pneumo_helpers.transformer`.
Before it existed, ``PositionEmbedding`` was defined twice under one Keras registration name
(the second silently replaced the first) and the encoder block was written twice; the scans
below fail if a copy comes back.
"""

import ast
import inspect
from pathlib import Path

import keras
import numpy as np
import pytest

from pneumo_helpers import backbones, baseline, hybrids, models, transformer, vit

PACKAGE = Path(transformer.__file__).resolve().parent


def _trees() -> dict[str, ast.Module]:
    return {path.name: ast.parse(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))}


def _registered_classes() -> list[tuple[str, str]]:
    """Return ``(module file, class name)`` for every class registered with Keras."""
    found = []
    for module, tree in _trees().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                "register_keras_serializable" in ast.unparse(d) for d in node.decorator_list
            ):
                found.append((module, node.name))
    return found


def _tokens(n: int, length: int, dim: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, length, dim), dtype="float32")


# --------------------------------------------------------------------------------------
# Each idea once
# --------------------------------------------------------------------------------------


def test_every_registered_layer_is_defined_once_so_no_registration_replaces_another():
    registered = _registered_classes()
    names = [name for _, name in registered]
    repeated = sorted({name for name in names if names.count(name) > 1})
    assert not repeated, f"defined more than once under one Keras name: {repeated} {registered}"
    assert ("transformer.py", "PositionEmbedding") in registered


@pytest.mark.parametrize(
    "name",
    ["PatchExtraction", "ShiftedCopies", "ClassToken", "PositionEmbedding", "TakeClassToken"],
)
def test_the_transformer_layers_live_in_the_transformer_module(name):
    assert dict((n, m) for m, n in _registered_classes())[name] == "transformer.py"
    cls = getattr(transformer, name)
    assert keras.saving.get_registered_object(f"pneumo_helpers>{name}") is cls
    assert getattr(vit, name) is cls  # chapter 5 shows vit.PatchExtraction and friends


def test_attention_and_encoder_blocks_are_written_only_in_the_transformer_module():
    writers = {
        module
        for module, tree in _trees().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "MultiHeadAttention"
    }
    assert writers == {"transformer.py"}
    definitions = [
        (module, node.name)
        for module, tree in _trees().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and "encoder_block" in node.name
    ]
    # (chapter 13's convolutional SimCLR encoder, self_supervised.build_encoder, is no
    # transformer block: it writes no attention, which the first assertion checks)
    assert definitions == [("transformer.py", "transformer_encoder_block")]


def test_the_vit_and_the_hybrid_build_their_blocks_with_the_shared_encoder_block(monkeypatch):
    assert vit.transformer_encoder_block is transformer.transformer_encoder_block
    assert hybrids.transformer_encoder_block is transformer.transformer_encoder_block
    assert models.transformer_encoder_block is transformer.transformer_encoder_block
    calls = []

    def counting(*args, **kwargs):
        calls.append(args[4] if len(args) > 4 else kwargs["name"])
        return transformer.transformer_encoder_block(*args, **kwargs)

    monkeypatch.setattr(vit, "transformer_encoder_block", counting)
    monkeypatch.setattr(hybrids, "transformer_encoder_block", counting)
    vit.build_vit((8, 8, 1), patch_size=4, dim=8, depth=2, heads=2, mlp_dim=8)
    models.build_cnn_transformer_hybrid((8, 8, 1), stem_filters=(4,), embed_dim=8, num_heads=2)
    assert calls == ["block1", "block2", "encoder1", "encoder2"]


def test_the_vit_and_the_hybrid_blocks_have_the_same_layers():
    def block_layers(model, prefix):
        return [
            (layer.name.removeprefix(prefix), type(layer).__name__)
            for layer in model.layers
            if layer.name.startswith(prefix)
        ]

    vit_model = vit.build_vit((8, 8, 1), patch_size=4, dim=8, depth=1, heads=2, mlp_dim=8)
    hybrid = models.build_cnn_transformer_hybrid(
        (8, 8, 1), stem_filters=(4,), embed_dim=8, num_heads=2, num_layers=1
    )
    in_vit, in_hybrid = block_layers(vit_model, "block1_"), block_layers(hybrid, "encoder1_")
    # The ViT adds dropout on each branch (Vaswani et al., ViT); otherwise the same layers.
    assert [x for x in in_vit if x[0] not in ("dropout1", "dropout3")] == in_hybrid
    assert ("dropout1", "Dropout") in in_vit and ("dropout3", "Dropout") in in_vit


@pytest.mark.parametrize(
    "name",
    [
        "ModelConfigError",
        "default_metrics",
        "compile_binary",
        "build_baseline_cnn",
        "WEIGHTS_ENV",
        "WeightsUnavailableWarning",
        "Backbone",
        "BACKBONES",
        "WeightsInfo",
        "requested_weights",
        "load_backbone",
        "weights_info",
        "GreyToRGB",
        "BackbonePreprocess",
        "backbone_inputs",
        "classification_head",
        "build_vgg16_transfer",
        "build_resnet50_hybrid",
        "set_batchnorm_momentum",
        "unfreeze",
        "PositionEmbedding",
        "transformer_encoder_block",
        "build_cnn_transformer_hybrid",
    ],
)
def test_every_name_models_had_before_the_split_is_still_importable_from_models(name):
    assert hasattr(models, name)
    assert name in models.__all__


@pytest.mark.parametrize(
    "name",
    [
        "build_baseline_cnn",  # chapter 2
        "backbone_inputs",  # chapter 3
        "BackbonePreprocess",
        "unfreeze",
        "transformer_encoder_block",  # chapter 4
    ],
)
def test_chapters_can_list_the_real_source_of_what_they_show(name):
    source = inspect.getsource(getattr(models, name))
    assert f"{name}(" in source.splitlines()[0] or f"class {name}" in source


def test_the_model_modules_each_fit_one_sitting():
    for module in (models, baseline, backbones, hybrids, transformer, vit):
        lines = len(Path(module.__file__).read_text().splitlines())
        assert lines <= 520, f"{module.__name__} has {lines} lines: split it by idea"


# --------------------------------------------------------------------------------------
# The pieces: shapes and parameter counts
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("shifted", "channels_per_patch"), [(False, 16), (True, 80)])
def test_patch_embedding_makes_one_token_per_patch(shifted, channels_per_patch):
    images = keras.Input((8, 8, 1))
    tokens = transformer.patch_embedding(images, patch_size=4, dim=6, shifted_patches=shifted)
    model = keras.Model(images, tokens)
    assert tokens.shape == (None, 4, 6)
    assert model.get_layer("patches").output.shape == (None, 4, channels_per_patch)
    assert ("shifted_copies" in [layer.name for layer in model.layers]) == shifted
    assert model.count_params() == (channels_per_patch + 1) * 6  # one Dense: kernel and bias


def test_feature_map_tokens_reads_every_position_as_a_token():
    features = keras.Input((3, 5, 7))
    tokens = transformer.feature_map_tokens(features, dim=4)
    model = keras.Model(features, tokens)
    assert tokens.shape == (None, 15, 4)
    assert model.count_params() == (7 + 1) * 4  # the 1 × 1 convolution
    x = np.random.default_rng(0).random((2, 3, 5, 7), dtype="float32")
    embed = keras.Model(features, model.get_layer("embed").output).predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0)[:, 6], embed[:, 1, 1], rtol=1e-6)


def test_position_embedding_adds_one_learned_vector_per_position():
    layer = transformer.PositionEmbedding()
    tokens = _tokens(2, 5, 3)
    out = keras.ops.convert_to_numpy(layer(tokens))
    positions = keras.ops.convert_to_numpy(layer.positions)
    assert positions.shape == (1, 5, 3) and layer.count_params() == 15
    np.testing.assert_allclose(out, tokens + positions, rtol=1e-6)
    assert np.abs(positions).max() <= 2 * transformer.EMBEDDING_STDDEV  # truncated normal


def test_position_embedding_takes_its_initializer_by_name():
    layer = transformer.PositionEmbedding("ones")
    layer(_tokens(1, 4, 2))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(layer.positions), 1.0)
    rebuilt = transformer.PositionEmbedding.from_config(layer.get_config())
    assert isinstance(rebuilt.initializer, keras.initializers.Ones)


def test_class_token_and_take_class_token_are_inverse_ends():
    tokens = _tokens(2, 4, 3)
    with_class = transformer.ClassToken()(tokens)
    assert with_class.shape == (2, 5, 3)
    first = keras.ops.convert_to_numpy(transformer.TakeClassToken()(with_class))
    np.testing.assert_allclose(first, keras.ops.convert_to_numpy(with_class)[:, 0])


def _block_params(dim: int, mlp_dim: int) -> int:
    norms = 2 * 2 * dim  # two LayerNorms: scale and offset
    attention = 4 * (dim * dim + dim)  # query, key, value and output projections
    mlp = (dim * mlp_dim + mlp_dim) + (mlp_dim * dim + dim)
    return norms + attention + mlp


@pytest.mark.parametrize(("dim", "heads", "mlp_dim"), [(8, 2, 16), (12, 3, 5), (64, 4, 128)])
def test_encoder_block_keeps_the_shape_and_has_the_textbook_parameter_count(dim, heads, mlp_dim):
    tokens = keras.Input((7, dim))
    out = transformer.transformer_encoder_block(tokens, heads, mlp_dim, name="b")
    model = keras.Model(tokens, out)
    assert out.shape == (None, 7, dim)
    assert model.count_params() == _block_params(dim, mlp_dim)


def test_encoder_block_names_its_layers_and_drops_out_branches_only_when_asked():
    tokens = keras.Input((5, 8))
    plain = keras.Model(tokens, transformer.transformer_encoder_block(tokens, 2, 16, name="b"))
    names = [layer.name for layer in plain.layers[1:]]
    assert names == ["b_norm1", "b_attention", "b_add1", "b_norm2"] + [
        "b_mlp1",
        "b_dropout2",
        "b_mlp2",
        "b_add2",
    ]
    block = transformer.transformer_encoder_block(
        tokens, 2, 16, 0.1, "c", attention_dropout=0.2, residual_dropout=0.3
    )
    with_dropout = keras.Model(tokens, block)
    assert with_dropout.get_layer("c_attention").dropout == 0.2
    assert with_dropout.get_layer("c_dropout1").rate == 0.3
    assert with_dropout.get_layer("c_dropout2").rate == 0.1
    assert with_dropout.get_layer("c_dropout3").rate == 0.3


def test_encoder_block_attention_is_readable_and_sums_to_one():
    tokens = keras.Input((5, 8))
    out = transformer.transformer_encoder_block(tokens, 2, 16, name="b")
    model = keras.Model(tokens, out)
    reader = keras.Model(tokens, model.get_layer("b_attention").output[1])
    scores = reader.predict(_tokens(3, 5, 8), verbose=0)
    assert scores.shape == (3, 2, 5, 5)
    np.testing.assert_allclose(scores.sum(axis=-1), 1.0, rtol=1e-5)


def test_a_model_of_the_registered_layers_survives_saving_and_loading(tmp_path):
    keras.utils.set_random_seed(0)
    images = keras.Input((8, 8, 1))
    x = transformer.patch_embedding(images, patch_size=4, dim=8, shifted_patches=True)
    x = transformer.ClassToken(name="class_token")(x)
    x = transformer.PositionEmbedding(keras.initializers.RandomNormal(stddev=0.5))(x)
    x = transformer.transformer_encoder_block(x, 2, 16, name="b", residual_dropout=0.1)
    x = transformer.TakeClassToken()(x)
    model = keras.Model(images, keras.layers.Dense(1)(x))
    path = tmp_path / "tokens.keras"
    model.save(path)
    again = keras.models.load_model(path)
    batch = np.random.default_rng(1).random((3, 8, 8, 1), dtype="float32")
    np.testing.assert_allclose(again.predict(batch, verbose=0), model.predict(batch, verbose=0))
    position = next(
        layer for layer in again.layers if isinstance(layer, transformer.PositionEmbedding)
    )
    assert isinstance(position.initializer, keras.initializers.RandomNormal)
    assert position.initializer.stddev == 0.5


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_a_saved_cnn_transformer_hybrid_loads_with_the_shared_layers(tmp_path):
    model = models.build_cnn_transformer_hybrid(
        (8, 8, 1), stem_filters=(4,), embed_dim=8, num_heads=2, num_layers=1
    )
    path = tmp_path / "hybrid.keras"
    model.save(path)
    again = keras.models.load_model(path)
    assert type(again.get_layer("position_embedding")) is transformer.PositionEmbedding
    batch = np.random.default_rng(2).random((2, 8, 8, 1), dtype="float32")
    np.testing.assert_allclose(
        again.predict(batch, verbose=0), model.predict(batch, verbose=0), rtol=1e-5
    )
