"""Tests of the privacy helpers: DICOM writer, reader, de-identification, scan; attack; DP-SGD."""

from __future__ import annotations

import datetime as dt
import math
import subprocess

import numpy as np
import pydicom
import pytest

from pneumo_helpers import colab, data, privacy

SIZE = 28


def films(n: int = 8, seed: int = 0) -> np.ndarray:
    """Smooth synthetic films (a bright oval on a dark ground), as X-rays look at 28 px."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:SIZE, :SIZE]
    images = []
    for _ in range(n):
        oval = ((y - 14) / 11) ** 2 + ((x - 14) / 9) ** 2 < 1
        image = 30 + 120 * oval + rng.integers(0, 40, (SIZE, SIZE))
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return np.stack(images)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """Eight films of two children (two studies of two images each), half with text."""
    folder = tmp_path_factory.mktemp("dicom") / "originals"
    images = films()
    planted = privacy.write_dicom_study(images, folder, seed=3, burned_in_share=0.5)
    destination = folder.parent / "deidentified"
    report = privacy.deidentify_folder(folder, destination, key="test-secret")
    return images, planted, folder, destination, report


def outputs(destination, planted):
    return [destination / p.path.name for p in planted]


# ------------------------------------------------------------------ writer and reader


def test_the_writer_plants_a_full_record_and_text_on_some_films(written):
    images, planted, folder, _, _ = written
    assert len(planted) == len(images) == len(list(folder.iterdir()))
    assert {p.patient for p in planted} == {0, 1} and {p.study for p in planted} == {0, 1}
    assert any(p.text_boxes for p in planted) and not all(p.text_boxes for p in planted)
    ds = pydicom.dcmread(planted[0].path)
    factor = -(-privacy.FILM_SIZE // SIZE)  # the smallest factor giving FILM_SIZE px
    assert ds.Modality == "DX" and ds.Rows == ds.Columns == SIZE * factor >= privacy.FILM_SIZE
    assert ds.OtherPatientIDsSequence[0].PatientName == ds.PatientName
    assert any(element.tag.is_private for element in ds)
    assert set(p.encoding for p in planted) == set(privacy.ENCODINGS)


def test_the_reader_gives_back_the_images_exactly_where_no_text_was_burned_in(written):
    images, planted, folder, _, _ = written
    read = privacy.load_dicom(folder, size=SIZE)
    order = [read.files.index(p.path) for p in planted]
    clean = np.array([not p.text_boxes for p in planted])
    assert read.images.dtype == np.uint8 and read.images.shape == (len(images), SIZE, SIZE)
    assert np.array_equal(read.images[order][clean], images[clean])
    assert np.array_equal(read.burned_in[order], ~clean)


def test_the_reader_inverts_monochrome1(tmp_path):
    gradient = np.tile(np.arange(0, 252, 9, dtype=np.uint8), (SIZE, 1))
    privacy.write_dicom_study(gradient[None].repeat(2, 0), tmp_path / "a", burned_in_share=0)
    path = sorted((tmp_path / "a").iterdir())[0]
    ds = pydicom.dcmread(path)
    ds.PhotometricInterpretation = "MONOCHROME1"
    ds.PixelData = (255 - ds.pixel_array).astype(np.uint8).tobytes()
    (tmp_path / "b").mkdir()
    ds.save_as(tmp_path / "b" / "inverted.dcm")
    stored = pydicom.dcmread(tmp_path / "b" / "inverted.dcm").pixel_array
    assert stored[0, 0] == 255  # white is low: the darkest pixel is stored as 255
    read = privacy.load_dicom(tmp_path / "b", size=SIZE)
    assert np.array_equal(read.images[0], gradient) and read.photometric == ["MONOCHROME1"]


def test_the_linear_window_follows_the_standard():
    values = np.array([-1000.0, 0.0, 127.5, 255.0, 1000.0])
    assert np.allclose(privacy.linear_window(values, 128, 256), [0, 0, 127.5, 255, 255])


# ------------------------------------------------------------------ every bad input


def _first(planted):
    return pydicom.dcmread(planted[0].path)


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("not dicom", "is not a DICOM file"),
        ("no pixels", "has no Pixel Data"),
        ("compressed", "compressed"),
        ("truncated", "truncated"),
        ("colour", "not a greyscale film"),
    ],
)
def test_the_reader_names_the_file_it_cannot_read(written, tmp_path, breakage, message):
    _, planted, _, _, _ = written
    path = tmp_path / "broken.dcm"
    if breakage == "not dicom":
        path.write_text("PatientName,Label\nCHEN^MEI,1\n")
    elif breakage == "truncated":
        raw = planted[0].path.read_bytes()
        path.write_bytes(raw[: len(raw) - 5000])
    else:
        ds = _first(planted)
        if breakage == "no pixels":
            del ds.PixelData
        elif breakage == "compressed":
            ds.file_meta.TransferSyntaxUID = pydicom.uid.JPEG2000Lossless
            ds.PixelData = pydicom.encaps.encapsulate([ds.PixelData])
        elif breakage == "colour":
            ds.PhotometricInterpretation = "RGB"
        ds.save_as(path)
    with pytest.raises(data.DataError, match=message) as error:
        privacy.load_dicom(tmp_path, size=SIZE)
    assert "broken.dcm" in str(error.value)


def test_the_reader_refuses_a_missing_or_empty_folder(tmp_path):
    with pytest.raises(data.DataError, match="not a folder"):
        privacy.load_dicom(tmp_path / "absent")
    with pytest.raises(data.DataError, match="holds no files"):
        privacy.load_dicom(tmp_path)
    assert issubclass(data.DataError, ValueError)


def test_the_writer_and_deidentifier_refuse_bad_arguments(written, tmp_path):
    _, _, folder, destination, _ = written
    with pytest.raises(privacy.PrivacyError, match="uint8"):
        privacy.write_dicom_study(films().astype(float), tmp_path / "x")
    with pytest.raises(privacy.PrivacyError, match="not empty"):
        privacy.write_dicom_study(films(), folder)
    with pytest.raises(privacy.PrivacyError, match="burned_in_share"):
        privacy.write_dicom_study(films(), tmp_path / "y", burned_in_share=2)
    with pytest.raises(privacy.PrivacyError, match="key"):
        privacy.deidentify_folder(folder, tmp_path / "z", key="")
    with pytest.raises(privacy.PrivacyError, match="not empty"):
        privacy.deidentify_folder(folder, destination, key="k")
    with pytest.raises(data.DataError, match="not a folder"):
        privacy.deidentify_folder(tmp_path / "absent", tmp_path / "w", key="k")
    with pytest.raises(privacy.PrivacyError, match="at least one file"):
        privacy.scan_files([], {"name": "x"})
    assert issubclass(privacy.PrivacyError, ValueError)


# ------------------------------------------------------------------ de-identification, proved


def test_the_scan_finds_every_planted_identifier_in_the_originals(written):
    _, planted, _, _, _ = written
    hits = privacy.scan_files([p.path for p in planted], [p.identifiers for p in planted])
    found = set(zip(hits["file"], hits["identifier"], strict=True))
    assert all((p.path.name, kind) in found for p in planted for kind in p.identifiers)


def test_no_planted_identifier_survives_deidentification(written):
    _, planted, _, destination, _ = written
    hits = privacy.scan_files(outputs(destination, planted), [p.identifiers for p in planted])
    assert hits.empty, hits


def test_a_name_in_a_nested_sequence_is_found_and_removed(written):
    """Known answer: the patient's name, planted inside OtherPatientIDsSequence."""
    _, planted, _, destination, _ = written
    name = {"nested name": planted[0].identifiers["patient name"]}
    where = set(privacy.scan_files([planted[0].path], name)["where"])
    assert "OtherPatientIDsSequence[0].PatientName" in where
    assert privacy.scan_files(outputs(destination, planted)[:1], name).empty


