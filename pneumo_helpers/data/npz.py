"""Verify and load the PneumoniaMNIST ``.npz`` files (downloading them when missing).

:func:`validate_npz` checks a file's structure; :func:`load_pneumoniamnist` is the road
every chapter walks (verified arrays, the stand-in note, a rehearsal's stratified subsets
by :func:`rehearsal_subset`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .. import config, evidence
from .download import download_file
from .layout import (
    KEYS,
    SPLITS,
    STAND_IN_KEY,
    DataError,
    PneumoniaMNIST,
    Split,
    download_url,
    file_info,
)


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
    filename, md5 = file_info(size)
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
