"""The screening service: answers, every kind of bad input a 4xx, a fuzz, a real server."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import signal
import socket

import httpx
import keras
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from test_edge import SIZE, separable_images  # the edge tests' separable X-rays

from pneumo_helpers import edge, models, privacy, service


def png_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A small course CNN that learned the task, its LiteRT file, and a DICOM of one image."""
    images, labels = separable_images(128, 0)
    keras.utils.set_random_seed(0)
    model = models.build_baseline_cnn(
        (SIZE, SIZE, 1), filters=(8, 16), dense_units=8, learning_rate=1e-2
    )
    model.fit(images[..., None] / 255.0, labels, epochs=5, batch_size=32, verbose=0)
    folder = tmp_path_factory.mktemp("service")
    litert = edge.convert_to_litert(model, folder / "model.tflite", "float32")
    test_images, test_labels = separable_images(8, 1)
    dicom_folder = folder / "dicom"
    privacy.write_dicom_study(test_images[:2], dicom_folder, factor=2, burned_in_share=0.0)
    return {
        "model": model,
        "litert": litert,
        "images": test_images,
        "labels": test_labels,
        "dicom": sorted(dicom_folder.iterdir())[0].read_bytes(),
        "folder": folder,
    }


def info(threshold: float = 0.5) -> service.ModelInfo:
    return service.ModelInfo(name="tiny CNN", version="test-1", threshold=threshold)


@pytest.fixture(scope="module")
def keras_client(trained):
    return TestClient(service.create_app(trained["model"], info(), max_upload_bytes=20_000))


@pytest.fixture(scope="module")
def litert_client(trained):
    return TestClient(service.create_app(trained["litert"], info()))


def post(client, content: bytes, content_type: str = "image/png", **params):
    files = {"file": ("x-ray", content, content_type)}
    return client.post("/v1/predict", files=files, params=params)


def test_a_png_gets_the_keras_score_and_the_decision_at_the_threshold(trained, keras_client):
    expected = trained["model"].predict(trained["images"][..., None] / 255.0, verbose=0)
    for image, score in zip(trained["images"], expected.reshape(-1), strict=True):
        answer = post(keras_client, png_bytes(image)).json()
        assert answer["score"] == pytest.approx(float(score), abs=1e-5)
        assert answer["decision"] == ("pneumonia" if score >= 0.5 else "no pneumonia")
        assert answer["version"] == "test-1"
        assert answer["fingerprint"] == service.keras_fingerprint(trained["model"])
    decisions = [post(keras_client, png_bytes(i)).json()["decision"] for i in trained["images"]]
    assert decisions == ["pneumonia" if y else "no pneumonia" for y in trained["labels"]]


def test_jpeg_and_dicom_uploads_are_read_as_the_same_film(trained, keras_client):
    image = trained["images"][0]
    png = post(keras_client, png_bytes(image)).json()["score"]
    jpeg = io.BytesIO()
    Image.fromarray(image).save(jpeg, format="JPEG", quality=100)
    jpeg_score = post(keras_client, jpeg.getvalue(), "image/jpeg").json()["score"]
    assert jpeg_score == pytest.approx(png, abs=0.05)  # JPEG is lossy, even at quality 100
    dicom = post(keras_client, trained["dicom"], "application/dicom")
    assert dicom.status_code == 200
    assert dicom.json()["score"] == pytest.approx(png, abs=1e-5)  # 2x2 blocks averaged back


def test_a_litert_file_and_a_savedmodel_give_the_keras_scores(trained, keras_client, tmp_path):
    trained["model"].export(tmp_path / "saved", verbose=False)
    saved = TestClient(service.create_app(tmp_path / "saved", info()))
    litert = TestClient(service.create_app(trained["litert"], info()))
    for image in trained["images"][:4]:
        reference = post(keras_client, png_bytes(image)).json()["score"]
        for client in (saved, litert):
            assert post(client, png_bytes(image)).json()["score"] == pytest.approx(
                reference, abs=1e-4
            )
    model_json = litert.get("/v1/model").json()
    assert model_json["runtime"] == "litert" and model_json["threshold"] == 0.5
    assert litert.get("/health").json()["status"] == "ok"