def test_private_tags_are_removed_and_the_method_recorded(written):
    _, planted, _, destination, _ = written
    for path in outputs(destination, planted):
        ds = pydicom.dcmread(path)
        assert not any(element.tag.is_private for element in ds)
        assert ds.PatientIdentityRemoved == "YES" and ds.BurnedInAnnotation == "NO"
        codes = {item.CodeValue for item in ds.DeidentificationMethodCodeSequence}
        assert codes == set(privacy.METHOD_CODES)


def _moment(ds) -> dt.datetime:
    return dt.datetime.strptime(ds.StudyDate + ds.StudyTime[:6], "%Y%m%d%H%M%S")


def test_date_shifts_are_one_per_patient_and_keep_intervals(written):
    _, planted, _, destination, _ = written
    shifts: dict[int, set] = {}
    moments: dict[tuple, tuple] = {}
    for p, path in zip(planted, outputs(destination, planted), strict=True):
        before, after = pydicom.dcmread(p.path), pydicom.dcmread(path)
        assert before.StudyDate != after.StudyDate
        shifts.setdefault(p.patient, set()).add(_moment(before) - _moment(after))
        moments[(p.patient, p.study)] = (_moment(before), _moment(after))
    assert all(len(s) == 1 for s in shifts.values())  # one offset per patient
    for patient in shifts:
        (b0, a0), (b1, a1) = moments[(patient, 0)], moments[(patient, 1)]
        assert b1 - b0 == a1 - a0  # the interval between the two studies survives


