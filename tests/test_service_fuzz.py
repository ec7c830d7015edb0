"""A schema-driven fuzz of the service (schemathesis): no generated request gets a 5xx."""

from __future__ import annotations

import keras
import numpy as np
import schemathesis
from hypothesis import HealthCheck, given, settings

from pneumo_helpers import models, service

EXAMPLES_PER_OPERATION = 40


def test_no_generated_request_gets_a_server_error():
    keras.utils.set_random_seed(0)
    model = models.build_baseline_cnn((16, 16, 1), filters=(4, 8), dense_units=4)
    model.predict(np.zeros((1, 16, 16, 1), "float32"), verbose=0)
    info = service.ModelInfo(name="fuzz CNN", version="fuzz", threshold=0.5)
    app = service.create_app(model, info, max_upload_bytes=50_000)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/health", "/v1/model", "/v1/predict", "/v1/report"}
    seen: dict[str, list[int]] = {}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):
            response = case.call()
            seen.setdefault(case.path, []).append(response.status_code)
            assert response.status_code < 500, f"{case.method} {case.path}: {response.text[:300]}"
            if response.status_code >= 400:
                assert response.json()["error"]["message"]

        fuzz()
    statuses = [status for codes in seen.values() for status in codes]
    assert len(seen["/v1/predict"]) >= 20 and max(statuses) < 500
    assert any(400 <= status < 500 for status in seen["/v1/predict"])  # the fuzz hit errors
