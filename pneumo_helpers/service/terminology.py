"""The terminology table: the codes a report carries, and their labels in several languages.

Codes, not words, are what cross a border: SNOMED CT ``233604007`` means pneumonia in
every country that licenses SNOMED CT, whatever a clinician there calls it. Each label in
:data:`LABELS` names its source, an official translation of the code system (the WHO's own
ICD-10 language editions or a national one); none is machine-translated. A language or
code that is not in the table raises :class:`~.errors.TerminologyError` rather than
falling back to English silently.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import TerminologyError

SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"


class Code(NamedTuple):
    """One code of a code system, with its preferred English display and where it is defined."""

    system: str
    code: str
    display: str
    source: str


#: The codes of the report: the finding, its ICD-10 class, the imaging study, and the
#: qualifier values of the observation (present / absent).
CODES = {
    "finding": Code(SNOMED, "233604007", "Pneumonia (disorder)", "SNOMED CT International"),
    "diagnosis": Code(ICD10, "J18.9", "Pneumonia, unspecified", "WHO ICD-10 (2019)"),
    "study": Code(LOINC, "36554-4", "XR Chest Single view", "LOINC (Regenstrief)"),
    "present": Code(SNOMED, "52101004", "Present (qualifier value)", "SNOMED CT International"),
    "absent": Code(SNOMED, "2667000", "Absent (qualifier value)", "SNOMED CT International"),
}


class Label(NamedTuple):
    """A code's label in one language, and the publication it was taken from."""

    text: str
    source: str


#: ``{(code key, language): Label}``: ICD-10 J18.9 in five languages, each from an official
#: edition of ICD-10.
LABELS = {
    ("diagnosis", "en"): Label("Pneumonia, unspecified", "WHO ICD-10 (2019), English"),
    ("diagnosis", "fr"): Label("Pneumopathie, sans précision", "WHO CIM-10, French edition"),
    ("diagnosis", "de"): Label("Pneumonie, nicht näher bezeichnet", "ICD-10-GM (BfArM, Germany)"),
    ("diagnosis", "es"): Label("Neumonía, no especificada", "CIE-10 (PAHO/WHO), Spanish"),
    ("diagnosis", "pt"): Label("Pneumonia não especificada", "CID-10 (DATASUS, Brazil)"),
}

LANGUAGES = tuple(sorted({language for _, language in LABELS}))


def check_language(language: str) -> str:
    """Return ``language`` if the table has labels in it.

    Raises:
        TerminologyError: a language the table does not hold; the message lists those it does.
    """
    if language not in LANGUAGES:
        raise TerminologyError(
            f"no labels in language {language!r}: the terminology table holds "
            f"{', '.join(LANGUAGES)}. Add the language's official edition to "
            "pneumo_helpers.service.terminology.LABELS (with its source) rather than "
            "translating the label yourself."
        )
    return language


def code(key: str) -> Code:
    """Return the code named ``key`` (``"finding"``, ``"diagnosis"``, ``"study"``...).

    Raises:
        TerminologyError: an unknown key; the message lists the known ones.
    """
    if key not in CODES:
        raise TerminologyError(f"unknown code {key!r}: the table holds {', '.join(CODES)}.")
    return CODES[key]


def label(key: str, language: str) -> Label:
    """Return the label of code ``key`` in ``language``; English codes' own display if no other.

    Raises:
        TerminologyError: an unknown code or language, or a code without a label there.
    """
    check_language(language)
    entry = code(key)
    if (key, language) in LABELS:
        return LABELS[key, language]
    if language == "en":
        return Label(entry.display, entry.source)
    raise TerminologyError(
        f"code {entry.code} ({key}) has no {language!r} label in the table: only "
        f"{', '.join(sorted(lang for k, lang in LABELS if k == key)) or 'English'}."
    )


def table():
    """Return the terminology table as a DataFrame: code, system, language, label, source."""
    import pandas as pd

    rows = [
        {
            "code": c.code,
            "system": c.system,
            "language": "en",
            "label": c.display,
            "source": c.source,
        }
        for key, c in CODES.items()
        if (key, "en") not in LABELS
    ]
    rows += [
        {
            "code": CODES[key].code,
            "system": CODES[key].system,
            "language": language,
            "label": entry.text,
            "source": entry.source,
        }
        for (key, language), entry in LABELS.items()
    ]
    return pd.DataFrame(rows)
