"""De-identify DICOM files: the header by the standard's Basic Profile, the pixels by masking.

The DICOM standard's Basic Application Level Confidentiality Profile (PS3.15 Annex E)
says, element by element, what to remove, empty or replace. This module does not keep a
tag list of its own: the header goes through ``dicognito``, a maintained implementation,
with three settings that the profile's options ask for:

* one ``dicognito`` anonymizer per patient, seeded by a secret key and the patient ID,
  so that every date of a patient moves by the same offset (intervals survive: the
  *Retain Longitudinal Temporal Information with Modified Dates* option) and every UID
  is replaced by the same new UID wherever it appears (a study stays one study);
* private tags removed with pydicom (the profile removes them unless a *Retain Safe
  Private* option vouches for each);
* the Device Serial Number, which the profile removes and ``dicognito`` 0.19 keeps,
  removed with ``dicognito``'s own element handler (the scan, :mod:`.scan`, is what
  found it).

Burned-in text is *detected* in the pixels (:func:`text_mask`: thin bright strokes that a
grey-scale opening erases) and *masked* (the *Clean Pixel Data* option): each masked box
is filled from its border alone (:func:`fill_from_surroundings`, the smoothest surface
that meets the pixels around the box), so the letters are gone and no black block is
left for a model to read. The pixels outside the masks are untouched.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..data import DataError
from .dicom_reader import display_values, read_dicom
from .errors import PrivacyError

#: PS3.16 CID 7050 codes of what was done, written into DeidentificationMethodCodeSequence.
METHOD_CODES = {
    "113100": "Basic Application Confidentiality Profile",
    "113101": "Clean Pixel Data Option",
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
}


def text_mask(display: np.ndarray, contrast: float = 60.0, opening: int = 5, margin: int = 3):
    """Return a boolean mask of burned-in text: bright strokes thinner than ``opening`` px.

    A grey-scale opening (erosion then dilation) removes bright details narrower than
    its window: the strokes of stamped letters. Where the film minus its opening exceeds
    ``contrast`` grey levels and the pixel is near white, there is text; each cluster of
    such pixels (joined within ``margin`` px) is masked by its bounding box plus margin.

    Args:
        display: display values (0 black .. 255 white) of one film, full size.
        contrast: grey levels by which a stroke must stand out of its surroundings.
        opening: window of the opening, wider than a stroke, narrower than the film's
            finest structure.
        margin: pixels around the strokes that are masked too (anti-aliased edges).
    """
    from scipy import ndimage

    strokes = (display - ndimage.grey_opening(display, size=opening) > contrast) & (display > 200)
    clusters, _ = ndimage.label(ndimage.binary_dilation(strokes, iterations=margin))
    mask = np.zeros(display.shape, dtype=bool)
    for found in ndimage.find_objects(clusters):
        rows, cols = found
        if strokes[found].sum() >= 10:  # a few stray bright pixels are not text
            mask[
                max(rows.start - margin, 0) : rows.stop + margin,
                max(cols.start - margin, 0) : cols.stop + margin,
            ] = True
    return mask


def fill_from_surroundings(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return ``values`` with the masked pixels replaced by a harmonic fill of their border.

    Each masked pixel becomes the mean of its four neighbours (a discrete Laplace
    equation), with the unmasked pixels around the mask held fixed: the smoothest surface
    that meets the film around the box. Nothing inside the mask is read, so nothing of
    the letters survives. Pixels outside the mask are returned unchanged.
    """
    from scipy import sparse
    from scipy.sparse.linalg import spsolve

    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != values.shape or values.ndim != 2:
        raise PrivacyError(f"mask {mask.shape} and film {values.shape} must be one 2-D shape.")
    filled = values.copy()
    if not mask.any():
        return filled
    if mask.all():
        raise PrivacyError("the mask covers the whole film: there is no border to fill from.")
    rows, cols = np.nonzero(mask)
    number = np.full(values.shape, -1, dtype=np.int64)
    number[rows, cols] = np.arange(len(rows))
    diagonal, right = np.zeros(len(rows)), np.zeros(len(rows))
    links_from, links_to = [], []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r, c = rows + dr, cols + dc
        inside = (r >= 0) & (r < values.shape[0]) & (c >= 0) & (c < values.shape[1])
        diagonal += inside  # a pixel on the film's edge has fewer neighbours
        r, c, k = r[inside], c[inside], np.nonzero(inside)[0]
        masked = mask[r, c]
        links_from.append(k[masked])
        links_to.append(number[r[masked], c[masked]])
        np.add.at(right, k[~masked], values[r[~masked], c[~masked]])
    links_from, links_to = np.concatenate(links_from), np.concatenate(links_to)
    laplace = sparse.csr_matrix(
        (
            np.r_[diagonal, -np.ones(len(links_from))],
            (np.r_[np.arange(len(rows)), links_from], np.r_[np.arange(len(rows)), links_to]),
        ),
        shape=(len(rows), len(rows)),
    )
    filled[rows, cols] = spsolve(laplace, right)
    return filled


