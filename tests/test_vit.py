"""Unit tests of the Vision Transformer builder, its attention read-out and attention rollout."""

import keras
import numpy as np
import pytest

from pneumo_helpers import models, vit

TINY = {"input_shape": (8, 8, 1), "patch_size": 4, "dim": 8, "depth": 2, "heads": 2, "mlp_dim": 16}


def _images(n: int = 3, size: int = 8, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, size, size, 1), dtype="float32")


@pytest.fixture(scope="module")
def cls_model():
    keras.utils.set_random_seed(0)
    return vit.build_vit(**TINY, pooling="cls")


@pytest.fixture(scope="module")
def mean_model():
    keras.utils.set_random_seed(0)
    return vit.build_vit(**TINY, pooling="mean")


# --------------------------------------------------------------------------------------
# The layers and the builder
# --------------------------------------------------------------------------------------


def test_patch_extraction_cuts_patches_in_reading_order():
    image = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    patches = keras.ops.convert_to_numpy(vit.PatchExtraction(2)(image))
    assert patches.shape == (1, 4, 4)
    # The top-left 2×2 patch first, then top-right, bottom-left, bottom-right.
    np.testing.assert_array_equal(patches[0, 0], [0, 1, 4, 5])
    np.testing.assert_array_equal(patches[0, 1], [2, 3, 6, 7])
    np.testing.assert_array_equal(patches[0, 3], [10, 11, 14, 15])


def test_shifted_copies_stack_the_image_with_four_diagonal_shifts():
    image = np.arange(1, 17, dtype="float32").reshape(1, 4, 4, 1)
    stacked = keras.ops.convert_to_numpy(vit.ShiftedCopies(1)(image))
    assert stacked.shape == (1, 4, 4, 5)
    np.testing.assert_array_equal(stacked[0, :, :, 0], image[0, :, :, 0])
    np.testing.assert_array_equal(stacked[0, 1:, 1:, 1], image[0, :-1, :-1, 0])  # moved down-right
    np.testing.assert_array_equal(stacked[0, 0, :, 1], 0)  # shifted in from outside: zero
    np.testing.assert_array_equal(stacked[0, :-1, :-1, 4], image[0, 1:, 1:, 0])  # moved up-left


def test_shifted_patches_keep_the_tokens_and_the_rollout():
    model = vit.build_vit(**TINY, shifted_patches=True)
    assert model.get_layer("patches").output.shape == (None, 4, 4 * 4 * 5)
    assert vit.attention_scores(model, _images(2))[0].shape == (2, 2, 5, 5)
    assert vit.attention_rollout(model, _images(2)).shape == (2, 8, 8)


def test_class_token_prepends_one_learned_token():
    tokens = np.zeros((2, 5, 3), dtype="float32")
    layer = vit.ClassToken()
    out = keras.ops.convert_to_numpy(layer(tokens))
    assert out.shape == (2, 6, 3)
    np.testing.assert_allclose(out[0, 0], keras.ops.convert_to_numpy(layer.token)[0, 0])
    np.testing.assert_array_equal(out[:, 1:], 0)


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_vit_scores_are_probabilities_and_layers_are_named(pooling, cls_model, mean_model):
    model = cls_model if pooling == "cls" else mean_model
    scores = model.predict(_images(), verbose=0)
    assert scores.shape == (3, 1)
    assert ((scores >= 0) & (scores <= 1)).all()
    names = {layer.name for layer in model.layers}
    assert {"patches", "patch_embedding", "position_embedding", "final_norm", "pneumonia"} <= names
    assert ("class_token" in names) == (pooling == "cls")
    assert ("mean_pool" in names) == (pooling == "mean")
    assert vit.attention_layer_names(model) == ["block1_attention", "block2_attention"]
    assert model.get_layer("position_embedding").positions.shape == (
        1,
        4 + (pooling == "cls"),
        8,
    )
    assert model.optimizer is not None and model.loss is not None  # compiled like the others


def test_cls_and_mean_pooling_differ_only_by_the_class_token(cls_model, mean_model):
    # The token itself, and the position embedding of its extra position.
    assert cls_model.count_params() - mean_model.count_params() == 2 * TINY["dim"]


