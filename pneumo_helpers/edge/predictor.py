"""The on-device predictor: a model file loaded, images checked as the pipeline would, scored."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .. import data
from .convert import quiet_native_output
from .errors import EdgeError, EdgeInputError, EdgeModelError


def check_images(images, input_shape) -> np.ndarray:
    """Return images as the course's pipeline gives them to a model: float32 in [0, 1].

    Accepts ``uint8`` grey levels (0-255) or floats already in [0, 1], as
    :func:`pneumo_helpers.data.as_float_images` does, and one image or a batch.

    Raises:
        EdgeInputError: another dtype, floats outside [0, 1] or not finite, no images, or
            a shape other than the model's input.
    """
    array = np.asarray(images)
    if array.dtype != np.uint8 and not np.issubdtype(array.dtype, np.floating):
        raise EdgeInputError(
            f"images have dtype {array.dtype}: pass uint8 grey levels (0-255) or floats "
            "scaled to [0, 1] (data.as_float_images), as the course's pipeline does."
        )
    if array.size == 0:
        raise EdgeInputError(f"images is empty (shape {array.shape}): pass at least one image.")
    check_shape(array.shape, tuple(input_shape))
    if array.dtype != np.uint8:
        if not np.isfinite(array).all():
            raise EdgeInputError("images contain NaN or infinite values: check the file read.")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise EdgeInputError(
                f"float images must be scaled to [0, 1], got values from {low:g} to {high:g}: "
                "divide grey levels by 255 (data.as_float_images) or pass them as uint8."
            )
    if array.ndim == 2:  # one grey (H, W) image
        array = array[np.newaxis]
    return data.as_float_images(array, input_shape, error=EdgeInputError)


def check_shape(shape: tuple[int, ...], input_shape: tuple[int, ...]) -> None:
    """Check that ``shape`` is one image or a batch of the model's ``(H, W, C)`` input.

    Grey models (``C == 1``) also take ``(H, W)`` and ``(N, H, W)``.

    Raises:
        EdgeInputError: any other shape; the message names the shape the model takes.
    """
    accepted = [input_shape, input_shape[:-1]] if input_shape[-1] == 1 else [input_shape]
    if tuple(shape) in accepted or tuple(shape[1:]) in accepted:
        return
    height, width, channels = input_shape
    grey = ", or (N, H, W) for grey images" if channels == 1 else ""
    raise EdgeInputError(
        f"images have shape {tuple(shape)}, but the model expects a batch of "
        f"{height}x{width} images with {channels} channel(s): pass (N, {height}, {width}, "
        f"{channels}){grey}, resized to the model's input size (data.make_dataset resizes)."
    )


class FilePredictor:
    """Score X-rays with a model file on the CPU: checks, batching, and the file's size.

    Subclasses load the file (:class:`LiteRTPredictor`, :class:`OnnxPredictor`) and run
    one batch; this class checks the images as the course's pipeline would
    (:func:`check_images`) and splits them into batches.

    Attributes:
        path: the model file.
        input_shape: one image's ``(H, W, C)``.
        num_threads: CPU threads the runtime may use.
    """

    runtime = "?"

    def __init__(self, path: str | os.PathLike, num_threads: int = 1):
        self.path = Path(path)
        self.num_threads = int(num_threads)
        if not self.path.is_file():
            raise EdgeModelError(
                f"model file {self.path.name!r} does not exist: convert the model first "
                "(edge.convert_to_litert or edge.export_onnx) or check the path."
            )
        if self.num_threads < 1:
            raise EdgeError(f"num_threads must be at least 1, got {num_threads!r}.")
        try:
            with quiet_native_output():
                self.input_shape = self.load()
        except EdgeError:
            raise
        except Exception as error:  # noqa: BLE001 - the runtimes raise many types
            raise EdgeModelError(
                f"{self.path.name!r} is not a model {self.runtime} can load (corrupt or "
                f"truncated?): {type(error).__name__}. Convert the model again."
            ) from error

    @property
    def size_bytes(self) -> int:
        """Return the model file's size in bytes."""
        return self.path.stat().st_size

    def load(self) -> tuple[int, ...]:
        """Load the file and return one image's input shape (subclasses)."""
        raise NotImplementedError

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Return the scores of one float32 batch (subclasses)."""
        raise NotImplementedError

    def predict(self, images, batch_size: int = 256) -> np.ndarray:
        """Return one pneumonia score per image (a flat float array).

        Args:
            images: ``uint8`` grey levels or floats in [0, 1], of the model's input shape
                (one image, ``(N, H, W)`` or ``(N, H, W, C)``).
            batch_size: images per call of the runtime.

        Raises:
            EdgeInputError: images of the wrong dtype, range or shape.
        """
        batch = check_images(images, self.input_shape)
        return np.concatenate(
            [self.run(batch[i : i + batch_size]) for i in range(0, len(batch), batch_size)]
        )


class LiteRTPredictor(FilePredictor):
    """Run a ``.tflite`` file in the ``ai-edge-litert`` interpreter (XNNPACK on the CPU).

    An int8 model's input is quantised with the file's own scale and zero point, and its
    output dequantised, so every variant returns scores in [0, 1].
    """

    runtime = "LiteRT"

    def load(self) -> tuple[int, ...]:
        """Load the interpreter and read the input's shape and quantisation."""
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(
            model_content=self.path.read_bytes(), num_threads=self.num_threads
        )
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = int(self.input["shape"][0])
        return tuple(int(v) for v in self.input["shape"][1:])

    @property
    def quantised(self) -> bool:
        """Return True when the file takes int8 input (full-integer quantisation)."""
        return self.input["dtype"] == np.int8

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Quantise (int8 files), invoke the interpreter, dequantise the scores."""
        if len(batch) != self.batch:  # reshape the interpreter for this batch size
            self.interpreter.resize_tensor_input(
                self.input["index"], [len(batch), *batch.shape[1:]]
            )
            self.interpreter.allocate_tensors()
            self.batch = len(batch)
        if self.quantised:
            scale, zero_point = self.input["quantization"]
            batch = np.clip(np.round(batch / scale + zero_point), -128, 127).astype(np.int8)
        self.interpreter.set_tensor(self.input["index"], batch)
        self.interpreter.invoke()
        scores = self.interpreter.get_tensor(self.output["index"]).reshape(-1)
        if self.output["dtype"] == np.int8:
            scale, zero_point = self.output["quantization"]
            scores = (scores.astype(np.float32) - zero_point) * scale
        return scores.astype(float)


class OnnxPredictor(FilePredictor):
    """Run an ``.onnx`` file in ONNX Runtime on the CPU, with ``num_threads`` threads."""

    runtime = "ONNX Runtime"

    def load(self) -> tuple[int, ...]:
        """Open an inference session and read the input's name and shape."""
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = self.num_threads
        options.log_severity_level = 3  # errors only
        self.session = onnxruntime.InferenceSession(
            str(self.path), options, providers=["CPUExecutionProvider"]
        )
        first = self.session.get_inputs()[0]
        self.input_name = first.name
        return tuple(int(v) for v in first.shape[1:])

    def run(self, batch: np.ndarray) -> np.ndarray:
        """Run the session on one batch."""
        scores = self.session.run(None, {self.input_name: batch})[0]
        return np.asarray(scores, dtype=float).reshape(-1)