def mask_pixels(ds, mask: np.ndarray) -> None:
    """Replace the masked stored pixels of ``ds`` by a fill from their surroundings."""
    stored = ds.pixel_array
    limits = np.iinfo(stored.dtype)
    filled = np.rint(fill_from_surroundings(stored, mask))
    ds.PixelData = np.clip(filled, limits.min, limits.max).astype(stored.dtype).tobytes()


def anonymizer_for(patient_id: str, key: str):
    """Return the ``dicognito`` anonymizer of one patient: seeded by the key and the ID."""
    from dicognito.anonymizer import Anonymizer
    from dicognito.unwantedelements import UnwantedElementsStripper

    anonymizer = Anonymizer(seed=f"{key}:{patient_id}")
    anonymizer.add_element_handler(UnwantedElementsStripper("DeviceSerialNumber"))
    return anonymizer


def deidentify_dataset(ds, anonymizer) -> int:
    """De-identify one dataset in place; return how many pixels were masked."""
    anonymizer.anonymize(ds)  # PS3.15 Annex E, by dicognito: names, IDs, dates, UIDs
    ds.remove_private_tags()  # no vendor's private block survives
    mask = text_mask(display_values(ds))
    if mask.any():
        mask_pixels(ds, mask)
    ds.BurnedInAnnotation = "NO"
    ds.PatientIdentityRemoved = "YES"
    _record_methods(ds)
    return int(mask.sum())


def _record_methods(ds) -> None:
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    items = []
    for value, meaning in METHOD_CODES.items():
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = value, "DCM", meaning
        items.append(code)
    ds.DeidentificationMethodCodeSequence = Sequence(items)


def deidentify_folder(
    source: str | os.PathLike, destination: str | os.PathLike, key: str
) -> pd.DataFrame:
    """De-identify every DICOM file of ``source`` into ``destination`` (same file names).

    Args:
        source: a folder of DICOM files (read with :func:`~.dicom_reader.read_dicom`).
        destination: a new or empty folder for the de-identified files.
        key: the secret that seeds the pseudonyms and date offsets; keep it apart from the
            data (whoever holds it can link the outputs back to the originals' patients).

    Returns:
        One row per file: its name, the pseudonymised patient ID, the masked pixels.

    Raises:
        PrivacyError: an empty key, or a non-empty destination.
        DataError: a source file that cannot be read (named).
    """
    if not key:
        raise PrivacyError("key must be a non-empty secret string (it seeds the pseudonyms).")
    source, destination = Path(source), Path(destination)
    if not source.is_dir():
        raise DataError(f"{source} is not a folder of DICOM files.")
    if destination.exists() and any(destination.iterdir()):
        raise PrivacyError(f"{destination} is not empty: write de-identified files to a new one.")
    destination.mkdir(parents=True, exist_ok=True)
    anonymizers: dict[str, object] = {}
    rows = []
    for path in sorted(p for p in source.iterdir() if p.is_file() and not p.name.startswith(".")):
        ds = read_dicom(path)
        patient = str(ds.get("PatientID", ""))
        if patient not in anonymizers:
            anonymizers[patient] = anonymizer_for(patient, key)
        anonymizer = anonymizers[patient]
        masked = deidentify_dataset(ds, anonymizer)
        ds.save_as(destination / path.name, enforce_file_format=True)
        rows.append({"file": path.name, "pseudonym": str(ds.PatientID), "masked pixels": masked})
    return pd.DataFrame(rows)
