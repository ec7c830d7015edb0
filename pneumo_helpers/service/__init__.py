"""The screening service: a model behind a FastAPI app, run, loaded, scaled, and reported.

The road of chapter 14::

    app = create_app("model.tflite", ModelInfo(name, version, threshold))  # FastAPI
    with running_server("model.tflite", info) as (url, process):            # uvicorn
        httpx.post(f"{url}/v1/predict", files={"file": ("x.png", png, "image/png")})
    report = fhir.diagnostic_report(score, threshold, "fr")                 # FHIR R5

One idea per file:

* :mod:`.app`: :func:`create_app`, :class:`ModelInfo` and the request :class:`Batcher`;
* :mod:`.predictors`: :func:`load_predictor` (a Keras model, a ``.keras``, ``.tflite`` or
  ``.onnx`` file, or a SavedModel) and :class:`Served`;
* :mod:`.uploads`: :func:`decode_upload` (PNG, JPEG and DICOM to the course's image, with
  the checks that turn bad input into a 4xx) and :func:`encode_png`;
* :mod:`.server`: :func:`running_server`, uvicorn in a subprocess on a free port;
* :mod:`.load`: :func:`load_test` and :func:`load_levels`, a bounded load test on loopback;
* :mod:`.scale`: :func:`ray_replicas`, the same predictor as Ray Serve replicas;
* :mod:`.triage`: :func:`~.triage.simulate_worklist`, a reading day with and without AI;
* :mod:`.terminology` and :mod:`.fhir`: the codes, their labels in five languages, and
  :func:`~.fhir.diagnostic_report`;
* :mod:`.errors`: :class:`ServiceError`, :class:`ServiceInputError`,
  :class:`TerminologyError`.
"""

from . import fhir, scale, terminology, triage
from .app import API_VERSION, MAX_BATCH, MAX_WAIT_MS, Batcher, ModelInfo, create_app, grad_cam_png
from .errors import ServiceError, ServiceInputError, TerminologyError
from .load import LoadResult, load_levels, load_test
from .predictors import Served, keras_fingerprint, load_predictor
from .scale import ScreeningReplica, ray_replicas
from .server import free_port, running_server, stop
from .uploads import CONTENT_TYPES, MAX_UPLOAD_BYTES, check_upload, decode_upload, encode_png

__all__ = [
    "API_VERSION",
    "CONTENT_TYPES",
    "MAX_BATCH",
    "MAX_UPLOAD_BYTES",
    "MAX_WAIT_MS",
    "Batcher",
    "LoadResult",
    "ScreeningReplica",
    "ModelInfo",
    "Served",
    "ServiceError",
    "ServiceInputError",
    "TerminologyError",
    "check_upload",
    "create_app",
    "decode_upload",
    "encode_png",
    "fhir",
    "free_port",
    "grad_cam_png",
    "keras_fingerprint",
    "load_levels",
    "load_predictor",
    "load_test",
    "ray_replicas",
    "running_server",
    "scale",
    "stop",
    "terminology",
    "triage",
]
