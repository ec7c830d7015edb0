"""The Kaggle / Kermany folder layout: patient ids from file names, folders read as arrays."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .layout import SPLITS, DataError

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}

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
