"""Scale-out on an existing engine: the same predictor as Ray Serve replicas.

:func:`ray_replicas` starts a local Ray (the engine chapter 8's Flower simulation runs on),
deploys :class:`ScreeningReplica` ``replicas`` times, and yields a function that scores an
upload on whichever replica Ray picks. Each replica loads the model file with the service's
own :func:`~.predictors.load_predictor` and reads the upload with its own
:func:`~.uploads.decode_upload`, so a replica answers what the FastAPI app answers. On exit
Serve and Ray are shut down. The deployment is the unit a Ray cluster (e.g. KubeRay on
Kubernetes) scales: the same class with more replicas, or ``num_replicas="auto"``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .errors import ServiceError
from .predictors import load_predictor
from .uploads import decode_upload


class ScreeningReplica:
    """One Ray Serve replica: a loaded model that scores uploads (PNG, JPEG or DICOM)."""

    def __init__(self, model_path: str):
        self.served = load_predictor(model_path)

    def __call__(self, content: bytes, content_type: str) -> dict:
        """Score one upload; say which model and which process answered."""
        image = decode_upload(content, content_type, self.served.size)
        score = float(self.served.predict(image[None])[0])
        return {"score": score, "fingerprint": self.served.fingerprint, "replica": os.getpid()}


@contextlib.contextmanager
def ray_replicas(
    model_path, replicas: int = 2, num_cpus: int = 2, timeout: float = 120.0
) -> Iterator[Callable[[bytes, str], dict]]:
    """Serve a model file as ``replicas`` Ray Serve replicas on this machine for the block.

    Yields:
        ``score(content, content_type) -> {"score", "fingerprint", "replica"}``.

    Raises:
        ServiceError: no model file at ``model_path``, or fewer than one replica.
    """
    path = Path(model_path)
    if not path.exists():
        raise ServiceError(f"model {path.name!r} does not exist: export it first.")
    if replicas < 1:
        raise ServiceError(f"replicas must be at least 1, got {replicas}.")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no FutureWarning
    import ray
    from ray import serve

    for name in ("ray", "ray.serve"):
        logging.getLogger(name).setLevel(logging.ERROR)
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        logging_level=logging.ERROR,
        configure_logging=True,
    )
    try:
        serve.start(proxy_location="Disabled", logging_config={"log_level": "ERROR"})
        deployment = serve.deployment(
            ScreeningReplica,
            name="screening",
            num_replicas=replicas,
            ray_actor_options={"num_cpus": num_cpus / (replicas + 1)},
        )
        handle = serve.run(deployment.bind(str(path.resolve())), name="screening")

        pool = ThreadPoolExecutor(1)  # a thread of its own: a notebook's event loop is running

        def score(content: bytes, content_type: str) -> dict:
            call = pool.submit(
                lambda: handle.remote(content, content_type).result(timeout_s=timeout)
            )
            return call.result()

        try:
            yield score
        finally:
            pool.shutdown()
    finally:
        with contextlib.suppress(Exception):
            serve.delete("screening")
        ray.shutdown()