def test_the_overlay_is_a_png_of_the_grad_cam_over_the_film(trained, keras_client):
    answer = post(keras_client, png_bytes(trained["images"][1]), overlay="true").json()
    overlay = Image.open(io.BytesIO(base64.b64decode(answer["overlay_png_base64"])))
    assert overlay.size == (8 * SIZE, 8 * SIZE) and overlay.mode == "RGB"


def test_the_openapi_schema_names_the_endpoints_and_their_errors(keras_client):
    schema = keras_client.get("/openapi.json").json()
    assert {"/v1/predict", "/v1/model", "/health", "/v1/report"} <= set(schema["paths"])
    assert {"413", "415", "422"} <= set(schema["paths"]["/v1/predict"]["post"]["responses"])


def _bad_inputs(trained):
    image = trained["images"][0]
    jpeg = io.BytesIO()
    Image.fromarray(image).save(jpeg, format="JPEG")
    import pydicom

    ds = pydicom.dcmread(io.BytesIO(trained["dicom"]))
    del ds.PixelData
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return {
        "wrong_content_type": (post, b"hello", "text/plain", 415),
        "corrupt_png": (post, png_bytes(image)[:40], "image/png", 422),
        "garbage_declared_png": (post, b"\x00" * 200, "image/png", 422),
        "mislabelled_jpeg": (post, jpeg.getvalue(), "image/png", 422),
        "empty_body": (post, b"", "image/png", 400),
        "oversized": (post, b"\x89PNG\r\n\x1a\n" + b"0" * 30_000, "image/png", 413),
        "16_bit_png": (post, png_bytes(image.astype(np.uint16) * 256), "image/png", 422),
        "rgb_png": (post, png_bytes(np.stack([image] * 3, axis=-1)), "image/png", 422),
        "not_square": (post, png_bytes(np.zeros((SIZE, 2 * SIZE), np.uint8)), "image/png", 422),
        "too_small": (post, png_bytes(np.zeros((4, 4), np.uint8)), "image/png", 422),
        "dicom_without_pixels": (post, buffer.getvalue(), "application/dicom", 422),
        "truncated_dicom": (post, trained["dicom"][:300], "application/dicom", 422),
    }


BAD_KINDS = [
    "wrong_content_type",
    "corrupt_png",
    "garbage_declared_png",
    "mislabelled_jpeg",
    "empty_body",
    "oversized",
    "16_bit_png",
    "rgb_png",
    "not_square",
    "too_small",
    "dicom_without_pixels",
    "truncated_dicom",
]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_uploads_get_a_4xx_json_error_that_says_what_was_wrong(trained, keras_client, kind):
    send, content, content_type, status = _bad_inputs(trained)[kind]
    response = send(keras_client, content, content_type)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["kind"] and len(error["message"]) > 30


def test_requests_without_the_file_field_or_with_bad_parameters_get_a_4xx(
    trained, keras_client, litert_client
):
    cases = [
        keras_client.post("/v1/predict"),  # no body at all
        keras_client.post("/v1/predict", data={"other": "x"}),  # the field missing
        keras_client.post("/v1/predict", content=b"raw", headers={"content-type": "image/png"}),
        post(keras_client, png_bytes(trained["images"][0]), overlay="perhaps"),
        post(litert_client, png_bytes(trained["images"][0]), overlay="true"),  # no Keras model
        keras_client.post(
            "/v1/report",
            files={"file": ("x", png_bytes(trained["images"][0]), "image/png")},
            params={"language": "xx"},
        ),
        keras_client.get("/v1/nothing"),
        keras_client.delete("/v1/predict"),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]["message"]
    assert cases[4].json()["error"]["kind"] == "overlay_unavailable"
    assert cases[5].json()["error"]["kind"] == "unknown_language"


