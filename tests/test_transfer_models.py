"""Unit tests of the transfer-learning builders, fine-tuning and the CNN-transformer hybrid.

Tiny inputs and no network: backbones are built with ``weights=None``, and the ImageNet
download is replaced by a stand-in that fails as an offline download does (or succeeds,
returning random weights) so that both roads are tested here.
"""

import warnings

import keras
import numpy as np
import pytest

from pneumo_helpers import backbones, models

REAL_VGG16 = keras.applications.VGG16
OFFLINE_MESSAGE = "URL fetch failure on https://storage.googleapis.com/...: None -- offline"


@pytest.fixture(autouse=True)
def no_forced_weights(monkeypatch):
    """Each test starts without PNEUMO_WEIGHTS and with the warn-once memory empty."""
    monkeypatch.delenv(models.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(backbones, "_WARNED", set())


def images(n: int, size: int, channels: int = 1) -> np.ndarray:
    return np.random.default_rng(0).random((n, size, size, channels), dtype="float32")


def fake_vgg16(monkeypatch, *, download: str) -> list:
    """Replace keras.applications.VGG16; ``download`` is "fails" or "works". Returns the calls."""
    calls = []

    def constructor(*, include_top, weights, input_shape):
        calls.append(weights)
        if weights == "imagenet" and download == "fails":
            raise Exception(OFFLINE_MESSAGE)  # what keras.utils.get_file raises offline
        return REAL_VGG16(include_top=include_top, weights=None, input_shape=input_shape)

    monkeypatch.setattr(keras.applications, "VGG16", constructor)
    return calls


# ------------------------------------------------------------------ shapes and channels


def test_vgg16_transfer_resizes_grey_28px_images_to_three_channels_of_32px():
    model = models.build_vgg16_transfer((28, 28, 1), weights=None)
    assert model.name == "vgg16_transfer"
    assert model.get_layer("resize").output.shape == (None, 32, 32, 1)
    assert model.get_layer("grey_to_rgb").output.shape == (None, 32, 32, 3)
    assert model.get_layer("vgg16").output.shape == (None, 1, 1, 512)
    scores = model.predict(images(3, 28), verbose=0)
    assert scores.shape == (3, 1) and ((scores >= 0) & (scores <= 1)).all()


def test_rgb_input_at_the_minimum_size_is_neither_resized_nor_repeated():
    model = models.build_vgg16_transfer((32, 32, 3), weights=None, dense_units=None)
    names = {layer.name for layer in model.layers}
    assert "resize" not in names and "grey_to_rgb" not in names
    assert "preprocess" in names


def test_resize_to_chooses_the_backbone_input_size():
    inputs, x, shape = models.backbone_inputs((28, 28, 1), "resnet50", resize_to=48)
    assert shape == (48, 48, 3) and tuple(x.shape) == (None, 48, 48, 3)
    with pytest.raises(models.ModelConfigError, match="minimum of 32 px"):
        models.backbone_inputs((28, 28, 1), "vgg16", resize_to=16)


def test_grey_to_rgb_repeats_the_grey_channel():
    grey = images(2, 4)
    rgb = keras.ops.convert_to_numpy(models.GreyToRGB()(grey))
    assert rgb.shape == (2, 4, 4, 3)
    for channel in range(3):
        np.testing.assert_array_equal(rgb[..., channel], grey[..., 0])


@pytest.mark.parametrize("backbone", ["vgg16", "resnet50"])
def test_each_backbone_gets_its_own_preprocess_input_on_0_255_pixels(backbone):
    rgb = images(2, 4, channels=3)  # the course pipeline gives [0, 1]
    ours = keras.ops.convert_to_numpy(models.BackbonePreprocess(backbone)(rgb))
    module = getattr(keras.applications, backbone)
    expected = keras.ops.convert_to_numpy(module.preprocess_input(rgb * 255.0))
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-4)
    red = np.zeros((1, 1, 1, 3), "float32")
    red[..., 0] = 1.0
    out = keras.ops.convert_to_numpy(models.BackbonePreprocess(backbone)(red))[0, 0, 0]
    # "caffe" mode: RGB becomes BGR and the ImageNet mean pixel (B, G, R) is subtracted.
    np.testing.assert_allclose(out, [-103.939, -116.779, 255.0 - 123.68], atol=1e-3)


