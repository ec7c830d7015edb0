"""Edge deployment: LiteRT and ONNX files match Keras, int8 keeps decisions, bad inputs fail."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from pneumo_helpers import edge, evidence, models, training

SIZE = 16


def separable_images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey ``uint8`` images whose label is a bright square in the centre (and noise)."""
    rng = np.random.default_rng(seed)
    labels = np.array([0, 1] * (n // 2))
    images = rng.integers(0, 90, size=(n, SIZE, SIZE)).astype(np.uint8)
    centre = slice(SIZE // 4, 3 * SIZE // 4)
    images[labels == 1, centre, centre] += 140
    return images, labels


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small course CNN trained on separable images, and its four LiteRT files and ONNX."""
    train_images, train_labels = separable_images(256, 0)
    test_images, test_labels = separable_images(200, 1)
    keras.utils.set_random_seed(0)
    model = models.build_baseline_cnn(
        (SIZE, SIZE, 1), filters=(8, 16), dense_units=8, learning_rate=1e-2
    )
    x = train_images[..., None].astype("float32") / 255.0
    model.fit(x, train_labels, epochs=6, batch_size=32, verbose=0)
    folder = tmp_path_factory.mktemp("edge")
    representative = edge.representative_images(train_images, n=64)
    files = {
        quantisation: edge.convert_to_litert(
            model, folder / f"model_{quantisation}.tflite", quantisation, representative
        )
        for quantisation in edge.QUANTISATIONS
    }
    files["onnx"] = edge.export_onnx(model, folder / "model.onnx")
    keras_scores = model.predict(test_images[..., None] / 255.0, verbose=0).reshape(-1)
    return {
        "model": model,
        "files": files,
        "images": test_images,
        "labels": test_labels,
        "keras": keras_scores,
    }


def test_the_model_learned_the_task(trained):
    # Otherwise the agreement tests below would compare scores that all sit near 0.5.
    assert ((trained["keras"] >= 0.5) == trained["labels"]).mean() >= 0.9


def test_float32_litert_predicts_the_keras_scores_within_1e_4(trained):
    predictor = edge.LiteRTPredictor(trained["files"]["float32"])
    scores = predictor.predict(trained["images"])
    assert predictor.input_shape == (SIZE, SIZE, 1) and not predictor.quantised
    np.testing.assert_allclose(scores, trained["keras"], atol=1e-4)


def test_full_integer_int8_keeps_98_percent_of_decisions_in_a_smaller_file(trained):
    predictor = edge.LiteRTPredictor(trained["files"]["int8"])
    assert predictor.quantised
    scores = predictor.predict(trained["images"])
    assert scores.min() >= 0.0 and scores.max() <= 1.0  # dequantised back to scores
    flipped = edge.decision_flips(trained["keras"], 0.5, scores, 0.5)
    assert flipped.mean() <= 0.02, flipped.mean()
    float_size = trained["files"]["float32"].stat().st_size
    assert predictor.size_bytes < float_size  # a tiny model: the fixed part of the file dominates


def test_float16_and_dynamic_range_files_stay_close_to_keras(trained):
    for quantisation in ("float16", "dynamic"):
        scores = edge.LiteRTPredictor(trained["files"][quantisation]).predict(trained["images"])
        assert np.abs(scores - trained["keras"]).max() < 0.05, quantisation


def test_onnx_runtime_predicts_the_keras_scores(trained):
    predictor = edge.OnnxPredictor(trained["files"]["onnx"])
    np.testing.assert_allclose(predictor.predict(trained["images"]), trained["keras"], atol=1e-4)


def test_onnx_keeps_a_resize_before_a_strided_convolution_and_batchnorm(tmp_path):
    # Keras's model.export(format="onnx") gets this start of MobileNetV3 after the course's
    # resize wrong (scores off by up to ~0.7 in chapter 10); export_onnx must not.
    inputs = keras.Input((28, 28, 1))
    resized = keras.layers.Resizing(32, 32)(inputs)
    convolved = keras.layers.Conv2D(8, 3, strides=2, padding="same")(resized)
    normalised = keras.layers.BatchNormalization()(convolved)
    activated = keras.layers.Activation("hard_swish")(normalised)
    pooled = keras.layers.GlobalAveragePooling2D()(activated)
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    images = np.random.default_rng(0).integers(0, 256, size=(6, 28, 28)).astype(np.uint8)
    expected = model.predict(images[..., None] / 255.0, verbose=0).ravel()
    predictor = edge.OnnxPredictor(edge.export_onnx(model, tmp_path / "resize.onnx"))
    np.testing.assert_allclose(predictor.predict(images), expected, atol=1e-5)


def test_the_predictor_takes_what_the_pipeline_takes(trained):
    predictor = edge.LiteRTPredictor(trained["files"]["float32"])
    images = trained["images"][:5]
    from_uint8 = predictor.predict(images)
    np.testing.assert_allclose(predictor.predict(images / 255.0), from_uint8, atol=1e-6)
    np.testing.assert_allclose(predictor.predict(images[..., None]), from_uint8, atol=1e-6)
    one = predictor.predict(images[0][..., None])  # one (H, W, C) image
    assert one.shape == (1,) and abs(one[0] - from_uint8[0]) < 1e-6
    assert abs(predictor.predict(images[0])[0] - from_uint8[0]) < 1e-6  # one (H, W) image
    np.testing.assert_allclose(predictor.predict(images, batch_size=2), from_uint8, atol=1e-6)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((2, SIZE + 4, SIZE + 4), np.uint8), "resized to the model's input size"),
        (np.zeros((2, SIZE, SIZE, 3), np.uint8), "expects a batch of"),
        (np.zeros((SIZE, SIZE, 3), np.uint8), "shape \\(16, 16, 3\\)"),
        (np.zeros((2, SIZE, SIZE), np.int64), "dtype int64"),
        (np.full((2, SIZE, SIZE), 255.0, np.float32), "scaled to \\[0, 1\\]"),
        (np.full((2, SIZE, SIZE), -0.5, np.float32), "scaled to \\[0, 1\\]"),
        (np.full((2, SIZE, SIZE), np.nan, np.float32), "NaN"),
        (np.zeros((0, SIZE, SIZE), np.uint8), "empty"),
    ],
    ids=["size", "channels", "one RGB image", "dtype", "range 0-255", "negative", "nan", "empty"],
)
def test_bad_images_get_a_clear_error(trained, images, message):
    for predictor in (
        edge.LiteRTPredictor(trained["files"]["int8"]),
        edge.OnnxPredictor(trained["files"]["onnx"]),
    ):
        with pytest.raises(edge.EdgeInputError, match=message):
            predictor.predict(images)
    assert issubclass(edge.EdgeInputError, ValueError)


def test_a_missing_or_corrupt_model_file_gets_a_clear_error(trained, tmp_path):
    with pytest.raises(edge.EdgeModelError, match="does not exist"):
        edge.LiteRTPredictor(tmp_path / "nowhere.tflite")
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(b"not a flatbuffer at all" * 10)
    with pytest.raises(edge.EdgeModelError, match="corrupt"):
        edge.LiteRTPredictor(corrupt)
    cut = tmp_path / "cut.tflite"
    cut.write_bytes(trained["files"]["float32"].read_bytes()[:2048])
    with pytest.raises(edge.EdgeModelError, match="corrupt"):
        edge.LiteRTPredictor(cut)
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(trained["files"]["onnx"].read_bytes()[:100])
    with pytest.raises(edge.EdgeModelError, match="corrupt"):
        edge.OnnxPredictor(truncated)
    with pytest.raises(edge.EdgeError, match="num_threads"):
        edge.LiteRTPredictor(trained["files"]["float32"], num_threads=0)
    assert issubclass(edge.EdgeModelError, ValueError)


def test_conversion_refuses_what_it_cannot_do(trained, tmp_path):
    with pytest.raises(edge.EdgeError, match="representative"):
        edge.convert_to_litert(trained["model"], tmp_path / "m.tflite", "int8")
    with pytest.raises(edge.EdgeError, match="unknown"):
        edge.convert_to_litert(trained["model"], tmp_path / "m.tflite", "int4")


def test_calibration_images_come_from_training_never_from_test():
    images, _ = separable_images(20, 3)
    chosen = edge.representative_images(images, n=8, seed=1)
    assert chosen.shape == (8, SIZE, SIZE, 1) and chosen.dtype == np.float32
    assert chosen.max() <= 1.0
    test_images = images.copy()
    evidence.register_test(test_images)
    with pytest.raises(evidence.EvidenceError):
        edge.representative_images(test_images)


def test_decision_flips_and_the_table_row():
    reference = np.array([0.1, 0.6, 0.8, 0.4])
    scores = np.array([0.1, 0.45, 0.9, 0.55])
    assert edge.decision_flips(reference, 0.5, scores, 0.5).tolist() == [False, True, False, True]
    # Each model at its own threshold: at 0.4 the second child is flagged by both.
    assert edge.decision_flips(reference, 0.5, scores, 0.4).tolist() == [False, False, False, True]
    with pytest.raises(edge.EdgeError, match="same images"):
        edge.decision_flips(reference, 0.5, scores[:3], 0.5)
    rng = np.random.default_rng(0)
    y_val, y_test = np.array([0, 1] * 20), np.array([0, 1] * 20)
    val_scores = np.clip(y_val * 0.6 + rng.random(40) * 0.4, 0, 1)
    test_scores = np.clip(y_test * 0.6 + rng.random(40) * 0.4, 0, 1)
    row = edge.deployment_metrics(y_val, val_scores, y_test, test_scores, y_test == 1)
    assert set(row) == {
        *("threshold", "test AUC", "sensitivity", "specificity", "Brier", "ECE", "flipped"),
    }
    decisions = test_scores >= row["threshold"]
    assert row["flipped"] == pytest.approx(np.mean(decisions != (y_test == 1)))
    assert 0 <= row["Brier"] <= 1 and 0 <= row["ECE"] <= 1


def test_measure_speed_times_one_image_and_a_batch():
    calls = []
    speed = edge.measure_speed(lambda x: calls.append(len(x)), np.zeros((8, 4, 4)), repeats=20)
    assert calls.count(1) == 10 + 20 and calls.count(8) == 1 + 3
    assert 0 <= speed.p50_ms <= speed.p95_ms and speed.throughput > 0


# ------------------------------------------------------------------ distillation


def test_with_alpha_1_the_distillation_loss_is_binary_cross_entropy():
    labels = np.array([0, 1, 1, 0], np.float32)
    student = np.array([[0.2], [0.7], [0.95], [0.5]], np.float32)
    targets = edge.distillation_targets(labels, np.array([0.9, 0.1, 0.5, 0.3]))
    loss = edge.DistillationLoss(temperature=3.0, alpha=1.0)
    expected = keras.losses.BinaryCrossentropy()(labels[:, None], student)
    assert float(loss(targets, student)) == pytest.approx(float(expected), abs=1e-5)


def test_the_soft_term_is_smallest_when_the_student_agrees_with_the_teacher():
    loss = edge.DistillationLoss(temperature=2.0, alpha=0.0)
    targets = edge.distillation_targets([1], [0.8])  # the teacher says 0.8, the label 1
    candidates = np.linspace(0.05, 0.95, 91)
    values = [float(loss(targets, np.array([[c]], np.float32))) for c in candidates]
    assert candidates[int(np.argmin(values))] == pytest.approx(0.8, abs=0.011)
    # Half-way between label and teacher with alpha=0.5: the optimum moves towards the label.
    mixed = edge.DistillationLoss(temperature=2.0, alpha=0.5)
    mixed_values = [float(mixed(targets, np.array([[c]], np.float32))) for c in candidates]
    assert candidates[int(np.argmin(mixed_values))] > 0.8


def test_the_temperature_softens_the_teacher_and_t_squared_keeps_the_scale():
    targets = edge.distillation_targets([1], [0.99])
    student = np.array([[0.6]], np.float32)
    warm = float(edge.DistillationLoss(temperature=4.0, alpha=0.0)(targets, student))
    cold = float(edge.DistillationLoss(temperature=1.0, alpha=0.0)(targets, student))
    assert warm > 0 and cold > 0 and np.isfinite([warm, cold]).all()
    with pytest.raises(edge.EdgeError, match="temperature"):
        edge.DistillationLoss(temperature=0.0)
    with pytest.raises(edge.EdgeError, match="alpha"):
        edge.DistillationLoss(alpha=1.5)


def test_a_student_trains_on_distillation_batches_and_reports_the_hard_label_auc():
    images, labels = separable_images(64, 4)
    teacher = np.where(labels == 1, 0.9, 0.1)
    keras.utils.set_random_seed(0)
    student = models.build_baseline_cnn((SIZE, SIZE, 1), filters=(4,), dense_units=4)
    edge.compile_student(student, temperature=2.0, alpha=0.5, learning_rate=1e-2)
    train = edge.distillation_batches(images, labels, teacher, batch_size=16, shuffle=True)
    val = edge.distillation_batches(images, labels, None, batch_size=16)
    image, target, weight = next(iter(train))
    assert target.shape == (16, 2) and weight.shape == (16,)
    result = training.fit(student, train, val, epochs=2, class_weight=None, patience=2)
    assert result.epochs_run == 2
    assert 0.0 <= result.history["val_auc"][-1] <= 1.0
    with pytest.raises(edge.EdgeError, match="teacher scores"):
        edge.distillation_targets([0, 1], [0.5])


def test_the_anatomy_of_a_file_adds_up_and_shows_what_int8_does_not_shrink(trained):
    model = trained["model"]
    float32 = edge.litert_anatomy(trained["files"]["float32"])
    int8 = edge.litert_anatomy(trained["files"]["int8"])
    for anatomy, path in ((float32, trained["files"]["float32"]), (int8, trained["files"]["int8"])):
        assert anatomy.total_bytes == path.stat().st_size
        assert anatomy.constant_bytes + anatomy.quantisation_bytes + anatomy.rest_bytes == (
            anatomy.total_bytes
        )
        assert anatomy.rest_bytes > 0  # operators, names, shapes: never nothing
    # Each convolution's BatchNorm is folded into it, so every layer with a kernel ends up
    # with one bias per output channel: in float32 all of them are four-byte constants.
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    kernel_values = sum(int(np.prod(kernel.shape)) for kernel in kernels)
    biases = sum(int(kernel.shape[-1]) for kernel in kernels)
    assert float32.constants["FLOAT32"] == 4 * (kernel_values + biases)
    assert float32.quantisation_bytes == 0 and "INT8" not in float32.constants
    # In the int8 file the kernels take one byte each and the biases stay 32-bit integers.
    assert int8.constants["INT8"] == kernel_values
    assert int8.constants["INT32"] >= 4 * biases
    assert "FLOAT32" not in int8.constants and int8.quantisation_bytes > 0
    # Hence the floor: a quarter of the float32 constants plus a graph that does not shrink.
    assert int8.total_bytes > float32.constant_bytes / 4 + int8.rest_bytes
    assert int8.total_bytes > float32.total_bytes / 4
    row = int8.row()
    assert list(row)[:4] == [
        f"{kind} constants (KB)" for kind in ("float32", "float16", "int8", "int32")
    ]
    assert list(row)[-3:] == [
        "quantisation parameters (KB)",
        "graph and structure (KB)",
        "file (KB)",
    ]
    assert list(float32.row()) == list(row) and row["float32 constants (KB)"] == 0
    assert row["file (KB)"] == pytest.approx(int8.total_bytes / 1024)


def test_the_anatomy_refuses_what_is_not_a_litert_file(trained, tmp_path):
    with pytest.raises(edge.EdgeModelError, match="does not exist"):
        edge.litert_anatomy(tmp_path / "nowhere.tflite")
    with pytest.raises(edge.EdgeModelError, match="not a LiteRT file"):
        edge.litert_anatomy(trained["files"]["onnx"])
    empty = tmp_path / "empty.tflite"
    empty.write_bytes(b"")
    with pytest.raises(edge.EdgeModelError, match="not a LiteRT file"):
        edge.litert_anatomy(empty)
    content = trained["files"]["float32"].read_bytes()
    for cut_at in (16, 64, 2048, len(content) // 2):
        cut = tmp_path / f"cut_{cut_at}.tflite"
        cut.write_bytes(content[:cut_at])
        with pytest.raises(edge.EdgeModelError, match="corrupt|truncated"):
            edge.litert_anatomy(cut)