def test_uids_are_replaced_consistently_within_a_study(written):
    _, planted, _, destination, _ = written
    studies: dict[tuple, set] = {}
    for p, path in zip(planted, outputs(destination, planted), strict=True):
        before, after = pydicom.dcmread(p.path), pydicom.dcmread(path)
        assert after.StudyInstanceUID != before.StudyInstanceUID
        assert after.SOPInstanceUID == after.file_meta.MediaStorageSOPInstanceUID
        studies.setdefault((p.patient, p.study), set()).add(after.StudyInstanceUID)
    assert all(len(uids) == 1 for uids in studies.values())
    assert len({next(iter(u)) for u in studies.values()}) == len(studies)


def test_burned_in_text_is_masked_and_no_other_pixel_changes(written):
    images, planted, _, destination, report = written
    for p, path, image in zip(planted, outputs(destination, planted), images, strict=True):
        before, after = pydicom.dcmread(p.path), pydicom.dcmread(path)
        display = privacy.display_values(before)
        factor = display.shape[0] // image.shape[0]
        assert factor * image.shape[0] == display.shape[0] >= privacy.FILM_SIZE
        course = privacy.upsample(image.astype(float), factor)
        text = np.abs(display - course) > 0.5
        mask = privacy.text_mask(display)
        changed = before.pixel_array != after.pixel_array
        assert not (text & ~mask).any()  # every text pixel is masked
        assert not (changed & ~mask).any()  # nothing outside the masks moved
        assert mask.any() == bool(p.text_boxes)  # no mask on a film without text
        if mask.any():  # the letters are gone, and the fill is nearer the film than black
            filled = privacy.display_values(after)
            assert not privacy.text_mask(filled).any()
            error, black = np.abs(filled - course)[mask], np.abs(course)[mask]
            assert error.mean() < 0.5 * black.mean()
    assert (report["masked pixels"] > 0).sum() == sum(bool(p.text_boxes) for p in planted)


def test_the_fill_reads_only_the_border_and_rebuilds_a_smooth_film_exactly():
    rows, cols = np.mgrid[0:40, 0:60]
    ramp = 3.0 * rows + 2.0 * cols + 7.0  # harmonic: the fill must give it back exactly
    mask = np.zeros(ramp.shape, dtype=bool)
    mask[5:20, 10:45] = True
    stamped = np.where(mask, 255.0, ramp)  # whatever is inside is never read
    filled = privacy.fill_from_surroundings(stamped, mask)
    np.testing.assert_allclose(filled, ramp, atol=1e-8)
    corner = np.zeros(ramp.shape, dtype=bool)
    corner[:12, :20] = True  # a box on the film's edge, like a stamp in the corner
    flat = np.full(ramp.shape, 90.0)
    np.testing.assert_allclose(
        privacy.fill_from_surroundings(np.where(corner, 0.0, flat), corner), flat
    )
    assert np.array_equal(privacy.fill_from_surroundings(ramp, np.zeros_like(mask)), ramp)
    with pytest.raises(privacy.PrivacyError, match="one 2-D shape"):
        privacy.fill_from_surroundings(ramp, mask[:10])
    with pytest.raises(privacy.PrivacyError, match="no border"):
        privacy.fill_from_surroundings(ramp, np.ones_like(mask))


# ------------------------------------------------------------------ membership inference


def test_the_attack_auc_is_one_when_members_have_lower_losses_and_half_when_alike():
    rng = np.random.default_rng(0)
    members = rng.random(50) * 0.1
    perfect = privacy.loss_threshold_attack(members, 1 + rng.random(50), n_boot=50)
    # Yeom's rule (loss below the mean training loss) calls only some members; no one else.
    assert perfect.auc == 1.0 and perfect.advantage == np.mean(members < members.mean())
    alike = privacy.loss_threshold_attack(rng.random(2000), rng.random(2000), n_boot=200)
    assert abs(alike.auc - 0.5) < 0.03 and alike.low < 0.5 < alike.high
    assert "95 % CI" in alike.describe() and alike.members == alike.non_members == 2000
    with pytest.raises(privacy.PrivacyError, match="at least one member"):
        privacy.loss_threshold_attack([], [1.0])


# ------------------------------------------------------------------ the accountant


def test_the_rdp_epsilon_matches_the_librarys_documented_example():
    """dp_accounting 0.6.0 documents, in dp_accounting/rdp/rdp_privacy_accountant_test.py
    (test_compute_epsilon_delta_gaussian, shipped in the package), that a Gaussian mechanism
    with noise multiplier 4.530877117, applied once to the whole data, is exactly
    (1, 1e-6)-DP."""
    epsilon = privacy.dp_sgd_epsilon(1.0, 4.530877117, steps=1, delta=1e-6)
    assert epsilon == pytest.approx(1.0, abs=1e-4)