def test_the_fhir_report_is_coded_and_labelled_in_the_asked_language(trained, keras_client):
    image = trained["images"][1]  # a pneumonia image
    for language in service.terminology.LANGUAGES:
        report = keras_client.post(
            "/v1/report",
            files={"file": ("x", png_bytes(image), "image/png")},
            params={"language": language},
        ).json()
        assert report["resourceType"] == "DiagnosticReport" and report["language"] == language
        observation = report["contained"][0]
        assert observation["code"]["coding"][0]["code"] == "233604007"
        assert report["code"]["coding"][0] == {
            "system": "http://loinc.org",
            "code": "36554-4",
            "display": "XR Chest Single view",
        }
        conclusion = report["conclusionCode"][0]["coding"][0]
        assert conclusion["code"] == "J18.9"
        assert conclusion["display"] == service.terminology.LABELS["diagnosis", language].text
    negative = service.fhir.diagnostic_report(0.1, 0.5, "de")
    assert "conclusionCode" not in negative
    assert negative["contained"][0]["valueCodeableConcept"]["coding"][0]["code"] == "2667000"


def test_the_terminology_table_refuses_unknown_languages_and_codes():
    assert len(service.terminology.LANGUAGES) >= 5
    assert all(entry.source for entry in service.terminology.LABELS.values())
    with pytest.raises(service.TerminologyError, match="holds de, en, es, fr, pt"):
        service.terminology.label("diagnosis", "klingon")
    with pytest.raises(service.TerminologyError, match="unknown code"):
        service.terminology.code("fracture")
    with pytest.raises(service.TerminologyError, match="no 'fr' label"):
        service.terminology.label("finding", "fr")
    assert isinstance(service.TerminologyError("x"), ValueError)
    assert set(service.terminology.table()["language"]) >= set(service.terminology.LANGUAGES)


def test_batching_gives_the_same_scores_in_fewer_model_calls(trained):
    app = service.create_app(trained["litert"], info(), batching=True, max_wait_ms=20)
    plain = TestClient(service.create_app(trained["litert"], info()))
    uploads = [png_bytes(image) for image in trained["images"]]

    async def all_at_once():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            requests = [
                client.post("/v1/predict", files={"file": ("x", u, "image/png")}) for u in uploads
            ]
            return [r.json()["score"] for r in await asyncio.gather(*requests)]

    batched = asyncio.run(all_at_once())
    expected = [post(plain, u).json()["score"] for u in uploads]
    assert batched == pytest.approx(expected, abs=1e-6)
    assert max(app.state.batcher.batches) > 1 and sum(app.state.batcher.batches) == len(uploads)


def test_create_app_refuses_what_it_cannot_serve(tmp_path):
    with pytest.raises(service.ServiceError, match="does not exist"):
        service.create_app(tmp_path / "missing.tflite", info())
    (tmp_path / "model.txt").write_text("x")
    with pytest.raises(service.ServiceError, match="not a model file"):
        service.create_app(tmp_path / "model.txt", info())
    with pytest.raises(service.ServiceError, match="cannot serve a int"):
        service.create_app(3, info())
    with pytest.raises(service.ServiceError, match="threshold"):
        service.create_app(tmp_path / "model.txt", info(threshold=1.5))


def _group_is_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_the_real_server_answers_on_loopback_and_leaves_no_process(trained):
    with service.running_server(trained["litert"], info()) as (url, process):
        assert url.startswith("http://127.0.0.1:")
        answer = httpx.post(
            f"{url}/v1/predict",
            files={"file": ("x", png_bytes(trained["images"][1]), "image/png")},
            timeout=10,
        )
        assert answer.status_code == 200 and answer.json()["decision"] == "pneumonia"
        pgid = os.getpgid(process.pid)
        port = int(url.rsplit(":", 1)[1])
    assert process.poll() is not None
    assert _group_is_gone(pgid)
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more