# ------------------------------------------------------------------ the head


def head_model(pooling: str, dense_units, dropout: float = 0.5) -> keras.Model:
    features = keras.Input((2, 2, 8))
    return keras.Model(
        features, models.classification_head(features, pooling, dense_units, dropout)
    )


def test_flatten_head_sees_every_position_and_global_pooling_one_number_per_channel():
    flatten, average = head_model("flatten", 16), head_model("avg", 16)
    assert flatten.get_layer("flatten").output.shape == (None, 2 * 2 * 8)
    assert average.get_layer("global_pool").output.shape == (None, 8)
    assert flatten.count_params() - average.count_params() == (2 * 2 - 1) * 8 * 16
    assert isinstance(head_model("max", 16).get_layer("global_pool"), keras.layers.GlobalMaxPool2D)


def test_head_without_dense_layer_or_dropout():
    model = head_model("avg", None, dropout=0.0)
    names = {layer.name for layer in model.layers}
    assert "head_dense" not in names and "head_dropout" not in names
    assert model.count_params() == 8 + 1


def test_resnet50_hybrid_flatten_head_on_a_2x2x2048_map():
    model = models.build_resnet50_hybrid((64, 64, 1), weights=None, pooling="flatten")
    assert model.get_layer("resnet50").output.shape == (None, 2, 2, 2048)
    assert model.get_layer("flatten").output.shape == (None, 4 * 2048)
    assert model.get_layer("head_dense").count_params() == 4 * 2048 * 256 + 256


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (28, 28)}, "height, width, channels"),
        ({"input_shape": (28, 28, 2)}, "1 \\(grey\\) or 3"),
        ({"pooling": "sum"}, "pooling"),
        ({"dropout": 1.0}, "dropout"),
        ({"dense_units": -1}, "dense_units"),
        ({"weights": "/no/such/weights.h5"}, "neither 'imagenet'"),
    ],
)
def test_transfer_builders_reject_bad_arguments(kwargs, message):
    with pytest.raises(models.ModelConfigError, match=message):
        models.build_vgg16_transfer(**{"weights": None, **kwargs})
    assert issubclass(models.ModelConfigError, ValueError)


# ------------------------------------------------------------------ weights and fallback


def test_offline_download_falls_back_to_random_weights_and_warns_once(monkeypatch):
    calls = fake_vgg16(monkeypatch, download="fails")
    with pytest.warns(models.WeightsUnavailableWarning, match="RANDOM INITIALISATION"):
        model = models.build_vgg16_transfer((28, 28, 1), weights="imagenet")
    info = models.weights_info(model)
    assert (info.requested, info.loaded, info.pretrained) == ("imagenet", "random", False)
    assert "RANDOM" in info.describe() and "offline" in info.describe()
    assert calls == ["imagenet", None]
    assert model.get_layer("vgg16").trainable  # random weights train from scratch
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second fallback stays quiet
        again = models.build_vgg16_transfer((28, 28, 1), weights="imagenet")
    assert not models.weights_info(again).pretrained


def test_downloaded_weights_are_recorded_and_the_backbone_frozen(monkeypatch):
    fake_vgg16(monkeypatch, download="works")
    model = models.build_vgg16_transfer((28, 28, 1), weights="imagenet")
    info = models.weights_info(model)
    assert info.loaded == "imagenet" and info.pretrained
    assert "ImageNet" in info.describe()
    assert not model.get_layer("vgg16").trainable  # feature extraction first
    assert len(model.trainable_weights) == 4  # the head's two dense layers