@pytest.mark.filterwarnings("ignore:Skipping variable loading for optimizer")
def test_vit_can_be_saved_and_loaded(cls_model, tmp_path):
    path = tmp_path / "vit.keras"
    cls_model.save(path)
    loaded = keras.models.load_model(path)
    images = _images()
    np.testing.assert_allclose(
        loaded.predict(images, verbose=0), cls_model.predict(images, verbose=0), rtol=1e-5
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (30, 30, 1), "patch_size": 4}, "not divisible by patch_size"),
        ({"input_shape": (28, 28)}, "height, width, channels"),
        ({"patch_size": 0}, "patch_size"),
        ({"dim": 10, "heads": 4}, "not divisible by heads"),
        ({"depth": 0}, "depth"),
        ({"mlp_dim": -1}, "mlp_dim"),
        ({"dropout": 1.0}, "dropout"),
        ({"pooling": "max"}, "pooling"),
    ],
)
def test_vit_rejects_bad_arguments(kwargs, message):
    with pytest.raises(vit.ViTConfigError, match=message):
        vit.build_vit(**{**TINY, **kwargs})


def test_vit_errors_are_model_config_and_value_errors():
    assert issubclass(vit.ViTConfigError, models.ModelConfigError)
    assert issubclass(vit.ViTConfigError, ValueError)


# --------------------------------------------------------------------------------------
# Attention read-out
# --------------------------------------------------------------------------------------


def test_attention_scores_of_every_block_are_distributions(cls_model):
    scores = vit.attention_scores(cls_model, _images())
    assert len(scores) == 2
    for block in scores:
        assert block.shape == (3, 2, 5, 5)  # images, heads, tokens (4 patches + class), tokens
        np.testing.assert_allclose(block.sum(axis=-1), 1.0, atol=1e-5)
        assert (block >= 0).all()


def test_attention_scores_of_one_block_and_uint8_images(mean_model):
    images = (np.random.default_rng(1).random((2, 8, 8)) * 255).astype(np.uint8)
    (block2,) = vit.attention_scores(mean_model, images, blocks=[2])
    (again,) = vit.attention_scores(mean_model, images[..., None] / 255.0, blocks=[2])
    assert block2.shape == (2, 2, 4, 4)
    np.testing.assert_allclose(block2, again, atol=1e-5)
    with pytest.raises(vit.ViTConfigError, match="blocks 1 to 2"):
        vit.attention_scores(mean_model, images, blocks=[3])
    with pytest.raises(vit.ViTConfigError, match="model expects"):
        vit.attention_scores(mean_model, np.zeros((2, 9, 9, 1), "float32"))


def test_attention_helpers_reject_models_that_are_not_vits():
    cnn = models.build_baseline_cnn((8, 8, 1), filters=(4,), dense_units=4)
    with pytest.raises(vit.ViTConfigError, match="build_vit"):
        vit.attention_rollout(cnn, _images())


# --------------------------------------------------------------------------------------
# Attention rollout
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_rollout_maps_have_input_resolution_and_lie_in_0_1(pooling, cls_model, mean_model):
    model = cls_model if pooling == "cls" else mean_model
    maps = vit.attention_rollout(model, _images(4))
    assert maps.shape == (4, 8, 8)
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0)
    # One value per 4×4 patch: the model sees patches, not pixels.
    for row in (0, 4):
        for col in (0, 4):
            patch = maps[:, row : row + 4, col : col + 4]
            assert np.ptp(patch, axis=(1, 2)).max() == 0.0


def test_rollout_rows_sum_to_one():
    rng = np.random.default_rng(0)
    attentions = [rng.random((2, 3, 5, 5)) for _ in range(3)]
    attentions = [a / a.sum(axis=-1, keepdims=True) for a in attentions]
    rollout = vit.rollout_from_attention(attentions)
    assert rollout.shape == (2, 5, 5)
    np.testing.assert_allclose(rollout.sum(axis=-1), 1.0)


def test_rollout_of_one_block_mixes_attention_and_identity_by_hand():
    attention = np.array([[[0.0, 1.0], [1.0, 0.0]]])  # each token looks only at the other
    rollout = vit.rollout_from_attention([attention], residual=0.5)
    np.testing.assert_allclose(rollout[0], [[0.5, 0.5], [0.5, 0.5]])
    two = vit.rollout_from_attention([attention, attention], residual=0.0)
    np.testing.assert_allclose(two[0], np.eye(2))  # swapping twice returns every token home


