"""Unit tests of the baseline model builder, class weights and the training loop."""

import keras
import numpy as np
import pytest

from pneumo_helpers import config, data, evaluation, models, training


def test_baseline_cnn_shapes_and_output_range():
    model = models.build_baseline_cnn((28, 28, 1), filters=(8, 16), dense_units=8)
    images = np.random.default_rng(0).random((5, 28, 28, 1), dtype="float32")
    scores = model.predict(images, verbose=0)
    assert scores.shape == (5, 1)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert model.layers[-1].name == "pneumonia"
    assert any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (28, 28)}, "height, width, channels"),
        ({"input_shape": (4, 4, 1)}, "too small"),
        ({"filters": ()}, "at least one block"),
        ({"dropout": 1.0}, "dropout"),
        ({"convs_per_block": 0}, "convs_per_block"),
    ],
)
def test_baseline_cnn_rejects_bad_arguments(kwargs, message):
    with pytest.raises(models.ModelConfigError, match=message):
        models.build_baseline_cnn(**kwargs)


def test_class_weights_balance_the_classes():
    labels = np.array([0] * 25 + [1] * 75)
    weights = training.class_weights(labels)
    assert weights[0] == pytest.approx(2.0) and weights[1] == pytest.approx(100 / 150)
    assert weights[0] * 25 == pytest.approx(weights[1] * 75)


@pytest.mark.parametrize(
    ("labels", "message"),
    [(np.array([]), "empty"), (np.array([1, 1]), "single class"), (np.array([0, 3]), "0/1")],
)
def test_class_weights_reject_bad_labels(labels, message):
    with pytest.raises(ValueError, match=message):
        training.class_weights(labels)


def _separable_images(n: int, seed: int):
    """Bright images are pneumonia, dark ones normal: a task a tiny CNN learns at once."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    images = rng.integers(0, 80, size=(n, 16, 16)).astype(np.uint8)
    images[labels == 1] += 120
    return images, labels


def test_fit_learns_a_separable_task_and_keeps_the_best_epoch():
    config.set_seed(0)
    train_x, train_y = _separable_images(64, 0)
    val_x, val_y = _separable_images(32, 1)
    train_ds = data.make_dataset(train_x, train_y, batch_size=16, shuffle=True)
    val_ds = data.make_dataset(val_x, val_y, batch_size=16)
    model = models.build_baseline_cnn((16, 16, 1), filters=(8,), dense_units=8)
    result = training.fit(model, train_ds, val_ds, epochs=4, patience=2, train_labels=train_y)
    assert isinstance(result, training.TrainingResult)
    assert 1 <= result.best_epoch <= result.epochs_run <= 4
    assert set(result.history) >= {"loss", "auc", "val_loss", "val_auc"}
    assert result.seconds > 0
    assert result.class_weight == training.class_weights(train_y)
    scores = evaluation.predict_scores(result.model, val_ds)
    assert evaluation.binary_metrics(val_y, scores)["auc"] > 0.9


def test_fit_is_reproducible_with_a_seed():
    train_x, train_y = _separable_images(32, 0)
    losses = []
    for _ in range(2):
        config.set_seed(3)
        train_ds = data.make_dataset(train_x, train_y, batch_size=16, shuffle=True, seed=3)
        model = models.build_baseline_cnn((16, 16, 1), filters=(4,), dense_units=4)
        result = training.fit(model, train_ds, train_ds, epochs=1, patience=1, train_labels=train_y)
        losses.append(result.history["loss"][0])
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_fit_explains_missing_labels_for_balanced_weights():
    model = models.build_baseline_cnn((16, 16, 1), filters=(4,), dense_units=4)
    ds = data.make_dataset(*_separable_images(8, 0), batch_size=4)
    with pytest.raises(ValueError, match="train_labels"):
        training.fit(model, ds, ds, epochs=1, patience=1)
    with pytest.raises(ValueError, match="class_weight"):
        training.fit(model, ds, ds, epochs=1, patience=1, class_weight="inverse")
