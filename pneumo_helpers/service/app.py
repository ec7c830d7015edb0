"""The screening service: a FastAPI app made by :func:`create_app` from a model.

Endpoints: ``POST /v1/predict`` (a PNG, JPEG or DICOM upload -> score, decision at the
validated threshold, the model's fingerprint and version, optionally a Grad-CAM overlay or
a FHIR report), ``GET /v1/model`` (the model card's summary) and ``GET /health``. FastAPI
writes the OpenAPI schema (``/openapi.json``). A request the service cannot read gets a
4xx answer with a JSON body ``{"error": {"kind": ..., "message": ...}}``, never a 500.

No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations
at run time, and the types they name are imported inside :func:`create_app`.
"""

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np

from .errors import ServiceError, ServiceInputError, TerminologyError
from .predictors import Served, load_predictor
from .uploads import MAX_UPLOAD_BYTES, decode_upload, encode_png

API_VERSION = "1.0"


@dataclass
class ModelInfo:
    """What ``GET /v1/model`` says of the served model (a model card's summary).

    Attributes:
        name: the model's name, e.g. ``"baseline CNN (LiteRT float32)"``.
        version: the model's version string, returned with every prediction.
        threshold: the decision threshold, chosen on the validation split.
        threshold_rule: how it was chosen, in words.
        intended_use, limitations: the card's sentences.
        metrics: validation (or test) metrics to show, ``{name: value}``.
        card_markdown: the full model card (:func:`pneumo_helpers.fairness.model_card`).
    """

    name: str
    version: str
    threshold: float
    threshold_rule: str = "Youden's J on the validation split"
    intended_use: str = "Research and teaching only: not a medical device."
    limitations: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    card_markdown: str = ""


#: The batcher's defaults: the largest batch it gathers, and how long it waits for more.
MAX_BATCH = 16
MAX_WAIT_MS = 2.0


class Batcher:
    """Gather concurrent requests into one model call: up to ``max_batch``, ``max_wait_ms``."""

    def __init__(self, predict, max_batch: int = MAX_BATCH, max_wait_ms: float = MAX_WAIT_MS):
        self.predict, self.max_batch, self.max_wait = predict, max_batch, max_wait_ms / 1000
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None
        self.batches: list[int] = []  # the size of every batch run, for the load test

    async def score(self, image: np.ndarray) -> float:
        """Queue one image and wait for its score."""
        if self.task is None:
            self.queue = asyncio.Queue()
            self.task = asyncio.get_running_loop().create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((image, future))
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            items = [await self.queue.get()]
            deadline = loop.time() + self.max_wait
            while len(items) < self.max_batch:
                timeout = deadline - loop.time()
                if timeout <= 0:
                    break
                try:
                    items.append(await asyncio.wait_for(self.queue.get(), timeout))
                except asyncio.TimeoutError:
                    break
            try:
                scores = self.predict(np.stack([image for image, _ in items]))
            except Exception as error:  # noqa: BLE001 - handed to each waiting request
                for _, future in items:
                    future.set_exception(error)
                continue
            self.batches.append(len(items))
            for (_, future), score in zip(items, scores, strict=True):
                future.set_result(float(score))


def _error(status: int, kind: str, message: str):
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"kind": kind, "message": message}}, status_code=status)


def grad_cam_png(keras_model, image: np.ndarray) -> str:
    """Return the Grad-CAM overlay of one ``uint8`` image as a base64 PNG (8x enlarged)."""
    from ..explain import grad_cam, overlay

    heat = grad_cam(keras_model, image[np.newaxis])[0]
    rgb = np.rint(255 * overlay(image, heat)).astype(np.uint8)
    big = np.kron(rgb, np.ones((8, 8, 1), dtype=np.uint8))
    return base64.b64encode(encode_png(big)).decode("ascii")


