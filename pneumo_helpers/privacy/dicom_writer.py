"""Write the course's X-rays as DX DICOM files with synthetic, realistic PHI.

Hospitals send DICOM, not PNG: every file carries the patient's name, ID, birth date,
the dates of the study, the institution, the referring physician, the device, vendors'
private tags and, on some films, the name stamped into the pixels. :func:`write_dicom_study`
writes such files from the course's images so that de-identification can be practised on
them and *proved* (:mod:`.scan`). Every identity is invented (seeded): no real patient's
data is written.

Each simulated child has two studies a few days apart (a first film and a follow-up), each
with ``images_per_study`` instances, so that "dates shifted consistently per patient keep
intervals" and "UIDs replaced consistently within a study" can be checked. The pixels are
upsampled by an integer factor (28 px → 812 px) so that burned-in text is real text at a
real film's proportions (its letters are about 1 % of the film's height, as 20-30-pixel
letters are on a 2,000-3,000-pixel radiograph), and stored in one of three encodings
(:data:`ENCODINGS`) that the reader must undo exactly.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import PrivacyError

#: How the pixels are stored: ``(photometric interpretation, bits stored, slope,
#: intercept, window centre, window width, stored value of a display value v)``. Each is
#: chosen so that the DICOM linear window of the rescaled value gives back ``v`` exactly.
ENCODINGS = {
    "MONOCHROME2, 8 bit": ("MONOCHROME2", 8, 1.0, 0.0, 128.0, 256.0, lambda v: v),
    "MONOCHROME1, 8 bit": ("MONOCHROME1", 8, 1.0, 0.0, 128.0, 256.0, lambda v: 255 - v),
    "MONOCHROME2, 12 bit, rescaled": (
        "MONOCHROME2",
        12,
        0.5,
        -1024.0,
        -513.5,
        1021.0,
        lambda v: 8 * v,
    ),
}

#: The vendor's private block of every file: (group, creator, element, what it holds).
PRIVATE_GROUP, PRIVATE_CREATOR = 0x0019, "PNEUMO XRAY VENDOR 1.0"

FAMILY = ("CHEN", "GARCIA", "OKAFOR", "NOWAK", "HASSAN", "TANAKA", "SILVA", "MURPHY", "ROSSI")
GIVEN = ("MEI", "LUCAS", "AMARA", "ZOFIA", "OMAR", "HANA", "THIAGO", "AOIFE", "LUCA", "NOOR")
HOSPITALS = ("RIVERSIDE CHILDRENS HOSPITAL", "NORTHGATE PAEDIATRIC CENTRE", "ST AGNES INFIRMARY")
PHYSICIANS = ("BERGSTROM^INGRID^^DR", "ADEYEMI^TUNDE^^DR", "KOWALCZYK^EWA^^DR")


@dataclass
class PlantedFile:
    """What the writer put into one file: the identifiers a scan must find, the text boxes."""

    path: Path
    patient: int
    study: int
    encoding: str
    identifiers: dict[str, str]
    text_boxes: list[tuple[int, int, int, int]] = field(default_factory=list)


#: The smallest side of a written film: the stamp's 8-pixel letters are then about 1 % of
#: its height, as 20-30-pixel letters are on a real radiograph of 2,000-3,000 pixels.
FILM_SIZE = 800


def upsample(image: np.ndarray, factor: int) -> np.ndarray:
    """Return ``image`` enlarged by an integer ``factor`` (each pixel a ``factor``² block)."""
    return np.kron(image, np.ones((factor, factor), dtype=image.dtype))


def burn_in_text(display: np.ndarray, lines: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Stamp ``lines`` in white into the top-left corner, as a modality does.

    Returns:
        The stamped copy and the bounding boxes ``(top, left, bottom, right)`` of the text.
    """
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.fromarray(display.astype(np.uint8), mode="L")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default()
    boxes, top = [], 4
    for line in lines:
        left, upper, right, lower = draw.textbbox((4, top), line, font=font)
        draw.text((4, top), line, fill=255, font=font)
        boxes.append((upper, left, lower, right))
        top = lower + 3
    return np.asarray(picture), boxes


def _identity(rng: np.random.Generator, patient: int) -> dict[str, str]:
    family, given = rng.choice(FAMILY), rng.choice(GIVEN)
    first_study = dt.date(2024, 1, 8) + dt.timedelta(days=int(rng.integers(0, 300)))
    birth = first_study - dt.timedelta(days=int(rng.integers(365, 5 * 365)))
    return {
        "patient name": f"{family}^{given}",
        "family name": family,
        "given name": given,
        "patient ID": f"PN{rng.integers(10**6, 10**7)}",
        "other patient ID": f"MRN-{rng.integers(10**5, 10**6)}",
        "birth date": birth.strftime("%Y%m%d"),
        "institution": str(rng.choice(HOSPITALS)),
        "referring physician": str(rng.choice(PHYSICIANS)),
        "device serial": f"DX-{rng.integers(10**4, 10**5)}-{patient:02d}",
        "sex": str(rng.choice(["F", "M"])),
        "first study": first_study.isoformat(),
    }


