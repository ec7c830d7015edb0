"""Prove de-identification: scan every element of every file for the planted identifiers.

A de-identification tool is trusted only after a scan of its output finds nothing that
the input held. :func:`scan_files` walks every data element of every file (the file meta
header, nested sequences at any depth and private tags included) and reports each one
whose value contains a planted identifier; it also searches the raw bytes of the header,
so that nothing escapes the walk. The same scan must find every identifier in the
originals, or it proves nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from .errors import PrivacyError

#: The tag of Pixel Data: the raw-byte search stops there (pixels are not text).
PIXEL_DATA_TAG = b"\xe0\x7f\x10\x00"


def walk_elements(ds, where: str = "") -> Iterator[tuple[str, object]]:
    """Yield ``(path, element)`` for every element of ``ds``, sequences entered at any depth.

    The path names the sequence items passed, e.g.
    ``"OtherPatientIDsSequence[0].PatientName"``; private elements appear by tag.
    """
    for element in ds:
        name = element.keyword or f"({element.tag.group:04X},{element.tag.element:04X})"
        path = f"{where}{name}"
        if element.VR == "SQ":
            for index, item in enumerate(element.value):
                yield from walk_elements(item, f"{path}[{index}].")
        else:
            yield path, element


def element_text(element) -> str:
    """Return an element's value as text (bytes decoded as Latin-1, multi-values joined)."""
    value = element.value
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("latin-1", errors="replace")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def scan_file(path: str | os.PathLike, identifiers: Mapping[str, str]) -> list[dict]:
    """Return one row per place in ``path`` that holds one of ``identifiers``.

    Args:
        path: a DICOM file.
        identifiers: ``{what it is: value}``, e.g. ``{"patient ID": "PN1234567"}``; a value
            is found when an element's text contains it (case-insensitive).
    """
    import pydicom

    path = Path(path)
    ds = pydicom.dcmread(path)
    wanted = {kind: value.upper() for kind, value in identifiers.items() if value}
    hits = []
    elements = [*walk_elements(ds.file_meta, "file meta."), *walk_elements(ds)]
    for where, element in elements:
        if element.tag == 0x7FE00010:
            continue
        text = element_text(element).upper()
        for kind, value in wanted.items():
            if value in text:
                hits.append({"file": path.name, "where": where, "identifier": kind, "found": value})
    raw = path.read_bytes()
    header = raw[: raw.rfind(PIXEL_DATA_TAG)] if PIXEL_DATA_TAG in raw else raw
    for kind, value in wanted.items():
        if value.encode("latin-1", errors="replace") in header.upper():
            hits.append(
                {"file": path.name, "where": "raw bytes", "identifier": kind, "found": value}
            )
    return hits


def scan_files(
    files: Iterable[str | os.PathLike], identifiers: Mapping[str, str] | Iterable[Mapping]
) -> pd.DataFrame:
    """Scan every file for every identifier; return one row per hit.

    Args:
        files: DICOM files.
        identifiers: one ``{kind: value}`` mapping searched in every file, or an iterable of
            them (e.g. every file's planted identifiers), all searched in every file.

    Returns:
        Columns ``file``, ``where`` (element path, or ``"raw bytes"``), ``identifier`` and
        ``found``; empty when nothing was found.

    Raises:
        PrivacyError: no files or no identifiers.
    """
    files = [Path(f) for f in files]
    if isinstance(identifiers, Mapping):
        identifiers = [identifiers]
    combined: dict[str, str] = {}
    for number, mapping in enumerate(identifiers):
        combined |= {f"{kind} #{number}": value for kind, value in mapping.items()}
    if not files or not combined:
        raise PrivacyError("scan_files needs at least one file and one identifier to look for.")
    rows = [hit for path in files for hit in scan_file(path, combined)]
    for row in rows:  # the kind, without which file planted it
        row["identifier"] = row["identifier"].rsplit(" #", 1)[0]
    table = pd.DataFrame(rows, columns=["file", "where", "identifier", "found"])
    return table.drop_duplicates().reset_index(drop=True)
