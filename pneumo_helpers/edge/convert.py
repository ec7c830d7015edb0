"""LiteRT and ONNX files from a Keras model: the four LiteRT variants and calibration images."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import warnings
from pathlib import Path

import keras
import numpy as np

from .. import data, evidence
from .errors import EdgeError, EdgeInputError

#: The LiteRT variants :func:`convert_to_litert` writes, and their names in prose.
QUANTISATIONS = {
    "float32": "float32",
    "float16": "float16 weights",
    "dynamic": "dynamic-range int8",
    "int8": "full-integer int8",
}


@contextlib.contextmanager
def quiet_native_output():
    """Silence the converters' and runtimes' log lines (C++ and Python) inside a with-block.

    Errors still raise; only their chatter (op counts, delegate notices, deprecation
    warnings) is kept out of a chapter's output.
    """
    loggers = [logging.getLogger(name) for name in ("tensorflow", "absl", "tf2onnx")]
    levels = [logger.level for logger in loggers]
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    saved, devnull = [os.dup(1), os.dup(2)], os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        python_output = io.StringIO()  # print() of Python code, e.g. in a notebook
        with warnings.catch_warnings(), contextlib.redirect_stdout(python_output):
            warnings.simplefilter("ignore")
            with contextlib.redirect_stderr(python_output):
                yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for descriptor in (*saved, devnull):
            os.close(descriptor)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def representative_images(images, n: int = 200, seed: int = 0) -> np.ndarray:
    """Return ``n`` training images as float32 ``(n, H, W, 1)`` in [0, 1] for int8 calibration.

    Full-integer quantisation measures each layer's range of activations on these images,
    so they must come from the training split (never the test split, which
    :mod:`pneumo_helpers.evidence` refuses).

    Args:
        images: the training split's ``uint8 (N, H, W)`` images.
        n: how many to draw (all when fewer).
        seed: which ones.
    """
    evidence.refuse_test("representative_images", images)
    images = data.as_float_images(images, error=EdgeInputError)
    rows = np.random.default_rng(seed).permutation(len(images))[:n]
    return images[np.sort(rows)]


def convert_to_litert(
    model: keras.Model,
    path: str | os.PathLike,
    quantisation: str = "float32",
    representative: np.ndarray | None = None,
) -> Path:
    """Convert a Keras model into a LiteRT (``.tflite``) file.

    Args:
        model: a course model (one image input, one sigmoid output).
        path: the file to write.
        quantisation: a key of :data:`QUANTISATIONS`: ``"float32"`` (no change),
            ``"float16"`` (weights stored in half precision), ``"dynamic"`` (int8 weights,
            float activations) or ``"int8"`` (weights and activations in int8, int8 input
            and output, calibrated on ``representative``).
        representative: for ``"int8"``, training images from :func:`representative_images`.

    Returns:
        The path written.

    Raises:
        EdgeError: unknown quantisation, no representative images for int8, or the
            converter failed.
    """
    import tensorflow as tf

    if quantisation not in QUANTISATIONS:
        raise EdgeError(
            f"quantisation={quantisation!r} is unknown; use one of {list(QUANTISATIONS)}."
        )
    if quantisation == "int8" and (representative is None or not len(representative)):
        raise EdgeError(
            "quantisation='int8' needs representative images to calibrate activations: pass "
            "representative=edge.representative_images(training_images)."
        )
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantisation != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]  # quantise the weights
    if quantisation == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantisation == "int8":  # activations too, measured on the training images
        calibration = np.asarray(representative, dtype=np.float32)
        converter.representative_dataset = lambda: ([image[np.newaxis]] for image in calibration)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    try:
        with quiet_native_output():
            flatbuffer = converter.convert()
    except Exception as error:  # noqa: BLE001 - the converter raises many types
        raise EdgeError(
            f"the LiteRT converter could not convert {model.name!r} to {quantisation}: "
            f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        ) from error
    path = Path(path)
    path.write_bytes(flatbuffer)
    return path


def export_onnx(model: keras.Model, path: str | os.PathLike) -> Path:
    """Export a Keras model to an ONNX file (float32) with tf2onnx, from its inference function.

    The function traced is the model in inference mode on a batch of any size and the
    model's own image shape. Keras 3's ``model.export(format="onnx")`` is not used: with
    TensorFlow 2.21 and tf2onnx 1.17 it silently mis-converts a ``Resizing`` layer followed
    by a strided ``padding="same"`` convolution and BatchNormalization (the start of
    MobileNetV3 after the course's resize), which ``tests/test_edge.py`` reproduces.

    Raises:
        EdgeError: the export failed (e.g. tf2onnx or onnx is not installed).
    """
    path = Path(path)
    try:
        import tensorflow as tf
        import tf2onnx

        spec = tuple(
            tf.TensorSpec((None, *tensor.shape[1:]), tf.float32, name=f"input_{i}")
            for i, tensor in enumerate(model.inputs)
        )

        @tf.function(input_signature=spec)
        def serve(*inputs):
            return model(inputs[0] if len(inputs) == 1 else list(inputs), training=False)

        with quiet_native_output():
            tf2onnx.convert.from_function(serve, input_signature=spec, output_path=str(path))
    except Exception as error:  # noqa: BLE001 - tf2onnx raises many types
        raise EdgeError(
            f"could not export {model.name!r} to ONNX ({type(error).__name__}: {error}); "
            "install the course's edge extra (pip install 'pneumo-helpers[edge]')."
        ) from error
    return path
