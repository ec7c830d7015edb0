"""Unit tests of Grad-CAM, occlusion sensitivity and the sanity-check helpers.

The models are built by hand so that the right answer is known: channel 0 of the input is
evidence *for* the class, channel 1 evidence *against* it, and the score's logit is
``mean(channel 0) - mean(channel 1)``. Grad-CAM must light up exactly where channel 0 is
and stay dark (not negative) where channel 1 is.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pneumo_helpers import explain

SIZE = 8


def _identity_conv(name: str = "evidence") -> keras.layers.Conv2D:
    """A 1×1 convolution that copies its two input channels (so its feature maps are known)."""
    conv = keras.layers.Conv2D(2, 1, use_bias=False, name=name)
    conv.build((None, None, None, 2))
    conv.set_weights([np.eye(2, dtype="float32").reshape(1, 1, 2, 2)])
    return conv


def _head(units: int = 1, scale: float = 1.0) -> keras.layers.Dense:
    """Sigmoid: logit = scale * (f0 - f1). Softmax: class 0 likes f0, class 1 likes f1."""
    if units == 1:
        dense = keras.layers.Dense(1, activation="sigmoid", name="score")
        dense.build((None, 2))
        dense.set_weights([scale * np.array([[1.0], [-1.0]], "float32"), np.zeros(1, "float32")])
    else:
        dense = keras.layers.Dense(2, activation="softmax", name="score")
        dense.build((None, 2))
        dense.set_weights([np.array([[1.0, -1.0], [-1.0, 1.0]], "float32"), np.zeros(2, "float32")])
    return dense


def flat_model(pool: bool = False, units: int = 1, scale: float = 1.0) -> keras.Model:
    inputs = keras.Input((SIZE, SIZE, 2))
    x = keras.layers.AveragePooling2D(2, name="pool")(inputs) if pool else inputs
    x = _identity_conv()(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, _head(units, scale)(x), name="flat")


def nested_model(pool: bool = False, functional_outer: bool = False) -> keras.Model:
    inner_in = keras.Input((SIZE, SIZE, 2))
    x = keras.layers.AveragePooling2D(2, name="pool")(inner_in) if pool else inner_in
    inner = keras.Model(inner_in, _identity_conv()(x), name="backbone")
    if functional_outer:
        inputs = keras.Input((SIZE, SIZE, 2))
        x = keras.layers.GlobalAveragePooling2D(name="gap")(inner(inputs))
        return keras.Model(inputs, _head()(x), name="outer_functional")
    return keras.Sequential(
        [keras.Input((SIZE, SIZE, 2)), inner, keras.layers.GlobalAveragePooling2D(), _head()],
        name="outer_sequential",
    )


def evidence_images() -> np.ndarray:
    """Image 0: evidence for in the top-left corner, less against in the bottom-right.
    Image 1: the other way round (more evidence against than for)."""
    images = np.zeros((2, SIZE, SIZE, 2), "float32")
    images[0, :2, :2, 0] = 1.0  # for, top-left
    images[0, -2:, -2:, 1] = 0.5  # against, bottom-right (weaker)
    images[1, -3:, -3:, 0] = 0.5  # for, bottom-right (weaker)
    images[1, :3, :3, 1] = 1.0  # against, top-left (stronger)
    return images


# --------------------------------------------------------------------------------------
# Grad-CAM: known answers
# --------------------------------------------------------------------------------------


def test_grad_cam_lights_the_evidence_for_and_keeps_the_evidence_against_dark():
    maps = explain.grad_cam(flat_model(), evidence_images())
    assert maps.shape == (2, SIZE, SIZE) and maps.dtype == np.float32
    expected = np.zeros((SIZE, SIZE), "float32")
    expected[:2, :2] = 1.0  # relu(f0 - f1), divided by its maximum
    np.testing.assert_allclose(maps[0], expected, atol=1e-6)
    # Image 1 argues against the class overall; the map still shows the patch for it.
    expected = np.zeros((SIZE, SIZE), "float32")
    expected[-3:, -3:] = 1.0
    np.testing.assert_allclose(maps[1], expected, atol=1e-6)


def test_grad_cam_finds_the_last_convolution_and_accepts_its_name():
    model = flat_model()
    assert explain.convolution_layers(model) == ["evidence"]
    images = evidence_images()
    np.testing.assert_allclose(
        explain.grad_cam(model, images), explain.grad_cam(model, images, layer_name="evidence")
    )


def test_grad_cam_upsamples_a_pooled_map_to_the_input_resolution():
    maps = explain.grad_cam(flat_model(pool=True), evidence_images()[:1])
    assert maps.shape == (1, SIZE, SIZE)
    cam = maps[0]
    assert cam[0, 0] == pytest.approx(1.0)  # the corner that holds the evidence for
    assert np.unravel_index(cam.argmax(), cam.shape) == (0, 0)
    assert cam[:2, :2].min() > 0.5
    np.testing.assert_array_equal(cam[SIZE // 2 :, SIZE // 2 :], 0.0)  # evidence against: dark
    assert 0.0 <= cam.min() and cam.max() <= 1.0
    # Bilinear upsampling: the map is smooth, not one block per 2×2 cell.
    assert len(np.unique(np.round(cam, 6))) > 3


@pytest.mark.parametrize("functional_outer", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("pool", [False, True], ids=["no-pool", "pool"])
def test_grad_cam_reaches_a_layer_inside_a_nested_model(pool, functional_outer):
    images = evidence_images()
    model = nested_model(pool=pool, functional_outer=functional_outer)
    assert explain.convolution_layers(model) == ["backbone/evidence"]
    # The outer model does not know the inner layer: the usual tutorial code fails here.
    with pytest.raises(ValueError):
        model.get_layer("evidence")
    expected = explain.grad_cam(flat_model(pool=pool), images)
    for name in (None, "evidence", "backbone/evidence"):
        np.testing.assert_allclose(
            explain.grad_cam(model, images, layer_name=name), expected, atol=1e-6
        )


def test_grad_cam_explains_the_logit_so_a_saturated_sigmoid_still_has_a_map():
    model = flat_model(scale=1000.0)
    images = evidence_images()[:1]
    assert float(model(images)[0, 0]) == 1.0  # the probability is saturated in float32
    maps = explain.grad_cam(model, images)
    assert maps[0, 0, 0] == pytest.approx(1.0)
    assert maps[0, -1, -1] == 0.0
    # The sigmoid is only set aside while the map is computed.
    assert model.get_layer("score").activation is keras.activations.sigmoid
    assert float(model(images)[0, 0]) == 1.0


def test_grad_cam_softmax_explains_the_predicted_or_the_chosen_class():
    model = flat_model(units=2)
    images = evidence_images()
    predicted = np.asarray(model(images)).argmax(axis=1)
    assert predicted.tolist() == [0, 1]
    maps = explain.grad_cam(model, images)
    # Image 0 predicts class 0 (likes channel 0, top-left); image 1 predicts class 1
    # (likes channel 1, top-left as well).
    assert maps[0, :2, :2].min() == pytest.approx(1.0) and maps[0, 2:, :].max() == 0.0
    assert maps[1, :3, :3].min() == pytest.approx(1.0) and maps[1, 3:, :].max() == 0.0
    chosen = explain.grad_cam(model, images, class_index=1)
    assert chosen[0, -2:, -2:].min() == pytest.approx(1.0) and chosen[0, :-2, :].max() == 0.0
    with pytest.raises(explain.ExplainError, match="class_index=2"):
        explain.grad_cam(model, images, class_index=2)


def test_grad_cam_matches_a_hand_split_vgg16_backbone():
    keras.utils.set_random_seed(1)
    backbone = keras.applications.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            backbone,
            keras.layers.GlobalAveragePooling2D(),
            # Positive weights: every feature argues for the class, so the map is not empty.
            keras.layers.Dense(1, "sigmoid", kernel_initializer="ones", name="pneumonia"),
        ]
    )
    images = np.random.default_rng(0).random((2, 32, 32, 3), dtype="float32")
    maps = explain.grad_cam(model, images, layer_name="block5_conv3")
    assert maps.shape == (2, 32, 32)
    assert explain.convolution_layers(model)[-1] == "vgg16/block5_conv3"
    np.testing.assert_allclose(explain.grad_cam(model, images), maps, atol=1e-6)

    # The same computation split by hand: features of block5_conv3, then the rest.
    features_model = keras.Model(backbone.input, backbone.get_layer("block5_conv3").output)
    features = tf.convert_to_tensor(features_model(images))
    head = model.get_layer("pneumonia")
    with tf.GradientTape() as tape:
        tape.watch(features)
        pooled = backbone.get_layer("block5_pool")(features)
        hidden = keras.layers.GlobalAveragePooling2D()(pooled)
        logit = tf.matmul(hidden, head.kernel) + head.bias
    grads = tape.gradient(logit, features)
    cam = tf.nn.relu(
        tf.reduce_sum(features * tf.reduce_mean(grads, axis=(1, 2))[:, None, None], -1)
    )
    cam = tf.image.resize(cam[..., None], (32, 32))[..., 0].numpy()
    peak = cam.max(axis=(1, 2), keepdims=True)
    expected = np.divide(cam, peak, out=np.zeros_like(cam), where=peak > 0)
    assert expected.max() > 0  # a real map, not two zeros compared
    np.testing.assert_allclose(maps, expected, atol=1e-4)


def test_grad_cam_accepts_uint8_and_channel_less_images():
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(1, 1, use_bias=False, kernel_initializer="ones", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(1, kernel_initializer="ones")(x))
    images = np.zeros((1, SIZE, SIZE), np.uint8)
    images[0, 3:5, 3:5] = 255
    maps = explain.grad_cam(model, images)
    np.testing.assert_allclose(maps[0], images[0] / 255.0)
    with pytest.raises(explain.ExplainError, match="expects a batch"):
        explain.grad_cam(model, np.zeros((1, 4, 4, 1), "float32"))


# --------------------------------------------------------------------------------------
# Grad-CAM: errors
# --------------------------------------------------------------------------------------


def test_an_unknown_layer_name_lists_the_convolution_layers():
    model = nested_model()
    with pytest.raises(ValueError, match=r"block5_conv3.*\['backbone/evidence'\]"):
        explain.grad_cam(model, evidence_images(), layer_name="block5_conv3")
    assert issubclass(explain.ExplainError, ValueError)


def test_a_layer_without_feature_maps_is_refused_with_the_alternatives():
    with pytest.raises(explain.ExplainError, match=r"not \(batch, height.*\['evidence'\]"):
        explain.grad_cam(flat_model(), evidence_images(), layer_name="gap")


def test_a_model_without_convolutions_needs_a_layer_name():
    inputs = keras.Input((SIZE, SIZE, 1))
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(inputs)))
    with pytest.raises(explain.ExplainError, match="no 2D convolution"):
        explain.grad_cam(model, np.zeros((1, SIZE, SIZE, 1), "float32"))


# --------------------------------------------------------------------------------------
# Occlusion sensitivity
# --------------------------------------------------------------------------------------


def corner_model() -> keras.Model:
    """logit = 4 * (sum of the top-left 2×2 pixels) - 4 * (sum of the bottom-right 2×2)."""
    weights = np.zeros((SIZE, SIZE), "float32")
    weights[:2, :2] = 4.0
    weights[-2:, -2:] = -4.0
    inputs = keras.Input((SIZE, SIZE, 1))
    dense = keras.layers.Dense(1, activation="sigmoid")
    outputs = dense(keras.layers.Flatten()(inputs))
    dense.set_weights([weights.reshape(-1, 1), np.zeros(1, "float32")])
    return keras.Model(inputs, outputs)


def test_occlusion_sensitivity_finds_evidence_for_and_against():
    images = np.full((1, SIZE, SIZE, 1), 0.5, "float32")
    maps = explain.occlusion_sensitivity(corner_model(), images, patch=2, stride=2, fill=0.0)
    assert maps.shape == (1, SIZE, SIZE)
    # Hiding the top-left corner lowers the score (evidence for); hiding the bottom-right
    # raises it (evidence against); hiding anything else changes nothing.
    assert (maps[0, :2, :2] > 0.3).all()
    assert (maps[0, -2:, -2:] < -0.3).all()
    rest = np.ones((SIZE, SIZE), bool)
    rest[:2, :2] = rest[-2:, -2:] = False
    np.testing.assert_allclose(maps[0][rest], 0.0, atol=1e-6)
    # The exact fall: sigmoid(0) - sigmoid(-8) after hiding the top-left corner.
    expected = 0.5 - 1.0 / (1.0 + np.exp(8.0))
    np.testing.assert_allclose(maps[0, 0, 0], expected, rtol=1e-5)


def test_occlusion_sensitivity_averages_overlapping_patches_and_covers_the_edges():
    images = np.full((1, SIZE, SIZE), 128, np.uint8)
    maps = explain.occlusion_sensitivity(corner_model(), images, patch=3, stride=2, fill=0.0)
    assert maps.shape == (1, SIZE, SIZE)
    assert (maps[0, -1, -1] < 0) and (maps[0, 0, 0] > 0)  # the last squares reach the edge
    with pytest.raises(explain.ExplainError, match="patch"):
        explain.occlusion_sensitivity(corner_model(), images, patch=20)
    with pytest.raises(explain.ExplainError, match="stride"):
        explain.occlusion_sensitivity(corner_model(), images, stride=0)


def test_occlusion_sensitivity_and_grad_cam_agree_on_the_known_model():
    images = evidence_images()[:1]
    cam = explain.grad_cam(flat_model(), images)
    occlusion = explain.occlusion_sensitivity(flat_model(), images, patch=2, stride=2, fill=0.0)
    assert occlusion[0, :2, :2].min() > 0  # hiding the evidence for lowers the score
    assert occlusion[0, -2:, -2:].max() < 0  # hiding the evidence against raises it
    assert explain.rank_correlation(cam, np.clip(occlusion, 0, None))[0] > 0.99


# --------------------------------------------------------------------------------------
# Display, sanity checks and the shortcut experiment
# --------------------------------------------------------------------------------------


def test_overlay_blends_a_heat_map_over_the_grey_image():
    image = np.linspace(0, 255, SIZE * SIZE).reshape(SIZE, SIZE).astype(np.uint8)
    heatmap = np.zeros((SIZE, SIZE))
    heatmap[0, 0] = 1.0
    blended = explain.overlay(image, heatmap, alpha=0.5)
    assert blended.shape == (SIZE, SIZE, 3)
    assert 0.0 <= blended.min() and blended.max() <= 1.0
    grey_only = explain.overlay(image[..., None], heatmap, alpha=0.0)
    np.testing.assert_allclose(grey_only[..., 0], image / 255.0, atol=1e-6)
    assert not np.allclose(blended[0, 0], blended[0, 1])  # hot and cold pixels differ
    with pytest.raises(explain.ExplainError, match="heatmap has shape"):
        explain.overlay(image, np.zeros((4, 4)))
    with pytest.raises(explain.ExplainError, match="alpha"):
        explain.overlay(image, heatmap, alpha=1.5)


def test_randomized_copy_reinitialises_all_or_only_the_top_layers():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIZE, SIZE, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(x))
    before = [w.copy() for w in model.get_weights()]
    everything = explain.randomized_copy(model, seed=1)
    assert not np.allclose(everything.get_layer("conv").get_weights()[0], before[0])
    top_only = explain.randomized_copy(model, from_layer="out", seed=1)
    np.testing.assert_array_equal(top_only.get_layer("conv").get_weights()[0], before[0])
    assert not np.allclose(top_only.get_layer("out").get_weights()[0], before[2])
    for now, then in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(now, then)  # the original is untouched
    with pytest.raises(explain.ExplainError, match="from_layer"):
        explain.randomized_copy(model, from_layer="nope")


def test_rank_correlation_of_maps():
    rng = np.random.default_rng(0)
    maps = rng.random((3, 5, 5))
    np.testing.assert_allclose(explain.rank_correlation(maps, maps), 1.0)
    np.testing.assert_allclose(explain.rank_correlation(maps, -maps), -1.0)
    np.testing.assert_allclose(explain.rank_correlation(maps, 2 * maps**3 + 1), 1.0)  # monotone
    flat = np.zeros_like(maps)
    np.testing.assert_array_equal(explain.rank_correlation(maps, flat), 0.0)
    with pytest.raises(explain.ExplainError, match="same shape"):
        explain.rank_correlation(maps, maps[:2])


def test_stamp_marker_draws_the_letter_only_inside_its_region():
    images = np.zeros((2, 28, 28), np.uint8)
    stamped = explain.stamp_marker(images, corner=(2, 3))
    region = explain.marker_region((28, 28), corner=(2, 3))
    assert region.sum() == explain.LETTER_R.size
    assert (stamped[:, ~region] == 0).all()
    np.testing.assert_array_equal(stamped[0, 2:9, 3:8] == 255, explain.LETTER_R)
    assert (images == 0).all()  # a copy, not in place
    with pytest.raises(explain.ExplainError, match="does not fit"):
        explain.marker_region((28, 28), corner=(25, 0))


def test_mass_inside_a_region():
    region = np.zeros((4, 4), bool)
    region[:2, :2] = True
    maps = np.stack([np.ones((4, 4)), region.astype(float), np.zeros((4, 4))])
    np.testing.assert_allclose(explain.mass_inside(maps, region), [0.25, 1.0, 0.0])
    with pytest.raises(explain.ExplainError, match="region"):
        explain.mass_inside(maps, np.ones((3, 3), bool))
