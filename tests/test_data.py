"""Tests of pneumo_helpers.data on tiny generated files (no network except 127.0.0.1)."""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from pneumo_helpers import config, data

SIZES = {"train": 10, "val": 4, "test": 6}


# --------------------------------------------------------------------------------------
# Helpers: tiny MedMNIST-layout files
# --------------------------------------------------------------------------------------


def make_arrays(size: int = 28, seed: int = 0) -> dict[str, np.ndarray]:
    """Six MedMNIST-style arrays: uint8 images (N, size, size), uint8 labels (N, 1)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in SIZES.items():
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = np.arange(n) % 2  # both classes present
        arrays[f"{split}_labels"] = labels.astype(np.uint8).reshape(n, 1)
    return arrays


def write_npz(path: Path, size: int = 28, drop: tuple[str, ...] = (), **overrides) -> Path:
    arrays = make_arrays(size)
    arrays.update(overrides)
    for key in drop:
        del arrays[key]
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def npz_bytes(size: int = 28) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **make_arrays(size))
    return buffer.getvalue()


def assert_helpful(message: str, path: Path) -> None:
    """A DataError message names the file and says what to do."""
    assert str(path) in message
    assert "Delete" in message or "replace" in message


@pytest.fixture
def mnist_file(tmp_path) -> Path:
    return tmp_path / "pneumoniamnist.npz"


# --------------------------------------------------------------------------------------
# load_pneumoniamnist on valid files
# --------------------------------------------------------------------------------------


def test_data_error_is_value_error():
    assert issubclass(data.DataError, ValueError)


def test_load_pneumoniamnist_returns_verified_splits(tmp_path, mnist_file):
    write_npz(mnist_file)
    expected = make_arrays()
    loaded = data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert loaded.size == 28
    assert loaded.path == mnist_file
    for split, n in SIZES.items():
        images, labels = getattr(loaded, split)
        assert images.dtype == np.uint8
        assert images.shape == (n, 28, 28)
        assert labels.shape == (n,)
        assert np.issubdtype(labels.dtype, np.integer)
        np.testing.assert_array_equal(images, expected[f"{split}_images"])
        np.testing.assert_array_equal(labels, expected[f"{split}_labels"][:, 0])
    assert list(loaded.splits()) == ["train", "val", "test"]


def test_load_pneumoniamnist_accepts_flat_labels(tmp_path, mnist_file):
    flat = {f"{s}_labels": np.arange(n) % 2 for s, n in SIZES.items()}
    write_npz(mnist_file, **flat)
    loaded = data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert loaded.train.labels.shape == (10,)


def test_load_pneumoniamnist_size_64_reads_its_own_file(tmp_path):
    write_npz(tmp_path / "pneumoniamnist_64.npz", size=64)
    loaded = data.load_pneumoniamnist(size=64, data_dir=tmp_path, download=False)
    assert loaded.path.name == "pneumoniamnist_64.npz"
    assert loaded.train.images.shape == (10, 64, 64)
    assert loaded.test.images.shape == (6, 64, 64)


def test_class_counts():
    assert data.class_counts(np.array([[0], [1], [1], [0], [1]])) == {
        "normal": 2,
        "pneumonia": 3,
    }


# --------------------------------------------------------------------------------------
# load_pneumoniamnist / validate_npz on bad input
# --------------------------------------------------------------------------------------


def test_missing_file_without_download_raises_with_instructions(tmp_path, mnist_file):
    with pytest.raises(data.DataError) as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    message = str(excinfo.value)
    assert str(mnist_file) in message
    assert data.download_url(28) in message
    assert "zenodo.org" in message
    assert "PNEUMO_DATA_DIR" in message
    assert "download=True" in message
    assert list(tmp_path.iterdir()) == []


def test_unknown_size_raises(tmp_path):
    with pytest.raises(data.DataError, match="30") as excinfo:
        data.load_pneumoniamnist(size=30, data_dir=tmp_path, download=False)
    assert "28" in str(excinfo.value) and "224" in str(excinfo.value)
    with pytest.raises(data.DataError):
        data.download_url(30)


def test_empty_file_raises(tmp_path, mnist_file):
    mnist_file.write_bytes(b"")
    with pytest.raises(data.DataError, match="empty") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_truncated_file_raises(tmp_path, mnist_file):
    write_npz(mnist_file)
    content = mnist_file.read_bytes()
    mnist_file.write_bytes(content[: len(content) // 2])
    with pytest.raises(data.DataError, match="truncated or corrupt") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_text_file_raises(tmp_path, mnist_file):
    mnist_file.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(data.DataError) as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_text_file_message_says_not_readable_npz(tmp_path, mnist_file):
    mnist_file.write_text("<html>404 Not Found</html>\n")
    with pytest.raises(data.DataError) as excinfo:
        data.validate_npz(mnist_file)
    message = str(excinfo.value)
    assert "not a readable .npz" in message
    assert "object (pickled)" not in message


def test_missing_key_raises(tmp_path, mnist_file):
    write_npz(mnist_file, drop=("val_labels",))
    with pytest.raises(data.DataError, match="val_labels") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_object_array_is_refused(tmp_path, mnist_file):
    write_npz(mnist_file, train_labels=np.array([{"a": 1}], dtype=object))
    with pytest.raises(data.DataError) as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    message = str(excinfo.value)
    assert "pickled" in message or "object" in message
    assert_helpful(message, mnist_file)


def test_wrong_image_size_raises(tmp_path, mnist_file):
    write_npz(mnist_file, size=32)
    with pytest.raises(data.DataError, match="32 px") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_non_square_images_raise(tmp_path, mnist_file):
    write_npz(mnist_file, val_images=np.zeros((4, 28, 20), np.uint8))
    with pytest.raises(data.DataError, match="val_images") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_float_images_raise(tmp_path, mnist_file):
    write_npz(mnist_file, train_images=make_arrays()["train_images"].astype(np.float32))
    with pytest.raises(data.DataError, match="uint8") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert "float32" in str(excinfo.value)
    assert_helpful(str(excinfo.value), mnist_file)


def test_length_mismatch_raises(tmp_path, mnist_file):
    write_npz(mnist_file, test_labels=np.zeros((5, 1), np.uint8))
    with pytest.raises(data.DataError, match="6 images but 5 labels") as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


@pytest.mark.parametrize("bad_value", [2, -1])
def test_label_values_outside_0_1_raise(tmp_path, mnist_file, bad_value):
    labels = np.zeros((10, 1), np.int64)
    labels[3] = bad_value
    write_npz(mnist_file, train_labels=labels)
    with pytest.raises(data.DataError, match=str(bad_value)) as excinfo:
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert_helpful(str(excinfo.value), mnist_file)


def test_float_labels_raise(tmp_path, mnist_file):
    write_npz(mnist_file, train_labels=np.zeros((10, 1), np.float32))
    with pytest.raises(data.DataError, match="integers"):
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)


def test_labels_of_wrong_shape_raise(tmp_path, mnist_file):
    write_npz(mnist_file, train_labels=np.zeros((10, 2), np.uint8))
    with pytest.raises(data.DataError, match="train_labels"):
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)


def test_validate_npz_missing_file_raises(tmp_path):
    with pytest.raises(data.DataError, match="does not exist"):
        data.validate_npz(tmp_path / "nope.npz")


# --------------------------------------------------------------------------------------
# download_file against a local HTTP server
# --------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``server.routes[path] = (mode, body)``; modes: ok, short, stall, 404."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        mode, body = self.server.routes.get(self.path, ("404", b""))
        if mode == "404":
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if mode == "short":  # announce more than is sent, then hang up
            self.send_header("Content-Length", str(len(body) * 2))
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "stall":  # send half, then go silent past the client's timeout
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(1.5)
            return
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass


class LocalServer:
    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.routes = {}
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def serve(self, path: str, body: bytes, mode: str = "ok") -> str:
        self.httpd.routes[path] = (mode, body)
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def server():
    local = LocalServer()
    yield local
    local.close()


@pytest.fixture(scope="module")
def payload() -> tuple[bytes, str]:
    body = npz_bytes()
    return body, hashlib.md5(body).hexdigest()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/pneumoniamnist.npz"


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def test_download_file_success_verifies_and_leaves_no_temp(server, payload, tmp_path):
    body, md5 = payload
    url = server.serve("/ok.npz", body)
    destination = tmp_path / "sub" / "pneumoniamnist.npz"
    result = data.download_file(url, destination, md5, progress=False, timeout=5)
    assert result == destination
    assert destination.read_bytes() == body
    assert data.md5sum(destination) == md5
    assert listing(destination.parent) == ["pneumoniamnist.npz"]
    assert data.validate_npz(destination, size=28)["train_images"].shape == (10, 28, 28)


def test_download_file_without_md5_accepts_any_content(server, tmp_path):
    url = server.serve("/any.bin", b"hello")
    destination = tmp_path / "any.bin"
    data.download_file(url, destination, progress=False, timeout=5)
    assert destination.read_bytes() == b"hello"


def test_download_file_with_progress_bar(server, payload, tmp_path):
    body, md5 = payload
    url = server.serve("/progress.npz", body)
    destination = tmp_path / "p.npz"
    data.download_file(url, destination, md5, progress=True, timeout=5)
    assert destination.read_bytes() == body


def test_download_file_wrong_md5_saves_nothing(server, payload, tmp_path):
    body, md5 = payload
    url = server.serve("/badmd5.npz", body)
    destination = tmp_path / "pneumoniamnist.npz"
    with pytest.raises(data.DataError, match="md5") as excinfo:
        data.download_file(url, destination, "0" * 32, progress=False, timeout=5)
    assert md5 in str(excinfo.value) and "0" * 32 in str(excinfo.value)
    assert "Nothing was saved" in str(excinfo.value)
    assert not destination.exists()
    assert listing(tmp_path) == []


def test_download_file_interrupted_saves_nothing(server, payload, tmp_path):
    body, md5 = payload
    url = server.serve("/short.npz", body, mode="short")
    destination = tmp_path / "pneumoniamnist.npz"
    with pytest.raises(data.DataError, match="interrupted|stopped") as excinfo:
        data.download_file(url, destination, md5, progress=False, timeout=5)
    assert str(len(body) * 2) in str(excinfo.value) or "interrupted" in str(excinfo.value)
    assert not destination.exists()
    assert listing(tmp_path) == []


def test_download_file_stalled_server_times_out(server, payload, tmp_path):
    body, md5 = payload
    url = server.serve("/stall.npz", body, mode="stall")
    destination = tmp_path / "pneumoniamnist.npz"
    with pytest.raises(data.DataError, match="interrupted|stopped"):
        data.download_file(url, destination, md5, progress=False, timeout=0.3)
    assert listing(tmp_path) == []


def test_download_file_http_404_raises(server, tmp_path):
    url = server.serve("/missing.npz", b"", mode="404")
    destination = tmp_path / "pneumoniamnist.npz"
    with pytest.raises(data.DataError, match="Could not download"):
        data.download_file(url, destination, progress=False, timeout=5)
    assert listing(tmp_path) == []


def test_download_file_unreachable_server_raises_with_instructions(tmp_path):
    url = closed_port_url()
    destination = tmp_path / "pneumoniamnist.npz"
    with pytest.raises(data.DataError) as excinfo:
        data.download_file(url, destination, progress=False, timeout=2)
    message = str(excinfo.value)
    assert "Could not download" in message
    assert url in message
    assert "yourself" in message  # download it manually
    assert "PNEUMO_DATA_DIR" in message
    assert listing(tmp_path) == []


def test_download_file_unsupported_url_raises(tmp_path):
    with pytest.raises(data.DataError, match="Could not download"):
        data.download_file("nonsense://x/y", tmp_path / "f.npz", progress=False, timeout=1)
    assert listing(tmp_path) == []


def test_failed_download_does_not_clobber_existing_file(server, payload, tmp_path):
    body, md5 = payload
    destination = write_npz(tmp_path / "pneumoniamnist.npz")
    before = destination.read_bytes()
    for url in (
        server.serve("/clobber-md5.npz", body),
        server.serve("/clobber-short.npz", body, mode="short"),
        closed_port_url(),
    ):
        with pytest.raises(data.DataError):
            data.download_file(url, destination, "f" * 32, progress=False, timeout=2)
        assert destination.read_bytes() == before
        assert listing(tmp_path) == ["pneumoniamnist.npz"]


def test_download_file_file_url(payload, tmp_path):
    body, md5 = payload
    source = tmp_path / "source" / "pneumoniamnist.npz"
    source.parent.mkdir()
    source.write_bytes(body)
    destination = tmp_path / "dest" / "pneumoniamnist.npz"
    data.download_file(source.as_uri(), destination, md5, progress=False, timeout=5)
    assert destination.read_bytes() == body
    assert listing(destination.parent) == ["pneumoniamnist.npz"]


def test_load_pneumoniamnist_downloads_then_loads(server, payload, tmp_path, monkeypatch):
    body, md5 = payload
    url = server.serve("/pneumoniamnist.npz", body)
    monkeypatch.setattr(data.npz, "download_url", lambda size: url)  # where load looks it up
    monkeypatch.setitem(data.MEDMNIST_FILES, 28, ("pneumoniamnist.npz", md5))
    folder = tmp_path / "fresh"
    loaded = data.load_pneumoniamnist(size=28, data_dir=folder, download=True, progress=False)
    assert (folder / "pneumoniamnist.npz").read_bytes() == body
    assert listing(folder) == ["pneumoniamnist.npz"]
    assert loaded.train.images.shape == (10, 28, 28)
    np.testing.assert_array_equal(loaded.val.images, make_arrays()["val_images"])


def test_load_pneumoniamnist_download_with_wrong_md5_fails(server, payload, tmp_path, monkeypatch):
    body, _ = payload
    url = server.serve("/pneumoniamnist-bad.npz", body)
    monkeypatch.setattr(data.npz, "download_url", lambda size: url)  # where load looks it up
    monkeypatch.setitem(data.MEDMNIST_FILES, 28, ("pneumoniamnist.npz", "0" * 32))
    with pytest.raises(data.DataError, match="md5"):
        data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=True, progress=False)
    assert listing(tmp_path) == []


def test_md5sum_matches_hashlib(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert data.md5sum(path, chunk_size=7) == hashlib.md5(b"abc" * 1000).hexdigest()


# --------------------------------------------------------------------------------------
# find_duplicates
# --------------------------------------------------------------------------------------

DUPLICATE_COLUMNS = ["split_a", "index_a", "split_b", "index_b", "kind"]


def _unique_images(n: int, offset: int) -> np.ndarray:
    images = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        images[i, 0, 0] = (offset + i) % 256
        images[i, 0, 1] = (offset + i) // 256
    return images


def test_find_duplicates_reports_exact_pairs_and_kinds():
    train, val, test = _unique_images(6, 0), _unique_images(3, 100), _unique_images(4, 200)
    train[4] = train[1]  # within train
    test[2] = train[0]  # train vs test
    val[0] = test[3] = train[5]  # in three places: three pairs
    found = data.find_duplicates({"train": train, "val": val, "test": test})
    assert list(found.columns) == DUPLICATE_COLUMNS
    rows = set(found.itertuples(index=False, name=None))
    assert rows == {
        ("train", 1, "train", 4, "within"),
        ("train", 0, "test", 2, "across"),
        ("train", 5, "val", 0, "across"),
        ("train", 5, "test", 3, "across"),
        ("val", 0, "test", 3, "across"),
    }
    assert len(found) == 5


def test_find_duplicates_none_gives_empty_frame():
    found = data.find_duplicates({"train": _unique_images(5, 0), "test": _unique_images(5, 50)})
    assert found.empty
    assert list(found.columns) == DUPLICATE_COLUMNS


def test_find_duplicates_accepts_pneumoniamnist(tmp_path, mnist_file):
    arrays = make_arrays()
    arrays["test_images"][1] = arrays["train_images"][2]
    np.savez(mnist_file, **arrays)
    loaded = data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    found = data.find_duplicates(loaded)
    assert list(found.itertuples(index=False, name=None)) == [("train", 2, "test", 1, "across")]


def test_find_duplicates_handles_non_contiguous_arrays():
    images = _unique_images(4, 0)
    images[3] = images[0]
    view = np.asfortranarray(images)
    found = data.find_duplicates({"train": view})
    assert list(found.itertuples(index=False, name=None)) == [("train", 0, "train", 3, "within")]


# --------------------------------------------------------------------------------------
# Kermany folders
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("person12_bacteria_47.jpeg", "person12"),
        ("person3_virus_9.jpeg", "person3"),
        ("IM-0135-0001.jpeg", "IM-0135"),
        ("NORMAL2-IM-0135-0001.jpeg", "IM-0135"),
        ("other.png", "other"),
        ("some/folder/person7_bacteria_1.jpeg", "person7"),
    ],
)
def test_patient_id(filename, expected):
    assert data.patient_id(filename) == expected


NORMAL_GREY, PNEUMONIA_GREY = 200, 60


def _save(path: Path, mode: str, size: tuple[int, int], value: int, fmt: str | None = None):
    from PIL import Image

    colour = value if mode == "L" else (value, value, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path, format=fmt)


@pytest.fixture
def kermany_root(tmp_path) -> Path:
    """tmp/chest_xray/{train,test}/{NORMAL,PNEUMONIA}/ with mixed images and a .DS_Store."""
    base = tmp_path / "chest_xray"
    _save(base / "train/NORMAL/IM-0001-0001.jpeg", "L", (40, 30), NORMAL_GREY)
    _save(base / "train/NORMAL/NORMAL2-IM-0002-0001.jpeg", "RGB", (50, 50), NORMAL_GREY)
    (base / "train/NORMAL/.DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    _save(base / "train/PNEUMONIA/person1_bacteria_1.jpeg", "RGB", (64, 48), PNEUMONIA_GREY)
    _save(base / "train/PNEUMONIA/person1_virus_2.png", "L", (20, 25), PNEUMONIA_GREY)
    _save(base / "train/PNEUMONIA/person2_bacteria_3.jpeg", "L", (33, 33), PNEUMONIA_GREY)
    _save(base / "test/NORMAL/IM-0009-0001.jpeg", "RGB", (30, 40), NORMAL_GREY)
    _save(base / "test/PNEUMONIA/person9_virus_4.jpeg", "L", (16, 16), PNEUMONIA_GREY)
    return tmp_path


def test_load_kermany_reads_layout(kermany_root, capsys):
    loaded = data.load_kermany(kermany_root, image_size=16, splits=("train", "test"))
    assert loaded.root == kermany_root / "chest_xray"
    assert set(loaded.splits) == {"train", "test"}

    train = loaded.train
    assert train.images.dtype == np.uint8
    assert train.images.shape == (5, 16, 16)
    np.testing.assert_array_equal(train.labels, [0, 0, 1, 1, 1])
    assert list(train.patient_ids) == ["IM-0001", "IM-0002", "person1", "person1", "person2"]
    assert [p.name for p in train.paths] == [
        "IM-0001-0001.jpeg",
        "NORMAL2-IM-0002-0001.jpeg",
        "person1_bacteria_1.jpeg",
        "person1_virus_2.png",
        "person2_bacteria_3.jpeg",
    ]
    # grey and RGB files become the same grey level
    for image, label in zip(train.images, train.labels, strict=True):
        expected = NORMAL_GREY if label == 0 else PNEUMONIA_GREY
        assert abs(float(image.mean()) - expected) < 3

    test = loaded.test
    assert test.images.shape == (2, 16, 16)
    np.testing.assert_array_equal(test.labels, [0, 1])
    assert list(test.patient_ids) == ["IM-0009", "person9"]

    assert [p.name for p in loaded.skipped] == [".DS_Store"]
    out = capsys.readouterr().out
    assert "skipped 1" in out and ".DS_Store" in out


def test_load_kermany_accepts_chest_xray_folder_itself(kermany_root):
    loaded = data.load_kermany(
        kermany_root / "chest_xray", image_size=8, splits=("test",), verbose=False
    )
    assert loaded.test.images.shape == (2, 8, 8)


def test_load_kermany_quiet_when_not_verbose(kermany_root, capsys):
    data.load_kermany(kermany_root, image_size=8, splits=("train",), verbose=False)
    assert capsys.readouterr().out == ""


def test_load_kermany_unknown_split_attribute_raises(kermany_root):
    loaded = data.load_kermany(kermany_root, image_size=8, splits=("test",), verbose=False)
    with pytest.raises(AttributeError):
        _ = loaded.val


def test_load_kermany_corrupt_jpeg_raises_naming_file(kermany_root):
    bad = kermany_root / "chest_xray/train/PNEUMONIA/person5_bacteria_9.jpeg"
    bad.write_bytes(np.random.default_rng(0).bytes(600))
    with pytest.raises(data.DataError) as excinfo:
        data.load_kermany(kermany_root, image_size=16, splits=("train",), verbose=False)
    assert str(bad) in str(excinfo.value)
    assert "Delete or replace" in str(excinfo.value)


def test_load_kermany_truncated_jpeg_raises_naming_file(kermany_root):
    from PIL import Image

    bad = kermany_root / "chest_xray/test/NORMAL/IM-0010-0001.jpeg"
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (64, 64), dtype=np.uint8)).save(buffer, "JPEG")
    bad.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(data.DataError) as excinfo:
        data.load_kermany(kermany_root, image_size=16, splits=("test",), verbose=False)
    assert str(bad) in str(excinfo.value)


def test_load_kermany_missing_root_raises(tmp_path):
    missing = tmp_path / "no_such_folder"
    with pytest.raises(data.DataError, match="not a folder") as excinfo:
        data.load_kermany(missing)
    assert str(missing) in str(excinfo.value)


def test_load_kermany_split_without_class_folders_raises(kermany_root):
    (kermany_root / "chest_xray/val/other").mkdir(parents=True)
    with pytest.raises(data.DataError, match="NORMAL") as excinfo:
        data.load_kermany(kermany_root, image_size=8, verbose=False)
    assert "val" in str(excinfo.value)


def test_load_kermany_missing_split_folder_raises(kermany_root):
    with pytest.raises(data.DataError, match="val"):
        data.load_kermany(kermany_root, image_size=8, splits=data.SPLITS, verbose=False)


@pytest.mark.parametrize("bad_size", [0, -3, 2.5])
def test_load_kermany_invalid_image_size_raises(kermany_root, bad_size):
    with pytest.raises(data.DataError, match="image_size"):
        data.load_kermany(kermany_root, image_size=bad_size, splits=("test",))


# --------------------------------------------------------------------------------------
# make_dataset
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_images() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (10, 28, 28), dtype=np.uint8)


@pytest.fixture(scope="module")
def tiny_labels() -> np.ndarray:
    return np.arange(10) % 2


def test_make_dataset_batches_float_images_in_unit_range(tiny_images, tiny_labels):
    dataset = data.make_dataset(tiny_images, tiny_labels, batch_size=4)
    batches = list(dataset.as_numpy_iterator())
    assert [x.shape for x, _ in batches] == [(4, 28, 28, 1), (4, 28, 28, 1), (2, 28, 28, 1)]
    images = np.concatenate([x for x, _ in batches])
    labels = np.concatenate([y for _, y in batches])
    assert images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_allclose(images[..., 0], tiny_images / 255.0, atol=1e-6)
    np.testing.assert_array_equal(labels, tiny_labels)


def test_make_dataset_resizes_to_image_size(tiny_images, tiny_labels):
    dataset = data.make_dataset(tiny_images, tiny_labels, image_size=32, batch_size=10)
    x, y = next(dataset.as_numpy_iterator())
    assert x.shape == (10, 32, 32, 1)
    assert x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert y.shape == (10,)


def test_make_dataset_three_identical_channels(tiny_images, tiny_labels):
    dataset = data.make_dataset(tiny_images, tiny_labels, channels=3, batch_size=10)
    x, _ = next(dataset.as_numpy_iterator())
    assert x.shape == (10, 28, 28, 3)
    np.testing.assert_array_equal(x[..., 0], x[..., 1])
    np.testing.assert_array_equal(x[..., 0], x[..., 2])


def test_make_dataset_without_labels_yields_images_only(tiny_images):
    dataset = data.make_dataset(tiny_images, batch_size=6)
    batches = list(dataset.as_numpy_iterator())
    assert [b.shape for b in batches] == [(6, 28, 28, 1), (4, 28, 28, 1)]
    assert all(isinstance(b, np.ndarray) for b in batches)


def test_make_dataset_augment_keeps_shapes_and_values_finite(tiny_images, tiny_labels):
    dataset = data.make_dataset(tiny_images, tiny_labels, augment=True, batch_size=5, seed=1)
    batches = list(dataset.as_numpy_iterator())
    assert [x.shape for x, _ in batches] == [(5, 28, 28, 1)] * 2
    images = np.concatenate([x for x, _ in batches])
    assert np.isfinite(images).all()
    assert images.min() >= -0.05 and images.max() <= 1.05
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), tiny_labels)


def _first_epoch_order(seed: int) -> list[int]:
    images = np.stack([np.full((28, 28), 10 * i, np.uint8) for i in range(10)])
    dataset = data.make_dataset(images, np.arange(10) % 2, shuffle=True, seed=seed, batch_size=3)
    order = []
    for x, _ in dataset.as_numpy_iterator():
        order.extend(int(round(v * 255 / 10)) for v in x[:, 0, 0, 0])
    return order


def test_make_dataset_shuffle_is_deterministic_for_a_seed():
    first, second = _first_epoch_order(5), _first_epoch_order(5)
    assert first == second
    assert sorted(first) == list(range(10))
    assert first != list(range(10))  # it did shuffle


def test_make_dataset_mismatched_labels_raise(tiny_images):
    with pytest.raises(ValueError, match="length"):
        data.make_dataset(tiny_images, np.zeros(9))


@pytest.mark.parametrize("channels", [0, 2, 4])
def test_make_dataset_invalid_channels_raise(tiny_images, channels):
    with pytest.raises(ValueError, match="channels"):
        data.make_dataset(tiny_images, channels=channels)


def test_make_dataset_invalid_shapes_and_batch_size_raise(tiny_images):
    with pytest.raises(ValueError, match="shape"):
        data.make_dataset(tiny_images[0])
    with pytest.raises(ValueError, match="batch_size"):
        data.make_dataset(tiny_images, batch_size=0)


# --------------------------------------------------------------------------------------
# Rehearsals: stratified subsets and a labelled stand-in for the larger files
# --------------------------------------------------------------------------------------


def test_rehearsal_subset_keeps_both_classes_in_order():
    labels = np.array([1] * 90 + [0] * 10)
    images = np.arange(100, dtype=np.uint8).reshape(100, 1, 1)
    subset = data.rehearsal_subset(data.Split(images, labels), 20, seed=3)
    assert subset.labels.size == 20
    assert 5 <= (subset.labels == 0).sum() <= 10  # at least a quarter, as the docstring says
    kept = subset.images.ravel()
    assert np.all(np.diff(kept.astype(int)) > 0)  # original order, no repeats
    np.testing.assert_array_equal(labels[kept], subset.labels)


def test_rehearsal_subset_of_a_small_split_is_the_split():
    split = data.Split(np.zeros((4, 2, 2), np.uint8), np.array([0, 1, 0, 1]))
    assert data.rehearsal_subset(split, 10) is split


def test_load_in_a_rehearsal_shrinks_each_split(tmp_path, mnist_file, monkeypatch):
    write_npz(mnist_file)
    monkeypatch.setenv(config.REHEARSAL_ENV, "1")
    monkeypatch.setattr(config, "REHEARSAL_SPLIT_SIZES", {"train": 6, "val": 4, "test": 4})
    loaded = data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert [len(s.labels) for s in loaded.splits().values()] == [6, 4, 4]


def test_stand_in_is_resized_and_labelled(tmp_path, mnist_file, capsys):
    write_npz(mnist_file)
    path = data.make_stand_in(64, mnist_file, tmp_path / "out")
    assert path.name == "pneumoniamnist_64.npz"
    loaded = data.load_pneumoniamnist(size=64, data_dir=tmp_path / "out", download=False)
    assert loaded.train.images.shape[1:] == (64, 64)
    assert loaded.stand_in and "stand-in" in loaded.stand_in
    assert "STAND-IN DATA" in capsys.readouterr().out
    real = data.load_pneumoniamnist(size=28, data_dir=tmp_path, download=False)
    assert real.stand_in is None
    np.testing.assert_array_equal(loaded.test.labels, real.test.labels)


def test_stand_in_of_the_real_size_is_refused(tmp_path, mnist_file):
    write_npz(mnist_file)
    with pytest.raises(data.DataError, match="size=28 is the real file"):
        data.make_stand_in(28, mnist_file)


# --------------------------------------------------------------------------------------
# The one image converter
# --------------------------------------------------------------------------------------


def test_as_float_images_scales_uint8_and_adds_the_axes_a_model_needs():
    grey = np.array([[[0, 255], [51, 102]]], np.uint8)  # (1, 2, 2)
    out = data.as_float_images(grey)
    assert out.dtype == np.float32 and out.shape == (1, 2, 2, 1)
    np.testing.assert_allclose(out[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]], atol=1e-7)
    scaled = np.full((2, 2, 1), 0.5, np.float32)  # float input is taken as scaled already
    one = data.as_float_images(scaled, (2, 2, 1))
    assert one.shape == (1, 2, 2, 1) and float(one.max()) == 0.5
    assert data.as_float_images(grey, (2, 2, 1)).shape == (1, 2, 2, 1)


def test_as_float_images_names_the_shape_it_wanted_in_the_callers_error():
    class CallerError(ValueError):
        pass

    with pytest.raises(CallerError, match=r"expects a batch of \(4, 4, 1\).*\(N, 4, 4, 1\)"):
        data.as_float_images(np.zeros((3, 2, 2), np.uint8), (4, 4, 1), error=CallerError)
    with pytest.raises(data.DataError, match=r"\(N, H, W\) or \(N, H, W, C\), got \(5,\)"):
        data.as_float_images(np.zeros(5, np.uint8))


def test_only_the_one_converter_divides_images_by_255():
    """Scaling uint8 pixels lives in ``data.as_float_images``; every other module calls it."""
    import ast

    def is_255(node):
        return isinstance(node, ast.Constant) and node.value in (255, 255.0)

    package = Path(data.__file__).parents[1]  # all of pneumo_helpers, sub-packages included
    found = []
    for path in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and is_255(node.right):
                found.append(f"{path.relative_to(package).as_posix()}:{node.lineno}")
    assert len(found) == 1 and found[0].startswith("data/pipeline.py:"), found
