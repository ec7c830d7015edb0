"""Read a folder of DICOM files into the course's arrays: what a hospital's export becomes.

:func:`load_dicom` applies what a viewer applies before a radiologist sees a film: the
modality LUT (rescale slope and intercept), the VOI window (the DICOM standard's linear
window, :func:`linear_window`) and, for MONOCHROME1 films (white is *low*), the inversion.
It then shrinks the film to the course's size by block averaging. Anything it cannot read
(a file that is not DICOM, a file without pixels, a compressed transfer syntax it does
not decode, a truncated file) raises :class:`~pneumo_helpers.data.DataError` naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..data import DataError

#: Transfer syntaxes the reader decodes: the uncompressed ones (pydicom needs no plugin).
UNCOMPRESSED = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
}


class DicomImages(NamedTuple):
    """Images of a DICOM folder: ``uint8 (N, size, size)``, their files, and header facts."""

    images: np.ndarray
    files: list[Path]
    burned_in: np.ndarray
    photometric: list[str]


def linear_window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Map rescaled values to display values 0..255 with DICOM's linear VOI window.

    PS3.3 C.11.2.1.2.1: values up to ``c - 0.5 - (w - 1) / 2`` are black, values above
    ``c - 0.5 + (w - 1) / 2`` white, and those between are mapped linearly.
    """
    fraction = (values - (centre - 0.5)) / (width - 1) + 0.5
    return np.clip(fraction, 0.0, 1.0) * 255.0


def display_values(ds) -> np.ndarray:
    """Return a dataset's pixels as display values (0 black .. 255 white), full size."""
    stored = ds.pixel_array.astype(np.float64)
    slope, intercept = float(ds.get("RescaleSlope", 1.0)), float(ds.get("RescaleIntercept", 0.0))
    values = stored * slope + intercept  # the modality LUT
    if "WindowCenter" in ds and "WindowWidth" in ds:
        centre, width = (float(np.ravel([ds[k].value])[0]) for k in ("WindowCenter", "WindowWidth"))
    else:  # no window in the file: the full range of the values
        centre, width = (values.max() + values.min() + 1) / 2, values.max() - values.min() + 1
    display = linear_window(values, centre, max(width, 2.0))
    if ds.PhotometricInterpretation == "MONOCHROME1":  # white is low: invert
        display = 255.0 - display
    return display


def block_mean(image: np.ndarray, size: int) -> np.ndarray:
    """Shrink a square image to ``size`` px: block means when the side is a multiple, else PIL."""
    side = image.shape[0]
    if side % size == 0:
        k = side // size
        return image.reshape(size, k, size, k).mean(axis=(1, 3))
    from PIL import Image

    return np.asarray(Image.fromarray(image.astype(np.float32), mode="F").resize((size, size)))


def read_dicom(path: str | os.PathLike):
    """Read one DICOM file with its pixels checked, or raise a :class:`DataError` naming it."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as error:
        raise DataError(
            f"{path.name} is not a DICOM file (no 'DICM' marker after the 128-byte preamble): "
            "remove it from the folder, or convert it to DICOM first."
        ) from error
    except (OSError, EOFError, ValueError, KeyError) as error:
        raise DataError(
            f"{path.name} could not be parsed as DICOM ({type(error).__name__}): it is "
            "probably truncated or corrupt; copy it again from the source."
        ) from error
    if "PixelData" not in ds:
        raise DataError(
            f"{path.name} has no Pixel Data (7FE0,0010): it is not an image (e.g. a report or "
            "a presentation state); keep only the image files in the folder."
        )
    syntax = str(ds.file_meta.get("TransferSyntaxUID", "1.2.840.10008.1.2"))
    if syntax not in UNCOMPRESSED:
        raise DataError(
            f"{path.name} uses transfer syntax {syntax} (compressed), which this reader does not "
            "decode: decompress it first (e.g. `gdcmconv --raw` or dcmtk's `dcmdjpeg`)."
        )
    if ds.get("SamplesPerPixel", 1) != 1 or ds.get("PhotometricInterpretation") not in (
        "MONOCHROME1",
        "MONOCHROME2",
    ):
        raise DataError(
            f"{path.name} is not a greyscale film (PhotometricInterpretation "
            f"{ds.get('PhotometricInterpretation')!r}): the course reads MONOCHROME1/2 only."
        )
    try:
        ds.pixel_array  # noqa: B018 - decode now, to catch a short pixel buffer here
    except (ValueError, AttributeError, KeyError) as error:
        raise DataError(
            f"{path.name}: its pixel data cannot be decoded ({error}); the file is probably "
            "truncated: copy it again from the source."
        ) from error
    if ds.Rows != ds.Columns:
        raise DataError(f"{path.name} is {ds.Rows}x{ds.Columns} px: the course reads square films.")
    return ds


def load_dicom(folder: str | os.PathLike, size: int = 28) -> DicomImages:
    """Read every file of ``folder`` (sorted by name) into the course's ``uint8`` images.

    Args:
        folder: a folder of DICOM files (one image each; hidden files are ignored).
        size: the side of the returned images, e.g. ``profile.image_size``.

    Returns:
        :class:`DicomImages` with images ``uint8 (N, size, size)`` (0 black, 255 white).

    Raises:
        DataError: a missing or empty folder, or a file that cannot be read (named).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} is not a folder: pass the folder that holds the DICOM files.")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DataError(f"{folder} holds no files: export the DICOM images into it first.")
    images, burned, photometric = [], [], []
    for path in files:
        ds = read_dicom(path)
        display = display_values(ds)
        images.append(np.clip(np.rint(block_mean(display, size)), 0, 255).astype(np.uint8))
        burned.append(str(ds.get("BurnedInAnnotation", "")).upper() == "YES")
        photometric.append(str(ds.PhotometricInterpretation))
    return DicomImages(np.stack(images), files, np.array(burned), photometric)
