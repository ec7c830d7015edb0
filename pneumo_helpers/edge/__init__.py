"""Edge deployment: LiteRT and ONNX files, an on-device predictor, speed, flips, distillation.

The road of chapter 10::

    path = convert_to_litert(model, "model_int8.tflite", "int8", representative_images(x))
    predictor = LiteRTPredictor(path)                  # loads, checks, one CPU thread
    scores = predictor.predict(images)                 # uint8 or [0, 1] floats, as the pipeline
    speed = measure_speed(predictor.predict, images)   # p50/p95 ms for one image, throughput
    flipped = decision_flips(float_scores, t_float, scores, t_int8)

LiteRT is the current name of TensorFlow Lite; its files run in the ``ai-edge-litert``
interpreter, not in the deprecated ``tf.lite.Interpreter``. One idea per file:

* :mod:`.convert`: the four LiteRT variants (:data:`QUANTISATIONS`,
  :func:`convert_to_litert`), calibration images from the training split
  (:func:`representative_images`), the ONNX export (:func:`export_onnx`) and
  :func:`quiet_native_output`, which keeps the converters' log lines out of a chapter;
* :mod:`.predictor`: :class:`LiteRTPredictor` and :class:`OnnxPredictor` load a file,
  check images as the course's pipeline would (:func:`check_images`,
  :func:`check_shape`) and score them;
* :mod:`.measure`: speed on this CPU (:func:`measure_speed`, :class:`Speed`), decisions
  that flip against a reference (:func:`decision_flips`) and a model's row of the
  deployment table (:func:`deployment_metrics`);
* :mod:`.anatomy`: what a LiteRT file holds, by part (:func:`litert_anatomy`,
  :class:`Anatomy`): constants by type, quantisation parameters, and the graph;
* :mod:`.distillation`: knowledge distillation (:class:`DistillationLoss`,
  :func:`distillation_batches`, :func:`compile_student`);
* :mod:`.errors`: :class:`EdgeError` and its two kinds, :class:`EdgeModelError` (a file)
  and :class:`EdgeInputError` (images).

Every public name is importable from here: ``from pneumo_helpers import edge``.
"""

from .anatomy import Anatomy, litert_anatomy
from .convert import (
    QUANTISATIONS,
    convert_to_litert,
    export_onnx,
    quiet_native_output,
    representative_images,
)
from .distillation import (
    EPSILON,
    DistillationLoss,
    HardLabelAUC,
    compile_student,
    distillation_batches,
    distillation_targets,
    logits,
)
from .errors import EdgeError, EdgeInputError, EdgeModelError
from .measure import Speed, decision_flips, deployment_metrics, measure_speed
from .predictor import FilePredictor, LiteRTPredictor, OnnxPredictor, check_images, check_shape

__all__ = [
    "EPSILON",
    "Anatomy",
    "QUANTISATIONS",
    "DistillationLoss",
    "EdgeError",
    "EdgeInputError",
    "EdgeModelError",
    "FilePredictor",
    "HardLabelAUC",
    "LiteRTPredictor",
    "OnnxPredictor",
    "Speed",
    "check_images",
    "check_shape",
    "compile_student",
    "convert_to_litert",
    "decision_flips",
    "deployment_metrics",
    "distillation_batches",
    "distillation_targets",
    "export_onnx",
    "litert_anatomy",
    "logits",
    "measure_speed",
    "quiet_native_output",
    "representative_images",
]
