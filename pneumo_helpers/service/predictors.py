"""What the service serves: a Keras model, or an exported file, behind one ``predict``.

:func:`load_predictor` takes a Keras model (Grad-CAM is then available), a ``.keras``
file, the edge chapter's LiteRT (``.tflite``) or ONNX file (through
:mod:`pneumo_helpers.edge`'s predictors), or a SavedModel folder, and returns a
:class:`Served`: one ``predict`` that takes ``uint8`` images, the model's input side, and a
fingerprint of its weights (the bytes of the file, or of the Keras weights), so that every
answer says which model gave it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import edge
from .errors import ServiceError


@dataclass
class Served:
    """A model ready to serve.

    Attributes:
        predict: ``uint8 (N, H, W)`` images -> ``(N,)`` pneumonia scores in [0, 1].
        input_shape: one image's ``(H, W, C)``.
        kind: what was loaded (``"keras"``, ``"litert"``, ``"onnx"``, ``"savedmodel"``).
        fingerprint: the first 16 hex digits of the SHA-256 of the weights.
        keras_model: the Keras model when there is one (Grad-CAM needs it), else None.
    """

    predict: Any
    input_shape: tuple[int, ...]
    kind: str
    fingerprint: str
    keras_model: Any = None

    @property
    def size(self) -> int:
        """Return the model's image side."""
        return int(self.input_shape[0])


def _digest(chunks) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()[:16]


def keras_fingerprint(model) -> str:
    """Return the SHA-256 (16 hex digits) of a Keras model's weights, in order."""
    return _digest(np.ascontiguousarray(w).tobytes() for w in model.get_weights())


def _keras(model) -> Served:
    import tensorflow as tf

    shape = tuple(int(v) for v in model.input_shape[1:])
    forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def predict(images: np.ndarray) -> np.ndarray:
        batch = edge.check_images(images, shape)
        return np.asarray(forward(tf.constant(batch))).reshape(-1).astype(float)

    return Served(predict, shape, "keras", keras_fingerprint(model), model)


def _saved_model(folder: Path) -> Served:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(folder))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise ServiceError(
            f"SavedModel {folder.name!r} has no 'serving_default' signature: export it with "
            "keras.Model.export(path)."
        )
    spec = next(iter(signature.structured_input_signature[1].values()))
    shape = tuple(int(v) for v in spec.shape[1:])
    name = next(iter(signature.structured_input_signature[1]))

    def predict(images: np.ndarray) -> np.ndarray:
        batch = edge.check_images(images, shape)
        outputs = signature(**{name: tf.constant(batch)})
        return np.asarray(next(iter(outputs.values()))).reshape(-1).astype(float)

    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return Served(predict, shape, "savedmodel", _digest(p.read_bytes() for p in files))


def load_predictor(model: Any, num_threads: int = 1) -> Served:
    """Return a :class:`Served` for a Keras model, a ``.keras``/``.tflite``/``.onnx`` file or a
    SavedModel folder.

    Raises:
        ServiceError: a path that does not exist or is not one of these.
    """
    if hasattr(model, "predict") and hasattr(model, "get_weights"):
        return _keras(model)
    if not isinstance(model, (str, os.PathLike)):
        raise ServiceError(
            f"cannot serve a {type(model).__name__}: pass a Keras model, the path of a "
            ".keras, .tflite or .onnx file, or a SavedModel folder."
        )
    path = Path(model)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return _saved_model(path)
    if not path.is_file():
        raise ServiceError(
            f"model {path.name!r} does not exist: export it first (edge.convert_to_litert, "
            "model.save('model.keras') or model.export(folder)) or check the path."
        )
    fingerprint = _digest([path.read_bytes()])
    if path.suffix == ".keras":
        import keras

        served = _keras(keras.saving.load_model(path))
        served.fingerprint = fingerprint
        return served
    runtimes = {".tflite": ("litert", edge.LiteRTPredictor), ".onnx": ("onnx", edge.OnnxPredictor)}
    if path.suffix not in runtimes:
        raise ServiceError(
            f"{path.name!r} is not a model file the service loads: use .keras, .tflite, .onnx "
            "or a SavedModel folder."
        )
    kind, runtime = runtimes[path.suffix]
    predictor = runtime(path, num_threads=num_threads)
    return Served(predictor.predict, predictor.input_shape, kind, fingerprint)
