"""The stand-in generator: a labelled 64/128/224 px file made from the 28 px one.

For rehearsing the full profile's code path where the real file cannot be downloaded;
:func:`~pneumo_helpers.data.load_pneumoniamnist` prints the stand-in's note whenever it
loads one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from .layout import MEDMNIST_FILES, STAND_IN_KEY, DataError, file_info
from .npz import validate_npz


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

    filename, _ = file_info(size)
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
