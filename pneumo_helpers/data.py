"""Data: download, verify and load PneumoniaMNIST and the Kermany folders; tf.data pipelines.

The road every chapter walks::

    data = load_pneumoniamnist(size=28)          # verified uint8 arrays
    train_ds = make_dataset(*data.train, image_size=28, batch_size=64, shuffle=True)

Every file is validated before use; anything wrong raises :class:`DataError`, whose
message names the file, says what is wrong and what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import config, evidence

#: Labels used throughout the course.
CLASS_NAMES = ("normal", "pneumonia")

#: Official MedMNIST v2 / MedMNIST+ files (Zenodo record 10519652) and their md5 sums.
ZENODO_RECORD = "https://zenodo.org/records/10519652"
MEDMNIST_FILES: dict[int, tuple[str, str]] = {
    28: ("pneumoniamnist.npz", "28209eda62fecd6e6a2d98b1501bb15f"),
    64: ("pneumoniamnist_64.npz", "8f4eceb4ccffa70c672198ea285246c6"),
    128: ("pneumoniamnist_128.npz", "05b46931834c231683c68f40c47b2971"),
    224: ("pneumoniamnist_224.npz", "d6a3c71de1b945ea11211b03746c1fe1"),
}
SPLITS = ("train", "val", "test")
KEYS = tuple(f"{split}_{kind}" for split in SPLITS for kind in ("images", "labels"))
IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}


class DataError(ValueError):
    """A data file or folder is missing, corrupt or not what the course expects."""


class Split(NamedTuple):
    """One split: images ``uint8 (N, H, W)`` and labels ``int64 (N,)`` (0 normal, 1 pneumonia)."""

    images: np.ndarray
    labels: np.ndarray


@dataclass
class PneumoniaMNIST:
    """The three verified splits of PneumoniaMNIST at one image size."""

    train: Split
    val: Split
    test: Split
    size: int
    path: Path
    stand_in: str | None = None

    def splits(self) -> dict[str, Split]:
        """Return ``{"train": ..., "val": ..., "test": ...}``."""
        return {"train": self.train, "val": self.val, "test": self.test}


def download_url(size: int) -> str:
    """Return the official download URL of the PneumoniaMNIST file at ``size`` pixels."""
    filename, _ = _file_info(size)
    return f"{ZENODO_RECORD}/files/{filename}?download=1"


def _file_info(size: int) -> tuple[str, str]:
    if size not in MEDMNIST_FILES:
        raise DataError(
            f"size={size!r} is not a PneumoniaMNIST size. Use one of {sorted(MEDMNIST_FILES)}."
        )
    return MEDMNIST_FILES[size]


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Return the md5 hex digest of a file."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download_file(
    url: str,
    destination: str | os.PathLike,
    md5: str | None = None,
    *,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``destination`` atomically and verify its md5.

    The bytes go to a temporary file beside the destination, which is renamed into place
    only when the download is complete (the length the server announced) and its md5
    matches. An interrupted or failed download therefore never leaves a file behind.

    Raises:
        DataError: the server cannot be reached, the download stops early, or the md5
            differs. The message says what to do instead.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    manual = (
        f"Download it yourself from {url} into {destination.parent} "
        f"(or set {config.DATA_DIR_ENV} to a folder that has it) and run again."
    )
    fd, tmp_name = tempfile.mkstemp(prefix=f".{destination.name}.", dir=destination.parent)
    tmp = Path(tmp_name)
    digest = hashlib.md5()
    received = 0
    try:
        try:
            response = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DataError(
                f"Could not download {destination.name} from {url}: {reason}. "
                f"Are you offline? {manual}"
            ) from exc
        with response, os.fdopen(fd, "wb") as out:
            fd = -1
            total = int(response.headers.get("Content-Length") or 0) or None
            bar = _progress_bar(total, destination.name, progress)
            try:
                while True:
                    try:
                        chunk = response.read(1 << 16)
                    except (OSError, ValueError) as exc:  # IncompleteRead, reset, timeout
                        raise DataError(
                            f"The download of {destination.name} from {url} was interrupted "
                            f"after {received} bytes ({exc}). Nothing was saved. {manual}"
                        ) from exc
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            finally:
                bar.close()
        if total is not None and received != total:
            raise DataError(
                f"The download of {destination.name} from {url} stopped after {received} of "
                f"{total} bytes. Nothing was saved. {manual}"
            )
        if md5 is not None and digest.hexdigest() != md5:
            raise DataError(
                f"The file downloaded from {url} has md5 {digest.hexdigest()}, expected {md5}: "
                f"it is corrupt or not the official file. Nothing was saved. {manual}"
            )
        os.replace(tmp, destination)
    finally:
        if fd != -1:
            os.close(fd)
        tmp.unlink(missing_ok=True)
    return destination


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int | None, name: str, enabled: bool):
    if not enabled:
        return _NoProgress()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {name}")


def validate_npz(path: str | os.PathLike, size: int | None = None) -> dict[str, np.ndarray]:
    """Load a MedMNIST-layout ``.npz`` file and check its structure.

    Checks: a readable zip without pickled objects, the six keys, ``uint8`` images of
    shape ``(N, size, size)``, labels of shape ``(N,)`` or ``(N, 1)`` with values in {0, 1},
    and equal lengths.

    Returns:
        The six arrays, labels flattened to ``int64 (N,)``.

    Raises:
        DataError: the file is missing or anything above does not hold.
    """
    path = Path(path)
    delete = f"Delete {path} and run again to download a fresh copy, or replace it by hand."
    if not path.is_file():
        raise DataError(f"{path} does not exist.")
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty (0 bytes). {delete}")
    if not zipfile.is_zipfile(path):
        raise DataError(
            f"{path} is not a readable .npz file: it is not a complete zip archive, so it may "
            f"be truncated or corrupt, or an error page saved in its place. {delete}"
        )
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise DataError(
                    f"{path} lacks the keys {missing} (it has {sorted(archive.files)}): "
                    f"it is not a PneumoniaMNIST file. {delete}"
                )
            arrays = {key: archive[key] for key in KEYS}
    except DataError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                f"{path} holds object (pickled) arrays, which the course never loads "
                f"for safety. {delete}"
            ) from exc
        raise DataError(f"{path} is not a readable .npz file ({exc}). {delete}") from exc
    except Exception as exc:  # zipfile.BadZipFile, EOFError, OSError, ...
        raise DataError(
            f"{path} is not a readable .npz file: it may be truncated or corrupt "
            f"({type(exc).__name__}: {exc}). {delete}"
        ) from exc

    for split in SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = f"{path} ({split}_images)"
        if images.dtype != np.uint8:
            raise DataError(f"{where} has dtype {images.dtype}, expected uint8. {delete}")
        if images.ndim != 3 or images.shape[1] != images.shape[2]:
            raise DataError(
                f"{where} has shape {images.shape}, expected (N, size, size) grey images. {delete}"
            )
        if size is not None and images.shape[1] != size:
            raise DataError(
                f"{where} holds {images.shape[1]} px images, expected {size} px: the file name "
                f"and its content disagree. {delete}"
            )
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim != 1:
            raise DataError(
                f"{path} ({split}_labels) has shape {arrays[f'{split}_labels'].shape}, "
                f"expected (N,) or (N, 1). {delete}"
            )
        if len(labels) != len(images):
            raise DataError(
                f"{path}: {split} has {len(images)} images but {len(labels)} labels. {delete}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise DataError(
                f"{path} ({split}_labels) has dtype {labels.dtype}, expected integers. {delete}"
            )
        bad = np.setdiff1d(np.unique(labels), [0, 1])
        if bad.size:
            raise DataError(
                f"{path} ({split}_labels) holds the values {bad.tolist()}; only 0 (normal) "
                f"and 1 (pneumonia) are allowed. {delete}"
            )
        arrays[f"{split}_labels"] = labels.astype(np.int64)
    return arrays


def load_pneumoniamnist(
    size: int = 28,
    data_dir: str | os.PathLike | None = None,
    download: bool = True,
    *,
    progress: bool = True,
) -> PneumoniaMNIST:
    """Load PneumoniaMNIST at ``size`` px (28, 64, 128 or 224) as verified arrays.

    Args:
        size: image side in pixels; picks ``pneumoniamnist.npz`` or ``pneumoniamnist_{size}.npz``.
        data_dir: folder with the file; default :func:`pneumo_helpers.config.data_dir`.
        download: when the file is missing, download the official file (md5 checked).
        progress: show a progress bar while downloading.

    Returns:
        An object with ``.train``, ``.val`` and ``.test``, each ``(images, labels)``:
        images ``uint8 (N, size, size)``, labels ``int64 (N,)``, 0 normal / 1 pneumonia.

    Raises:
        DataError: the file is missing (and cannot be downloaded) or invalid.
    """
    filename, md5 = _file_info(size)
    folder = Path(data_dir).expanduser() if data_dir is not None else config.data_dir()
    path = folder / filename
    if not path.exists():
        url = download_url(size)
        if not download:
            raise DataError(
                f"{path} does not exist and download=False. Download it from {url} into "
                f"{folder}, set {config.DATA_DIR_ENV} to the folder that holds it, "
                "or call with download=True."
            )
        download_file(url, path, md5, progress=progress)
    arrays = validate_npz(path, size=size)
    splits = {s: Split(arrays[f"{s}_images"], arrays[f"{s}_labels"]) for s in SPLITS}
    stand_in = _stand_in_note(path)
    if stand_in:
        print(f"STAND-IN DATA, not the real {size} px images: {stand_in}")
    if config.rehearsal():
        splits = {
            name: rehearsal_subset(split, config.REHEARSAL_SPLIT_SIZES[name], seed=index)
            for index, (name, split) in enumerate(splits.items())
        }
    evidence.register_test(splits["test"].images, splits["test"].labels)
    return PneumoniaMNIST(**splits, size=size, path=path, stand_in=stand_in)


#: The key that marks a stand-in file (see :func:`make_stand_in`); its value says what it is.
STAND_IN_KEY = "stand_in"


def _stand_in_note(path: Path) -> str | None:
    with np.load(path, allow_pickle=False) as archive:
        if STAND_IN_KEY not in archive.files:
            return None
        return str(archive[STAND_IN_KEY])


def rehearsal_subset(split: Split, n: int, seed: int = 0) -> Split:
    """Return ``n`` images of ``split``, stratified by class, in their original order.

    A rehearsal (``PNEUMO_REHEARSAL=1``) runs every chapter on such subsets so that the
    full profile's code path fits a CPU; both classes keep at least a quarter of ``n``.
    """
    labels = np.asarray(split.labels)
    if n >= labels.size:
        return split
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    n_pos = int(np.clip(round(n * positives.size / labels.size), n // 4, n - n // 4))
    n_pos = min(n_pos, positives.size)
    n_neg = min(n - n_pos, negatives.size)
    keep = np.sort(
        np.concatenate(
            [
                rng.choice(positives, n_pos, replace=False),
                rng.choice(negatives, n_neg, replace=False),
            ]
        )
    )
    return Split(split.images[keep], labels[keep])


def make_stand_in(
    size: int, source: str | os.PathLike, destination: str | os.PathLike | None = None
) -> Path:
    """Write a clearly labelled stand-in for the ``size`` px file from the 28 px one.

    Each 28 px image is resized bilinearly with Pillow; the file carries a ``stand_in`` key
    saying so, and :func:`load_pneumoniamnist` prints that note whenever it loads it. The
    tests' full-profile rehearsal uses it where the real file cannot be downloaded; it has
    no more detail than the 28 px images and must never be used to report results.

    Args:
        size: 64, 128 or 224.
        source: the 28 px ``pneumoniamnist.npz`` (or its folder).
        destination: the folder to write ``pneumoniamnist_{size}.npz`` into (default: the
            folder of ``source``).

    Returns:
        The path of the stand-in file.
    """
    from PIL import Image

    filename, _ = _file_info(size)
    if size == 28:
        raise DataError("size=28 is the real file: a stand-in is made for 64, 128 or 224 px.")
    source = Path(source)
    if source.is_dir():
        source = source / MEDMNIST_FILES[28][0]
    arrays = validate_npz(source, size=28)
    folder = Path(destination) if destination is not None else source.parent
    folder.mkdir(parents=True, exist_ok=True)
    resized = {}
    for key, value in arrays.items():
        if key.endswith("_images"):
            value = np.stack(
                [
                    np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR))
                    for image in value
                ]
            ).astype(np.uint8)
        resized[key] = value
    note = (
        f"{size} px stand-in made by resizing the 28 px images of {source.name} bilinearly "
        "(for rehearsing the full profile's code path; no extra detail, not for results)"
    )
    target = folder / filename
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".npz")
    os.close(handle)
    np.savez_compressed(temporary, **resized, **{STAND_IN_KEY: np.array(note)})
    os.replace(temporary, target)
    return target


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """Return ``{"normal": n0, "pneumonia": n1}`` for a label vector."""
    labels = np.asarray(labels).ravel()
    return {name: int(np.sum(labels == value)) for value, name in enumerate(CLASS_NAMES)}


def find_duplicates(splits: dict[str, np.ndarray] | PneumoniaMNIST) -> pd.DataFrame:  # noqa: F821
    """Find exact duplicate images within and across splits.

    Args:
        splits: ``{"train": images, ...}`` or a :class:`PneumoniaMNIST` object.

    Returns:
        A ``pandas.DataFrame`` with one row per duplicate pair: ``split_a``, ``index_a``,
        ``split_b``, ``index_b`` and ``kind`` (``"within"`` or ``"across"``).
    """
    import pandas as pd

    if isinstance(splits, PneumoniaMNIST):
        splits = {name: split.images for name, split in splits.splits().items()}
    seen: dict[bytes, list[tuple[str, int]]] = {}
    for name, images in splits.items():
        images = np.ascontiguousarray(images)
        for index in range(len(images)):
            key = hashlib.sha1(images[index].tobytes()).digest()
            seen.setdefault(key, []).append((name, index))
    rows = []
    for places in seen.values():
        for i in range(len(places)):
            for j in range(i + 1, len(places)):
                (split_a, index_a), (split_b, index_b) = places[i], places[j]
                kind = "within" if split_a == split_b else "across"
                rows.append((split_a, index_a, split_b, index_b, kind))
    columns = ["split_a", "index_a", "split_b", "index_b", "kind"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------------------
# The Kaggle / Kermany folder layout
# --------------------------------------------------------------------------------------

_PERSON = re.compile(r"^(person\d+)_", re.IGNORECASE)
_NORMAL_ID = re.compile(r"^(?:NORMAL2-)?(IM-\d+)-", re.IGNORECASE)


def patient_id(filename: str) -> str:
    """Return the patient id encoded in a Kermany file name.

    ``person12_bacteria_47.jpeg`` → ``person12``; ``NORMAL2-IM-0135-0001.jpeg`` and
    ``IM-0135-0002.jpeg`` → ``IM-0135``; anything else → the file's stem.
    """
    name = Path(filename).name
    for pattern in (_PERSON, _NORMAL_ID):
        match = pattern.match(name)
        if match:
            return match.group(1)
    return Path(name).stem


@dataclass
class KermanySplit:
    """One split of the Kermany folders: images, labels, patient ids and file paths."""

    images: np.ndarray
    labels: np.ndarray
    patient_ids: np.ndarray
    paths: list[Path] = field(default_factory=list)


@dataclass
class KermanyData:
    """The Kermany chest X-ray folders loaded as arrays, split by split."""

    splits: dict[str, KermanySplit]
    skipped: list[Path]
    root: Path

    def __getattr__(self, name: str) -> KermanySplit:
        splits = self.__dict__.get("splits", {})
        if name in splits:
            return splits[name]
        raise AttributeError(name)


def load_kermany(
    root: str | os.PathLike,
    image_size: int = 28,
    splits: Iterable[str] | None = None,
    *,
    verbose: bool = True,
) -> KermanyData:
    """Load the Kaggle "Chest X-Ray Images (Pneumonia)" layout as grey ``uint8`` arrays.

    Expects ``root/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg`` (``root`` may also be the
    folder that contains ``chest_xray``). Grey and RGB JPEG/PNG files are converted to grey
    and resized to ``image_size`` × ``image_size``. Files that are not images (for example
    ``.DS_Store``) are skipped and counted. With ``splits=None`` every split folder that
    exists is read; naming splits makes each of them required.

    Raises:
        DataError: the layout is missing, or an image file cannot be read (named).
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(root).expanduser()
    if (root / "chest_xray").is_dir():
        root = root / "chest_xray"
    if not root.is_dir():
        raise DataError(
            f"{root} is not a folder. Pass the 'chest_xray' folder of the Kaggle data set "
            "(it holds train/, val/ and test/)."
        )
    if not isinstance(image_size, int) or image_size < 1:
        raise DataError(f"image_size must be a positive integer, got {image_size!r}.")
    if splits is None:
        splits = [split for split in SPLITS if (root / split).is_dir()]
        if not splits:
            raise DataError(
                f"{root} holds none of the folders train/, val/, test/. Pass the 'chest_xray' "
                "folder of the Kaggle data set."
            )
    result: dict[str, KermanySplit] = {}
    skipped: list[Path] = []
    for split in splits:
        images, labels, ids, paths = [], [], [], []
        found_class_folder = False
        for label, folder_name in enumerate(("NORMAL", "PNEUMONIA")):
            folder = root / split / folder_name
            if not folder.is_dir():
                continue
            found_class_folder = True
            for path in sorted(folder.iterdir()):
                if path.is_dir() or path.suffix.lower() not in IMAGE_SUFFIXES:
                    skipped.append(path)
                    continue
                try:
                    with Image.open(path) as image:
                        grey = image.convert("L").resize(
                            (image_size, image_size), Image.Resampling.BILINEAR
                        )
                        images.append(np.asarray(grey, dtype=np.uint8))
                except (UnidentifiedImageError, OSError) as exc:
                    raise DataError(
                        f"Cannot read the image {path} ({exc}). Delete or replace that file "
                        "and run again."
                    ) from exc
                labels.append(label)
                ids.append(patient_id(path.name))
                paths.append(path)
        if not found_class_folder:
            raise DataError(
                f"{root / split} has neither NORMAL/ nor PNEUMONIA/ inside. Expected the layout "
                "chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg."
            )
        result[split] = KermanySplit(
            images=np.stack(images) if images else np.zeros((0, image_size, image_size), np.uint8),
            labels=np.asarray(labels, dtype=np.int64),
            patient_ids=np.asarray(ids, dtype=str),
            paths=paths,
        )
    if verbose and skipped:
        print(f"load_kermany: skipped {len(skipped)} non-image file(s), e.g. {skipped[0].name}")
    return KermanyData(splits=result, skipped=skipped, root=root)