def test_pneumo_weights_none_skips_the_download(monkeypatch):
    calls = fake_vgg16(monkeypatch, download="works")
    monkeypatch.setenv(models.WEIGHTS_ENV, "none")
    model = models.build_vgg16_transfer((28, 28, 1), weights="imagenet")
    assert calls == [None]
    info = models.weights_info(model)
    assert info.loaded == "random" and "PNEUMO_WEIGHTS=none" in info.reason


def test_pneumo_weights_imagenet_overrides_weights_none(monkeypatch):
    calls = fake_vgg16(monkeypatch, download="fails")
    monkeypatch.setenv(models.WEIGHTS_ENV, "imagenet")
    with pytest.warns(models.WeightsUnavailableWarning):
        models.build_vgg16_transfer((28, 28, 1), weights=None)
    assert calls == ["imagenet", None]


def test_pneumo_weights_with_an_unknown_value_is_an_error(monkeypatch):
    monkeypatch.setenv(models.WEIGHTS_ENV, "pretrained")
    with pytest.raises(models.ModelConfigError, match="PNEUMO_WEIGHTS=imagenet"):
        models.requested_weights("imagenet")


def test_errors_that_are_not_about_the_weights_are_not_hidden(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("broken backbone")

    monkeypatch.setattr(keras.applications, "VGG16", broken)
    with pytest.raises(RuntimeError, match="broken backbone"):
        models.build_vgg16_transfer((28, 28, 1), weights="imagenet")


def test_weights_info_needs_a_course_builder():
    with pytest.raises(models.ModelConfigError, match="no weights record"):
        models.weights_info(models.build_baseline_cnn((16, 16, 1), filters=(4,)))


# ------------------------------------------------------------------ fine-tuning


def test_unfreeze_trains_the_top_block_and_the_head_only():
    model = models.build_vgg16_transfer((32, 32, 1), weights=None, train_backbone=False)
    assert len(model.trainable_weights) == 4
    models.unfreeze(model, "block5_conv1", learning_rate=1e-5)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable == {"block5_conv1", "block5_conv2", "block5_conv3", "head_dense", "pneumonia"}
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-5)
    with pytest.raises(models.ModelConfigError, match="not a layer"):
        models.unfreeze(model, "block9_conv1")


def test_unfreeze_keeps_resnet50_batchnorm_frozen():
    model = models.build_resnet50_hybrid((32, 32, 1), weights=None, train_backbone=False)
    models.unfreeze(model, "conv5_block1_1_conv")
    backbone = model.get_layer("resnet50")
    assert not any(
        layer.trainable
        for layer in backbone.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    )
    assert backbone.get_layer("conv5_block1_0_conv").trainable
    assert backbone.get_layer("conv5_block3_3_conv").trainable
    assert not backbone.get_layer("conv4_block6_3_conv").trainable
    models.unfreeze(model, "conv5_block1_1_conv", keep_batchnorm_frozen=False)
    assert backbone.get_layer("conv5_block1_1_bn").trainable


def test_frozen_batchnorm_runs_in_inference_mode_while_fine_tuning():
    model = models.build_baseline_cnn((16, 16, 1), filters=(4, 8), dense_units=4)
    models.unfreeze(model, "block2_conv1", learning_rate=1e-2)
    bn = model.get_layer("block2_bn1")
    before = {
        "moving_mean": keras.ops.convert_to_numpy(bn.moving_mean).copy(),
        "block1": keras.ops.convert_to_numpy(model.get_layer("block1_conv1").kernel).copy(),
        "block2": keras.ops.convert_to_numpy(model.get_layer("block2_conv1").kernel).copy(),
    }
    x, y = images(8, 16), np.array([0, 1] * 4, "float32")
    model.train_on_batch(x, y)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_mean), before["moving_mean"])
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model.get_layer("block1_conv1").kernel), before["block1"]
    )
    assert not np.allclose(
        keras.ops.convert_to_numpy(model.get_layer("block2_conv1").kernel), before["block2"]
    )