def _dataset(pixels: np.ndarray, encoding: str, person: dict, study: dict, instance: int):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.sequence import Sequence
    from pydicom.uid import DigitalXRayImageStorageForPresentation, ExplicitVRLittleEndian

    photometric, bits, slope, intercept, centre, width, _ = ENCODINGS[encoding]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DigitalXRayImageStorageForPresentation
    meta.MediaStorageSOPInstanceUID = study["instances"][instance]
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, study["instances"][instance]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study["study uid"], study["series uid"]
    ds.Modality, ds.PresentationIntentType = "DX", "FOR PRESENTATION"
    ds.PatientName, ds.PatientID = person["patient name"], person["patient ID"]
    ds.PatientBirthDate, ds.PatientSex = person["birth date"], person["sex"]
    ds.StudyDate = ds.SeriesDate = ds.AcquisitionDate = ds.ContentDate = study["date"]
    ds.StudyTime, ds.SeriesTime = study["time"], study["time"]
    ds.AcquisitionTime = ds.ContentTime = study["time"]
    ds.AccessionNumber, ds.StudyID = study["accession"], study["accession"][-4:]
    ds.InstitutionName = person["institution"]
    ds.ReferringPhysicianName = person["referring physician"]
    ds.Manufacturer, ds.DeviceSerialNumber = "PNEUMO IMAGING", person["device serial"]
    ds.SeriesNumber, ds.InstanceNumber = 1, instance + 1
    ds.BodyPartExamined, ds.ViewPosition, ds.PatientOrientation = "CHEST", "PA", ["L", "F"]
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    other = Dataset()  # a nested copy of the demographics, as some systems write
    other.PatientID, other.IssuerOfPatientID = person["other patient ID"], "HIS"
    other.TypeOfPatientID, other.PatientName = "TEXT", person["patient name"]
    ds.OtherPatientIDsSequence = Sequence([other])
    block = ds.private_block(PRIVATE_GROUP, PRIVATE_CREATOR, create=True)
    block.add_new(0x10, "LO", f"{person['patient ID']} {person['patient name']}")
    ds.BurnedInAnnotation = "YES" if study["burned"] else "NO"
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = (8 if bits == 8 else 16), bits, bits - 1
    ds.PixelRepresentation = 0
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = slope, intercept, "US"
    ds.WindowCenter, ds.WindowWidth = centre, width
    ds.PixelData = pixels.astype(np.uint8 if bits == 8 else np.uint16).tobytes()
    return ds


def write_dicom_study(
    images: np.ndarray,
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    images_per_study: int = 2,
    burned_in_share: float = 0.5,
    factor: int | None = None,
) -> list[PlantedFile]:
    """Write ``images`` as DX DICOM files with synthetic PHI into ``folder``.

    Args:
        images: ``uint8 (N, H, W)`` images, e.g. a split's; every ``2 * images_per_study``
            consecutive images become one simulated child's two studies.
        folder: where the files go (created; must be empty or absent).
        seed: draws the identities, the dates and which studies get burned-in text.
        images_per_study: instances per study.
        burned_in_share: share of studies whose films carry burned-in text.
        factor: integer upsampling factor (default: the smallest giving at least
            :data:`FILM_SIZE` px, so that the stamp's letters are about 1 % of the film's
            height, as on a real radiograph, and its pixels wider than a letter's strokes).

    Returns:
        One :class:`PlantedFile` per file, in the order of ``images``.

    Raises:
        PrivacyError: bad images, a non-empty folder, or bad settings.
    """
    from pydicom.uid import generate_uid

    images = np.asarray(images)
    if images.ndim != 3 or images.dtype != np.uint8 or len(images) == 0:
        raise PrivacyError(f"images must be uint8 (N, H, W) with N >= 1, got {images.shape}.")
    if images_per_study < 1 or not 0 <= burned_in_share <= 1:
        raise PrivacyError("images_per_study must be >= 1 and burned_in_share in [0, 1].")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise PrivacyError(f"{folder} is not empty: write the DICOM files into a new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    factor = factor or max(6, int(np.ceil(FILM_SIZE / images.shape[1])))
    rng = np.random.default_rng(seed)
    per_patient = 2 * images_per_study
    planted: list[PlantedFile] = []
    person, studies = {}, []
    for index, image in enumerate(images):
        patient, position = divmod(index, per_patient)
        study_index, instance = divmod(position, images_per_study)
        if position == 0:
            person = _identity(rng, patient)
            first = dt.date.fromisoformat(person["first study"])
            studies = []
            for s, day in enumerate((0, int(rng.integers(2, 15)))):
                studies.append(
                    {
                        "date": (first + dt.timedelta(days=day)).strftime("%Y%m%d"),
                        "time": f"{rng.integers(8, 18):02d}{rng.integers(0, 60):02d}00",
                        "accession": f"ACC{rng.integers(10**7, 10**8)}",
                        "study uid": generate_uid(),
                        "series uid": generate_uid(),
                        "instances": [generate_uid() for _ in range(images_per_study)],
                        "burned": bool(rng.random() < burned_in_share),
                        "encoding": list(ENCODINGS)[(patient + s) % len(ENCODINGS)],
                    }
                )
        study = studies[study_index]
        display = upsample(image, factor)
        boxes: list[tuple] = []
        if study["burned"]:
            name = person["patient name"].replace("^", " ")
            lines = [name, f"ID {person['patient ID']}", f"DOB {person['birth date']}"]
            display, boxes = burn_in_text(display, lines)
        stored = ENCODINGS[study["encoding"]][6](display.astype(np.int64))
        ds = _dataset(stored, study["encoding"], person, study, instance)
        path = folder / f"patient{patient:03d}_study{study_index}_image{instance}.dcm"
        ds.save_as(path, enforce_file_format=True)
        identifiers = {
            key: person[key]
            for key in (
                "patient name",
                "family name",
                "given name",
                "patient ID",
                "other patient ID",
                "birth date",
                "institution",
                "referring physician",
                "device serial",
            )
        }
        identifiers |= {
            "study date": study["date"],
            "accession number": study["accession"],
            "study UID": study["study uid"],
            "series UID": study["series uid"],
            "instance UID": study["instances"][instance],
        }
        planted.append(
            PlantedFile(path, patient, study_index, study["encoding"], identifiers, boxes)
        )
    return planted