# --------------------------------------------------------------------------------------
# The tf.data pipeline
# --------------------------------------------------------------------------------------


def augmentation_layers(seed: int = 0, strength: float = 1.0):
    """Return the course's radiograph augmentation as a Keras ``Sequential``.

    Light by design: rotations up to ±9° (``0.025`` of a turn), shifts up to 4 % of the
    image, zooms up to 5 % and a little contrast change, each scaled by ``strength``.
    No vertical flips (a chest X-ray is never upside down) and no horizontal flips
    (the heart sits on the left).
    """
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomRotation(0.025 * strength, fill_mode="constant", seed=seed),
            keras.layers.RandomTranslation(
                0.04 * strength, 0.04 * strength, fill_mode="constant", seed=seed + 1
            ),
            keras.layers.RandomZoom(0.05 * strength, fill_mode="constant", seed=seed + 2),
            keras.layers.RandomContrast(0.05 * strength, seed=seed + 3),
        ],
        name="radiograph_augmentation",
    )


def as_float_images(images, input_shape=None, *, error: type[Exception] = DataError) -> np.ndarray:
    """Return images as ``float32 (N, H, W, C)`` in [0, 1]: the course's one image converter.

    ``uint8`` input is divided by 255; float input is taken as already scaled. Grey
    ``(N, H, W)`` images get a channel axis, and a single image gets a batch axis when
    ``input_shape`` says what one image looks like.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, C)``, or one image of ``input_shape``.
        input_shape: the model's ``(H, W, C)``; when given, the result must match it.
        error: the exception class raised on a wrong shape (callers pass their own).

    Raises:
        error: the images cannot be read as a batch of ``input_shape`` images.
    """
    images = np.asarray(images)
    expected = None if input_shape is None else tuple(input_shape)
    if expected is not None and images.shape == expected:
        images = images[np.newaxis]  # one image
    elif expected is not None and images.ndim == len(expected) and expected[-1] == 1:
        images = images[..., np.newaxis]  # (N, H, W) grey for an (H, W, 1) model
    elif expected is None and images.ndim == 3:
        images = images[..., np.newaxis]
    if images.ndim != 4 or (expected is not None and tuple(images.shape[1:]) != expected):
        if expected is None:
            raise error(f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}.")
        grey = ", or (N, H, W) for one-channel images" if expected[-1] == 1 else ""
        raise error(
            f"images have shape {images.shape}, but the model expects a batch of {expected} "
            f"images: pass (N, {', '.join(str(v) for v in expected)}){grey}, resized to the "
            "model's input size."
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    return images.astype(np.float32, copy=False)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    image_size: int | None = None,
    channels: int = 1,
    batch_size: int = 64,
    shuffle: bool = False,
    augment: bool | float = False,
    seed: int = 0,
):
    """Build the course's ``tf.data`` pipeline from ``uint8`` images.

    Steps: add a channel axis, resize to ``image_size`` (bilinear) when it differs, repeat
    grey into RGB when ``channels=3``, scale to [0, 1], optionally shuffle and augment
    (training only), batch and prefetch.

    Args:
        images: ``uint8 (N, H, W)`` or ``(N, H, W, C)``.
        labels: ``(N,)`` 0/1 labels, or None for an image-only dataset (prediction).
        image_size: output side in pixels; default the input's.
        channels: 1 (grey) or 3 (RGB, for ImageNet backbones).
        batch_size: images per batch.
        shuffle: reshuffle every epoch (use for training).
        augment: apply :func:`augmentation_layers` (use for training only); a number
            scales its strength (True is 1.0).
        seed: seed for shuffling and augmentation.

    Returns:
        A ``tf.data.Dataset`` of ``(image, label)`` batches, or image batches when
        ``labels`` is None; images are ``float32`` in [0, 1].
    """
    import tensorflow as tf

    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError(f"images must have shape (N, H, W) or (N, H, W, C), got {images.shape}.")
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(
                f"images and labels differ in length ({len(images)} vs {len(labels)})."
            )
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size!r}.")
    images = as_float_images(images, error=ValueError)
    size = image_size or images.shape[1]

    def prepare(image):
        if image.shape[-1] != channels:
            image = (
                tf.image.grayscale_to_rgb(image)
                if channels == 3
                else tf.image.rgb_to_grayscale(image)
            )
        if image.shape[1] != size or image.shape[2] != size:
            image = tf.image.resize(image, (size, size), method="bilinear")
        return image

    tensors = images if labels is None else (images, labels.astype(np.float32))
    dataset = tf.data.Dataset.from_tensor_slices(tensors)
    if shuffle:
        dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if labels is None:
        dataset = dataset.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(lambda x, y: (prepare(x), y), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        augmenter = augmentation_layers(seed=seed, strength=float(augment))
        if labels is None:
            dataset = dataset.map(lambda x: augmenter(x, training=True))
        else:
            dataset = dataset.map(lambda x, y: (augmenter(x, training=True), y))
    return dataset.prefetch(tf.data.AUTOTUNE)