def create_app(
    model: Any,
    info: ModelInfo,
    *,
    batching: bool = False,
    max_batch: int = MAX_BATCH,
    max_wait_ms: float = MAX_WAIT_MS,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
    num_threads: int = 1,
):
    """Return the FastAPI app that serves ``model`` (see the module's docstring).

    Args:
        model: a Keras model, a ``.keras``/``.tflite``/``.onnx`` file or a SavedModel folder
            (:func:`~.predictors.load_predictor`), or an already loaded :class:`Served`.
        info: the model card's summary, with the validated threshold and the version.
        batching: gather concurrent requests into one model call (:class:`Batcher`).
        max_batch, max_wait_ms: the batcher's largest batch and longest wait.
        max_upload_bytes: the size limit of an upload (413 above it).
        num_threads: CPU threads of a LiteRT or ONNX runtime.

    Raises:
        ServiceError: a model that cannot be loaded, or a threshold outside (0, 1).
    """
    from fastapi import FastAPI, File, Query, Request, UploadFile
    from fastapi.exceptions import RequestValidationError
    from pydantic import BaseModel
    from starlette.exceptions import HTTPException

    from . import fhir

    if not 0.0 < float(info.threshold) < 1.0:
        raise ServiceError(f"threshold must be in (0, 1), got {info.threshold!r}.")
    served = model if isinstance(model, Served) else load_predictor(model, num_threads)
    batcher = Batcher(served.predict, max_batch, max_wait_ms) if batching else None

    class Prediction(BaseModel):
        """One X-ray's answer."""

        score: float
        decision: Literal["pneumonia", "no pneumonia"]
        threshold: float
        fingerprint: str
        version: str
        model: str
        overlay_png_base64: str | None = None

    class ErrorBody(BaseModel):
        """What was wrong with the request."""

        error: dict[str, str]

    class Health(BaseModel):
        """The service is up and has a model loaded."""

        status: Literal["ok"]
        fingerprint: str

    app = FastAPI(
        title="Pneumo Course screening service",
        version=API_VERSION,
        description="Scores one paediatric chest X-ray for pneumonia. Research and teaching "
        "only: not a medical device.",
    )
    app.state.served, app.state.info, app.state.batcher = served, info, batcher
    errors = {code: {"model": ErrorBody} for code in (400, 413, 415, 422)}

    @app.exception_handler(ServiceInputError)
    async def _service_input(request: Request, error: ServiceInputError):
        return _error(error.status, error.kind, str(error))

    @app.exception_handler(TerminologyError)
    async def _terminology(request: Request, error: TerminologyError):
        return _error(422, "unknown_language", str(error))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, error: RequestValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in error.errors()
        )
        return _error(
            422,
            "invalid_request",
            f"the request is not what the endpoint takes ({problems}): send a multipart form "
            "with the X-ray in the 'file' field.",
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "bad_request")
        return _error(error.status_code, kind, str(error.detail))

    @app.get("/health", response_model=Health)
    async def health():
        """Say that the service is up, with the fingerprint of the model it serves."""
        return {"status": "ok", "fingerprint": served.fingerprint}

    @app.get("/v1/model")
    async def model_card() -> dict:
        """Return the model card's summary: name, version, threshold, intended use, metrics."""
        return {
            "name": info.name,
            "version": info.version,
            "fingerprint": served.fingerprint,
            "runtime": served.kind,
            "input": {"side_px": served.size, "formats": ["PNG", "JPEG", "DICOM"]},
            "threshold": info.threshold,
            "threshold_rule": info.threshold_rule,
            "intended_use": info.intended_use,
            "limitations": info.limitations,
            "metrics": info.metrics,
            "card_markdown": info.card_markdown,
            "max_upload_bytes": max_upload_bytes,
        }

    @app.post("/v1/predict", response_model=Prediction, responses=errors)
    async def predict(
        file: Annotated[UploadFile, File(description="one chest X-ray: PNG, JPEG or DICOM")],
        overlay: Annotated[bool, Query(description="also return a Grad-CAM overlay (PNG)")] = False,
    ):
        """Score one X-ray: the pneumonia score, the decision at the validated threshold."""
        image = await _read(file)
        score = await batcher.score(image) if batcher else float(served.predict(image[None])[0])
        answer = {
            "score": score,
            "decision": "pneumonia" if score >= info.threshold else "no pneumonia",
            "threshold": info.threshold,
            "fingerprint": served.fingerprint,
            "version": info.version,
            "model": info.name,
        }
        if overlay:
            if served.keras_model is None:
                raise ServiceInputError(
                    f"a Grad-CAM overlay needs the Keras model, and this service runs a "
                    f"{served.kind} file: ask without overlay=true, or serve the Keras model.",
                    status=422,
                    kind="overlay_unavailable",
                )
            answer["overlay_png_base64"] = grad_cam_png(served.keras_model, image)
        return answer

    @app.post("/v1/report", responses=errors)
    async def report(
        file: Annotated[UploadFile, File(description="one chest X-ray: PNG, JPEG or DICOM")],
        language: Annotated[
            str, Query(description="language of the display texts, e.g. 'fr'")
        ] = "en",
    ) -> dict:
        """Score one X-ray and return a FHIR R5 DiagnosticReport with its Observation."""
        fhir.check_language(language)
        image = await _read(file)
        score = await batcher.score(image) if batcher else float(served.predict(image[None])[0])
        return fhir.diagnostic_report(
            score,
            info.threshold,
            language,
            device=f"{info.name} {info.version}",
            fingerprint=served.fingerprint,
        )

    async def _read(file) -> np.ndarray:
        content = await file.read(max_upload_bytes + 1)
        return decode_upload(content, file.content_type, served.size, max_upload_bytes)

    return app