def test_a_server_that_cannot_start_says_why_and_leaves_no_process(tmp_path):
    (tmp_path / "broken.tflite").write_bytes(b"not a model")
    with pytest.raises(service.ServiceError, match="exited with status"):
        with service.running_server(tmp_path / "broken.tflite", info(), timeout=60):
            pass


def test_stop_kills_a_process_that_ignores_sigterm():
    import subprocess
    import sys

    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, "
            "signal.SIG_IGN); print('ready', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    stubborn.stdout.readline()
    assert service.stop(stubborn, grace=1.0) == -signal.SIGKILL
    assert _group_is_gone(stubborn.pid)


def test_the_load_test_is_bounded_and_counts_what_it_measured(trained):
    upload = ("x.png", png_bytes(trained["images"][0]), "image/png")
    with service.running_server(trained["litert"], info()) as (url, _):
        result = service.load_test(f"{url}/v1/predict", upload, concurrency=2, requests=30)
        bad = service.load_test(
            f"{url}/v1/predict", ("x", b"junk", "text/plain"), concurrency=1, requests=5
        )
    assert result.requests == 30 and result.errors == 0 and result.throughput > 0
    assert result.p50_ms <= result.p95_ms <= result.p99_ms
    assert bad.errors == 5  # a 415 is not a success
    with service.running_server(trained["litert"], info(), batching=True) as (url, _):
        levels = service.load_levels(f"{url}/v1/predict", upload, (1, 4), requests=20, warmup=4)
        cut = service.load_test(f"{url}/v1/predict", upload, requests=10_000, time_limit=0.5)
    assert [level.concurrency for level in levels] == [1, 4]
    assert all(level.requests == 20 and level.errors == 0 for level in levels)
    assert 0 < cut.requests < 10_000 and cut.seconds < 0.5 + 5.0  # the time limit stops it
    with pytest.raises(service.ServiceError, match="only targets loopback"):
        service.load_test("http://example.org/v1/predict", upload)


def test_the_worklist_orders_the_reading_and_rule_out_skips_the_confident_normals():
    from pneumo_helpers.service import triage

    arrival = np.array([0.0, 1.0, 2.0, 3.0])
    scores = np.array([0.1, 0.2, 0.9, 0.05])
    reading = np.full(4, 10.0)
    fifo = triage.simulate_worklist(arrival, scores, "fifo", reading)
    assert fifo.report.tolist() == [10.0, 20.0, 30.0, 40.0]
    ranked = triage.simulate_worklist(arrival, scores, "prioritised", reading)
    assert ranked.report.tolist() == [10.0, 30.0, 20.0, 40.0]  # the 0.9 study jumps the queue
    rule_out = triage.simulate_worklist(arrival, scores, "rule_out", reading, 0.15)
    assert rule_out.ruled_out.tolist() == [True, False, False, True]
    assert rule_out.report.tolist() == [0.0, 11.0, 21.0, 3.0]
    summary = triage.summarise(rule_out, np.array([1, 0, 1, 0]))
    assert summary["missed pneumonia"] == 1 and summary["ruled out"] == 2
    assert summary["pneumonia median"] == 19.0  # only the pneumonia that was read
    gaps = np.diff(triage.arrivals(4000, 30.0, seed=1))
    assert gaps.mean() == pytest.approx(2.0, rel=0.05)  # 30 an hour: a study every 2 minutes
    with pytest.raises(service.ServiceError, match="unknown policy"):
        triage.simulate_worklist(arrival, scores, "random", reading)
    with pytest.raises(service.ServiceError, match="rule_out_threshold"):
        triage.simulate_worklist(arrival, scores, "rule_out", reading)