# ------------------------------------------------------------------ the CNN-transformer hybrid


def test_hybrid_turns_a_7x7_feature_map_into_49_tokens():
    model = models.build_cnn_transformer_hybrid((28, 28, 1), embed_dim=32, num_heads=4)
    assert model.get_layer("stem2_pool").output.shape == (None, 7, 7, 64)
    assert model.get_layer("tokens").output.shape == (None, 49, 32)
    assert model.get_layer("position_embedding").positions.shape == (1, 49, 32)
    assert model.get_layer("encoder2_add2").output.shape == (None, 49, 32)
    assert model.predict(images(2, 28), verbose=0).shape == (2, 1)
    assert not models.weights_info(model).pretrained


def test_hybrid_token_count_follows_the_stem():
    model = models.build_cnn_transformer_hybrid(
        (28, 28, 1), stem_filters=(8, 8, 8), embed_dim=16, num_heads=2, num_layers=1
    )
    assert model.get_layer("tokens").output.shape == (None, 3 * 3, 16)


def test_hybrid_with_a_resnet50_stage_as_stem():
    model = models.build_cnn_transformer_hybrid(
        (28, 28, 1), stem="resnet50", weights=None, embed_dim=16, num_heads=2, num_layers=1
    )
    assert model.get_layer("resnet50_stem").output.shape == (None, 4, 4, 512)
    assert model.get_layer("tokens").output.shape == (None, 16, 16)
    assert models.weights_info(model).backbone == "resnet50"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"embed_dim": 30, "num_heads": 4}, "divisible"),
        ({"stem": "vit"}, "stem"),
        ({"stem_filters": ()}, "at least one block"),
        ({"input_shape": (3, 3, 1)}, "too small"),
        ({"dropout": -0.1}, "dropout"),
    ],
)
def test_hybrid_rejects_bad_arguments(kwargs, message):
    with pytest.raises(models.ModelConfigError, match=message):
        models.build_cnn_transformer_hybrid(**kwargs)


def test_custom_layers_survive_saving_and_loading(tmp_path):
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Resizing(32, 32)(inputs)
    x = models.GreyToRGB()(x)
    x = models.BackbonePreprocess("resnet50")(x)
    x = keras.layers.Conv2D(4, 3, strides=4)(x)
    x = keras.layers.Reshape((64, 4))(x)
    x = models.PositionEmbedding()(x)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(x))
    model = keras.Model(inputs, outputs)
    path = tmp_path / "model.keras"
    model.save(path)
    again = keras.models.load_model(path)
    batch = images(2, 28)
    np.testing.assert_allclose(again.predict(batch, verbose=0), model.predict(batch, verbose=0))


def test_set_batchnorm_momentum_reaches_nested_layers():
    model = models.build_resnet50_hybrid((32, 32, 1), weights=None)
    changed = models.set_batchnorm_momentum(model, 0.9)
    assert changed == 53  # every BatchNormalization layer of ResNet50
    assert model.get_layer("resnet50").get_layer("conv1_bn").momentum == 0.9
    with pytest.raises(models.ModelConfigError, match="momentum"):
        models.set_batchnorm_momentum(model, 1.0)


def test_hybrid_stem_batchnorm_momentum_is_a_named_build_parameter():
    def stem_momenta(model):
        return {
            layer.momentum
            for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)
        }

    small = {"stem_filters": (4, 4), "embed_dim": 8, "num_heads": 2, "num_layers": 1}
    assert stem_momenta(models.build_cnn_transformer_hybrid((8, 8, 1), **small)) == {0.9}
    chosen = models.build_cnn_transformer_hybrid((8, 8, 1), stem_batchnorm_momentum=0.99, **small)
    assert stem_momenta(chosen) == {0.99}
    with pytest.raises(models.ModelConfigError, match="stem_batchnorm_momentum"):
        models.build_cnn_transformer_hybrid((8, 8, 1), stem_batchnorm_momentum=1.0, **small)
