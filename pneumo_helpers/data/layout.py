"""What the course's data looks like: classes, splits, the official files, the containers.

The names every other file of :mod:`pneumo_helpers.data` shares: the class names and
splits, the MedMNIST file of each image size (name, md5, download URL), the mark of a
stand-in file, :class:`DataError`, and the :class:`Split` / :class:`PneumoniaMNIST`
containers that :func:`~pneumo_helpers.data.load_pneumoniamnist` returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

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
    filename, _ = file_info(size)
    return f"{ZENODO_RECORD}/files/{filename}?download=1"


def file_info(size: int) -> tuple[str, str]:
    """Return ``(file name, md5)`` of the official PneumoniaMNIST file at ``size`` pixels.

    Raises:
        DataError: ``size`` is not one of the sizes in :data:`MEDMNIST_FILES`.
    """
    if size not in MEDMNIST_FILES:
        raise DataError(
            f"size={size!r} is not a PneumoniaMNIST size. Use one of {sorted(MEDMNIST_FILES)}."
        )
    return MEDMNIST_FILES[size]


#: The key that marks a stand-in file (see :func:`make_stand_in`); its value says what it is.
STAND_IN_KEY = "stand_in"


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """Return ``{"normal": n0, "pneumonia": n1}`` for a label vector."""
    labels = np.asarray(labels).ravel()
    return {name: int(np.sum(labels == value)) for value, name in enumerate(CLASS_NAMES)}