def test_a_simulated_day_puts_pneumonia_first_and_says_what_normals_pay():
    from pneumo_helpers.service import triage

    rng = np.random.default_rng(0)
    labels = np.array([1] * 100 + [0] * 300)
    scores = np.clip(0.7 * labels + rng.normal(0.15, 0.1, size=400), 0, 1)
    rows = {
        row["policy"]: row
        for row in triage.simulate_day(
            scores, labels, arrivals_per_hour=11, minutes_per_study=5, rule_out_threshold=0.2
        )
    }
    assert list(rows) == list(triage.POLICIES)
    fifo, ranked, rule_out = rows["fifo"], rows["prioritised"], rows["rule_out"]
    assert ranked["pneumonia median"] < fifo["pneumonia median"]  # read first, reported sooner
    assert ranked["normal p90"] > fifo["normal p90"]  # the normals wait for them
    assert rule_out["ruled out"] == int((scores < 0.2).sum())
    assert rule_out["missed pneumonia"] == int(((scores < 0.2) & (labels == 1)).sum())
    assert rule_out["pneumonia median"] < fifo["pneumonia median"]  # a shorter list
    again = triage.simulate_day(
        scores, labels, arrivals_per_hour=11, minutes_per_study=5, rule_out_threshold=0.2
    )
    assert again == list(rows.values())  # one seed, one day
    with pytest.raises(service.ServiceError, match="one entry a study"):
        triage.simulate_day(
            scores, labels[:-1], arrivals_per_hour=11, minutes_per_study=5, rule_out_threshold=0.2
        )


def test_simulated_days_are_independent_streams_each_the_day_of_its_seed():
    from pneumo_helpers.service import triage

    rng = np.random.default_rng(1)
    labels = np.array([1] * 60 + [0] * 140)
    scores = np.clip(0.6 * labels + rng.normal(0.2, 0.15, size=200), 0, 1)
    settings = dict(arrivals_per_hour=10, minutes_per_study=5.4, rule_out_threshold=0.15)
    rows = triage.simulate_days(scores, labels, seeds=range(3, 23), **settings)
    assert len(rows) == 20 * len(triage.POLICIES)
    for seed in (3, 22):
        day = [{k: v for k, v in r.items() if k != "seed"} for r in rows if r["seed"] == seed]
        assert day == triage.simulate_day(scores, labels, seed=seed, **settings)
    medians = [r["pneumonia median"] for r in rows if r["policy"] == "fifo"]
    assert len(set(medians)) == len(medians)  # twenty different days
    ruled_out = {r["ruled out"] for r in rows if r["policy"] == "rule_out"}
    assert ruled_out == {int((scores < 0.15).sum())}  # the rule-out reads the scores only
    with pytest.raises(service.ServiceError, match="seeds is empty"):
        triage.simulate_days(scores, labels, seeds=[], **settings)


def test_two_ray_serve_replicas_give_the_fastapi_answers_and_leave_no_ray(trained, litert_client):
    import subprocess

    uploads = [png_bytes(image) for image in trained["images"][:4]]
    expected = [post(litert_client, u).json() for u in uploads]
    with service.ray_replicas(trained["litert"], replicas=2) as score:
        answers = [score(u, "image/png") for u in uploads * 2]
        with pytest.raises(service.ServiceInputError, match="declared image/png"):
            score(b"junk", "image/png")
    assert [a["score"] for a in answers] == pytest.approx([e["score"] for e in expected] * 2)
    assert {a["fingerprint"] for a in answers} == {expected[0]["fingerprint"]}
    assert len({a["replica"] for a in answers}) == 2  # both replicas answered
    left = subprocess.run(["pgrep", "-f", "raylet"], capture_output=True, text=True).stdout
    assert left.strip() == "", f"Ray processes left behind: {left}"
    with pytest.raises(service.ServiceError, match="does not exist"):
        with service.ray_replicas(trained["folder"] / "missing.tflite"):
            pass
