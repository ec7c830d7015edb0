"""Uploads into the course's images: PNG, JPEG or DICOM bytes to one ``uint8`` X-ray.

The service reads a file as the course's pipeline reads its images: one grey film, 8 bits
per pixel, square, shrunk to the model's side. A DICOM file goes through chapter 11's
reader (:func:`pneumo_helpers.privacy.read_dicom`: modality LUT, VOI window, MONOCHROME1
inverted). Anything else is refused with a :class:`~.errors.ServiceInputError` that
names what was wrong and carries its HTTP status.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from ..data import DataError
from .errors import ServiceInputError

#: The largest upload the service reads, in bytes (a 2,000 px 16-bit DICOM film is ~8 MB).
MAX_UPLOAD_BYTES = 16 * 1024 * 1024

#: Content types the service accepts, and the format each one names.
CONTENT_TYPES = {
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "application/dicom": "dicom",
}


def sniff(content: bytes) -> str | None:
    """Return the format the bytes themselves say (``"png"``, ``"jpeg"``, ``"dicom"``) or None."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if content.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(content) >= 132 and content[128:132] == b"DICM":
        return "dicom"
    return None


def check_upload(content: bytes, content_type: str | None, max_bytes: int = MAX_UPLOAD_BYTES):
    """Return the upload's format after checking its size, declared type and magic bytes.

    Raises:
        ServiceInputError: an empty body (400), an oversized one (413), a content type
            the service does not read (415), or bytes that are not what the type says (422).
    """
    if not content:
        raise ServiceInputError(
            "the uploaded file is empty: send the X-ray's bytes as the 'file' field.",
            status=400,
            kind="empty_upload",
        )
    if len(content) > max_bytes:
        raise ServiceInputError(
            f"the upload is {len(content):,} bytes, over the limit of {max_bytes:,}: send one "
            "film, or compress the PNG.",
            status=413,
            kind="upload_too_large",
        )
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared not in CONTENT_TYPES:
        raise ServiceInputError(
            f"content type {declared or 'none'!r} is not read here: send image/png, "
            "image/jpeg or application/dicom.",
            status=415,
            kind="unsupported_media_type",
        )
    expected, found = CONTENT_TYPES[declared], sniff(content)
    if found != expected:
        what = f"look like {found.upper()}" if found else "are not an image the service reads"
        raise ServiceInputError(
            f"the upload was declared {declared} but its bytes {what} (corrupt or "
            "mislabelled): export the film again, or send it with its real content type.",
            status=422,
            kind="corrupt_image",
        )
    return expected


def _from_pillow(content: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(content)) as image:
            image.load()
            mode, array = image.mode, np.asarray(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ServiceInputError(
            f"the image cannot be decoded ({type(error).__name__}): it is probably truncated "
            "or corrupt; export it again.",
            status=422,
            kind="corrupt_image",
        ) from error
    if mode != "L":
        depth = {"I;16": "16-bit grey", "I": "32-bit grey", "1": "1-bit"}.get(mode, mode)
        raise ServiceInputError(
            f"the image is {depth} (PIL mode {mode!r}); the model reads 8-bit grey films: "
            "convert it to 8-bit greyscale (mode 'L') first.",
            status=422,
            kind="wrong_bit_depth" if mode in ("I;16", "I", "1", "F") else "wrong_channels",
        )
    return array.astype(np.float64)


def _from_dicom(content: bytes) -> np.ndarray:
    from ..privacy import display_values, read_dicom

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.dcm"
        path.write_bytes(content)
        try:
            return display_values(read_dicom(path))
        except DataError as error:
            no_pixels = "no Pixel Data" in str(error)
            raise ServiceInputError(
                f"the DICOM upload cannot be read: {str(error).replace('upload.dcm', 'it', 1)}",
                status=422,
                kind="dicom_without_pixels" if no_pixels else "unreadable_dicom",
            ) from error


def decode_upload(
    content: bytes, content_type: str | None, size: int, max_bytes: int = MAX_UPLOAD_BYTES
) -> np.ndarray:
    """Return an upload as the course's ``uint8 (size, size)`` image (0 black, 255 white).

    Args:
        content: the file's bytes.
        content_type: its declared type (``image/png``, ``image/jpeg``, ``application/dicom``).
        size: the model's image side.
        max_bytes: the size limit.

    Raises:
        ServiceInputError: see :func:`check_upload`; also a file that does not decode, is
            not 8-bit grey (PNG/JPEG), has no pixels (DICOM), is not square or is smaller
            than the model's side.
    """
    from ..privacy import block_mean

    kind = check_upload(content, content_type, max_bytes)
    pixels = _from_dicom(content) if kind == "dicom" else _from_pillow(content)
    if pixels.ndim != 2 or pixels.shape[0] != pixels.shape[1] or pixels.shape[0] < size:
        raise ServiceInputError(
            f"the film is {'x'.join(str(v) for v in pixels.shape)} px; the model reads square "
            f"grey films of at least {size}x{size} px: crop it to a square first.",
            status=422,
            kind="wrong_shape",
        )
    return np.clip(np.rint(block_mean(pixels, size)), 0, 255).astype(np.uint8)


def encode_png(image: np.ndarray) -> bytes:
    """Return a ``uint8`` grey or RGB image as PNG bytes (what a client uploads or receives)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()