def test_epsilon_falls_with_noise_and_pld_is_at_least_as_tight():
    common = {"sampling_probability": 0.1, "steps": 100, "delta": 1e-3}
    low_noise = privacy.dp_sgd_epsilon(noise_multiplier=0.8, **common)
    high_noise = privacy.dp_sgd_epsilon(noise_multiplier=2.0, **common)
    assert high_noise < low_noise
    assert privacy.dp_sgd_epsilon(noise_multiplier=0.8, accountant="pld", **common) <= low_noise
    assert math.isinf(privacy.dp_sgd_epsilon(noise_multiplier=0.0, **common))
    with pytest.raises(privacy.PrivacyError, match="accountant"):
        privacy.dp_sgd_epsilon(noise_multiplier=1.0, accountant="moments", **common)
    with pytest.raises(privacy.PrivacyError, match="delta"):
        privacy.dp_sgd_epsilon(0.1, 1.0, steps=10, delta=0.0)


def test_the_accountant_runs_with_attrs_26_without_its_own_pins():
    """On Colab dp-accounting is installed with --no-deps (colab.WITHOUT_DEPENDENCIES)."""
    assert "dp-accounting" in colab.WITHOUT_DEPENDENCIES
    privacy.dp_sgd_epsilon(0.5, 1.0, steps=3, delta=1e-5)


def test_colab_installs_a_stale_pin_alone_after_the_rest(monkeypatch):
    from packaging.requirements import Requirement

    wanted = [Requirement("pydicom>=3"), Requirement("dp-accounting>=0.6,<0.7")]
    monkeypatch.setattr(colab, "requirements", lambda *extras: wanted)
    installed = {"pneumo-helpers": "0.2.0", "numpy": "2.1.3", "attrs": "26.1.0"}
    calls = []

    def fake_pip(arguments, constraints):
        calls.append(list(arguments))
        installed.update({"pydicom": "3.0.2"} if "--no-deps" not in arguments else {})
        installed.update({"dp-accounting": "0.6.0"} if "--no-deps" in arguments else {})
        return subprocess.CompletedProcess([], 0, "", "")

    monkeypatch.setattr(colab, "installed_versions", lambda: dict(installed))
    monkeypatch.setattr(colab, "_pip", fake_pip)
    line = colab.install("privacy", quiet=True)
    assert calls == [["pydicom>=3"], ["--no-deps", "dp-accounting<0.7,>=0.6"]]
    assert "without its own pins" in line and "moved" not in line


# ------------------------------------------------------------------ DP-SGD (TensorFlow)


def test_private_gradient_clips_each_example_and_adds_noise_of_the_stated_size():
    import keras
    import tensorflow as tf

    model = privacy.build_privacy_mlp((SIZE, SIZE, 1), hidden=(4,), seed=0)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((6, SIZE, SIZE, 1)), tf.float32)
    labels = tf.constant(rng.integers(0, 2, (6, 1)), tf.float32)
    generator = tf.random.Generator.from_seed(0)
    total = privacy.private_gradient(model, images, labels, 1e9, 0.0, generator)
    with tf.GradientTape() as tape:
        mean_loss = keras.ops.mean(keras.losses.binary_crossentropy(labels, model(images)))
    batch = tape.gradient(mean_loss, model.trainable_variables)
    for summed, mean in zip(total, batch, strict=True):  # no clipping, no noise: the sum
        assert np.allclose(np.asarray(summed) / 6, np.asarray(mean), atol=1e-5)
    clipped = privacy.private_gradient(model, images, labels, 1e-3, 0.0, generator)
    norm = np.sqrt(sum(float(np.sum(np.square(g))) for g in clipped))
    assert norm <= 6 * 1e-3 + 1e-6  # six examples, each clipped to norm 1e-3
    noisy = privacy.private_gradient(model, images, labels, 1.0, 1000.0, generator)
    spread = np.std(np.concatenate([np.ravel(g) for g in noisy]))
    assert spread == pytest.approx(1000.0, rel=0.1)  # noise of std sigma * C swamps the sum


def test_train_dp_sgd_counts_its_steps_for_the_accountant():
    model = privacy.build_privacy_mlp((SIZE, SIZE, 1), hidden=(4,), seed=0)
    images = films(40).astype(np.float32)[..., None] / 255
    labels = np.arange(40) % 2
    run = privacy.train_dp_sgd(
        model, images, labels, epochs=2, expected_batch=10, learning_rate=0.1, seed=0
    )
    assert (run.steps, run.sampling_probability) == (8, 0.25)
    tiny = privacy.train_dp_sgd(  # q = 1/40: most steps draw nobody, and still run
        model, images, labels, epochs=1, expected_batch=1, learning_rate=0.1, seed=0
    )
    assert tiny.steps == 40 and np.all(np.isfinite(model.get_weights()[0]))
    with pytest.raises(privacy.PrivacyError, match="one label per image"):
        privacy.train_dp_sgd(
            model, images, labels[:3], epochs=1, expected_batch=10, learning_rate=0.1
        )