def test_identity_attention_gives_a_uniform_map_with_mean_pooling():
    identity = np.broadcast_to(np.eye(9), (2, 4, 9, 9))
    rollout = vit.rollout_from_attention([identity, identity])
    np.testing.assert_allclose(rollout, np.broadcast_to(np.eye(9), (2, 9, 9)))
    maps = vit.rollout_to_maps(rollout, grid=(3, 3), class_token=False, patch_size=2)
    assert maps.shape == (2, 6, 6)
    np.testing.assert_allclose(maps, 1.0)


def test_uniform_attention_gives_a_uniform_map_with_a_class_token():
    uniform = np.full((1, 2, 5, 5), 1 / 5)
    maps = vit.rollout_to_maps(vit.rollout_from_attention([uniform]), (2, 2), class_token=True)
    np.testing.assert_allclose(maps, 1.0)


def test_a_class_token_that_looks_at_one_patch_lights_up_that_patch():
    attention = np.full((1, 5, 5), 1 / 5)
    attention[0, 0] = [0, 0, 0, 1, 0]  # the class token attends only to patch 3 (bottom-left)
    maps = vit.rollout_to_maps(vit.rollout_from_attention([attention]), (2, 2), class_token=True)
    np.testing.assert_allclose(maps[0], [[0, 0], [1, 0]])
    zero = vit.rollout_to_maps(np.eye(5)[None], (2, 2), class_token=True)
    np.testing.assert_array_equal(zero, 0.0)  # the class token attends only to itself


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: vit.rollout_from_attention([]), "empty"),
        (lambda: vit.rollout_from_attention([np.eye(3)[None]], residual=1.5), "residual"),
        (lambda: vit.rollout_from_attention([np.eye(3)[None]], head_fusion="sum"), "head_fusion"),
        (lambda: vit.rollout_from_attention([np.ones((1, 3, 4))]), "shape"),
        (lambda: vit.rollout_from_attention([np.eye(3)[None], np.eye(4)[None]]), "does not match"),
        (lambda: vit.rollout_to_maps(np.eye(5)[None], (3, 3), class_token=True), "patch grid"),
    ],
)
def test_rollout_rejects_bad_arguments(call, message):
    with pytest.raises(vit.ViTConfigError, match=message):
        call()


# --------------------------------------------------------------------------------------
# Schedule and the pretrained ViT (KerasHub; the full profile only)
# --------------------------------------------------------------------------------------


def test_warmup_cosine_schedule_rises_then_decays():
    schedule = vit.warmup_cosine_schedule(1e-3, total_steps=100, warmup_steps=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 55, 100)]
    assert rates[0] == pytest.approx(0.0)
    assert rates[1] == pytest.approx(5e-4)
    assert rates[2] == pytest.approx(1e-3)
    assert rates[2] > rates[3] > rates[4] == pytest.approx(1e-5)
    with pytest.raises(vit.ViTConfigError, match="warmup_steps"):
        vit.warmup_cosine_schedule(1e-3, total_steps=10, warmup_steps=10)


def test_pretrained_vit_without_keras_hub_says_what_to_do(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "keras_hub", None)  # import fails
    with pytest.raises(vit.PretrainedUnavailableError, match="pip install keras-hub"):
        vit.build_pretrained_vit((28, 28, 1))


def test_pretrained_vit_wraps_a_backbone_that_returns_tokens():
    # A stand-in with a KerasHub ViTBackbone's interface: (32, 32, 3) images in,
    # a (tokens, dim) sequence out whose first token is the class token.
    import keras

    image = keras.Input((32, 32, 3))
    patches = keras.layers.Conv2D(8, 16, strides=16)(image)
    tokens = keras.layers.Reshape((4, 8))(patches)
    backbone = keras.Model(image, tokens, name="stand_in_backbone")
    model = vit.build_pretrained_vit((28, 28, 1), backbone=backbone)
    assert model.get_layer("resize").output.shape[1:3] == (32, 32)
    assert model.get_layer("grey_to_rgb").output.shape[-1] == 3
    scores = model.predict(_images(2, size=28), verbose=0)
    assert scores.shape == (2, 1) and ((scores >= 0) & (scores <= 1)).all()
